"""Sequence models: padding invariance, heads, a learning check, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.rnn import (
    RecurrentNet,
    RecurrentStack,
    last_valid_step,
    lengths_from_mask,
)
from jnn.train import classification_loss, fit, gradient_learner
from tests.conftest import load
from tests.rnn import random_params

H, FEATURES = 5, 2
LENGTHS = np.array([6, 3, 1], np.int32)


def _padded():
    """Three sequences padded to 6 steps with garbage (it must not matter)."""
    rng = np.random.default_rng(0)
    return jnp.asarray(rng.normal(size=(3, 6, FEATURES)).astype(np.float32) * 3)


STACK = RecurrentStack("lstm", H, layers=2, bidirectional=True)


@jax.jit
def _run_stack(params, x, seq_lengths=None):
    return STACK.apply({"params": params}, x, seq_lengths=seq_lengths)


def test_padded_steps_never_change_outputs_or_final_states():
    x = _padded()
    params = random_params(STACK, x)
    state, out = _run_stack(params, x, jnp.asarray(LENGTHS))
    assert out.shape == (3, 6, 2 * H)
    for b, length in enumerate(LENGTHS):
        alone_state, alone = _run_stack(params, x[b : b + 1, :length])
        np.testing.assert_allclose(out[b, :length], alone[0], atol=1e-6)
        np.testing.assert_array_equal(out[b, length:], 0.0)
        mine = jax.tree.map(lambda s, b=b: s[b], state)
        theirs = jax.tree.map(lambda s: s[0], alone_state)
        jax.tree.map(
            lambda a, c: np.testing.assert_allclose(a, c, atol=1e-6), mine, theirs
        )
    # the top layer's final states are its outputs at each sequence's ends
    (_, h_forward), (_, h_backward) = state[-1]
    ends = last_valid_step(out, jnp.asarray(LENGTHS), backward_features=H)
    np.testing.assert_allclose(ends, jnp.concatenate([h_forward, h_backward], -1))


@pytest.mark.parametrize("bidirectional", [False, True])
def test_heads_read_the_last_valid_step_or_every_step(bidirectional):
    x, lengths = _padded(), jnp.asarray(LENGTHS)
    one = RecurrentNet("gru", H, 1, bidirectional, out_features=3)
    many = one.clone(head="many-to-many")
    params = random_params(one, x, seed=1)
    stack = RecurrentStack("gru", H, 1, bidirectional)
    valid = np.arange(6)[None, :] < LENGTHS[:, None]

    @jax.jit
    def outputs(params, x, lengths, mask):
        variables = {"params": params}
        return (
            stack.apply({"params": params["stack"]}, x, seq_lengths=lengths),
            one.apply(variables, x, lengths),
            many.apply(variables, x, lengths),
            many.apply(variables, x, mask=mask),
        )

    (state, out), y_one, y_many, y_mask = outputs(params, x, lengths, valid)
    last = jnp.concatenate(state[0], -1) if bidirectional else state[0]
    head = jax.tree.map(np.asarray, params["head"])
    last, out = np.asarray(last), np.asarray(out)
    np.testing.assert_allclose(y_one, last @ head["kernel"] + head["bias"], atol=1e-6)
    expected = np.where(valid[..., None], out @ head["kernel"] + head["bias"], 0.0)
    np.testing.assert_allclose(y_many, expected, atol=1e-6)
    # a prefix mask is the same as the lengths
    np.testing.assert_array_equal(y_mask, y_many)
    np.testing.assert_array_equal(lengths_from_mask(valid), LENGTHS)


def test_recurrent_net_learns_row_by_row_mnist():
    data = load("mnist")  # (n, 784), cached for the other tests too
    n_train, n_val = 2048, 1000
    train = {"x": data.train["x"][:n_train].reshape(-1, 28, 28)}
    train["y"] = data.train["y"][:n_train]
    val = {"x": data.val["x"][:n_val].reshape(-1, 28, 28), "y": data.val["y"][:n_val]}
    model = RecurrentNet("gru", 32, out_features=10)
    learner = gradient_learner(
        model,
        classification_loss(model),
        optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-2)),
    )
    result = fit(
        learner,
        train,
        key=jax.random.key(0),
        epochs=3,
        batch_size=64,
        val=val,
        progress=False,
    )
    accuracy = float(result.history["val_accuracy"][-1])
    assert accuracy > 0.7, accuracy


def test_bad_sequences_are_named():
    x = jnp.ones((3, 6, FEATURES))
    params = random_params(STACK, x)
    with pytest.raises(ValueError, match="`x` must have rank 3"):
        STACK.apply({"params": params}, jnp.ones((6, FEATURES)))
    with pytest.raises(TypeError, match="`x`"):
        STACK.apply({"params": params}, jnp.ones((3, 6, FEATURES), jnp.int32))
    with pytest.raises(ValueError, match=r"`seq_lengths` must lie in \[1, 6\]"):
        STACK.apply({"params": params}, x, seq_lengths=jnp.array([7, 2, 1]))
    with pytest.raises(ValueError, match="`seq_lengths` must lie"):
        STACK.apply({"params": params}, x, seq_lengths=jnp.array([0, 2, 1]))
    with pytest.raises(ValueError, match="`seq_lengths` must have one length"):
        STACK.apply({"params": params}, x, seq_lengths=jnp.array([2, 1]))
    with pytest.raises(TypeError, match="`seq_lengths`"):
        STACK.apply({"params": params}, x, seq_lengths=jnp.array([2.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="`mask`"):
        lengths_from_mask(jnp.array([[1, 0, 1]], bool))
    net = RecurrentNet("gru", H)
    with pytest.raises(ValueError, match="`mask` must have shape"):
        net.init(jax.random.key(0), x, mask=jnp.ones((3, 5), bool))
    with pytest.raises(ValueError, match="either `seq_lengths` or `mask`"):
        net.init(
            jax.random.key(0), x, jnp.array([1, 2, 3]), mask=jnp.ones((3, 6), bool)
        )
    with pytest.raises(ValueError, match="`cell`"):
        RecurrentNet("tanh", H)
    with pytest.raises(ValueError, match="`features`"):
        RecurrentNet("lstm", 0)
    with pytest.raises(ValueError, match="`layers`"):
        RecurrentStack("lstm", H, layers=0)
    with pytest.raises(ValueError, match="`head`"):
        RecurrentNet("lstm", H, head="one-to-many")
    with pytest.raises(ValueError, match="`dropout`"):
        RecurrentNet("lstm", H, dropout=1.5)
    with pytest.raises(ValueError, match="`initial_state`"):
        STACK.apply({"params": params}, x, initial_state=STACK.zero_state(3)[:1])
