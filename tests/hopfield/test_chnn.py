"""Continuous Hopfield network (D1-D3): energy, dynamics on Diffrax, bad input."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

from jnn.hopfield import (
    chnn,
    energy_continuous,
    final_state,
    leak_integral,
    output,
    reached_steady_state,
    simulate,
    state_from_output,
    vector_field,
)

N = 6
ACTIVATIONS = ["sigmoid", "tanh"]


def random_network(seed, n=N, *, scale=1.0, dtype=np.float32):
    """Symmetric W with N(0, scale^2 / n) entries and zero diagonal, N(0, 1) bias."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) * scale / np.sqrt(n)
    w = (a + a.T) / np.sqrt(2)
    np.fill_diagonal(w, 0.0)
    return w.astype(dtype), rng.normal(size=n).astype(dtype)


def numpy_field(w, b, tau, gain, activation, u):
    x = gain * u
    v = 1 / (1 + np.exp(-x)) if activation == "sigmoid" else np.tanh(x)
    return -u / tau + w @ v + b


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_energy_gradient_is_minus_du_dt(activation):
    with jax.enable_x64(True):
        w, b = random_network(1, dtype=np.float64)
        p = chnn(w, b, tau=0.7, gain=1.7, activation=activation)
        u = np.random.default_rng(2).normal(size=N)
        v = output(p, jnp.asarray(u))
        grad = jax.grad(lambda v: energy_continuous(p, v))(v)
        du = vector_field(0.0, jnp.asarray(u), p)
        np.testing.assert_allclose(grad, -du, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(
            du, numpy_field(w, b, 0.7, 1.7, activation, u), rtol=1e-12
        )
        np.testing.assert_allclose(state_from_output(p, v), u, rtol=1e-10)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_leak_integral_matches_quadrature(activation):
    """The closed form of sum_i int_{g(0)}^{v_i} g^-1(s) / gain ds."""
    gain = 2.5
    p = chnn(np.zeros((3, 3), np.float32), gain=gain, activation=activation)
    if activation == "sigmoid":
        v, start = np.array([0.02, 0.5, 0.93]), 0.5

        def g_inv(s):
            return np.log(s / (1 - s)) / gain
    else:
        v, start = np.array([-0.97, 0.1, 0.6]), 0.0

        def g_inv(s):
            return np.arctanh(s) / gain

    expected = sum(quad(g_inv, start, vi)[0] for vi in v)
    got = leak_integral(p, jnp.asarray(v, jnp.float32))
    assert float(got) == pytest.approx(expected, rel=1e-5)
    # saturated outputs stay finite (0 log 0 = 0)
    edge = 1.0 if activation == "sigmoid" else -1.0
    assert np.isfinite(float(leak_integral(p, jnp.asarray([edge, 0.5, 0.5]))))


def _trajectory_energies(p, u0, ts, t1):
    sol = simulate(
        p,
        u0,
        t1=t1,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=1e-10, atol=1e-12),
        until_steady=False,
        max_steps=20_000,
    )
    energies = jax.vmap(lambda u: energy_continuous(p, output(p, u)))(sol.ys)
    return energies, sol.result == diffrax.RESULTS.successful


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_energy_never_increases_100_networks_float64(activation):
    """Hopfield (1984): dE/dt <= 0; relative 1e-9 on 100 random networks."""
    count, n = 100, 8
    rng = np.random.default_rng(3)
    with jax.enable_x64(True):
        nets = [random_network(s, n, scale=3.0, dtype=np.float64) for s in range(count)]
        w = jnp.stack([x[0] for x in nets])
        b = jnp.stack([x[1] for x in nets])
        tau = jnp.asarray(rng.uniform(0.5, 2.0, count))
        gain = jnp.asarray(rng.uniform(0.5, 5.0, count))
        u0 = jnp.asarray(rng.normal(size=(count, n)) * 2)
        template = chnn(np.asarray(w[0]), np.asarray(b[0]), activation=activation)
        params = template.replace(weights=w, bias=b, tau=tau, gain=gain)
        ts = jnp.linspace(0.0, 20.0, 81)
        energies, ok = jax.jit(
            jax.vmap(lambda p, u: _trajectory_energies(p, u, ts, 20.0))
        )(params, u0)
        energies = np.asarray(energies)
    assert energies.dtype == np.float64 and bool(np.all(ok))
    rises = np.diff(energies, axis=1)
    scale = np.max(np.abs(energies), axis=1, keepdims=True)
    assert np.all(rises <= 1e-9 * scale), np.max(rises / scale)
    # the dynamics do move: every network loses energy between t = 0 and t = 20
    assert np.all(energies[:, -1] < energies[:, 0] - 1e-3)


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["eager", "jit"])
def test_vmap_over_u0_and_params_equals_loop(transform):
    w, b = random_network(4)
    p = chnn(w, b, gain=2.0)
    u0 = np.random.default_rng(5).normal(size=(4, N)).astype(np.float32)

    def run(p, u):
        return final_state(simulate(p, u, t1=100.0))

    # adaptive float32 steps: a vmapped and a single solve differ by rounding,
    # which the step-size controller can turn into ~2e-4 at t = 100 (seen at
    # XLA optimisation level 0); distinct equilibria differ by > 1e-2
    batched = transform(jax.vmap(run, in_axes=(None, 0)))(p, jnp.asarray(u0))
    loop = np.stack([run(p, u) for u in u0])
    np.testing.assert_allclose(batched, loop, rtol=1e-3, atol=1e-3)

    nets = [chnn(*random_network(s), gain=2.0) for s in (6, 7, 8)]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *nets)
    batched = transform(jax.vmap(run, in_axes=(0, None)))(stacked, jnp.asarray(u0[0]))
    loop = np.stack([run(q, u0[0]) for q in nets])
    np.testing.assert_allclose(batched, loop, rtol=1e-3, atol=1e-3)
    assert np.ptp(loop[:, 0]) > 1e-2  # different networks, different equilibria


