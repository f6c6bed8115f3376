"""RBF network (S8, S9): NumPy and scikit-learn references, digits target, LMS,
end-to-end gradient training, bad input, and the rbf_vs_mlp example."""

import runpy
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.linear_model import Ridge

import jnn
from jnn.static import (
    RBFParams,
    gaussian_activations,
    lms_learner,
    rbf_classify,
    rbf_fit,
    rbf_from_net,
    rbf_gradient_learner,
    rbf_predict,
    rbf_widths,
    ridge_weights,
)
from tests.conftest import load

EXAMPLES = Path(__file__).parents[2] / "examples"


def accuracy(params, split):
    return float(np.mean(np.asarray(rbf_classify(params, split["x"])) == split["y"]))


def test_hidden_activations_match_numpy():
    x = load("wine").train["x"]
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(7, 13)).astype(np.float32)
    widths = rng.uniform(1, 4, 7).astype(np.float32)
    dist = ((x[:, None, :].astype(np.float64) - centers[None, :, :]) ** 2).sum(-1)
    want = np.exp(-dist / (2 * widths[None, :].astype(np.float64) ** 2))
    np.testing.assert_allclose(
        gaussian_activations(x, centers, widths), want, rtol=1e-4, atol=1e-6
    )


def test_width_heuristics_match_numpy():
    c = np.random.default_rng(1).normal(size=(9, 4)).astype(np.float32)
    dist = np.sqrt(((c[:, None, :] - c[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(
        rbf_widths(c, "global"), np.full(9, dist.max() / np.sqrt(18)), rtol=1e-5
    )
    np.fill_diagonal(dist, np.inf)
    np.testing.assert_allclose(
        rbf_widths(c, "nearest", 1.5), 1.5 * dist.min(1), rtol=1e-4
    )
    np.testing.assert_allclose(rbf_widths(c, 2.0, 0.5), np.ones(9))


def test_ridge_equals_scikit_learn_and_lstsq():
    with jax.enable_x64(True):
        ds = load("iris")
        x = ds.train["x"].astype(np.float64)
        y = np.eye(3)[ds.train["y"]]
        centers = x[::8]
        h = gaussian_activations(x, centers, rbf_widths(jnp.asarray(centers)))
        weights, bias = ridge_weights(h, jnp.asarray(y), 0.3)
        peer = Ridge(alpha=0.3).fit(np.asarray(h), y)
        np.testing.assert_allclose(weights, peer.coef_.T, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(bias, peer.intercept_, rtol=1e-8, atol=1e-10)
        weights, bias = ridge_weights(h, jnp.asarray(y), 0.0)
        design = np.concatenate([np.asarray(h), np.ones((len(x), 1))], axis=1)
        want = np.linalg.lstsq(design, y, rcond=None)[0]
        fitted = np.asarray(h) @ np.asarray(weights) + np.asarray(bias)[None, :]
        np.testing.assert_allclose(fitted, design @ want, atol=1e-8)


def test_two_stage_rbf_reaches_97_percent_on_digits():
    # n_centers, width factor and ridge were chosen on the validation split.
    ds = load("digits")
    params = rbf_fit(
        ds.train["x"],
        ds.train["y"],
        key=jax.random.key(0),
        n_centers=300,
        width_factor=2.0,
        ridge=1e-2,
    )
    assert params.centers.shape == (300, 64) and params.weights.shape == (300, 10)
    assert accuracy(params, ds.val) >= 0.97
    assert accuracy(params, ds.test) >= 0.97


def test_rbf_learns_the_small_tabular_sets():
    for name, n_centers in (("wine", 10), ("breast_cancer", 20)):
        ds = load(name)
        params = rbf_fit(
            ds.train["x"], ds.train["y"], key=jax.random.key(0), n_centers=n_centers,
            width_factor=2.0, ridge=1e-2,
        )  # fmt: skip
        assert accuracy(params, ds.test) >= 0.93, name


def test_lms_step_is_widrow_hoff_and_learns_iris():
    ds = load("iris")
    centers = jnp.asarray(ds.train["x"][::4])
    widths = rbf_widths(centers)
    learner = lms_learner(centers, widths, 3, learning_rate=0.5)
    y = jax.nn.one_hot(ds.train["y"], 3)
    state = learner.init(jax.random.key(0), None)
    state = state._replace(bias=jnp.array([0.1, -0.2, 0.3]))
    batch = {"x": ds.train["x"][:1], "y": y[:1]}
    new, metrics = learner.update(state, batch, jax.random.key(0))
    h = np.asarray(gaussian_activations(batch["x"], centers, widths))[0]
    error = np.asarray(y[0]) - np.array([0.1, -0.2, 0.3])
    eta = 0.5 / (1 + h @ h)
    np.testing.assert_allclose(new.weights, eta * np.outer(h, error), atol=1e-6)
    np.testing.assert_allclose(new.bias, [0.1, -0.2, 0.3] + eta * error, atol=1e-6)
    np.testing.assert_allclose(metrics["loss"], np.mean(error**2), rtol=1e-6)
    params = rbf_fit(
        ds.train["x"], ds.train["y"], key=jax.random.key(0), n_centers=20,
        solver="lms", lms_epochs=30,
    )  # fmt: skip
    assert accuracy(params, ds.train) >= 0.9 and accuracy(params, ds.test) >= 0.85


def test_gradient_training_starts_at_two_stage_and_lowers_the_error():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (400, 2)).astype(np.float32)
    y = (np.sin(x[:, 0]) * np.cos(x[:, 1])).astype(np.float32)
    start = rbf_fit(x, y, key=jax.random.key(0), n_centers=12, ridge=1e-3)
    learner, model = rbf_gradient_learner(start, optax.adam(1e-2), task="regression")
    data = {"x": x, "y": y}
    result = jnn.train.fit(
        learner, data, key=jax.random.key(1), epochs=150, progress=False
    )
    first_mse = float(np.mean((np.asarray(rbf_predict(start, x))[:, 0] - y) ** 2))
    np.testing.assert_allclose(result.history["loss"][0], first_mse, rtol=1e-4)
    tuned = rbf_from_net(result.state.params)
    final_mse = float(np.mean((np.asarray(rbf_predict(tuned, x))[:, 0] - y) ** 2))
    assert final_mse < 0.5 * first_mse
    assert not np.allclose(tuned.centers, start.centers)  # centres moved too
    net_out = model.apply({"params": result.state.params}, x)
    np.testing.assert_allclose(net_out, rbf_predict(tuned, x), rtol=1e-4, atol=1e-5)


def test_bad_input_is_rejected_with_the_argument_name():
    ds = load("iris")
    x, y = ds.train["x"], ds.train["y"]
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="n_clusters"):
        rbf_fit(x, y, key=key, n_centers=len(x) + 1)
    with pytest.raises(ValueError, match="width"):
        rbf_fit(x, y, key=key, n_centers=5, width="widest")
    with pytest.raises(ValueError, match="solver"):
        rbf_fit(x, y, key=key, n_centers=5, solver="svd")
    with pytest.raises(ValueError, match="ridge"):
        rbf_fit(x, y, key=key, n_centers=5, ridge=-1.0)
    with pytest.raises(ValueError, match="`y`"):
        rbf_fit(x, y[:-1], key=key, n_centers=5)
    with pytest.raises(ValueError, match="task"):
        params = RBFParams(x[:3], jnp.ones(3), jnp.zeros((3, 3)), jnp.zeros(3))
        rbf_gradient_learner(params, optax.sgd(0.1), task="ranking")


def test_rbf_vs_mlp_example_smoke(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = runpy.run_path(str(EXAMPLES / "static" / "rbf_vs_mlp.py"))["main"]
    out = main(["--smoke"])
    assert out["digits"]["rbf_test_accuracy"] > 0.8
    assert out["function"]["mlp_change_far"] > out["function"]["rbf_change_far"]
    for name in ("rbf_vs_mlp_digits.png", "rbf_vs_mlp_locality.png"):
        assert (tmp_path / "jnn-output" / name).read_bytes()[:4] == b"\x89PNG"
