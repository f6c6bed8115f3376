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


def test_two_stage_fit_compiles_once(count_traces):
    ds = load("wine")  # the settings of test_rbf_learns_the_small_tabular_sets
    kwargs = {"n_centers": 10, "width_factor": 2.0, "ridge": 1e-2}
    first = rbf_fit(ds.train["x"], ds.train["y"], key=jax.random.key(0), **kwargs)
    with count_traces() as traces:
        second = rbf_fit(ds.train["x"], ds.train["y"], key=jax.random.key(1), **kwargs)
        rbf_classify(second, ds.test["x"])
    assert traces() == 0
    assert not np.allclose(first.centers, second.centers)


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
    with pytest.raises(ValueError, match="`n_centers` must be at most"):
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


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        # labels 0..2 with two outputs: class 2 would be dropped silently
        ({"n_outputs": 2}, ValueError, r"`n_outputs` \(2\) must exceed every label"),
        ({"n_outputs": 0}, ValueError, "`n_outputs` must be a positive int"),
        ({"y": "negative"}, ValueError, "`y` must hold class labels >= 0"),
        ({"y": "rank3"}, ValueError, r"`y` must be \(n,\) class labels"),
        ({"y": "labels2d"}, ValueError, "integer dtype holds class labels"),
        ({"y": "float3", "n_outputs": 2}, ValueError, "`n_outputs` .* must equal"),
        ({"ridge": float("nan")}, ValueError, "`ridge` must be a finite number"),
        ({"ridge": float("inf")}, ValueError, "`ridge` must be a finite number"),
        ({"solver": "lms", "lms_learning_rate": 2.0}, ValueError, "lms_learning_rate"),
        ({"lms_learning_rate": 0.0}, ValueError, "`lms_learning_rate`"),
        ({"lms_learning_rate": float("nan")}, ValueError, "`lms_learning_rate`"),
        ({"lms_epochs": 0}, ValueError, "`lms_epochs` must be a positive int"),
        ({"n_centers": 0}, ValueError, "`n_centers` must be a positive int"),
        ({"width_factor": -1.0}, ValueError, "`width_factor`"),
        ({"key": None}, TypeError, "`key` must be a JAX PRNG key"),
        ({"key": 0}, TypeError, "`key` must be a JAX PRNG key"),
    ],
)
def test_bad_fit_settings_are_refused_before_training(change, error, match):
    ds = load("iris")
    x, y = ds.train["x"], ds.train["y"]
    targets = {
        "negative": y - 1,
        "rank3": np.zeros((len(x), 2, 2), np.float32),
        "labels2d": y[:, None],
        "float3": np.eye(3, dtype=np.float32)[y],
    }
    args = {"key": jax.random.key(0), "n_centers": 5, **change}
    args["y"] = targets.get(args.get("y"), y)
    with pytest.raises(error, match=match):
        rbf_fit(x, **args)


def test_coinciding_centres_are_refused():
    # Three distinct points, each repeated: five random centres must repeat one,
    # and the nearest-neighbour width of a repeated centre is 0.
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]], np.float32), 4, 0)
    y = np.arange(12, dtype=np.int32) % 2
    with pytest.raises(ValueError, match="zero width: their centres coincide"):
        rbf_fit(x, y, key=jax.random.key(0), n_centers=5, init="random",
                width="nearest")  # fmt: skip
    # One point repeated: the largest distance between centres is 0.
    with pytest.raises(ValueError, match="`width`='global' gave 5 of the 5 units"):
        rbf_fit(np.ones_like(x), y, key=jax.random.key(0), n_centers=5,
                init="random")  # fmt: skip


def test_predict_checks_its_input():
    rng = np.random.default_rng(0)
    params = RBFParams(
        jnp.asarray(rng.normal(size=(3, 4)), jnp.float32), jnp.ones(3),
        jnp.ones((3, 2)), jnp.zeros(2),
    )  # fmt: skip
    x = rng.normal(size=(5, 4)).astype(np.float32)
    with pytest.raises(ValueError, match="`x` must have 4 features"):
        rbf_predict(params, x[:, :3])
    with pytest.raises(ValueError, match="`x` must have rank 2"):
        rbf_classify(params, x[0])
    with pytest.raises(ValueError, match="`x` contains NaN"):
        rbf_predict(params, np.where(x > 1, np.nan, x))
    with pytest.raises(TypeError, match="`params` must be RBFParams"):
        rbf_predict(tuple(params), x)
    # Under jit the checks see shapes only and the result is the eager one.
    np.testing.assert_allclose(jax.jit(rbf_predict)(params, x), rbf_predict(params, x))


def test_rbf_vs_mlp_example_smoke(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = runpy.run_path(str(EXAMPLES / "static" / "rbf_vs_mlp.py"))["main"]
    out = main(["--smoke"])
    assert out["digits"]["rbf_test_accuracy"] > 0.8
    assert out["function"]["mlp_change_far"] > out["function"]["rbf_change_far"]
    for name in ("rbf_vs_mlp_digits.png", "rbf_vs_mlp_locality.png"):
        assert (tmp_path / "jnn-output" / name).read_bytes()[:4] == b"\x89PNG"
