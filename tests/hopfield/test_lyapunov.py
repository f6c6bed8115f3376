"""Lyapunov checks (D2) and fault tolerance of CHNN attractors (D4, D7)."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from jnn.hopfield import (
    chnn,
    chnn_lyapunov,
    energy_continuous,
    fault_tolerance,
    final_state,
    hebbian,
    lyapunov_check,
    output,
    recall,
    simulate,
)
from jnn.hopfield.continuous.robustness import _study

GAIN = 4.0


def khalil_field(x):
    """x' = -x^3 + y, y' = -x - y^3 (Khalil, Nonlinear Systems, Ex. 4.2 family)."""
    return jnp.stack([-(x[0] ** 3) + x[1], -x[0] - x[1] ** 3])


def squared_norm(x):
    return x @ x


def random_states(k=64, d=2, seed=0):
    return np.random.default_rng(seed).normal(size=(k, d)).astype(np.float32)


def test_textbook_system_rates_and_definiteness_analytic():
    """V = x^2 + y^2: dV/dt = -2 x^4 - 2 y^4 < 0, Hessian 2 I at the origin."""
    states = random_states()
    r = lyapunov_check(squared_norm, khalil_field, states, equilibrium=np.zeros(2))
    x, y = states[:, 0], states[:, 1]
    np.testing.assert_allclose(r.rates, -2 * x**4 - 2 * y**4, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(r.energies, x**2 + y**2, rtol=1e-6)
    assert not np.any(r.violations) and float(r.fraction_violated) == 0.0
    assert float(r.max_rate) == pytest.approx(np.max(-2 * x**4 - 2 * y**4), rel=1e-5)
    np.testing.assert_allclose(r.hessian_eigenvalues, [2.0, 2.0], rtol=1e-6)
    assert bool(r.is_local_minimum) and float(r.equilibrium_residual) == 0.0


def test_anti_damped_oscillator_is_flagged_and_a_saddle_is_not_a_minimum():
    """x'' = +c x' (c > 0): V = x^2 + v^2 has dV/dt = 2 c v^2 >= 0."""
    c = 0.5
    states = random_states(seed=1)

    def field(z):
        return jnp.stack([z[1], -z[0] + c * z[1]])

    r = lyapunov_check(squared_norm, field, states)
    rates = 2 * c * states[:, 1] ** 2
    # rates as small as 1e-6 come from float32 cancellation: an absolute floor
    np.testing.assert_allclose(r.rates, rates, rtol=1e-5, atol=1e-9)
    scale = np.linalg.norm(2 * states, axis=1) * np.linalg.norm(
        jax.vmap(field)(states), axis=1
    )
    np.testing.assert_array_equal(r.violations, rates > 1e-6 + 1e-5 * scale)
    assert float(r.fraction_violated) >= 0.95
    assert int(r.argmax) == int(np.argmax(states[:, 1] ** 2))

    def saddle(z):
        return z[0] ** 2 - z[1] ** 2

    s = lyapunov_check(saddle, field, states, equilibrium=np.zeros(2))
    np.testing.assert_allclose(s.hessian_eigenvalues, [-2.0, 2.0], rtol=1e-6)
    assert not bool(s.is_local_minimum)


def _trajectory(p, u0, t1=20.0, points=101):
    ts = jnp.linspace(0.0, t1, points)
    sol = simulate(
        p, u0, t1=t1, saveat=diffrax.SaveAt(ts=ts), until_steady=False, max_steps=8192
    )
    return sol.ys


def random_weights(seed, n=8, *, symmetric=True):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n)) / np.sqrt(n)
    w = (a + a.T) / np.sqrt(2) if symmetric else 2 * a
    np.fill_diagonal(w, 0.0)
    return w.astype(np.float32), rng.normal(size=n).astype(np.float32)


def test_symmetric_chnn_has_no_violations_on_its_trajectory():
    w, b = random_weights(2)
    p = chnn(w, b, gain=GAIN, activation="tanh")
    u0 = np.random.default_rng(3).normal(size=8).astype(np.float32)
    states = _trajectory(p, u0)
    V, f = chnn_lyapunov(p)
    r = lyapunov_check(V, f, states)
    assert float(r.fraction_violated) == 0.0 and float(r.max_rate) <= 1e-6
    # Hopfield (1984): dE/dt = -sum_i g'(u_i) (du_i/dt)^2, computed here by hand
    du = jax.vmap(f)(states)
    slope = GAIN * (1 - jnp.tanh(GAIN * states) ** 2)
    np.testing.assert_allclose(
        r.rates, -jnp.sum(slope * du**2, axis=1), rtol=2e-3, atol=1e-4
    )
    assert float(r.rates[0]) < -1e-2  # it really descends at the start
    expected = jax.vmap(lambda u: energy_continuous(p, output(p, u)))(states)
    np.testing.assert_allclose(r.energies, expected, rtol=1e-5, atol=1e-5)


