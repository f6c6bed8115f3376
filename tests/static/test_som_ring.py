"""Angéniol's self-organising ring for the TSP."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from jnn.data import load_tsplib
from jnn.static import som_ring


@pytest.fixture(scope="module")
def eil51():
    instance = load_tsplib("eil51")
    result = som_ring(
        instance.coordinates,
        jax.random.key(0),
        distances=instance.distances,
        restarts=4,
    )
    return instance, result


def test_tours_are_permutations_and_the_ring_has_one_node_per_city(eil51):
    instance, result = eil51
    d = instance.distances
    assert result.tours.shape == (4, 51) and result.nodes.shape == (4, 153, 2)
    for tour, length in zip(result.tours, result.lengths, strict=True):
        tour = np.asarray(tour)
        assert sorted(tour.tolist()) == list(range(51))
        np.testing.assert_allclose(length, d[tour, np.roll(tour, -1)].sum())
    # Angéniol et al.: nodes are created and deleted until each city has its own
    np.testing.assert_array_equal(result.sizes, 51)


def test_gap_on_eil51(eil51):
    """Keys 0..3 (4 restarts): best gap 2.11-3.52%, median 3.5-4.6%."""
    instance, result = eil51
    gaps = np.asarray(result.lengths) / instance.optimum - 1.0
    assert gaps.min() >= 0.0
    assert gaps.min() <= 0.04
    assert np.median(gaps) <= 0.05


def test_default_distances_are_euclidean(eil51):
    points = eil51[0].coordinates  # same shapes and settings: no new compile
    result = som_ring(points, jax.random.key(1), restarts=4)
    tour = np.asarray(result.tours[0])
    expected = np.linalg.norm(points[tour] - points[np.roll(tour, -1)], axis=1).sum()
    np.testing.assert_allclose(result.lengths[0], expected, rtol=1e-5)


def test_bad_input():
    points = np.random.default_rng(1).uniform(size=(6, 2))
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="points"):
        som_ring(points[:3], key)
    with pytest.raises(ValueError, match="points"):
        som_ring(np.full((6, 2), np.inf), key)
    with pytest.raises(ValueError, match="final_gain"):
        som_ring(points, key, gain=0.1, final_gain=0.2)
    with pytest.raises(ValueError, match="alpha"):
        som_ring(points, key, alpha=1.5)
    with pytest.raises(TypeError, match="key"):
        som_ring(points, 0)
    with pytest.raises(TypeError, match="restarts"):
        som_ring(points, key, restarts=2.0)
    with pytest.raises(ValueError, match="distances"):
        som_ring(points, key, distances=-np.ones((6, 6)))
