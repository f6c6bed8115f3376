"""Storage rules (D7, D11): closed forms, Storkey's reference, capacity, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.hopfield import (
    error_correcting,
    hebbian,
    pseudo_inverse,
    recall,
    repeated_learning,
    storkey,
    to_binary,
    to_bipolar,
)


def random_patterns(m, n, seed=0):
    return np.random.default_rng(seed).choice([-1.0, 1.0], (m, n)).astype(np.float32)


def stabilities(w, x):
    return x * (x @ np.asarray(w, np.float64).T)


def assert_fixed_points(w, x):
    out = jax.vmap(lambda s: recall(w, s, max_sweeps=2))(jnp.asarray(x))
    np.testing.assert_array_equal(out.state, x)
    assert bool(np.all(out.converged))


def assert_symmetric_zero_diagonal(w):
    w = np.asarray(w)
    np.testing.assert_allclose(w, w.T, atol=1e-6)
    np.testing.assert_array_equal(np.diag(w), 0.0)


def numpy_storkey(x):
    """Storkey (1997), literally: triple loop with the partial fields h_ij."""
    m, n = x.shape
    w = np.zeros((n, n))
    for xi in x.astype(np.float64):
        h = np.array(
            [
                [
                    sum(w[i, k] * xi[k] for k in range(n) if k not in (i, j))
                    for j in range(n)
                ]
                for i in range(n)
            ]
        )
        new = w.copy()
        for i in range(n):
            for j in range(n):
                if i != j:
                    new[i, j] = (
                        w[i, j]
                        + (xi[i] * xi[j] - xi[i] * h[j, i] - h[i, j] * xi[j]) / n
                    )
        w = new
    return w


def test_hebbian_is_the_seed_formula():
    x = random_patterns(5, 20)
    expected = (x.T @ x - 5 * np.eye(20)) / 20
    np.testing.assert_allclose(hebbian(x), expected, atol=1e-6)
    assert_symmetric_zero_diagonal(hebbian(x))


def test_storkey_matches_direct_numpy_implementation():
    x = random_patterns(4, 9, seed=1)
    np.testing.assert_allclose(storkey(x), numpy_storkey(x), atol=1e-5)
    # one pattern: Storkey reduces to Hebb
    np.testing.assert_allclose(storkey(x[:1]), hebbian(x[:1]), atol=1e-7)


def test_storkey_stores_beyond_hebb():
    x = random_patterns(12, 64, seed=2)  # alpha = 0.19 > 0.138
    assert np.min(stabilities(hebbian(x), x)) < 0  # Hebb loses bits
    assert_fixed_points(storkey(x), x)


def test_pseudo_inverse_is_the_projection_and_stores_n_minus_1():
    n = 32
    x = random_patterns(n - 1, n, seed=3)
    assert np.linalg.matrix_rank(x) == n - 1
    x64 = x.astype(np.float64)
    projection = x64.T @ np.linalg.solve(x64 @ x64.T, x64)
    full = pseudo_inverse(x, zero_diagonal=False)
    np.testing.assert_allclose(full, projection, atol=1e-4)
    np.testing.assert_allclose(x @ np.asarray(full).T, x, atol=1e-4)  # W xi = xi
    w = pseudo_inverse(x)
    np.testing.assert_allclose(w, projection - np.diag(np.diag(projection)), atol=1e-4)
    assert_symmetric_zero_diagonal(w)
    assert_fixed_points(w, x)


def test_error_correcting_stores_half_n_with_margin():
    n = 32
    x = random_patterns(n // 2, n, seed=4)
    assert np.min(stabilities(hebbian(x), x)) < 0
    w = error_correcting(x, margin=0.1)
    assert_symmetric_zero_diagonal(w)
    assert np.min(stabilities(w, x)) > 0.1
    assert_fixed_points(w, x)


def test_repeated_learning_fixes_patterns_hebb_loses():
    x = random_patterns(6, 32, seed=5)
    assert np.min(stabilities(hebbian(x), x)) < 0
    w = repeated_learning(x)
    assert_symmetric_zero_diagonal(w)
    assert np.min(stabilities(w, x)) > 0
    assert_fixed_points(w, x)


def test_unfinished_learning_warns():
    x = random_patterns(16, 32, seed=4)
    with pytest.warns(RuntimeWarning, match="error_correcting"):
        error_correcting(x, margin=5.0, max_epochs=2)
    with pytest.warns(RuntimeWarning, match="repeated_learning"):
        repeated_learning(x, margin=5.0, max_rounds=2)


def test_binary_convention_and_conversions():
    x = random_patterns(3, 16, seed=6)
    b = to_binary(x)
    assert set(np.unique(b)) == {0.0, 1.0}
    np.testing.assert_array_equal(to_bipolar(b), x)
    for rule in (hebbian, storkey, pseudo_inverse, error_correcting):
        np.testing.assert_allclose(rule(b, convention="binary"), rule(x), atol=1e-6)


@pytest.mark.parametrize("rule", [hebbian, storkey, pseudo_inverse, error_correcting])
def test_bad_patterns_raise(rule):
    with pytest.raises(ValueError, match=r"patterns.*\(-1, 1\)"):
        rule(np.array([[1.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match=r"patterns.*\(0, 1\)"):
        rule(np.array([[1.0, -1.0, 1.0]]), convention="binary")
    with pytest.raises(ValueError, match="patterns.*rank 2"):
        rule(np.array([1.0, -1.0]))


def test_bad_hyper_parameters_and_conversions_raise():
    x = random_patterns(2, 8)
    with pytest.raises(ValueError, match="margin"):
        error_correcting(x, margin=-1.0)
    with pytest.raises(ValueError, match="learning_rate"):
        repeated_learning(x, learning_rate=0.0)
    with pytest.raises(ValueError, match="max_epochs"):
        error_correcting(x, max_epochs=0)
    with pytest.raises(ValueError, match="x.*binary"):
        to_bipolar(x)
    with pytest.raises(ValueError, match="s.*bipolar"):
        to_binary(to_binary(x) * 2)