def test_euler_constant_step_is_the_explicit_update():
    """Euler + ConstantStepSize = the textbook's u <- u + dt f(u), step by step."""
    dt, steps = 0.125, 16
    with jax.enable_x64(True):
        w, b = random_network(9, dtype=np.float64)
        p = chnn(w, b, tau=0.8, gain=3.0, activation="tanh")
        u0 = np.random.default_rng(10).normal(size=N)
        sol = simulate(
            p,
            u0,
            t1=dt * steps,
            dt0=dt,
            solver=diffrax.Euler(),
            stepsize_controller=diffrax.ConstantStepSize(),
            saveat=diffrax.SaveAt(steps=True),
            until_steady=False,
        )
        ys = np.asarray(sol.ys)
    u, expected = u0.copy(), []
    for _ in range(steps):
        u = u + dt * numpy_field(w, b, 0.8, 3.0, "tanh", u)
        expected.append(u)
    assert int(sol.stats["num_steps"]) == steps
    np.testing.assert_allclose(ys[:steps], np.stack(expected), rtol=1e-12, atol=1e-12)


def test_solvers_reach_the_same_equilibrium_as_scipy():
    w, b = random_network(11)
    p = chnn(w, b, tau=1.0, gain=2.0)
    u0 = np.random.default_rng(12).normal(size=N).astype(np.float32)
    ref = solve_ivp(
        lambda t, u: numpy_field(w, b, 1.0, 2.0, "sigmoid", u),
        (0.0, 100.0),
        u0.astype(np.float64),
        rtol=1e-10,
        atol=1e-12,
    ).y[:, -1]
    for solver in (diffrax.Tsit5(), diffrax.Dopri5(), diffrax.Kvaerno5()):
        sol = simulate(p, u0, t1=100.0, solver=solver)
        assert bool(reached_steady_state(sol)), type(solver).__name__
        np.testing.assert_allclose(final_state(sol), ref, atol=5e-3)
    assert np.max(np.abs(ref - u0)) > 0.1  # the start was not the equilibrium


