"""Variational Bayes Gaussian mixture (S7): scikit-learn peer, ELBO, pruning."""

import jax
import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture

from jnn.static import vb_gmm, vb_gmm_fit, vb_gmm_predict, vb_gmm_predict_proba
from jnn.train import fit
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
        probs, labels = vb_gmm_predict_proba(ours, x), vb_gmm_predict(ours, x)
    np.testing.assert_allclose(probs, peer.predict_proba(x), atol=1e-7)
    assert np.mean(np.asarray(labels) == peer.predict(x)) > 0.99  # ties aside
    assert ours.iterations == peer.n_iter_
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
    assert result.iterations > 10
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


@pytest.mark.parametrize(
    ("priors", "match"),
    [
        ({"mean_prior": np.zeros(3)}, r"`mean_prior` must have shape \(4,\)"),
        ({"mean_prior": np.full(4, np.nan)}, "`mean_prior` contains NaN"),
        ({"covariance_prior": np.eye(3)}, r"must have shape \(4, 4\)"),
        ({"covariance_prior": np.full((4, 4), np.nan)}, "`covariance_prior` contains"),
        ({"covariance_prior": -np.eye(4)}, "`covariance_prior` is not positive"),
        ({"covariance": "diag", "covariance_prior": np.array([1.0, 1, 0, 1])},
         "`covariance_prior` must hold variances > 0"),
        ({"degrees_of_freedom_prior": float("nan")}, "degrees_of_freedom_prior"),
        ({"mean_precision_prior": -1.0}, "mean_precision_prior"),
        ({"weight_concentration_prior": float("nan")}, "weight_concentration_prior"),
        ({"init": "nan"}, r"`init` must hold responsibilities .* 288 NaN"),
        ({"init": "negative"}, r"`init` must hold .* 1 negative"),
        ({"init": "unnormalised"}, "rows sum to 1"),
    ],
)  # fmt: skip
def test_bad_priors_and_starts_are_refused_before_training(priors, match):
    # Before: a broadcast error from inside the M-step, or TrainingDiverged.
    x = load("iris").train["x"]
    resp = np.full((len(x), 3), 1 / 3)
    starts = {
        "nan": np.full_like(resp, np.nan),
        "negative": np.where(np.arange(resp.size).reshape(resp.shape) == 0, -0.1, resp),
        "unnormalised": 2 * resp,
    }
    if isinstance(priors.get("init"), str):
        priors = {**priors, "init": starts[priors["init"]]}
    with pytest.raises(ValueError, match=match):
        vb_gmm_fit(x, 3, key=jax.random.key(0), **priors)
    if all(name.endswith("_prior") for name in priors):
        with pytest.raises(ValueError, match=match):  # the learner checks data
            fit(vb_gmm(3, **priors), {"x": x}, key=jax.random.key(0), epochs=1)


def test_fit_compiles_once_per_setting(count_traces):
    x = load("iris").train["x"]
    # vb_gmm_fit reuses the compiled iterations of test_vb_prunes_iris_...
    first = vb_gmm_fit(x, 10, key=jax.random.key(0), max_iter=300)
    with count_traces() as traces:  # before: a new stop object per call retraced
        second = vb_gmm_fit(x, 10, key=jax.random.key(3), max_iter=300)
    assert traces() == 0
    assert not np.allclose(first.means, second.means)
