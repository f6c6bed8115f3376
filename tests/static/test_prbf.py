"""PRBF network (S5) and calibration: references, EM properties, digits, bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from jnn.static import (
    PRBFParams,
    expected_calibration_error,
    prbf,
    prbf_fit,
    prbf_predict,
    prbf_predict_proba,
    reliability_diagram,
)
from jnn.train import absolute_change_below, fit, run
from tests.conftest import load


def random_params(kind, seed=0, m=4, d=3, k=3):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(m, d, d))
    cov = {
        "spherical": rng.uniform(0.3, 2.0, m),
        "diag": rng.uniform(0.3, 2.0, (m, d)),
        "full": a @ np.swapaxes(a, 1, 2) + 0.5 * np.eye(d)[None],
    }[kind]
    mixing = rng.dirichlet(np.ones(m), size=k).T  # (M, K), columns sum to 1
    priors = rng.dirichlet(np.ones(k))
    return PRBFParams(
        jnp.asarray(rng.normal(size=(m, d)), jnp.float32),
        jnp.asarray(cov, jnp.float32),
        jnp.asarray(mixing, jnp.float32),
        jnp.asarray(np.log(priors), jnp.float32),
    )


def numpy_posterior(params, x):
    """Bayes' rule over p(x|k) = sum_j pi_jk N(x; mu_j, Sigma_j), in float64."""
    p = [np.asarray(a, np.float64) for a in params]
    means, cov, mixing, log_priors = p
    m, d = means.shape
    full = {1: lambda j: cov[j] * np.eye(d), 2: lambda j: np.diag(cov[j])}
    kernel = np.stack(
        [
            multivariate_normal(means[j], full.get(cov.ndim, lambda j: cov[j])(j)).pdf(
                x
            )
            for j in range(m)
        ],
        axis=1,
    )  # (n, M)
    joint = (kernel @ mixing) * np.exp(log_priors)[None, :]
    return joint / joint.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["spherical", "diag", "full"])
def test_posterior_matches_numpy_bayes_rule(kind):
    params = random_params(kind)
    x = np.random.default_rng(1).normal(size=(20, 3)).astype(np.float32)
    probs = prbf_predict_proba(params, x)
    np.testing.assert_allclose(probs, numpy_posterior(params, x), atol=2e-5)
    np.testing.assert_array_equal(prbf_predict(params, x), np.argmax(probs, axis=1))


def numpy_em_step(params, x, y, floor):
    """One EM step of Titsias & Likas (2001), diagonal kernels, float64."""
    means, var, mixing, log_priors = (np.asarray(a, np.float64) for a in params)
    n_classes = mixing.shape[1]
    log_kernel = np.stack(
        [
            -0.5 * np.sum((x - means[j]) ** 2 / var[j] + np.log(2 * np.pi * var[j]), 1)
            for j in range(len(means))
        ],
        axis=1,
    )
    joint = log_kernel + np.log(mixing[:, y].T)
    log_px_y = logsumexp(joint, axis=1)
    resp = np.exp(joint - log_px_y[:, None])
    new_mixing = np.stack(
        [resp[y == k].sum(0) / (y == k).sum() for k in range(n_classes)], axis=1
    )
    weight = resp.sum(0)
    new_means = resp.T @ x / weight[:, None]
    new_var = np.stack(
        [resp[:, j] @ (x - new_means[j]) ** 2 / weight[j] for j in range(len(means))]
    )
    ll = np.mean(log_px_y + log_priors[y])
    return (new_means, np.maximum(new_var, floor), new_mixing), ll


def test_em_step_compiles_once():
    data = load("iris").train
    learner = prbf(5, 3)
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    params = jax.jit(learner.init)(jax.random.key(0), data)
    for i in range(3):
        params, _ = update(params, data, jax.random.key(i))
    assert np.all(np.isfinite(np.asarray(params.means)))


