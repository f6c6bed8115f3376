"""QUBO -> CHNN mapping, penalties, max-cut and the Tank-Hopfield A/D converter."""

import itertools
import math

import jax
import jax.numpy as jnp
import networkx as nx
import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import linear_sum_assignment

from jnn.hopfield import (
    adc,
    adc_decode,
    adc_qubo,
    adc_target,
    brute_force_qubo,
    critical_gain,
    cut_value,
    energy_continuous,
    final_state,
    gain_schedule,
    max_cut,
    max_cut_qubo,
    one_hot_penalty,
    output,
    penalty,
    qubo,
    qubo_objective,
    qubo_weights,
    simulate,
    solve_qubo,
)


def all_states(n):
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)), np.float32)


def numpy_objective(q, c, x):
    return np.array([xi @ q @ xi + c @ xi for xi in x.astype(np.float64)])


def random_problem(n, seed):
    rng = np.random.default_rng(seed)
    # Not symmetric and with a non-zero diagonal on purpose: both must be folded.
    return rng.normal(size=(n, n)).astype(np.float32), rng.normal(size=n).astype(
        np.float32
    )


def test_interaction_energy_equals_objective_on_every_binary_state():
    q, c = random_problem(7, 0)
    net = qubo(q, c, gain=5.0, tau=2.0)
    x = all_states(7)
    want = numpy_objective(q.astype(np.float64), c.astype(np.float64), x)
    got = np.asarray(jax.vmap(net.interaction_energy)(jnp.asarray(x)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(qubo_objective(q, c, x), want, rtol=1e-5, atol=1e-4)
    w, b = qubo_weights(q, c)
    np.testing.assert_allclose(w, w.T)
    np.testing.assert_array_equal(np.diag(w), 0.0)
    np.testing.assert_allclose(b, -(c + np.diag(q)), rtol=1e-6)
    # The full CHNN energy adds the leak, a constant N ln 2 / (gain tau) on corners.
    full = np.asarray(jax.vmap(lambda v: energy_continuous(net, v))(jnp.asarray(x)))
    np.testing.assert_allclose(full - want, 7 * math.log(2) / 10.0, atol=1e-4)


def test_brute_force_matches_numpy_enumeration_over_several_chunks():
    q, c = random_problem(13, 1)  # 2^13 states = two compiled chunks of 2^12
    x = all_states(13)
    f = numpy_objective(q.astype(np.float64), c.astype(np.float64), x)
    x_best, f_best = brute_force_qubo(q, c)
    assert float(f_best) == pytest.approx(f.min(), rel=1e-5, abs=1e-4)
    np.testing.assert_array_equal(np.asarray(x_best), x[np.argmin(f)])


def test_penalty_reproduces_squared_constraint_violation():
    rng = np.random.default_rng(2)
    a = rng.integers(-2, 3, size=(3, 6)).astype(np.float32)
    b = rng.integers(0, 3, size=3).astype(np.float32)
    q, c = penalty(a, b, 1.5)
    x = all_states(6)
    want = 1.5 * np.sum((x @ a.T - b) ** 2, axis=1)
    np.testing.assert_allclose(
        qubo_objective(q, c, x) + 1.5 * b @ b, want, rtol=1e-5, atol=1e-4
    )
    groups = np.kron(np.eye(2), np.ones((1, 3)))  # two groups of three
    q, c = one_hot_penalty(groups, 2.0)
    f = np.asarray(qubo_objective(q, c, x))
    feasible = np.all(x @ groups.T == 1, axis=1)
    np.testing.assert_allclose(f[feasible], -4.0, atol=1e-5)
    assert f[~feasible].min() >= -4.0 + 2.0 - 1e-5


def test_penalised_assignment_solved_by_the_network():
    """4x4 assignment (16 variables): rows and columns one-hot + linear cost."""
    rng = np.random.default_rng(3)
    n, weight = 4, 2.0
    cost = rng.uniform(size=(n, n)).astype(np.float32)
    rows, cols = linear_sum_assignment(cost)
    optimum = cost[rows, cols].sum()
    q1, c1 = one_hot_penalty(np.kron(np.eye(n), np.ones((1, n))), weight)
    q2, c2 = one_hot_penalty(np.kron(np.ones((1, n)), np.eye(n)), weight)
    q, c = q1 + q2, c1 + c2 + cost.reshape(-1)
    _, f_best = brute_force_qubo(q, c)
    assert float(f_best) + 2 * n * weight == pytest.approx(optimum, abs=1e-5)
    sol = solve_qubo(qubo(q, c), jax.random.key(0), restarts=16)
    x = np.asarray(sol.states).reshape(-1, n, n)
    feasible = np.all(x.sum(1) == 1, axis=1) & np.all(x.sum(2) == 1, axis=1)
    assert feasible.mean() >= 0.9
    assert float(sol.best_objective) + 2 * n * weight == pytest.approx(
        optimum, abs=1e-4
    )
    np.testing.assert_allclose(
        sol.objective, qubo_objective(q, c, sol.states), rtol=1e-5, atol=1e-4
    )


def test_cut_value_and_max_cut_energy_against_networkx():
    graph = nx.gnp_random_graph(8, 0.5, seed=4)
    a = nx.to_numpy_array(graph, dtype=np.float32)
    x = all_states(8)
    want = np.array([nx.cut_size(graph, np.flatnonzero(xi)) for xi in x])
    np.testing.assert_allclose(cut_value(a, x), want)
    q, c = max_cut_qubo(a)
    np.testing.assert_allclose(qubo_objective(q, c, x), -want, atol=1e-5)
    net = max_cut(a)
    np.testing.assert_allclose(net.weights, -2 * a)
    np.testing.assert_allclose(net.bias, a.sum(1))


GRAPHS = [("petersen", nx.petersen_graph())] + [
    (f"gnp16-{s}", nx.gnp_random_graph(16, 0.5, seed=s)) for s in range(3)
]


@pytest.mark.parametrize("name,graph", GRAPHS, ids=[g[0] for g in GRAPHS])
def test_max_cut_network_reaches_brute_force_optimum(name, graph):
    a = nx.to_numpy_array(graph, dtype=np.float32)
    _, f_best = brute_force_qubo(*max_cut_qubo(a))
    optimum = -float(f_best)
    if name == "petersen":
        assert optimum == 12.0  # 15 edges, odd 5-cycles: 3 must stay uncut
    sol = solve_qubo(max_cut(a), jax.random.key(1), restarts=32)
    cuts = np.asarray(cut_value(a, sol.states))
    assert cuts.max() == optimum
    assert cuts.mean() >= 0.97 * optimum
    assert float(cut_value(a, sol.best_state)) == optimum


def test_restarts_end_where_scipy_does_at_one_flip_local_minima():
    """Each restart against an independent float64 SciPy integration."""
    a = nx.to_numpy_array(nx.petersen_graph(), dtype=np.float32)
    net = max_cut(a)
    key = jax.random.key(1)
    sol = solve_qubo(net, key, restarts=32)  # same shapes as above: cached
    assert np.all(np.asarray(sol.steady))
    # the documented starts u0 = noise * normal(key, (restarts, N)), noise 0.01
    u0 = 0.01 * np.asarray(jax.random.normal(key, (32, 10)), np.float64)
    w, b = np.asarray(net.weights, np.float64), np.asarray(net.bias, np.float64)
    gain = float(net.gain)

    def field(t, u):
        return -u + w @ (1 / (1 + np.exp(-gain * u))) + b

    ends = [solve_ivp(field, (0, 20), u, rtol=1e-8, atol=1e-10).y[:, -1] for u in u0]
    ends = np.stack(ends)
    assert np.min(np.abs(ends)) > 0.5  # every unit decided: the decoding is robust
    states = np.asarray(sol.states, np.float64)
    np.testing.assert_array_equal(states, ends > 0)  # measured: 32 of 32 agree
    # every decoded state is a local minimum of f = x^T Q x + c^T x: no single
    # flip lowers it (brute force over the N flips, in NumPy)
    q, c = (np.asarray(t, np.float64) for t in max_cut_qubo(a))
    f = np.einsum("ri,ij,rj->r", states, q, states) + states @ c
    np.testing.assert_allclose(np.asarray(sol.objective), f, rtol=1e-6, atol=1e-5)
    flipped = np.abs(states[:, None, :] - np.eye(10)[None])  # (R, N, N)
    f_flip = np.einsum("rki,ij,rkj->rk", flipped, q, flipped) + flipped @ c
    assert np.all(f_flip >= f[:, None] - 1e-9)
    assert len({tuple(x) for x in states}) > 1  # the restarts explore


def test_annealing_rescues_a_high_gain_network():
    """Near-discrete gain: plain descent sticks in local minima, annealing does not."""
    graph = nx.gnp_random_graph(16, 0.5, seed=0)
    a = nx.to_numpy_array(graph, dtype=np.float32)
    optimum = -float(brute_force_qubo(*max_cut_qubo(a))[1])
    net = max_cut(a)
    sharp = max_cut(a, gain=100 * critical_gain(net))
    schedule = gain_schedule(sharp, 8)
    assert schedule[0] == pytest.approx(0.5 * critical_gain(sharp), rel=1e-5)
    assert schedule[-1] == pytest.approx(float(sharp.gain), rel=1e-5)
    key = jax.random.key(2)
    plain = np.asarray(cut_value(a, solve_qubo(sharp, key, restarts=32).states))
    annealed = solve_qubo(sharp, key, restarts=32, anneal=schedule)
    annealed = np.asarray(cut_value(a, annealed.states))
    assert np.mean(annealed == optimum) >= 0.9
    assert np.mean(annealed == optimum) > np.mean(plain == optimum)


def test_adc_weights_are_the_papers_and_the_energy_is_the_squared_error():
    x = 6.3
    net = adc(x, 4)
    i = np.arange(4)
    t = -(2.0 ** (i[:, None] + i[None, :])) * (1 - np.eye(4))
    np.testing.assert_allclose(net.weights, t)
    np.testing.assert_allclose(net.bias, -(2.0 ** (2 * i - 1)) + 2.0**i * x, rtol=1e-6)
    codes = all_states(4)
    value = codes @ 2.0**i
    q, c = adc_qubo(x, 4)
    np.testing.assert_allclose(
        qubo_objective(q, c, codes) + x**2 / 2, (x - value) ** 2 / 2, atol=1e-4
    )
    np.testing.assert_array_equal(adc_decode(codes), value.astype(int))
    # Brute force of the network's QUBO = the nearest code (away from ties).
    for analog in (0.2, 3.7, 7.6, 11.4, 14.9, 20.0):
        x_best, _ = brute_force_qubo(*adc_qubo(analog, 4))
        assert int(adc_decode(x_best)) == int(adc_target(analog, 4))


def test_adc_network_from_rest_reaches_the_nearest_code():
    grid = jnp.linspace(0.0, 15.0, 301)

    @jax.jit
    def convert(x):
        net = adc(x, 4)
        sol = simulate(net, jnp.zeros(4), t1=100.0)
        return adc_decode(output(net, final_state(sol)))

    codes = np.asarray(jax.vmap(convert)(grid))
    g = np.asarray(grid)
    error = np.abs(g - codes)
    nearest = error <= np.abs(g - np.asarray(adc_target(grid))) + 1e-5
    # Tank & Hopfield's spurious minima: inputs just below 4 read 3 (0011 vs
    # 0100), just below 11.5 read 12; about 9% of the grid at gain 10.
    assert nearest.mean() >= 0.88
    assert error.max() <= 8.0
    assert np.all(codes[(g > 4.55) & (g < 5.25)] == 5)


def test_bad_input_is_rejected_with_the_argument_named():
    q, c = random_problem(3, 5)
    with pytest.raises(ValueError, match="`Q` must be a square"):
        qubo(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="`c` contains NaN"):
        qubo(q, np.array([1.0, np.nan, 0.0], np.float32))
    with pytest.raises(ValueError, match=r"`c` must have shape \(3,\)"):
        qubo(q, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="supports N <= 20"):
        brute_force_qubo(np.zeros((21, 21), np.float32))
    with pytest.raises(ValueError, match="`weight` must be a finite number > 0"):
        penalty(np.ones((1, 3), np.float32), np.ones(1, np.float32), 0.0)
    with pytest.raises(ValueError, match="0/1 membership"):
        one_hot_penalty(np.full((1, 3), 0.5), 1.0)
    asym = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)
    with pytest.raises(ValueError, match="`adjacency` must be symmetric"):
        max_cut(asym)
    with pytest.raises(ValueError, match="`adjacency` must have non-negative"):
        cut_value(-np.ones((3, 3), np.float32), np.zeros(3))
    with pytest.raises(ValueError, match="`x` must have shape"):
        cut_value(np.ones((3, 3), np.float32), np.zeros(4))
    for bits in (0, 17):
        with pytest.raises(ValueError, match=r"`n_bits` must be in \[1, 16\]"):
            adc(3.0, bits)
    with pytest.raises(TypeError, match="`n_bits` must be an int"):
        adc(3.0, 4.0)
    with pytest.raises(ValueError, match="`analog` must be finite"):
        adc(float("nan"))
    with pytest.raises(ValueError, match="gain must be > 0"):
        adc(3.0, gain=-1.0)
    with pytest.raises(ValueError, match="`restarts` must be a positive int"):
        solve_qubo(qubo(q), jax.random.key(0), restarts=0)
    with pytest.raises(ValueError, match="`anneal` gains must be > 0"):
        solve_qubo(qubo(q), jax.random.key(0), anneal=[1.0, -1.0])
