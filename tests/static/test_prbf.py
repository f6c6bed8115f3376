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
from jnn.train import fit
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


def numpy_joint(params, x):
    """P(k) p(x|k) with p(x|k) = sum_j pi_jk N(x; mu_j, Sigma_j), in float64."""
    params = getattr(params, "params", params)  # a PRBFResult or PRBFParams
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
    return (kernel @ mixing) * np.exp(log_priors)[None, :]


def numpy_posterior(params, x):
    """Bayes' rule over the class densities of :func:`numpy_joint`."""
    joint = numpy_joint(params, x)
    return joint / joint.sum(axis=1, keepdims=True)


def numpy_log_likelihood(params, x, y):
    """The EM objective: mean log P(y_n) p(x_n | y_n), in float64."""
    return float(np.mean(np.log(numpy_joint(params, x)[np.arange(len(y)), y])))


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


def test_one_em_step_matches_numpy_and_compiles_once():
    data = load("wine").train
    x, y = data["x"].astype(np.float64), data["y"]
    learner = prbf(6, 3, variance_floor=0.05)
    params = jax.jit(learner.init)(jax.random.key(0), data)
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    new, metrics = update(params, data, jax.random.key(1))
    (means, var, mixing), ll = numpy_em_step(params, x, y, 0.05)
    np.testing.assert_allclose(new.means, means, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(new.covariances, var, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(new.mixing, mixing, atol=1e-5)
    np.testing.assert_allclose(metrics["log_likelihood"], ll, rtol=1e-5)
    assert np.min(var) == pytest.approx(0.05)  # the floor is active here
    for i in range(2):  # new values, same shapes: no retrace
        new, _ = update(new, {"x": data["x"] + i, "y": data["y"]}, jax.random.key(i))
    assert np.all(np.isfinite(np.asarray(new.means)))


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


# A worked example with a closed-form answer: four clusters 10 apart with
# standard deviation 0.5, two classes that share cluster B. The kernels cannot
# share points (cross-cluster densities are below 1e-80), so the maximum
# likelihood PRBF network with one kernel per cluster is, exactly: mean and
# (ddof=0) covariance of each cluster, pi_jk = n_jk / N_k, P(k) = N_k / N.
CLUSTER_CENTRES = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
CLUSTER_COUNTS = np.array([[20, 0], [10, 15], [0, 20], [0, 15]])  # (cluster, class)


def worked_example():
    rng = np.random.default_rng(0)
    x, y, cluster = [], [], []
    for j, (centre, per_class) in enumerate(
        zip(CLUSTER_CENTRES, CLUSTER_COUNTS, strict=True)
    ):
        for k, m in enumerate(per_class):
            x.append(centre + 0.5 * rng.normal(size=(m, 2)))
            y += [k] * m
            cluster += [j] * m
    x = np.concatenate(x).astype(np.float32)
    return x, np.array(y, np.int32), np.array(cluster)


def closed_form(x, cluster):
    """The maximum-likelihood full-covariance network of the worked example."""
    x = x.astype(np.float64)
    parts = [x[cluster == j] for j in range(len(CLUSTER_CENTRES))]
    n_k = CLUSTER_COUNTS.sum(axis=0)
    return PRBFParams(
        np.stack([part.mean(axis=0) for part in parts]),
        np.stack([np.cov(part.T, bias=True) for part in parts]),
        CLUSTER_COUNTS / n_k[None, :],
        np.log(n_k / n_k.sum()),
    )


def test_restarts_reach_the_closed_form_of_a_worked_example():
    x, y, cluster = worked_example()
    expected = closed_form(x, cluster)
    optimum = numpy_log_likelihood(expected, x, y)
    # Random initial centres put two kernels in one cluster about half the
    # time (19 of 40 keys measured), a local optimum 0.67-2.5 nats below that
    # EM cannot leave; the best of 8 restarts must be the global optimum.
    kwargs = {"n_kernels": 4, "covariance": "full", "variance_floor": 1e-3,
              "init": "random", "tol": 1e-6}  # fmt: skip
    params = prbf_fit(x, y, key=jax.random.key(0), n_init=8, **kwargs)
    dist = np.linalg.norm(expected.means[:, None] - params.means[None], axis=2)
    order = dist.argmin(axis=1)  # the fitted kernel of each cluster
    assert sorted(order) == [0, 1, 2, 3], dist
    # Measured errors: 6.5e-7 (means), 3.3e-7 relative (covariances), 2.4e-8.
    np.testing.assert_allclose(params.means[order], expected.means, atol=5e-6)
    np.testing.assert_allclose(
        params.covariances[order], expected.covariances, rtol=5e-6, atol=1e-7
    )
    np.testing.assert_allclose(params.mixing[order], expected.mixing, atol=1e-6)
    np.testing.assert_allclose(params.log_priors, expected.log_priors, atol=1e-6)
    assert numpy_log_likelihood(params, x, y) == pytest.approx(optimum, abs=1e-5)
    # Near cluster B the posterior is its class mix, 10 : 15; elsewhere certain.
    query = (CLUSTER_CENTRES + 0.3).astype(np.float32)
    np.testing.assert_allclose(
        prbf_predict_proba(params, query),
        [[1.0, 0.0], [0.4, 0.6], [0.0, 1.0], [0.0, 1.0]],
        atol=1e-6,
    )
    singles = [
        numpy_log_likelihood(prbf_fit(x, y, key=jax.random.key(s), **kwargs), x, y)
        for s in range(8)
    ]
    assert max(singles) < optimum + 1e-5  # the closed form is the maximum
    assert min(singles) < optimum - 0.5, singles  # so restarts matter here


def test_fit_compiles_once_per_setting(count_traces):
    x, y, _ = worked_example()
    kwargs = {"n_kernels": 4, "covariance": "full", "variance_floor": 1e-3,
              "init": "random", "tol": 1e-6, "n_init": 8}  # fmt: skip
    first = prbf_fit(x, y, key=jax.random.key(0), **kwargs)  # compiled above
    with count_traces() as traces:  # before: a new jit per call, traced anew
        second = prbf_fit(x + 1.0, y, key=jax.random.key(1), **kwargs)
    assert traces() == 0
    assert not np.allclose(first.means, second.means)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_kernels": 0}, "n_kernels"),
        ({"n_kernels": 500}, "n_kernels"),
        ({"covariance": "tied"}, "covariance"),
        ({"variance_floor": 0.0}, "variance_floor"),
        ({"variance_floor": float("nan")}, "variance_floor"),
        ({"init": "kmeans||"}, "init"),
        ({"n_classes": 2}, r"`n_classes` \(2\) must exceed every label; `y`"),
        # a class without examples: prior 0, mixing weights undefined
        ({"n_classes": 4}, r"`y` has no example of class \[3\] of n_classes=4"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": float("nan")}, "tol"),
    ],
)
def test_bad_settings(kwargs, match):
    data = load("iris").train
    args = {"key": jax.random.key(0), "n_kernels": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        prbf_fit(data["x"], data["y"], **args)


def test_bad_data():
    data = load("iris").train
    with pytest.raises(TypeError, match="`key` must be a JAX PRNG key"):
        prbf_fit(data["x"], data["y"], key=None, n_kernels=3)
    with pytest.raises(ValueError, match=r"`train\['y'\]` has no example of class"):
        fit(prbf(3, 4), data, key=jax.random.key(0), epochs=1)
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