def test_stable_equilibrium_is_a_strict_minimum_of_the_energy_in_v():
    """At v*: Hessian of E(v) = -W + diag(1 / (tau gain (1 - v*^2))) (tanh).

    In v (not u) coordinates: saturated units make V(u) flat, E(v) is not.
    """
    w, b = random_weights(2)
    p = chnn(w, b, tau=1.0, gain=1.0, activation="tanh")
    u_star = final_state(simulate(p, np.zeros(8, np.float32), t1=100.0))
    v_star = output(p, u_star)

    def field_v(v):  # dv/dt = g'(u) du/dt at u = g^-1(v)
        u = jnp.arctanh(v)
        return (1 - v**2) * f(u)

    _, f = chnn_lyapunov(p)
    trajectory = output(p, _trajectory(p, np.ones(8, np.float32)))
    r = lyapunov_check(
        lambda v: energy_continuous(p, v), field_v, trajectory, equilibrium=v_star
    )
    v = np.asarray(v_star, np.float64)
    expected = np.linalg.eigvalsh(-w + np.diag(1 / (1 - v**2)))
    np.testing.assert_allclose(r.hessian_eigenvalues, expected, rtol=1e-3)
    assert bool(r.is_local_minimum) and float(r.equilibrium_residual) < 1e-3
    assert float(r.fraction_violated) == 0.0


def test_unstable_equilibrium_hessian_matches_closed_form():
    """At u = 0 (tanh, I = 0): Hessian of V(u) = gain/tau I - gain^2 W."""
    w, _ = random_weights(4)
    tau = 0.8
    p = chnn(w, tau=tau, gain=GAIN, activation="tanh")
    V, f = chnn_lyapunov(p)
    r = lyapunov_check(V, f, random_states(8, 8), equilibrium=np.zeros(8))
    expected = np.linalg.eigvalsh(GAIN / tau * np.eye(8) - GAIN**2 * w)
    np.testing.assert_allclose(r.hessian_eigenvalues, expected, rtol=1e-4, atol=1e-4)
    assert expected[0] < 0 and not bool(r.is_local_minimum)
    assert float(r.equilibrium_residual) == 0.0


def test_asymmetric_weights_are_flagged_where_the_energy_rises():
    w, _ = random_weights(0, symmetric=False)
    p = chnn(w, gain=GAIN, activation="tanh", check=False)
    states = _trajectory(p, np.random.default_rng(5).normal(size=8).astype(np.float32))
    V, f = chnn_lyapunov(p)
    r = lyapunov_check(V, f, states)
    assert float(r.fraction_violated) > 0.1 and float(r.max_rate) > 0.1
    # integrate 1e-5 from the worst state (float64): E really rises at that rate
    h = 1e-5
    with jax.enable_x64(True):
        p64 = chnn(np.asarray(w, np.float64), gain=GAIN, activation="tanh", check=False)
        V64, _ = chnn_lyapunov(p64)
        start = jnp.asarray(np.asarray(states[int(r.argmax)], np.float64))
        tight = diffrax.PIDController(rtol=1e-10, atol=1e-12)
        after = simulate(
            p64, start, t1=h, until_steady=False, stepsize_controller=tight
        )
        rise = (V64(final_state(after)) - V64(start)) / h
    assert float(rise) == pytest.approx(float(r.max_rate), rel=1e-2)
    energies = np.asarray(r.energies)
    assert np.max(np.diff(energies)) > 1e-2  # and it rises along the trajectory


def _scalar_field(x):
    return -x


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (("nope", _scalar_field, random_states()), {}, TypeError, "`energy`"),
        ((squared_norm, None, random_states()), {}, TypeError, "`vector_field`"),
        ((squared_norm, _scalar_field, np.zeros(3)), {}, ValueError, "`states`"),
        (
            (squared_norm, _scalar_field, np.full((2, 2), np.nan)),
            {},
            ValueError,
            "NaN",
        ),
        ((lambda x: x, _scalar_field, random_states()), {}, ValueError, "scalar"),
        ((squared_norm, lambda x: x[:1], random_states()), {}, ValueError, "dx/dt"),
        (
            (squared_norm, _scalar_field, random_states()),
            {"equilibrium": np.zeros(3)},
            ValueError,
            "`equilibrium`",
        ),
        (
            (squared_norm, _scalar_field, random_states()),
            {"tol": -1.0},
            ValueError,
            "`tol`",
        ),
    ],
)
def test_lyapunov_check_bad_input(args, kwargs, error, match):
    with pytest.raises(error, match=match):
        lyapunov_check(*args, **kwargs)


