"""Discrete Hopfield recall (D8-D10): worked example, theorems, jit/vmap, bad input."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jnn.hopfield import (
    binary_weights,
    energy,
    hebbian,
    overlap,
    pseudo_inverse,
    recall,
    storkey,
    to_binary,
)
from jnn.hopfield.discrete.dhnn import _recall
from tests.conftest import load

N = 8  # fixed shape of the property tests: one compilation each
SEEDS = st.integers(0, 2**31 - 1)


def random_symmetric(seed, n=N, *, psd=False):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    if psd:
        return (a @ a.T / n).astype(np.float32)  # symmetric, non-negative definite
    w = (a + a.T) / 2
    np.fill_diagonal(w, 0.0)
    return w.astype(np.float32)


def random_state(seed, n=N):
    return np.random.default_rng(seed + 1).choice([-1.0, 1.0], n).astype(np.float32)


def numpy_energy(w, s, theta):
    return -0.5 * s @ w @ s + theta @ s


def test_d10_worked_example_step_by_step():
    x = np.array([[1, -1, 1], [-1, 1, -1]])
    w = hebbian(x)
    expected = np.array([[0, -2, 2], [-2, 0, -2], [2, -2, 0]]) / 3
    np.testing.assert_allclose(w, expected, atol=1e-7)
    out = recall(w, np.array([-1, -1, 1]), mode="async", trace=True)
    # sweep 1: neuron 1 (index 0) sees h = 4/3 and flips; neurons 2, 3 stay.
    assert int(out.steps) == 6 and int(out.result.sweeps) == 2
    np.testing.assert_array_equal(out.neurons[:6], [0, 1, 2, 0, 1, 2])
    np.testing.assert_allclose(out.fields[:3], [4 / 3, -4 / 3, 4 / 3], rtol=1e-6)
    np.testing.assert_array_equal(out.states[0], [1, -1, 1])
    np.testing.assert_array_equal(out.states[1:6], np.tile([1, -1, 1], (5, 1)))
    assert energy(w, np.array([-1.0, -1.0, 1.0])) == pytest.approx(2 / 3)
    np.testing.assert_allclose(out.energies[:6], -2.0, rtol=1e-6)
    assert np.isnan(out.energies[6]) and int(out.neurons[6]) == -1
    assert bool(out.result.converged) and int(out.result.cycle_length) == 0
    np.testing.assert_array_equal(out.result.state, [1, -1, 1])


@settings(max_examples=25, deadline=None)
@given(SEEDS, st.sampled_from(["sequential", "random"]))
def test_async_never_raises_energy_and_converges(seed, order):
    w, s = random_symmetric(seed), random_state(seed)
    theta = np.random.default_rng(seed + 2).normal(size=N).astype(np.float32)
    key = jax.random.key(seed)
    out = recall(w, s, order=order, key=key, theta=theta, trace=True)
    steps = int(out.steps)
    energies = np.concatenate([[numpy_energy(w, s, theta)], out.energies[:steps]])
    assert np.all(np.diff(energies) <= 1e-5)
    assert bool(out.result.converged) and int(out.result.sweeps) < 100
    # the event-driven fast path gives the same run as the neuron-by-neuron trace
    fast = recall(w, s, order=order, key=key, theta=theta)
    np.testing.assert_array_equal(fast.state, out.result.state)
    assert int(fast.sweeps) == int(out.result.sweeps) and bool(fast.converged)
    assert float(fast.energy) == pytest.approx(float(out.result.energy), abs=1e-4)


def test_sync_two_cycle_is_detected():
    # two mutually inhibiting pairs: sync flips every neuron back and forth
    w = np.kron(np.eye(N // 2), np.array([[0.0, -1.0], [-1.0, 0.0]]))
    s = np.ones(N, np.float32)
    out = recall(w, s, mode="sync", trace=True)
    assert int(out.result.cycle_length) == 2 and not bool(out.result.converged)
    assert int(out.result.sweeps) == 2
    np.testing.assert_array_equal(out.states[0], -s)
    np.testing.assert_array_equal(out.states[1], s)
    # async on the same W settles (one neuron of each pair flips)
    assert bool(recall(w, s, mode="async").converged)


@settings(max_examples=25, deadline=None)
@given(SEEDS)
def test_sync_converges_for_non_negative_definite_w(seed):
    w, s = random_symmetric(seed, psd=True), random_state(seed)
    out = recall(w, s, mode="sync")
    assert bool(out.converged) and int(out.cycle_length) == 0
    h = w @ np.asarray(out.state)
    np.testing.assert_array_equal(np.where(h >= 0, 1.0, -1.0), out.state)


def test_hebbian_low_load_patterns_are_fixed_points_under_both_modes():
    x = np.random.default_rng(0).choice([-1.0, 1.0], (4, 64)).astype(np.float32)
    w = hebbian(x)
    for mode in ("async", "sync"):
        out = jax.vmap(lambda s, mode=mode: recall(w, s, mode=mode))(jnp.asarray(x))
        np.testing.assert_array_equal(out.state, x)
        np.testing.assert_array_equal(out.sweeps, 1)


def test_jit_equals_eager_and_vmap_equals_stacking():
    w = random_symmetric(3, 16)
    probes = np.random.default_rng(4).choice([-1.0, 1.0], (5, 16)).astype(np.float32)
    keys = jax.random.split(jax.random.key(5), 5)

    def one(s, k, mode):
        return recall(w, s, mode=mode, order="random", key=k)

    for mode in ("async", "sync"):
        batched = jax.vmap(lambda s, k, mode=mode: one(s, k, mode))(probes, keys)
        jitted_one = jax.jit(lambda s, k, mode=mode: one(s, k, mode))  # one trace
        for i in range(5):
            eager = one(probes[i], keys[i], mode)
            jitted = jitted_one(probes[i], keys[i])
            for a, b, c in zip(eager, jitted, batched, strict=True):
                # exact for states and counters; energies up to float32 rounding
                np.testing.assert_allclose(a, b, rtol=1e-6)
                np.testing.assert_allclose(a, c[i], rtol=1e-6)


def test_random_orders_differ_between_keys_and_sweeps():
    w = random_symmetric(7, 16)
    s = random_state(7, 16)
    traces = [
        recall(w, s, order="random", key=jax.random.key(k), trace=True) for k in (0, 1)
    ]
    first = [np.asarray(t.neurons[:16]) for t in traces]
    assert sorted(first[0]) == list(range(16))  # a permutation of the neurons
    assert not np.array_equal(first[0], first[1])
    if int(traces[0].steps) >= 32:
        assert not np.array_equal(first[0], traces[0].neurons[16:32])


def test_recall_compiles_once_per_shape():
    w = random_symmetric(8, N)
    recall(w, random_state(0))
    before = _recall._cache_size()
    for seed in range(1, 5):
        recall(random_symmetric(seed), random_state(seed), theta=0.1 * seed)
    assert _recall._cache_size() == before


def test_binary_convention_makes_the_same_decisions():
    x = np.random.default_rng(9).choice([-1.0, 1.0], (3, 32)).astype(np.float32)
    w = storkey(x)
    probe = x[0] * np.where(np.arange(32) < 5, -1.0, 1.0)
    bipolar = recall(w, probe)
    w01, theta01 = binary_weights(w)
    binary = recall(w01, to_binary(probe), theta=theta01, convention="binary")
    np.testing.assert_array_equal(binary.state, to_binary(bipolar.state))
    assert int(binary.sweeps) == int(bipolar.sweeps)


def test_energy_and_overlap_match_numpy():
    w, s = random_symmetric(10), random_state(10)
    theta = np.linspace(-1, 1, N).astype(np.float32)
    assert float(energy(w, s, theta)) == pytest.approx(
        numpy_energy(w.astype(np.float64), s, theta), rel=1e-5
    )
    assert float(overlap(s, s)) == 1.0 and float(overlap(s, -s)) == -1.0
    assert float(overlap(s, np.ones(N))) == pytest.approx(s.mean())


def test_digit_bitmaps_are_recalled_from_noisy_probes():
    data = load("digits")
    x, y = np.asarray(data.train["x"]), np.asarray(data.train["y"])
    patterns = np.stack([np.where(x[y == c].mean(0) > 0, 1.0, -1.0) for c in range(10)])
    rng = np.random.default_rng(0)
    flips = np.ones((50, 64), np.float32)
    for row in flips:
        row[rng.choice(64, 6, replace=False)] = -1.0  # ~10% of the pixels
    target = np.tile(patterns, (5, 1)).astype(np.float32)
    w = pseudo_inverse(patterns)
    keys = jax.random.split(jax.random.key(0), 50)
    out = jax.vmap(lambda s, k: recall(w, s, order="random", key=k))(
        jnp.asarray(target * flips), keys
    )
    recovered = np.mean(np.all(np.asarray(out.state) == target, axis=1))
    assert recovered >= 0.9 and bool(np.all(out.converged))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"state": np.array([1.0, 0.0, 1.0])}, "state"),
        ({"state": np.ones(4)}, "state.*N = 3"),
        ({"W": np.ones((3, 2))}, "W.*square"),
        ({"W": np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0.0]])}, "W.*symmetric"),
        ({"theta": np.zeros(4)}, "theta"),
        ({"theta": np.nan}, "theta.*NaN"),
        ({"mode": "parallel"}, "mode"),
        ({"order": "random"}, "key"),
        ({"max_sweeps": 0}, "max_sweeps"),
        ({"convention": "binary"}, "state.*binary"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = {"W": hebbian(np.array([[1, -1, 1]])), "state": np.array([1, 1, -1])}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        recall(args.pop("W"), args.pop("state"), **args)


def numpy_async_recall(w, s, max_sweeps):
    """Neuron-by-neuron sequential async recall in float64 (reference)."""
    s = np.array(s, np.float64)
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for i in range(len(s)):
            new = 1.0 if w[i] @ s >= 0 else -1.0
            changed |= new != s[i]
            s[i] = new
        if not changed:
            return s, sweep, True
    return s, max_sweeps, False


def random_asymmetric(seed, n=N):
    w = np.random.default_rng(seed).normal(size=(n, n))
    np.fill_diagonal(w, 0.0)
    return w.astype(np.float32)


def test_non_symmetric_w_runs_with_check_false_like_a_numpy_loop():
    # a directed 3-cycle: async sequential updates never settle (period 2 sweeps)
    w = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0.0]])
    start = np.array([1.0, -1.0, 1.0])
    with pytest.warns(RuntimeWarning, match="symmetric"):
        out = recall(w, start, check=False, max_sweeps=5)
    assert not bool(out.converged) and int(out.sweeps) == 5
    np.testing.assert_array_equal(out.state, [-1.0, 1.0, -1.0])  # = after sweep 1
    np.testing.assert_array_equal(out.state, numpy_async_recall(w, start, 5)[0])
    # random asymmetric W: same final state, sweep count and convergence flag as
    # the NumPy loop, both where recall settles and where it runs out of sweeps
    outcomes = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for seed in range(12):
            w, s = random_asymmetric(seed), random_state(seed)
            want, sweeps, converged = numpy_async_recall(w, s, 100)
            got = recall(w, s, check=False)
            np.testing.assert_array_equal(got.state, want)
            assert int(got.sweeps) == sweeps and bool(got.converged) == converged
            outcomes.add(converged)
    assert outcomes == {True, False}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        energy(w, np.ones(N))  # evaluating E needs no symmetry
    with pytest.raises(ValueError, match="same shape"):
        overlap(np.ones(3), np.ones(4))
