"""Batch plans: shuffled, full batch, ordered sequence windows (truncated BPTT)."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn.train import (
    apply_model,
    fit,
    full_batch,
    gradient_learner,
    run,
    sequence_windows,
    shuffled,
)
from tests.conftest import load

STREAMS, WINDOW, HIDDEN = 3, 5, 6


def test_window_table_walks_each_stream_in_order():
    plan = sequence_windows(STREAMS, WINDOW)
    n = 50  # L = 16 steps per stream, 3 windows (the last step of each is unused)
    table = np.asarray(plan.indices(None, n))
    assert table.shape == (3, STREAMS, WINDOW) and plan.steps(n) == 3
    length = n // STREAMS
    for s in range(3):
        for b in range(STREAMS):
            start = b * length + s * WINDOW
            np.testing.assert_array_equal(table[s, b], np.arange(start, start + 5))
    assert plan.examples_per_epoch(n) == 45


def test_shuffled_table_is_a_permutation_prefix():
    table = np.asarray(shuffled(16).indices(jax.random.key(0), 150))
    assert table.shape == (9, 16)
    assert len(set(table.ravel())) == 144 and table.max() < 150


class CarriedRNN(nn.Module):
    """An Elman layer whose hidden state outlives a batch (collection ``carry``)."""

    @nn.compact
    def __call__(self, x, train: bool = False):  # x: (B, k)
        x = x[..., None]
        h0 = self.variable(
            "carry", "h", lambda: jnp.zeros((x.shape[0], HIDDEN), x.dtype)
        )
        h, ys = nn.RNN(nn.SimpleCell(HIDDEN), return_carry=True)(
            x, initial_carry=h0.value
        )
        if self.is_mutable_collection("carry"):
            h0.value = h
        return nn.Dense(1)(ys)[..., 0]


MODEL = CarriedRNN()


def next_step_loss(params, batch, ctx):
    pred, state = apply_model(MODEL, params, ctx, batch["x"])
    return jnp.mean((pred - batch["y"]) ** 2), {}, state


def stream(n=3 * 16):
    """A real sequence: the diabetes targets, standardised, predict the next."""
    y = np.asarray(load("diabetes").train["y"], np.float32)[: n + 1]
    y = (y - y.mean()) / y.std()
    return {"x": jnp.asarray(y[:-1]), "y": jnp.asarray(y[1:])}


def tbptt(optimizer):
    return gradient_learner(
        MODEL, next_step_loss, optimizer, reset_collections=("carry",)
    )


def full_forward(params, data, steps):
    """The carry after running each stream from zero over ``steps`` steps."""
    x = data["x"][: STREAMS * (len(data["x"]) // STREAMS)].reshape(STREAMS, -1)
    x = x[:, :steps, None]
    cell = nn.SimpleCell(HIDDEN)
    h = jnp.zeros((STREAMS, HIDDEN))
    for t in range(steps):  # a plain Python loop over time
        h, _ = cell.apply({"params": params["SimpleCell_0"]}, h, x[:, t])
    return h


@pytest.mark.parametrize("epochs", [1, 2])
def test_hidden_state_is_carried_across_windows_and_reset_each_epoch(epochs):
    data = stream()
    plan = sequence_windows(STREAMS, WINDOW)
    learner = tbptt(optax.sgd(0.0))  # frozen weights: only the carry moves
    result = fit(
        learner, data, key=jax.random.key(0), epochs=epochs, plan=plan, progress=False
    )
    carry = result.state.model_state["carry"]["h"]
    expected = full_forward(result.state.params, data, plan.steps(48) * WINDOW)
    # after every epoch the carry equals one uninterrupted pass from zero: the
    # windows are walked in order, the state carried, and reset each epoch
    np.testing.assert_allclose(carry, expected, rtol=1e-5, atol=1e-6)
    assert float(jnp.max(jnp.abs(carry))) > 0.1


def test_truncated_bptt_equals_hand_written_chunks():
    data = stream()
    plan = sequence_windows(STREAMS, WINDOW)
    opt = optax.sgd(0.1)
    result = run(tbptt(opt), data, key=jax.random.key(0), epochs=1, plan=plan)

    init_key, _ = jax.random.split(jax.random.key(0))
    variables = MODEL.init(init_key, jnp.zeros((STREAMS, WINDOW)))
    params, carry = variables["params"], variables["carry"]
    opt_state = opt.init(params)
    length = 48 // STREAMS
    x = data["x"].reshape(STREAMS, length)
    y = data["y"].reshape(STREAMS, length)
    for s in range(plan.steps(48)):
        window = slice(s * WINDOW, (s + 1) * WINDOW)

        def loss(p, carry=carry, window=window):
            pred, new = MODEL.apply(
                {"params": p, "carry": carry},
                x[:, window],
                mutable=["carry"],
            )
            return jnp.mean((pred - y[:, window]) ** 2), new["carry"]

        (_, carry), grads = jax.value_and_grad(loss, has_aux=True)(params)
        updates, opt_state = opt.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
    chex.assert_trees_all_close(result.state.params, params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(
        result.state.model_state["carry"], carry, rtol=1e-5, atol=1e-6
    )


def test_windowed_training_accepts_validation_as_parallel_streams():
    data = stream()
    val = {k: v[: STREAMS * 6].reshape(STREAMS, 6) for k, v in data.items()}
    plan = sequence_windows(STREAMS, WINDOW)
    result = fit(
        tbptt(optax.sgd(0.1)),
        data,
        key=jax.random.key(0),
        epochs=1,
        val=val,
        plan=plan,
        progress=False,
    )
    variables = {"params": result.state.params, **result.state.model_state}
    expected = jnp.mean((MODEL.apply(variables, val["x"]) - val["y"]) ** 2)
    np.testing.assert_allclose(result.history["val_loss"][-1], expected, rtol=1e-5)
    # the extra stream axis is a windows-plan feature: shuffled batches refuse it
    with pytest.raises(ValueError, match="after the example axis"):
        fit(
            tbptt(optax.sgd(0.1)),
            data,
            key=jax.random.key(0),
            epochs=1,
            val=val,
            batch_size=4,
            progress=False,
        )


def test_plan_errors_are_clear():
    data = stream()
    learner = tbptt(optax.sgd(0.1))
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="either `batch_size` or `plan`"):
        run(learner, data, key=key, epochs=1, batch_size=3, plan=shuffled(3))
    with pytest.raises(ValueError, match="cannot fill one window"):
        run(learner, data, key=key, epochs=1, plan=sequence_windows(16, 5))
    with pytest.raises(TypeError, match="BatchPlan"):
        run(learner, data, key=key, epochs=1, plan="windows")
    with pytest.raises(ValueError, match="`window`"):
        sequence_windows(3, 0)


def test_full_batch_learners_refuse_a_batch_size():
    x = load("iris").train["x"]
    learner = jnn.static.kmeans(3)
    assert learner.plan == full_batch()
    with pytest.raises(ValueError, match="full-batch rule"):
        fit(learner, {"x": x}, key=jax.random.key(0), epochs=5, batch_size=16)
    for rule in (
        jnn.static.gmm_em(3),
        jnn.static.som_batch((3, 3), n_iterations=5),
    ):
        with pytest.raises(ValueError, match="full-batch rule"):
            run(rule, {"x": x}, key=jax.random.key(0), epochs=2, batch_size=16)
    # without a batch size they train as before
    result = fit(learner, {"x": x}, key=jax.random.key(0), epochs=5)
    assert result.epochs == 5


def test_window_epochs_are_not_retraced():
    data = stream()
    traces = []

    def counted(params, batch, ctx):
        traces.append(1)
        return next_step_loss(params, batch, ctx)

    learner = gradient_learner(
        MODEL, counted, optax.sgd(0.1), reset_collections=("carry",)
    )
    plan = sequence_windows(STREAMS, WINDOW)
    fit(learner, data, key=jax.random.key(0), epochs=2, plan=plan, progress=False)
    n_traces = len(traces)
    fit(learner, data, key=jax.random.key(1), epochs=2, plan=plan, progress=False)
    assert len(traces) == n_traces
    step = jax.jit(chex.assert_max_traces(learner.update, n=1))
    batch = {k: v[:15].reshape(STREAMS, WINDOW) for k, v in data.items()}
    state = learner.init(jax.random.key(0), batch)
    state, _ = step(state, batch, jax.random.key(1))
    step(state, {**batch, "x": batch["x"] + 1.0}, jax.random.key(2))
