"""Variational Bayes Gaussian mixture (S7): scikit-learn peer, ELBO, pruning."""

import jax
import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture

from jnn.static import vb_gmm, vb_gmm_fit
from tests.conftest import load


def random_resp(n, k, seed):
    """scikit-learn's ``init_params="random"`` responsibilities for ``seed``."""
    resp = np.random.RandomState(seed).uniform(size=(n, k))
    return resp / resp.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(("name", "kind"), [("iris", "full"), ("wine", "diag")])
def test_vb_matches_scikit_learn_bound_for_bound(name, kind):
    x = load(name).train["x"].astype(np.float64)
    k = 10
    peer = BayesianGaussianMixture(
        n_components=k,
        covariance_type=kind,
        weight_concentration_prior_type="dirichlet_distribution",
        init_params="random",
        random_state=0,
        max_iter=300,
    ).fit(x)
    with jax.enable_x64(True):
        ours = vb_gmm_fit(
            x,
            k,
            key=jax.random.key(0),
            covariance=kind,
            init=random_resp(len(x), k, 0),
            max_iter=300,
        )
    assert ours.n_iter == peer.n_iter_
    np.testing.assert_allclose(ours.history["elbo"], peer.lower_bounds_, rtol=1e-9)
    np.testing.assert_allclose(ours.weights, peer.weights_, atol=1e-9)
    np.testing.assert_allclose(ours.means, peer.means_, atol=1e-7)
    assert ours.active.sum() == (peer.weights_ >= 0.01).sum()


@pytest.mark.parametrize("kind", ["full", "diag"])
def test_elbo_never_decreases_on_real_data(kind):
    x = load("wine").train["x"]
    with jax.enable_x64(True):
        result = vb_gmm_fit(x, 8, key=jax.random.key(2), covariance=kind, tol=1e-8)
    steps = np.diff(result.history["elbo"])
    assert result.n_iter > 10
    assert steps.min() > -1e-8, steps.min()


def test_surplus_components_are_pruned_on_three_separated_gaussians():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    x = np.concatenate([c + rng.normal(size=(100, 2)) for c in centres])
    result = vb_gmm_fit(
        x.astype(np.float32),
        10,
        key=jax.random.key(0),
        max_iter=500,
        weight_concentration_prior=1e-3,
    )
    kept = np.asarray(result.weights) > 0.01
    assert kept.sum() <= 4, result.weights
    assert result.active.sum() == kept.sum()
    # Each true centre has a kept component nearby.
    dist = np.linalg.norm(
        np.asarray(result.means)[kept][None] - centres[:, None], axis=2
    )
    assert dist.min(axis=1).max() < 0.5


def test_vb_prunes_iris_to_few_components():
    # Real data: of 10 components offered, iris (3 species) keeps at most half.
    x = load("iris").train["x"]
    result = vb_gmm_fit(x, 10, key=jax.random.key(0), max_iter=300)
    assert 2 <= result.active.sum() <= 5, result.weights
    assert int(result.history["active_components"][-1]) == result.active.sum()


def test_bad_input_is_rejected():
    x = load("iris").train["x"].copy()
    key = jax.random.key(0)
    x_nan = x.copy()
    x_nan[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vb_gmm_fit(x_nan, 3, key=key)
    with pytest.raises(ValueError, match="degrees_of_freedom_prior"):
        vb_gmm_fit(x, 3, key=key, degrees_of_freedom_prior=2.0)
    with pytest.raises(ValueError, match="covariance"):
        vb_gmm(3, covariance="spherical")
    with pytest.raises(ValueError, match="weight_concentration_prior"):
        vb_gmm(3, weight_concentration_prior=-1.0)
    with pytest.raises(ValueError, match="init"):
        vb_gmm_fit(x, 3, key=key, init=np.ones((5, 3)))
