"""Elastic net (Durbin & Willshaw 1987) and classical scaling."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from jnn.data import load_tsplib
from jnn.hopfield import (
    classical_scaling,
    elastic_net,
    ring_tours,
)


@pytest.fixture(scope="module")
def eil51():
    instance = load_tsplib("eil51")
    result = elastic_net(
        instance.coordinates,
        jax.random.key(0),
        distances=instance.distances,
        restarts=4,
    )
    return instance, result


def test_tours_are_permutations_with_their_lengths(eil51):
    instance, result = eil51
    d = instance.distances
    assert result.tours.shape == (4, 51) and result.rings.shape == (4, 128, 2)
    for tour, length in zip(result.tours, result.lengths, strict=True):
        tour = np.asarray(tour)
        assert sorted(tour.tolist()) == list(range(51))
        np.testing.assert_allclose(length, d[tour, np.roll(tour, -1)].sum())
    # the rings live in the unit square the cities were scaled into
    xy = instance.coordinates
    lo, hi = xy.min(0), xy.max(0)
    scaled = (xy - (lo + hi) / 2) / (hi - lo).max()
    np.testing.assert_array_equal(ring_tours(scaled, result.rings), result.tours)


def test_gap_on_eil51(eil51):
    """Keys 0..5 (4 restarts each): best gap 3.05-4.69% (a near-deterministic net)."""
    instance, result = eil51
    gap = float(result.best[1]) / instance.optimum - 1.0
    assert 0.0 <= gap <= 0.05


def test_classical_scaling_reproduces_euclidean_distances():
    points = np.random.default_rng(0).uniform(size=(9, 2))
    d = pairwise_distances(points)  # scikit-learn, the independent reference
    embedded = classical_scaling(d, 2)
    np.testing.assert_allclose(pairwise_distances(embedded), d, atol=1e-9)


def test_bad_input():
    points = np.random.default_rng(1).uniform(size=(6, 2))
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="points"):
        elastic_net(points[:3], key)
    with pytest.raises(ValueError, match="points"):
        elastic_net(np.full((6, 2), np.nan), key)
    with pytest.raises(ValueError, match="stop_width"):
        elastic_net(points, key, start_width=0.1, stop_width=0.2)
    with pytest.raises(ValueError, match="alpha"):
        elastic_net(points, key, alpha=-1.0)
    with pytest.raises(TypeError, match="key"):
        elastic_net(points, None)
    with pytest.raises(ValueError, match="distances"):
        elastic_net(points, key, distances=np.ones((5, 5)) - np.eye(5))
    with pytest.raises(ValueError, match="dim"):
        classical_scaling(pairwise_distances(points), 6)
    with pytest.raises(ValueError, match="rings"):
        ring_tours(points, np.zeros((1, 8, 3)))
