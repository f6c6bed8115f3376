"""TSP yardsticks: tour length, Held-Karp, 2-opt, random instances, checks."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import pairwise_distances

from jnn.data import load_tsplib
from jnn.hopfield import (
    MAX_HELD_KARP_CITIES,
    held_karp,
    random_tsp,
    tour_length,
    two_opt,
    validate_distances,
)
from jnn.hopfield.problems import tsp_exact


def numpy_length(d, tour):
    return sum(d[tour[k], tour[(k + 1) % len(tour)]] for k in range(len(tour)))


def brute_force(d):
    """Shortest closed tour over all (n-1)! orders starting at city 0."""
    n = len(d)
    return min(numpy_length(d, (0, *p)) for p in itertools.permutations(range(1, n)))


def random_tours(n, count, seed=0):
    keys = jax.random.split(jax.random.key(seed), count)
    return jax.vmap(lambda k: jax.random.permutation(k, n))(keys)


@pytest.fixture(scope="module")
def eil51():
    return jnp.asarray(load_tsplib("eil51").distances, jnp.float32)


# -- random instances and tour length ----------------------------------------


def test_random_tsp_matches_scikit_learn_euclidean_distances():
    coords, d = random_tsp(jax.random.key(3), 10)
    assert coords.shape == (10, 2) and d.shape == (10, 10)
    assert bool(jnp.all((coords >= 0) & (coords < 1)))
    np.testing.assert_allclose(d, pairwise_distances(np.asarray(coords)), atol=1e-6)
    assert validate_distances(d) == 10  # exactly symmetric, zero diagonal
    batch_coords, batch_d = jax.vmap(lambda k: random_tsp(k, 10))(
        jax.random.split(jax.random.key(3), 4)
    )
    assert batch_d.shape == (4, 10, 10)
    assert not np.allclose(batch_coords[0], batch_coords[1])


def test_tour_length_matches_numpy_and_the_published_optimum():
    berlin = load_tsplib("berlin52")
    d = jnp.asarray(berlin.distances, jnp.float32)
    assert float(tour_length(d, jnp.asarray(berlin.optimal_tour))) == 7542
    tours = random_tours(52, 5)
    lengths = jax.jit(jax.vmap(lambda t: tour_length(d, t)))(tours)
    expected = [numpy_length(berlin.distances, np.asarray(t)) for t in tours]
    np.testing.assert_array_equal(lengths, expected)  # integers: exact in float32


# -- Held-Karp ----------------------------------------------------------------


@pytest.mark.parametrize("n", [4, 5, 6, 7, 8])
def test_held_karp_equals_brute_force_over_all_permutations(n):
    _, d = random_tsp(jax.random.key(n), n)
    d = np.asarray(d, np.float64)
    length, tour = held_karp(d)
    assert tour[0] == 0 and sorted(tour) == list(range(n))
    assert length == pytest.approx(brute_force(d), rel=1e-12)
    assert numpy_length(d, tour) == pytest.approx(length, rel=1e-12)


@pytest.mark.parametrize(("name", "optimum"), [("burma14", 3323), ("ulysses16", 6859)])
def test_held_karp_reproduces_tsplib_optima(name, optimum):
    d = load_tsplib(name).distances
    length, tour = held_karp(d)
    assert length == optimum and numpy_length(d, tour) == optimum


def test_held_karp_small_cases():
    assert held_karp(np.zeros((1, 1))) == (0.0, pytest.approx([0]))
    length, tour = held_karp(np.array([[0.0, 2.0], [2.0, 0.0]]))
    assert length == 4.0 and list(tour) == [0, 1]
    _, d = random_tsp(jax.random.key(0), 3)
    assert held_karp(np.asarray(d))[0] == pytest.approx(numpy_length(d, [0, 1, 2]))


def test_held_karp_rejects_too_many_cities_and_bad_matrices():
    n = MAX_HELD_KARP_CITIES + 1
    with pytest.raises(ValueError, match=f"at most {n - 1} cities; got n = {n}"):
        held_karp(np.ones((n, n)) - np.eye(n))
    d = np.asarray(random_tsp(jax.random.key(0), 5)[1], np.float64)
    nan, negative = d.copy(), d.copy()
    nan[0, 1] = nan[1, 0] = np.nan
    negative[0, 1] = negative[1, 0] = -1.0
    bad = {
        "NaN or infinite": nan,
        r"non-negative; got distances\[0, 1\] = -1": negative,
        r"symmetric; got distances\[0, 1\]": d + np.eye(5, k=1),
        r"zero diagonal; got distances\[2, 2\] = 1": d + np.diag([0, 0, 1.0, 0, 0]),
        r"square \(n, n\); got shape \(5, 4\)": d[:, :4],
        "rank 2": d[0],
    }
    for match, matrix in bad.items():
        with pytest.raises(ValueError, match=match):
            held_karp(matrix)


def test_validate_distances_names_the_argument_and_skips_values_under_jit():
    with pytest.raises(ValueError, match="`weights` must be symmetric"):
        validate_distances(np.array([[0.0, 1.0], [2.0, 0.0]]), "weights")
    with pytest.raises(TypeError, match="`distances` must be an array"):
        validate_distances([[0.0, 1.0], [1.0, 0.0]])
    # traced: shape only (values unknown); the asymmetric matrix passes
    n = jax.jit(lambda d: jnp.float32(validate_distances(d)))(jnp.eye(3) + 1)
    assert float(n) == 3.0


# -- 2-opt --------------------------------------------------------------------


def reversal_lengths(d, tour):
    """Brute force: the length after every 2-opt move, by rebuilding the tour."""
    n = len(tour)
    out = {}
    for i in range(n - 1):
        for j in range(i + 2, n):
            if (i, j) != (0, n - 1):
                moved = np.concatenate(
                    [tour[: i + 1], tour[i + 1 : j + 1][::-1], tour[j + 1 :]]
                )
                out[i, j] = numpy_length(d, moved)
    return out


def test_two_opt_on_eil51_is_a_local_optimum_within_10_percent(eil51):
    start = random_tours(51, 8)
    out = jax.jit(jax.vmap(lambda t: two_opt(eil51, t)))(start)
    d = load_tsplib("eil51").distances
    lengths = np.array([numpy_length(d, np.asarray(t)) for t in out])
    before = np.array([numpy_length(d, np.asarray(t)) for t in start])
    for t, s in zip(np.asarray(out), np.asarray(start), strict=True):
        assert sorted(t) == list(range(51)) and t[0] == s[0]
    assert (lengths < before / 3).all()  # random tours are ~3x longer than optimal
    assert lengths.max() <= 1.10 * 426 and lengths.min() <= 1.06 * 426
    # no improving move remains, checked by rebuilding every moved tour (3 restarts)
    for t, length in zip(np.asarray(out)[:3], lengths[:3], strict=True):
        assert min(reversal_lengths(d, t).values()) >= length


def test_two_opt_vmap_equals_stacking_and_jit_equals_eager(eil51):
    start = random_tours(51, 3, seed=1)
    batched = jax.jit(jax.vmap(lambda t: two_opt(eil51, t)))(start)
    for b, s in zip(batched, start, strict=True):
        np.testing.assert_array_equal(two_opt(eil51, s), b)


def test_one_sweep_applies_the_best_brute_force_move(eil51):
    start = np.asarray(random_tours(51, 1, seed=2)[0])
    d = load_tsplib("eil51").distances
    one = two_opt(eil51, jnp.asarray(start), max_sweeps=1)
    assert numpy_length(d, np.asarray(one)) == min(reversal_lengths(d, start).values())


def test_two_opt_never_lengthens_float_instances_and_compiles_once():
    _, d = random_tsp(jax.random.key(7), 12)
    tours = random_tours(12, 6, seed=3)
    before = tsp_exact._two_opt._cache_size()
    outs = [two_opt(d, t) for t in tours]
    assert tsp_exact._two_opt._cache_size() - before <= 1  # one shape, one trace
    dn = np.asarray(d, np.float64)
    optimum, _ = held_karp(dn)
    for t, o in zip(tours, outs, strict=True):
        after = numpy_length(dn, np.asarray(o))
        assert optimum - 1e-6 <= after <= numpy_length(dn, np.asarray(t)) + 1e-6
        assert min(reversal_lengths(dn, np.asarray(o)).values()) >= after - 1e-5


def test_two_opt_tiny_instances_return_the_input():
    _, d = random_tsp(jax.random.key(0), 3)
    np.testing.assert_array_equal(two_opt(d, jnp.array([2, 0, 1])), [2, 0, 1])


def test_two_opt_rejects_bad_tours():
    _, d = random_tsp(jax.random.key(0), 5)
    with pytest.raises(ValueError, match="permutation of 0..4"):
        two_opt(d, jnp.array([0, 1, 1, 2, 3]))
    with pytest.raises(
        ValueError, match=r"all n = 5 cities \(shape \(5,\)\); got shape \(4,\)"
    ):
        two_opt(d, jnp.arange(4))
    with pytest.raises(ValueError, match=r"indices in \[0, 5\)"):
        tour_length(d, jnp.array([0, 1, 2, 3, 5]))
    with pytest.raises(TypeError, match="integer dtype"):
        two_opt(d, jnp.arange(5.0))
    with pytest.raises(ValueError, match="`max_sweeps` must be a positive int"):
        two_opt(d, jnp.arange(5), max_sweeps=0)
    with pytest.raises(ValueError, match="must be symmetric"):
        two_opt(d + jnp.eye(5, k=1), jnp.arange(5))
    with pytest.raises(ValueError, match="at least 2 cities"):
        random_tsp(jax.random.key(0), 1)
