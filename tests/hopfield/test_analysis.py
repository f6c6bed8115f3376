"""Basins (D9), capacity (D11), spurious states and orthogonalisation."""

import itertools
import runpy
from functools import partial
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.hopfield as hop
from jnn.hopfield.discrete import capacity

KEY = jax.random.key(0)
N = 100
X = np.asarray(hop.random_patterns(jax.random.key(1), 5, N))


def test_flip_bits_flips_exactly_d_units():
    keys = jax.random.split(KEY, 7)
    ds = jnp.array([0, 1, 5, 50, 99, 100, 37])
    flipped = jax.vmap(hop.flip_bits, in_axes=(0, None, 0))(keys, jnp.asarray(X[0]), ds)
    distances = np.sum(np.asarray(flipped) != X[0][None, :], axis=1)
    np.testing.assert_array_equal(distances, np.asarray(ds))


def test_basin_single_pattern_closed_form():
    # One stored pattern: h_i = xi_i (xi . s - xi_i s_i) / N, so every start
    # closer than N/2 returns to xi and every start farther goes to -xi.
    x = X[:1, :64]
    fraction = hop.basin_size(
        hop.hebbian(x), x[0], distances=[0, 10, 30, 34, 50, 64], key=KEY, trials=8
    )
    np.testing.assert_array_equal(np.asarray(fraction), [1, 1, 1, 0, 0, 0])


def test_basin_shrinks_with_distance_and_pseudo_inverse_beats_hebb():
    distances = np.arange(0, 51, 10)
    hebb = np.asarray(
        hop.basin_size(hop.hebbian(X), X[0], distances=distances, key=KEY, trials=32)
    )
    assert hebb[0] == 1.0 and hebb[1] == 1.0  # alpha = 0.05: a wide basin
    assert hebb[-1] <= 0.1  # half the units flipped: no memory of xi left
    assert np.all(np.diff(hebb) <= 0.1)  # decreasing, up to sampling noise
    # At alpha = 0.15 the projection rule keeps a wider basin than Hebb's: at
    # d = 20 and 30 the summed fractions differ by 0.66-0.88 (keys 0..5). The
    # same distances as above: one compiled batch of recalls serves all three.
    x = np.asarray(hop.random_patterns(jax.random.key(2), 15, N))
    kwargs = dict(distances=distances, key=KEY, trials=32)
    wide = np.asarray(hop.basin_size(hop.pseudo_inverse(x), x[0], **kwargs))
    narrow = np.asarray(hop.basin_size(hop.hebbian(x), x[0], **kwargs))
    assert np.sum(wide[2:4]) >= np.sum(narrow[2:4]) + 0.6
    assert np.all(wide >= narrow - 0.1)


def test_capacity_hebbian_collapses_near_alpha_c_and_better_rules_hold():
    """N = 200, 128 trials per load, 5% of the units flipped in the start.

    Measured over keys 0..7 (this test uses key 0): mean overlap 1.0 at
    alpha = 1/N, >= 0.9995 at 0.05, 0.9957-0.9987 at 0.10, 0.806-0.850 at
    0.18, 0.366-0.397 at 0.4; fraction of trials with m >= 0.95: 0.977-1.0 at
    0.10 and 0.469-0.586 at 0.18; the pseudo-inverse rule 1.0 at 0.4. The
    thresholds sit just outside those ranges; alpha_c ~ 0.138 (Amit, Gutfreund
    & Sompolinsky 1985) lies between 0.10 and 0.18, blurred at this N.
    """
    run = partial(hop.capacity_curve, n_units=200, key=KEY, trials=128, noise=0.05)
    hebb = run(hop.hebbian, loads=[1 / 200, 0.05, 0.10, 0.18, 0.4])
    assert hebb.overlap.shape == (5, 128)
    assert hebb.n_patterns.tolist() == [1, 10, 20, 36, 80]
    np.testing.assert_array_equal(hebb.overlap[0], 1.0)  # one pattern: exact
    mean = hebb.mean_overlap
    retrieved = np.mean(hebb.overlap >= 0.95, axis=1)
    assert mean[1] >= 0.999  # far below alpha_c
    assert mean[2] >= 0.995 and retrieved[2] >= 0.97  # below alpha_c: stable
    assert 0.78 <= mean[3] <= 0.87 and retrieved[3] <= 0.62  # above: lost
    assert 0.34 <= mean[4] <= 0.42  # far above it: a spin-glass state
    assert hebb.converged.all()
    pinv = run(hop.pseudo_inverse, loads=[0.4])
    assert pinv.mean_overlap[0] >= 0.999


def test_recall_compiles_once_for_all_loads():
    before = capacity._recall_trials._cache_size()
    hop.capacity_curve(hop.hebbian, 64, [0.05, 0.1, 0.2], key=KEY, trials=2)
    assert capacity._recall_trials._cache_size() - before <= 1