def test_steady_state_event_stops_early():
    w, b = random_network(13)
    p = chnn(w, b, gain=2.0)
    u0 = np.random.default_rng(14).normal(size=N).astype(np.float32)
    steady = simulate(p, u0, t1=100.0)
    full = simulate(p, u0, t1=100.0, until_steady=False)
    t_end = float(steady.ts[-1])
    assert bool(reached_steady_state(steady)) and 1.0 < t_end < 50.0
    assert not bool(reached_steady_state(full)) and float(full.ts[-1]) == 100.0
    assert int(steady.stats["num_steps"]) < int(full.stats["num_steps"])
    u = final_state(steady)
    rms = lambda x: float(jnp.sqrt(jnp.mean(x**2)))  # noqa: E731 (Diffrax's norm)
    assert rms(vector_field(0.0, u, p)) < 1e-6 + 1e-3 * rms(u)
    np.testing.assert_allclose(u, final_state(full), atol=1e-2)
    # saved on a grid, the event leaves the slots after it unfilled (inf):
    # final_state returns the last filled one, also for a batch of solutions
    grid = diffrax.SaveAt(ts=jnp.linspace(0.0, 100.0, 101))
    runs = [simulate(p, u, t1=100.0, saveat=grid) for u in (u0, -u0)]
    batch = jax.tree.map(lambda *x: jnp.stack(x), *runs)  # as vmap would give
    filled = np.isfinite(np.asarray(batch.ts))
    assert 0 < filled[0].sum() < 101 and np.isinf(np.asarray(batch.ys[0, -1])).all()
    last = np.asarray(final_state(batch))
    assert last.shape == (2, N) and np.all(np.isfinite(last))
    for i in range(2):
        np.testing.assert_array_equal(last[i], batch.ys[i, filled[i].sum() - 1])
    np.testing.assert_allclose(last[0], u, atol=1e-2)  # within a grid step of t_end


def test_chnn_keeps_float64_and_allows_asymmetry_when_unchecked():
    with jax.enable_x64(True):
        p = chnn(np.array([[0.0, 1.0], [1.0, 0.0]]), tau=2.0)
        assert p.weights.dtype == jnp.float64 and p.tau.dtype == jnp.float64
    q = chnn(np.array([[0.5, 2.0], [-1.0, 0.0]], np.float32), check=False)
    assert float(q.weights[0, 1]) == 2.0 and q.bias.shape == (2,)


GOOD = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"weights": np.zeros((2, 3), np.float32)}, "square"),
        ({"weights": np.zeros((4,), np.float32)}, "rank 2"),
        ({"weights": np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)}, "symmetric"),
        ({"weights": np.eye(2, dtype=np.float32)}, "zero diagonal"),
        ({"weights": np.array([[0.0, np.nan], [np.nan, 0.0]])}, "NaN"),
        ({"tau": -1.0}, "tau must be > 0"),
        ({"gain": 0.0}, "gain must be > 0"),
        ({"bias": np.zeros(3, np.float32)}, r"bias must have shape \(2,\)"),
        ({"activation": "relu"}, "activation"),
    ],
)
def test_chnn_bad_input(kwargs, match):
    args = {"weights": GOOD, **kwargs}
    with pytest.raises(ValueError, match=match):
        chnn(args.pop("weights"), **args)


@pytest.mark.parametrize(
    "u0, kwargs, match",
    [
        (np.zeros(3, np.float32), {}, r"u0 must have shape \(2,\)"),
        (np.array([0.0, np.nan], np.float32), {}, "NaN"),
        (np.zeros(2, np.float32), {"t1": 0.0}, "t1 must be > t0"),
        (
            np.zeros(2, np.float32),
            {"stepsize_controller": diffrax.ConstantStepSize()},
            "dt0 is required",
        ),
    ],
)
def test_simulate_bad_input(u0, kwargs, match):
    p = chnn(GOOD)
    with pytest.raises(ValueError, match=match):
        simulate(p, u0, **{"t1": 1.0, **kwargs})