# --- fault tolerance (D4) ---------------------------------------------------

N, M = 64, 4


def hebbian_network():
    rng = np.random.default_rng(0)
    patterns = np.where(rng.random((M, N)) < 0.5, 1.0, -1.0).astype(np.float32)
    return chnn(hebbian(patterns), gain=10.0, activation="tanh"), patterns


def test_fault_tolerance_of_a_hebbian_memory():
    p, patterns = hebbian_network()
    levels = [0.0, 0.1, 0.2, 0.5]
    r = fault_tolerance(
        p, 0.1 * patterns[0], levels, key=jax.random.key(0), trials=16, t1=50.0
    )
    fraction = np.asarray(r.fraction)
    np.testing.assert_array_equal(np.sign(r.clean_final), patterns[0])  # recalled
    assert fraction[0] == 1.0 and fraction[1] >= 0.95 and fraction[2] >= 0.9
    assert fraction[3] <= 0.5  # half the signs flipped: no memory of the start
    assert np.mean(r.steady) >= 0.9
    # exactly round(p N) signs were flipped in every start
    flips = np.sum(np.sign(r.starts) != patterns[0], axis=2)
    expected = np.broadcast_to(np.round(np.array(levels) * N)[:, None], flips.shape)
    np.testing.assert_array_equal(flips, expected)
    # independent reference: SciPy from the same starts, same verdict
    w = np.asarray(p.weights, np.float64)
    for level, trial in [(1, 0), (2, 1), (3, 0), (3, 1)]:
        u0 = np.asarray(r.starts[level, trial], np.float64)
        end = solve_ivp(
            lambda t, u: -u + w @ np.tanh(10.0 * u), (0, 50), u0, rtol=1e-6, atol=1e-9
        ).y[:, -1]
        same = np.array_equal(np.sign(end), np.sign(r.clean_final))
        assert same == bool(r.reached[level, trial])
        np.testing.assert_array_equal(np.sign(end), np.sign(r.finals[level, trial]))


def test_chnn_matches_discrete_recall_on_the_same_probes():
    """D7: high-gain CHNN and the DHNN (same Hebbian W) end at the same memory."""
    p, patterns = hebbian_network()
    levels = [0.0, 0.1, 0.2, 0.3]  # same shapes as above: no recompilation
    r = fault_tolerance(
        p, 0.1 * patterns[0], levels, key=jax.random.key(1), trials=16, t1=50.0
    )
    probes = np.sign(np.asarray(r.starts)).reshape(-1, N)
    discrete = jax.vmap(lambda s: recall(p.weights, s).state)(jnp.asarray(probes))
    dhnn_ok = np.all(np.asarray(discrete) == patterns[0], axis=1)
    assert np.mean(dhnn_ok) >= 0.9
    agree = np.mean(dhnn_ok == np.asarray(r.reached).ravel())
    assert agree >= 0.9
    # another key and gain: same compiled study, no retracing
    size = _study._cache_size()
    again = fault_tolerance(
        p.replace(gain=jnp.float32(8.0)),
        0.1 * patterns[1],
        levels,
        key=jax.random.key(7),
        trials=16,
        t1=50.0,
    )
    assert _study._cache_size() == size and float(again.fraction[1]) >= 0.9


def test_gaussian_noise_and_state_criterion():
    p, patterns = hebbian_network()
    r = fault_tolerance(
        p,
        0.1 * patterns[0],
        [0.5, 8.0],
        key=jax.random.key(2),
        trials=16,
        noise="gaussian",
        criterion="state",
        atol=1e-2,
    )
    assert float(r.fraction[0]) >= 0.95 and float(r.fraction[1]) <= 0.5


@pytest.mark.parametrize(
    "u_clean, levels, kwargs, match",
    [
        (np.zeros(3, np.float32), [0.1], {}, "`u_clean`"),
        (np.full(N, np.nan, np.float32), [0.1], {}, "NaN"),
        (np.zeros(N, np.float32), [1.5], {}, "`noise_levels`"),
        (np.zeros(N, np.float32), [-0.1], {"noise": "gaussian"}, "`noise_levels`"),
        (np.zeros(N, np.float32), [0.1], {"noise": "salt"}, "`noise`"),
        (np.zeros(N, np.float32), [0.1], {"criterion": "close"}, "`criterion`"),
        (np.zeros(N, np.float32), [0.1], {"trials": 0}, "`trials`"),
        (np.zeros(N, np.float32), [0.1], {"t1": -1.0}, "`t1`"),
    ],
)
def test_fault_tolerance_bad_input(u_clean, levels, kwargs, match):
    p, _ = hebbian_network()
    with pytest.raises(ValueError, match=match):
        fault_tolerance(p, u_clean, levels, key=jax.random.key(0), **kwargs)
