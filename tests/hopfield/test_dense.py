"""Tests of jnn.hopfield.discrete.dense: dense associative memory, modern Hopfield."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.hopfield import (
    dense_energy,
    dense_recall,
    modern_energy,
    modern_recall,
    modern_update,
)
from tests.conftest import load


def _patterns(seed, m, n):
    rng = np.random.default_rng(seed)
    return np.where(rng.random((m, n)) < 0.5, 1.0, -1.0).astype(np.float32)


def _flip(patterns, flips, trials, seed):
    """Probes: pattern ``t % M`` with ``flips`` random bits flipped, and targets."""
    rng = np.random.default_rng(seed)
    n = patterns.shape[1]
    target = patterns[np.arange(trials) % len(patterns)]
    mask = np.stack([rng.permutation(n) < flips for _ in range(trials)])
    return np.where(mask, -target, target), target


def _numpy_dense_recall(patterns, state, n, interaction, max_sweeps=100):
    """The rule as written in Krotov & Hopfield (2016): loops, full sums."""
    f = np.exp if interaction == "exponential" else (lambda x: x**n)
    x, s = patterns.astype(np.float64), state.astype(np.float64).copy()
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for i in range(len(s)):
            rest = x @ s - x[:, i] * s[i]
            gain = np.sum(f(x[:, i] + rest) - f(-x[:, i] + rest))
            new = 1.0 if gain >= 0 else -1.0
            changed |= new != s[i]
            s[i] = new
        if not changed:
            return s, sweep
    return s, max_sweeps


@pytest.mark.parametrize(
    ("n", "interaction", "m"), [(3, "polynomial", 12), (4, "exponential", 12)]
)
def test_dense_recall_matches_numpy_loops(n, interaction, m):
    patterns = _patterns(0, m, 24)
    probes, _ = _flip(patterns, 8, 6, seed=1)
    for probe in probes:
        want, sweeps = _numpy_dense_recall(patterns, probe, n, interaction)
        got = dense_recall(patterns, probe, n=n, interaction=interaction)
        np.testing.assert_array_equal(np.asarray(got.state), want)
        assert int(got.sweeps) == sweeps and bool(got.converged)
        f = np.exp if interaction == "exponential" else (lambda v: v**n)
        assert float(got.energy) == pytest.approx(-np.sum(f(patterns @ want)), 1e-5)


def test_dense_n2_is_the_classical_hebbian_recall():
    from jnn.hopfield.discrete.dhnn import recall
    from jnn.hopfield.discrete.rules import hebbian

    # N = 32: W = k/N is exact in float32, so ties h_i = 0 (-> +1) match exactly;
    # at other N the rounding of W decides ties either way.
    patterns = _patterns(2, 11, 32)  # load 0.34: classical recall often fails
    probes, _ = _flip(patterns, 10, 20, seed=3)
    weights = hebbian(jnp.asarray(patterns))
    dense = jax.vmap(lambda s: dense_recall(patterns, s, n=2))(probes)
    classical = jax.vmap(lambda s: recall(weights, s))(jnp.asarray(probes))
    np.testing.assert_array_equal(np.asarray(dense.state), classical.state)
    np.testing.assert_array_equal(np.asarray(dense.sweeps), classical.sweeps)
    assert float(jnp.mean(jnp.abs(dense.state - probes))) > 0  # something moved


def _final_overlaps(patterns, n, interaction="polynomial", flips=10, trials=60):
    probes, target = _flip(patterns, flips, trials, seed=5)
    key = jax.random.key(0)
    keys = jax.random.split(key, trials)
    out = jax.jit(
        jax.vmap(
            lambda s, k: dense_recall(
                patterns, s, n=n, interaction=interaction, order="random", key=k
            )
        )
    )(probes, keys)
    assert bool(jnp.all(out.converged))
    return np.asarray(jnp.mean(out.state * target, axis=1))


def test_dense_capacity_far_beyond_classical_at_n100():
    """M = 60 = 0.6 N at N = 100: x^3 and x^4 recall, x^2 (Hopfield) fails."""
    patterns = _patterns(4, 60, 100)
    for n in (3, 4):
        overlaps = _final_overlaps(patterns, n)
        assert overlaps.mean() >= 0.999 and (overlaps == 1).mean() >= 0.98, n
    assert _final_overlaps(patterns, 2).mean() < 0.6
    big = _patterns(6, 150, 100)  # 1.5 N patterns: exp(x) still recalls them
    overlaps = _final_overlaps(big, 2, interaction="exponential")
    assert (overlaps == 1).mean() >= 0.98


def test_dense_recalls_binarised_digits():
    """20 correlated digits bitmaps (N = 64), 6 pixels flipped."""
    x = np.asarray(load("digits").train["x"][:20])
    patterns = np.where(x > 0, 1.0, -1.0).astype(np.float32)
    assert len(np.unique(patterns, axis=0)) == 20
    exact = {
        n: (_final_overlaps(patterns, n, flips=6, trials=60) == 1).mean()
        for n in (2, 6)
    }
    assert exact[6] >= 0.95 and exact[2] <= 0.2


def test_dense_energy_never_increases_and_patterns_are_fixed_points():
    patterns = _patterns(7, 40, 50)
    probe = _flip(patterns, 20, 1, seed=8)[0][0]
    energies = [float(dense_energy(patterns, probe, n=3))]
    for sweeps in (1, 2, 3, 4):
        out = dense_recall(patterns, probe, n=3, max_sweeps=sweeps)
        energies.append(float(out.energy))
    assert np.all(np.diff(energies) <= 0) and energies[-1] < energies[0]
    fixed = jax.vmap(lambda s: dense_recall(patterns, s, n=3))(patterns)
    np.testing.assert_array_equal(np.asarray(fixed.state), patterns)
    assert bool(jnp.all(fixed.sweeps == 1))


def test_dense_recall_jit_and_vmap_agree_and_trace_once():
    patterns = _patterns(9, 10, 30)
    probes, _ = _flip(patterns, 5, 4, seed=10)
    keys = jax.random.split(jax.random.key(1), 4)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def batch(states, keys):
        return jax.vmap(lambda s, k: dense_recall(patterns, s, order="random", key=k))(
            states, keys
        )

    out = batch(probes, keys)
    batch(-probes, keys)  # same shapes: no retrace
    for i in range(4):
        one = dense_recall(patterns, probes[i], order="random", key=keys[i])
        np.testing.assert_array_equal(np.asarray(one.state), out.state[i])


def test_dense_bad_input():
    patterns = _patterns(0, 5, 10)
    with pytest.raises(ValueError, match="patterns"):
        dense_recall(patterns * 0.5, patterns[0])
    with pytest.raises(ValueError, match="N = patterns.shape"):
        dense_recall(patterns, patterns[0, :9])
    with pytest.raises(ValueError, match="`n` must be >= 2"):
        dense_recall(patterns, patterns[0], n=1)
    with pytest.raises(ValueError, match="interaction"):
        dense_energy(patterns, patterns[0], interaction="cubic")
    with pytest.raises(ValueError, match="key"):
        dense_recall(patterns, patterns[0], order="random")
    with pytest.raises(ValueError, match="order"):
        dense_recall(patterns, patterns[0], order="backwards")


# --- modern Hopfield network ----------------------------------------------------


def test_modern_update_is_one_attention_step():
    """xi_new = X^T softmax(X xi / sqrt(d)) = softmax(Q K^T / sqrt(d)) V, K = V = X."""
    rng = np.random.default_rng(11)
    d = 16
    stored = rng.normal(size=(30, d)).astype(np.float32)
    queries = rng.normal(size=(7, d)).astype(np.float32)
    ours = jax.vmap(lambda q: modern_update(stored, q, beta=1 / np.sqrt(d)))(queries)
    # flax wants (batch, length, heads, depth) and scales q by 1/sqrt(depth)
    flax_out = nn.dot_product_attention(
        queries[None, :, None, :], stored[None, :, None, :], stored[None, :, None, :]
    )[0, :, 0, :]
    np.testing.assert_allclose(np.asarray(ours), np.asarray(flax_out), atol=1e-5)
    logits = queries.astype(np.float64) @ stored.T / np.sqrt(d)
    weights = np.exp(logits - logits.max(1, keepdims=True))
    manual = (weights / weights.sum(1, keepdims=True)) @ stored
    np.testing.assert_allclose(np.asarray(ours), manual, atol=1e-5)


@pytest.mark.parametrize("beta", [0.1, 1.0, 8.0])
def test_modern_energy_decreases_along_updates(beta):
    """Ramsauer et al. (2020), Theorem 1: E(xi_{t+1}) <= E(xi_t)."""
    rng = np.random.default_rng(12)
    stored = rng.normal(size=(20, 8)).astype(np.float32)
    xi = rng.normal(size=8).astype(np.float32) * 3
    energies = [float(modern_energy(stored, xi, beta=beta))]
    for _ in range(8):
        xi = modern_update(stored, xi, beta=beta)
        energies.append(float(modern_energy(stored, xi, beta=beta)))
    assert np.all(np.diff(energies) <= 1e-5 * (1 + np.abs(energies[:-1])))
    assert energies[-1] < energies[0] - 1e-3
    largest = np.max(np.sum(stored**2, axis=1))
    assert 0 <= energies[-1] <= 2 * largest  # the bounds of Lemma A1 (hull)
    out = modern_recall(stored, stored[0] + 0.01, beta=beta, max_iterations=500)
    assert float(out.energy) <= energies[0]


def test_modern_recall_completes_masked_digits():
    """300 unit-norm digits, a quarter of each query zeroed: large beta retrieves."""
    x = np.asarray(load("digits").train["x"][:300])
    stored = x / np.linalg.norm(x, axis=1, keepdims=True)
    queries = stored.copy()
    queries[:, 48:] = 0.0

    def retrieved(beta):
        out = jax.jit(jax.vmap(lambda q: modern_recall(stored, q, beta=beta)))(queries)
        assert bool(jnp.all(out.converged))
        return np.mean(np.max(np.abs(np.asarray(out.state) - stored), axis=1) < 0.05)

    assert retrieved(64.0) >= 0.93
    assert retrieved(4.0) <= 0.1  # small beta: a metastable average of patterns


def test_modern_bad_input():
    stored = np.ones((4, 3), np.float32)
    with pytest.raises(ValueError, match="d = patterns.shape"):
        modern_update(stored, np.ones(4, np.float32))
    with pytest.raises(ValueError, match="beta"):
        modern_recall(stored, np.ones(3, np.float32), beta=0.0)
    with pytest.raises(ValueError, match="NaN"):
        modern_energy(stored, np.array([1.0, np.nan, 0.0], np.float32))
