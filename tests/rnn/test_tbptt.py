"""Truncated BPTT of a CharRNN through the engine: equal to a hand-written loop."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn.rnn import CharRNN, language_model_loss, tbptt_learner
from jnn.train import TrainState, fit, run, sequence_windows
from tests.rnn import random_params

STREAMS, WINDOW, WINDOWS = 3, 4, 3
LENGTH = WINDOW * WINDOWS  # steps per stream
OPTIMIZER = optax.chain(optax.clip_by_global_norm(0.1), optax.sgd(1.0))


@functools.cache
def corpus():
    return jnn.data.load_text("tinyshakespeare")


@functools.cache
def model():
    return CharRNN(corpus().vocab.size, features=8, layers=2, cell="lstm")


@functools.cache
def learner():
    return tbptt_learner(model(), OPTIMIZER)


def stream(n=STREAMS * LENGTH):
    data = jnn.data.next_token_stream(corpus().train[: n + 1])
    return {k: jnp.asarray(v) for k, v in data.items()}


def as_streams(data):
    """The ``(STREAMS, LENGTH)`` streams that ``sequence_windows`` walks."""
    return {k: v.reshape(STREAMS, -1) for k, v in data.items()}


def initial_state(batch, seed=0):
    """A learner state with random weights (no model.init: no QR to compile)."""
    shapes = jax.eval_shape(learner().init, jax.random.key(0), batch)
    params = random_params(model(), batch["x"], seed=seed)
    zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes.model_state)
    return TrainState(params, OPTIMIZER.init(params), jnp.zeros((), jnp.int32), zeros)


def cross_entropy(logits, y):
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@jax.jit
def hand_step(params, opt_state, carry, x, y):
    """One window by hand: the carry enters as a constant (no gradient)."""

    def loss(p):
        logits, new = model().apply({"params": p, "carry": carry}, x, mutable=["carry"])
        return cross_entropy(logits, y), new["carry"]

    (_, carry), grads = jax.value_and_grad(loss, has_aux=True)(params)
    updates, opt_state = OPTIMIZER.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, carry


def hand_tbptt(state, data, epochs, reset=True):
    params, opt_state, carry = state.params, state.opt_state, state.model_state["carry"]
    streams = as_streams(data)
    for _ in range(epochs):
        if reset:
            carry = jax.tree.map(jnp.zeros_like, carry)
        for s in range(WINDOWS):
            w = slice(s * WINDOW, (s + 1) * WINDOW)
            params, opt_state, carry = hand_step(
                params, opt_state, carry, streams["x"][:, w], streams["y"][:, w]
            )
    return params, carry


def test_one_window_is_full_bptt():
    flat = stream()
    data = as_streams(flat)
    state = initial_state(data)
    plan = sequence_windows(STREAMS, LENGTH)  # k = T: every stream is one window
    result = run(
        learner(), flat, key=jax.random.key(0), epochs=1, plan=plan, init_state=state
    )
    new = result.state
    metrics = {k: result.history[k][0] for k in ("loss", "grad_norm")}

    @jax.jit
    def full_bptt(params):
        def full_loss(p):
            logits, end = model().apply(
                {"params": p}, data["x"], use_carry=False, return_state=True
            )
            return cross_entropy(logits, data["y"]), end

        (value, end), grads = jax.value_and_grad(full_loss, has_aux=True)(params)
        return value, end, grads

    value, end, grads = full_bptt(state.params)
    updates, _ = OPTIMIZER.update(grads, state.opt_state, state.params)
    chex.assert_trees_all_close(
        new.params, optax.apply_updates(state.params, updates), atol=1e-6
    )
    np.testing.assert_allclose(metrics["loss"], value, rtol=1e-6)
    np.testing.assert_allclose(metrics["grad_norm"], optax.tree.norm(grads), rtol=1e-5)
    assert float(metrics["grad_norm"]) > 0.1  # the clipping is active
    # the carry now holds the state at the end of the streams
    chex.assert_trees_all_close(new.model_state["carry"]["state"], end, atol=1e-6)


def test_windows_carry_the_state_and_each_epoch_resets_it():
    data = stream()
    state = initial_state(as_streams(data), seed=1)
    plan = sequence_windows(STREAMS, WINDOW)
    result = run(
        learner(), data, key=jax.random.key(0), epochs=2, plan=plan, init_state=state
    )
    params, carry = hand_tbptt(state, data, epochs=2)
    chex.assert_trees_all_close(result.state.params, params, atol=2e-6)
    chex.assert_trees_all_close(result.state.model_state["carry"], carry, atol=2e-6)
    # the comparison has teeth: without the reset the weights end elsewhere
    unreset, _ = hand_tbptt(state, data, epochs=2, reset=False)
    gap = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), unreset, params)
    assert max(jax.tree.leaves(gap)) > 1e-4


def test_char_rnn_learns_tiny_shakespeare():
    text = corpus()
    train = jnn.data.next_token_stream(text.train[:50_001])
    val = jnn.data.next_token_stream(text.val[:2_001])
    counts = np.bincount(text.train[:50_000], minlength=text.vocab.size)
    p = counts[counts > 0] / counts.sum()
    unigram = float(-(p * np.log(p)).sum())  # nats per character, ~3.3
    lm = CharRNN(text.vocab.size, features=64, cell="lstm")
    result = fit(
        tbptt_learner(lm, learning_rate=1e-2),
        train,
        key=jax.random.key(0),
        epochs=2,
        plan=sequence_windows(16, 32),
        val=val,
        progress=False,
    )
    val_loss = float(result.history["val_loss"][-1])
    assert val_loss < 2.7 and val_loss < unigram - 0.5, (val_loss, unigram)


def test_bad_language_model_data_is_named():
    data = stream()
    plan = sequence_windows(STREAMS, WINDOW)
    key = jax.random.key(0)
    vocab = model().vocab_size
    with pytest.raises(ValueError, match=r"`train\['x'\]` must hold token ids in"):
        run(learner(), {**data, "x": data["x"] + vocab}, key=key, epochs=1, plan=plan)
    with pytest.raises(TypeError, match=r"`train\['y'\]`"):
        run(learner(), {**data, "y": data["y"] * 1.0}, key=key, epochs=1, plan=plan)
    with pytest.raises(ValueError, match="`tokens` must have rank 2"):
        model().init(key, jnp.zeros((2, 3, 4), jnp.int32))
    with pytest.raises(ValueError, match="`tokens` must hold token ids"):
        model().init(key, jnp.full((2, 3), -1, jnp.int32))
    with pytest.raises(ValueError, match="`vocab_size`"):
        CharRNN(0)
    with pytest.raises(ValueError, match="`cell`"):
        CharRNN(5, cell="rnn")
    with pytest.raises(ValueError, match="`learning_rate`"):
        tbptt_learner(model(), learning_rate=0.0)
    with pytest.raises(TypeError, match="`model`"):
        language_model_loss(jnn.rnn.RecurrentNet())
    batch = as_streams(stream())
    variables = {"params": random_params(model(), batch["x"])}
    variables["carry"] = {"state": initial_state(batch).model_state["carry"]["state"]}
    with pytest.raises(ValueError, match="carried state holds 3"):
        model().apply(variables, batch["x"][:2])
