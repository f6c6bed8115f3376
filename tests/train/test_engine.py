"""The training engine: fit/run agreement, compilation, vmap, stopping, errors."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn.train import (
    Learner,
    TrainingDiverged,
    any_of,
    classification_loss,
    fit,
    gradient_learner,
    gradient_norm_below,
    max_epochs,
    regression_loss,
    relative_loss_change_below,
    run,
    validation_patience,
)
from tests.conftest import load

IRIS = load("iris")
MODEL = jnn.static.MLP(features=(16, 3), activation="tanh")
LEARNER = gradient_learner(MODEL, classification_loss(MODEL), optax.adam(1e-2))


def tree_allclose(a, b, **kw):
    chex.assert_trees_all_close(a, b, **kw)


def test_fit_learns_iris_and_matches_run(key):
    result = fit(LEARNER, IRIS.train, key=key, epochs=60, batch_size=16, val=IRIS.val)
    assert result.reason == "epochs" and result.epochs == 60
    assert learner_accuracy(result.state, IRIS.test) >= 0.85  # chance: 0.33
    assert result.history["loss"][-1] < 0.3 * result.history["loss"][0]
    ran = jax.jit(
        lambda k: run(
            LEARNER, IRIS.train, key=k, epochs=60, batch_size=16, val=IRIS.val
        )
    )(key)
    assert int(ran.n_epochs) == 60
    tree_allclose(result.state.params, ran.state.params, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        result.history["val_loss"], ran.history["val_loss"], rtol=1e-5
    )


def learner_accuracy(state, data):
    return float(LEARNER.evaluate(state, data)["accuracy"])


def test_history_has_per_epoch_records(key):
    result = fit(
        LEARNER,
        IRIS.train,
        key=key,
        epochs=5,
        batch_size=32,
        val=IRIS.val,
        stop=max_epochs(3),
    )
    h = result.history
    assert result.reason == "max_epochs" and result.epochs == 3
    np.testing.assert_array_equal(h["epoch"], [0, 1, 2])
    assert {"loss", "grad_norm", "accuracy", "val_loss", "val_accuracy"} <= set(h)
    np.testing.assert_array_equal(h["stop:max_epochs"], [False, False, True])
    assert np.all(h["grad_norm"] > 0)


def test_compiled_once_across_fits(key):
    traces = []

    def update(state, batch, key):
        traces.append(1)  # runs at trace time only
        return LEARNER.update(state, batch, key)

    counted = Learner(LEARNER.init, update, LEARNER.evaluate)
    first = fit(counted, IRIS.train, key=key, epochs=3, batch_size=16)
    n_traces = len(traces)
    assert n_traces >= 1
    second = fit(counted, IRIS.train, key=jax.random.key(1), epochs=3, batch_size=16)
    assert len(traces) == n_traces  # no retrace: the compiled epoch is reused
    assert not np.allclose(first.history["loss"], second.history["loss"])
    step = jax.jit(chex.assert_max_traces(LEARNER.update, n=1))
    state = LEARNER.init(key, IRIS.train)
    state, _ = step(state, IRIS.train, key)
    shifted = {"x": IRIS.train["x"] + 1.0, "y": IRIS.train["y"]}
    step(state, shifted, jax.random.key(3))  # new values, same shapes: no retrace


def test_same_key_same_result_and_keys_matter(key):
    a = fit(LEARNER, IRIS.train, key=key, epochs=4, batch_size=16)
    b = fit(LEARNER, IRIS.train, key=key, epochs=4, batch_size=16)
    c = fit(LEARNER, IRIS.train, key=jax.random.key(7), epochs=4, batch_size=16)
    chex.assert_trees_all_equal(a.state.params, b.state.params)
    assert not np.allclose(a.history["loss"], c.history["loss"])


def test_vmap_over_seeds_equals_separate_runs(key):
    def one(k):
        return run(LEARNER, IRIS.train, key=k, epochs=8, batch_size=16)

    keys = jax.random.split(key, 3)
    batched = jax.jit(jax.vmap(one))(keys)
    single = jax.jit(one)
    for i in range(3):
        tree_allclose(
            jax.tree.map(lambda x, i=i: x[i], batched.state.params),
            single(keys[i]).state.params,
            rtol=1e-5,
            atol=1e-6,
        )


def test_vmap_over_learning_rates_and_per_run_stopping(key):
    def train(lr):
        learner = gradient_learner(MODEL, classification_loss(MODEL), optax.sgd(lr))
        return run(
            learner,
            IRIS.train,
            key=key,
            epochs=200,
            batch_size=None,
            stop=relative_loss_change_below(1e-2),
        )

    out = jax.jit(jax.vmap(train))(jnp.array([0.01, 1.0]))
    epochs = np.asarray(out.n_epochs)
    # The slow learner changes its loss by < 1% per epoch almost at once, the
    # fast one keeps improving for longer: each run stopped on its own.
    assert epochs[0] < 20 < epochs[1] < 200
    last = np.asarray(out.history["loss"])[[0, 1], epochs - 1]
    assert last[1] < last[0]


def test_relative_loss_change_fires_on_diabetes(key):
    data = load("diabetes")
    model = jnn.static.MLP(features=(8, 1), activation="tanh")
    learner = gradient_learner(model, regression_loss(model), optax.sgd(0.1))
    eps = 1e-3
    result = fit(
        learner,
        data.train,
        key=key,
        epochs=2000,
        batch_size=None,
        stop=any_of(relative_loss_change_below(eps), max_epochs(2000)),
    )
    assert result.reason == "relative_loss_change_below"
    fired = result.history["stop:relative_loss_change_below"]
    assert fired[-1] and not fired[:-1].any()
    e = result.history["loss"].astype(np.float64)
    change = np.abs(np.diff(e)) / e[:-1]
    assert change[-1] < eps and np.all(change[:-1] >= eps)
    assert result.epochs < 2000
    # It learned something real: test MSE well below the variance (1 after
    # standardisation) of the targets.
    assert float(learner.evaluate(result.state, data.test)["loss"]) < 0.7


def test_gradient_norm_criterion_full_batch(key):
    # Softmax regression on iris is convex: the full gradient goes to zero.
    model = jnn.static.MLP(features=(3,))
    learner = gradient_learner(model, classification_loss(model), optax.sgd(0.5))
    result = fit(
        learner,
        IRIS.train,
        key=key,
        epochs=3000,
        batch_size=None,
        stop=gradient_norm_below(0.02),
    )
    g = result.history["grad_norm"]
    assert result.reason == "gradient_norm_below" and g[-1] < 0.02 <= g[-2]
    # The recorded norm is the norm of the full-batch gradient (an independent
    # computation with jax.grad at the parameters before the last step).
    loss = classification_loss(model)
    before = run(learner, IRIS.train, key=key, epochs=result.epochs - 1).state
    grad = jax.grad(lambda p: loss(p, IRIS.train, None)[0])(before.params)
    np.testing.assert_allclose(optax.tree.norm(grad), g[-1], rtol=1e-4)


def test_validation_patience_restores_best_weights(key):
    data = load("breast_cancer")
    model = jnn.static.MLP(features=(256, 256, 2), activation="relu")
    learner = gradient_learner(model, classification_loss(model), optax.adam(3e-3))
    result = fit(
        learner,
        data.train,
        key=key,
        epochs=300,
        batch_size=32,
        val=data.val,
        stop=validation_patience(8),
    )
    assert result.reason == "validation_patience"
    val = result.history["val_loss"]
    best = int(np.argmin(val))
    assert best == result.epochs - 1 - 8  # 8 epochs without improvement
    restored = float(learner.evaluate(result.state, data.val)["loss"])
    np.testing.assert_allclose(restored, val[best], rtol=1e-5)
    assert restored < val[-1]


def nan_after(k: int) -> Learner:
    """A learner whose loss becomes NaN at step k (its 'weights' count steps)."""

    def update(state, batch, key):
        loss = jnp.where(state >= k, jnp.nan, 1.0 / (1.0 + state))
        return state + 1.0, {"loss": loss}

    return Learner(lambda key, batch: jnp.float32(0.0), update)


def test_divergence_stops_and_keeps_last_good_state(key):
    with pytest.raises(TrainingDiverged, match="diverged in epoch 4") as err:
        fit(nan_after(3), IRIS.train, key=key, epochs=10, batch_size=None)
    result = err.value.result
    assert result.reason == "diverged" and result.epochs == 4
    assert float(result.state) == 3.0  # the state after epoch 3, not 4
    assert np.isnan(result.history["loss"][-1])
    quiet = fit(nan_after(3), IRIS.train, key=key, epochs=10, throw=False)
    assert quiet.reason == "diverged"


@pytest.mark.parametrize("driven", ["progress", "checkpoints"])
def test_rollback_on_the_host_in_every_driving_mode(key, driven, tmp_path):
    # fit restores the last good state by replaying the failed call; run does it
    # in the graph: both keep the state of epoch 5 (the NaN comes in epoch 6)
    kw = (
        {"progress": True}
        if driven == "progress"
        else {"checkpoint_dir": tmp_path / "ckpt", "checkpoint_every": 4}
    )
    result = fit(nan_after(5), IRIS.train, key=key, epochs=10, throw=False, **kw)
    ran = run(nan_after(5), IRIS.train, key=key, epochs=10)
    assert result.reason == "diverged" and result.epochs == 6 == int(ran.n_epochs)
    assert float(result.state) == float(ran.state) == 5.0


def test_real_divergence_is_caught(key):
    data = load("diabetes")
    model = jnn.static.MLP(features=(64, 1), activation="relu")
    learner = gradient_learner(model, regression_loss(model), optax.sgd(50.0))
    with pytest.raises(TrainingDiverged) as err:
        fit(learner, data.train, key=key, epochs=50, batch_size=32)
    params = err.value.result.state.params
    assert all(np.all(np.isfinite(p)) for p in jax.tree.leaves(params))


def test_progress_bar_only_when_asked(key, capsys):
    fit(LEARNER, IRIS.train, key=key, epochs=2, batch_size=32)
    assert capsys.readouterr().out == ""
    fit(LEARNER, IRIS.train, key=key, epochs=2, batch_size=32, progress=True)
    assert "epoch" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"train": {"x": np.zeros((5, 4), np.float32), "y": np.zeros(4, np.int32)}},
            ValueError,
            "share their first dimension",
        ),
        (
            {
                "train": {
                    "x": np.full((5, 4), np.nan, np.float32),
                    "y": np.zeros(5, np.int32),
                }
            },
            ValueError,
            "NaN",
        ),
        (
            {"train": {"x": np.zeros((0, 4), np.float32), "y": np.zeros(0, np.int32)}},
            ValueError,
            "non-empty",
        ),
        (
            {"train": {"x": np.array([["a"] * 4] * 5), "y": np.zeros(5, np.int32)}},
            TypeError,
            "numeric",
        ),
        ({"train": [np.zeros((5, 4))]}, TypeError, "dict of arrays"),
        ({"batch_size": 1000}, ValueError, "must not exceed"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"epochs": 0}, ValueError, "epochs"),
        ({"key": 0}, TypeError, "PRNG key"),
        ({"stop": validation_patience(3)}, ValueError, "pass `val=`"),
        ({"val": {"x": np.zeros((3, 4), np.float32)}}, ValueError, "same entries"),
        ({"stop": "patience"}, TypeError, "Stop"),
    ],
)
def test_bad_input_is_rejected_before_training(kwargs, error, match):
    args = {
        "train": IRIS.train,
        "key": jax.random.key(0),
        "epochs": 2,
        "batch_size": 16,
        **kwargs,
    }
    with pytest.raises(error, match=match):
        fit(LEARNER, **args)


def test_label_smoothing_matches_closed_form(key):
    # E = (1 - eps) CE(y) + eps * mean_k(-log p_k), per example, then averaged.
    params = MODEL.init(key, IRIS.train["x"][:1])["params"]
    batch = {k: v[:20] for k, v in IRIS.train.items()}
    logits = np.asarray(MODEL.apply({"params": params}, batch["x"]), np.float64)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    y = np.asarray(batch["y"])
    plain = -log_p[np.arange(20), y]
    for eps in (0.0, 0.1, 0.5):
        expected = np.mean((1 - eps) * plain + eps * (-log_p).mean(axis=1))
        value, aux, _ = classification_loss(MODEL, label_smoothing=eps)(
            params, batch, None
        )
        np.testing.assert_allclose(float(value), expected, rtol=1e-5)
        assert float(aux["accuracy"]) == np.mean(logits.argmax(axis=1) == y)
    for bad in (-0.1, 1.0, True, "0.1"):
        with pytest.raises(ValueError, match="label_smoothing"):
            classification_loss(MODEL, label_smoothing=bad)


def test_learner_without_grad_norm_trains_alike_and_stops_on_it_raise(key):
    quiet = gradient_learner(
        MODEL, classification_loss(MODEL), optax.adam(1e-2), grad_norm=False
    )
    a = fit(LEARNER, IRIS.train, key=key, epochs=2, batch_size=32)
    b = fit(quiet, IRIS.train, key=key, epochs=2, batch_size=32)
    assert "grad_norm" in a.history and "grad_norm" not in b.history
    np.testing.assert_allclose(a.history["loss"], b.history["loss"], rtol=1e-6)
    tree_allclose(a.state.params, b.state.params, atol=1e-6)
    with pytest.raises(ValueError, match="grad_norm"):
        fit(quiet, IRIS.train, key=key, epochs=2, stop=gradient_norm_below(0.1))
    with pytest.raises(TypeError, match="`grad_norm`"):
        gradient_learner(MODEL, classification_loss(MODEL), optax.sgd(0.1), grad_norm=1)


def test_bad_learner_arguments():
    with pytest.raises(TypeError, match="`model`"):
        gradient_learner("mlp", classification_loss(MODEL), optax.adam(1e-3))
    with pytest.raises(TypeError, match="`optimizer`"):
        gradient_learner(MODEL, classification_loss(MODEL), 1e-3)
    with pytest.raises(TypeError, match="`learner`"):
        fit(LEARNER.update, IRIS.train, key=jax.random.key(0), epochs=1)


def test_init_state_starts_from_the_given_state_without_recompiling(key):
    traces = []

    def update(state, batch, key):
        traces.append(1)
        return state + 1.0, {"loss": 1.0 / (1.0 + state)}

    learner = Learner(lambda key, batch: jnp.float32(0.0), update)
    a = fit(learner, IRIS.train, key=key, epochs=3, init_state=jnp.float32(10.0))
    n_traces = len(traces)
    b = fit(learner, IRIS.train, key=key, epochs=3, init_state=jnp.float32(20.0))
    assert float(a.state) == 13.0 and float(b.state) == 23.0
    assert len(traces) == n_traces
    np.testing.assert_allclose(a.history["loss"], [1 / 11, 1 / 12, 1 / 13], rtol=1e-6)
    ran = run(learner, IRIS.train, key=key, epochs=2, init_state=jnp.float32(5.0))
    assert float(ran.state) == 7.0


def test_learner_compiler_options_reach_the_compiled_epochs(key):
    """fit compiles with the learner's XLA options; they change speed, not values."""
    seen = []

    def options(backend):
        seen.append(backend)
        return {"xla_backend_optimization_level": 1}

    tuned = LEARNER._replace(compiler_options=options)
    plain = fit(LEARNER, IRIS.train, key=key, epochs=3, batch_size=16)
    result = fit(tuned, IRIS.train, key=key, epochs=3, batch_size=16)
    assert seen == [jax.default_backend()]
    tree_allclose(result.state.params, plain.state.params, rtol=1e-5, atol=1e-6)
    # an option XLA refuses fails the compile: the options are really passed
    bogus = LEARNER._replace(
        compiler_options=lambda backend: {"xla_backend_optimization_level": "x"}
    )
    with pytest.raises(Exception, match="xla_backend_optimization_level"):
        fit(bogus, IRIS.train, key=key, epochs=1, batch_size=16)
    wrong = LEARNER._replace(compiler_options=lambda backend: [("a", 1)])
    with pytest.raises(TypeError, match="must return a dict or None"):
        fit(wrong, IRIS.train, key=key, epochs=1, batch_size=16)