def test_one_em_step_matches_numpy():
    data = load("wine").train
    x, y = data["x"].astype(np.float64), data["y"]
    learner = prbf(6, 3, variance_floor=0.05)
    params = jax.jit(learner.init)(jax.random.key(0), data)
    new, metrics = jax.jit(learner.update)(params, data, jax.random.key(1))
    (means, var, mixing), ll = numpy_em_step(params, x, y, 0.05)
    np.testing.assert_allclose(new.means, means, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new.covariances, var, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(new.mixing, mixing, atol=1e-5)
    np.testing.assert_allclose(metrics["log_likelihood"], ll, rtol=1e-5)
    assert np.min(var) == pytest.approx(0.05)  # the floor is active here


@pytest.mark.parametrize("kind", ["spherical", "diag", "full"])
def test_em_log_likelihood_never_decreases_and_constraints_hold(kind):
    data = load("wine")
    result = fit(
        prbf(8, 3, covariance=kind, variance_floor=0.05),
        data.train,
        key=jax.random.key(0),
        epochs=40,
        val=data.val if kind == "diag" else None,
        progress=False,
    )
    ll = result.history["log_likelihood"]
    assert len(ll) == 40 and ll[-1] > ll[0] + 1.0
    assert np.all(np.diff(ll) >= -1e-4 * np.abs(ll[1:])), np.diff(ll).min()
    params = result.state
    assert np.all(np.asarray(params.mixing) >= 0)
    np.testing.assert_allclose(np.sum(params.mixing, axis=0), 1.0, atol=1e-5)
    cov = np.asarray(params.covariances)
    floor_of = np.linalg.eigvalsh(cov) if kind == "full" else cov
    assert floor_of.min() >= 0.05 * (1 - 1e-4)
    if kind == "diag":
        assert result.history["val_accuracy"][-1] > 0.85


def test_digits_accuracy_and_calibration():
    # Chosen on the validation split only: spherical kernels, M=400, floor 1.0
    # had the best validation accuracy (0.966) and log-loss of a grid over
    # {spherical, diag} x M in {20, ..., 800} x floor in {0.01, ..., 4}.
    data = load("digits")
    params = prbf_fit(
        data.train["x"],
        data.train["y"],
        key=jax.random.key(0),
        n_kernels=400,
        covariance="spherical",
        variance_floor=1.0,
    )
    probs = prbf_predict_proba(params, data.test["x"])
    accuracy = float(np.mean(np.argmax(probs, axis=1) == data.test["y"]))
    ece = float(expected_calibration_error(probs, data.test["y"]))
    assert accuracy >= 0.96, accuracy
    assert ece <= 0.05, ece


def test_restarts_keep_the_best_log_likelihood():
    data = load("iris").train
    kwargs = {"n_kernels": 6, "covariance": "diag", "init": "random", "max_iter": 30}
    x, y = data["x"], data["y"]
    best = prbf_fit(x, y, key=jax.random.key(3), n_init=4, **kwargs)
    learner = prbf(6, 3, covariance="diag", init="random")
    stop = absolute_change_below(1e-4, metric="log_likelihood")

    @jax.jit
    @jax.vmap
    def single(k):  # each restart on its own
        state = run(learner, data, key=k, epochs=30, stop=stop).state
        return learner.evaluate(state, data)["log_likelihood"]

    lls = np.asarray(single(jax.random.split(jax.random.key(3), 4)))
    ll = float(learner.evaluate(best, data)["log_likelihood"])
    assert ll == pytest.approx(lls.max(), abs=1e-4) and lls.max() > lls.min()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_kernels": 0}, "n_kernels"),
        ({"n_kernels": 500}, "n_kernels"),
        ({"covariance": "tied"}, "covariance"),
        ({"variance_floor": 0.0}, "variance_floor"),
        ({"variance_floor": float("nan")}, "variance_floor"),
        ({"init": "kmeans||"}, "init"),
        ({"n_classes": 2}, "y"),
    ],
)
def test_bad_settings(kwargs, match):
    data = load("iris").train
    args = {"key": jax.random.key(0), "n_kernels": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        prbf_fit(data["x"], data["y"], **args)


def test_bad_data():
    data = load("iris").train
    x = data["x"].copy()
    x[3, 1] = np.nan
    with pytest.raises(ValueError, match="`x`"):
        prbf_fit(x, data["y"], key=jax.random.key(0), n_kernels=3)
    with pytest.raises(ValueError, match="`y`"):
        prbf_fit(data["x"], data["y"][:-1], key=jax.random.key(0), n_kernels=3)
    with pytest.raises(ValueError, match="features"):
        prbf_predict_proba(random_params("diag"), data["x"])


def test_expected_calibration_error_hand_computed():
    probs = np.array(
        [[0.9, 0.1], [0.95, 0.05], [0.3, 0.7], [0.65, 0.35], [0.45, 0.55]], np.float32
    )
    labels = np.array([0, 1, 1, 1, 1], np.int32)
    # 5 bins: (.8, 1] holds conf .9 (hit) and .95 (miss): |0.5 - 0.925| * 2/5;
    # (.6, .8] holds .7 (hit) and .65 (miss): |0.5 - 0.675| * 2/5;
    # (.4, .6] holds .55 (hit): |1 - 0.55| * 1/5.  Sum: 0.17 + 0.07 + 0.09.
    ece = expected_calibration_error(probs, labels, n_bins=5)
    assert float(ece) == pytest.approx(0.33, abs=1e-6)
    diagram = reliability_diagram(probs, labels, n_bins=5)
    np.testing.assert_array_equal(diagram.counts, [0, 0, 1, 2, 2])
    np.testing.assert_allclose(diagram.accuracy[2:], [1.0, 0.5, 0.5])
    np.testing.assert_allclose(diagram.confidence[2:], [0.55, 0.675, 0.925], 1e-6)
    assert np.all(np.isnan(diagram.accuracy[:2]))
    np.testing.assert_allclose(diagram.edges, np.linspace(0, 1, 6))


def test_expected_calibration_error_matches_loop_and_bad_input():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=300).astype(np.float32)
    labels = rng.integers(0, 4, 300).astype(np.int32)
    conf, hit = probs.max(1), probs.argmax(1) == labels
    expected = 0.0
    for lo in np.arange(15) / 15:
        inside = (conf > lo) & (conf <= lo + 1 / 15)
        if inside.any():
            expected += inside.mean() * abs(hit[inside].mean() - conf[inside].mean())
    assert float(expected_calibration_error(probs, labels)) == pytest.approx(
        expected, abs=1e-5
    )
    with pytest.raises(ValueError, match="probs"):
        expected_calibration_error(probs * 2, labels)
    with pytest.raises(ValueError, match="labels"):
        expected_calibration_error(probs, labels + 4)
    with pytest.raises(ValueError, match="n_bins"):
        expected_calibration_error(probs, labels, n_bins=0)