def test_orthogonalize_closed_form_and_projection_rule():
    x = np.asarray(hop.correlated_patterns(KEY, 8, 64, correlation=0.5))
    y = np.asarray(hop.orthogonalize(x), np.float64)
    np.testing.assert_allclose(y @ y.T, 64 * np.eye(8), atol=1e-3)
    x64 = x.astype(np.float64)
    projection = x64.T @ np.linalg.solve(x64 @ x64.T, x64)
    np.fill_diagonal(projection, 0.0)
    np.testing.assert_allclose(hop.orthogonal_hebbian(x), projection, atol=1e-4)
    np.testing.assert_allclose(
        hop.orthogonal_hebbian(x), hop.pseudo_inverse(x), atol=1e-4
    )


def test_correlated_patterns_overlap_and_orthogonalising_restores_recall():
    x = np.asarray(hop.correlated_patterns(KEY, 20, 4000, correlation=0.4))
    pairs = (x @ x.T / 4000)[np.triu_indices(20, 1)]
    assert abs(pairs.mean() - 0.16) < 0.02  # c^2
    correlated = partial(hop.correlated_patterns, correlation=0.4)
    run = partial(
        hop.capacity_curve,
        n_units=N,
        loads=[0.1],
        key=KEY,
        trials=8,
        patterns=correlated,
    )
    assert run(hop.hebbian).mean_overlap[0] <= 0.7  # merged into the parent
    assert run(hop.orthogonal_hebbian).mean_overlap[0] >= 0.99


def test_census_single_pattern_has_only_the_pattern_and_its_reverse():
    census = hop.spurious_census(hop.hebbian(X[:1]), X[:1], key=KEY, starts=64)
    assert census[:5] == (1, 1, 0, 0, 0)
    assert 0.3 <= census.share[0] <= 0.7  # symmetric basins


def _mixture_fixed_points(w, x):
    """Brute force: how many of the 8 odd mixtures of 3 patterns are fixed."""
    count = 0
    for signs in itertools.product((-1, 1), repeat=3):
        s = np.sign(np.asarray(signs, np.float64) @ x)
        count += bool(np.all(np.where(w @ s >= 0, 1.0, -1.0) == s))
    return count


def test_census_finds_reversed_patterns_and_mixtures():
    x = X[:3]
    w = hop.hebbian(x)
    census = hop.spurious_census(w, x, key=KEY, starts=300)
    assert census.stored == 3 and census.reversed == 3
    for xi in x:  # reversed patterns are fixed points: E(-s) = E(s)
        np.testing.assert_array_equal(hop.recall(w, -xi).state, -xi)
    assert 1 <= census.mixture <= _mixture_fixed_points(np.asarray(w, np.float64), x)
    assert census.unconverged == 0
    np.testing.assert_allclose(census.share.sum(), 1.0)


def test_bad_inputs():
    w = hop.hebbian(X)
    with pytest.raises(ValueError, match="pattern"):
        hop.basin_size(w, X[0] * 0.5, distances=[0], key=KEY, trials=2)
    with pytest.raises(ValueError, match="W"):
        hop.basin_size(w[:50, :50], X[0], distances=[0], key=KEY, trials=2)
    with pytest.raises(ValueError, match="distances"):
        hop.basin_size(w, X[0], distances=[0, N + 1], key=KEY, trials=2)
    with pytest.raises(ValueError, match="mode"):
        hop.basin_size(w, X[0], distances=[0], key=KEY, trials=2, mode="parallel")
    with pytest.raises(ValueError, match="loads"):
        hop.capacity_curve(hop.hebbian, N, [0.1, 1.5], key=KEY, trials=2)
    with pytest.raises(ValueError, match="noise"):
        hop.capacity_curve(hop.hebbian, N, [0.1], key=KEY, trials=2, noise=0.6)
    with pytest.raises(ValueError, match="M <= 40"):
        x = np.ones((41, N), np.float32)
        hop.spurious_census(np.zeros((N, N), np.float32), x, key=KEY, starts=2)
    with pytest.raises(ValueError, match="M <= N"):
        hop.orthogonalize(np.ones((5, 3), np.float32))
    with pytest.raises(ValueError, match="correlation"):
        hop.correlated_patterns(KEY, 2, 8, correlation=1.0)


def test_capacity_example_smoke(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = Path(__file__).parents[2] / "examples" / "hopfield" / "capacity.py"
    result = runpy.run_path(str(script))["main"](["--smoke"])
    assert result["hebbian_overlap_0.10"] >= 0.97  # N = 100, 4 trials
    assert (tmp_path / "jnn-output" / "hopfield_capacity.png").exists()
