"""Variable-length training through the engine: padded steps never change it."""

import jax
import numpy as np
import optax
import pytest

from jnn.rnn import RecurrentNet
from jnn.train import classification_loss, fit, gradient_learner

N, T_SHORT, T_LONG, F = 48, 6, 10, 3


def padded_batch(t: int, pad_value: float) -> dict:
    """Sequences of lengths 1..6 padded to ``t`` steps with ``pad_value``."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, T_SHORT + 1, N).astype(np.int32)
    x = np.full((N, t, F), pad_value, np.float32)
    for i, n in enumerate(lengths):
        x[i, :n] = rng.normal(size=(n, F))
    y = (x[np.arange(N), lengths - 1, 0] > 0).astype(np.int32)  # sign of last step
    return {"x": x, "lengths": lengths, "y": y}


@pytest.mark.parametrize("cell", ["gru"])
def test_padding_never_changes_training(cell):
    model = RecurrentNet(cell=cell, features=8, out_features=2)
    loss = classification_loss(model, model_kwargs={"seq_lengths": "lengths"})
    learner = gradient_learner(model, loss, optax.adam(1e-2))

    def train(data):
        result = fit(learner, data, key=jax.random.key(1), epochs=3, batch_size=16)
        return result

    short = train(padded_batch(T_SHORT, 0.0))
    long = train(padded_batch(T_LONG, 123.0))  # 4 more steps of garbage
    for a, b in zip(
        jax.tree.leaves(short.state.params),
        jax.tree.leaves(long.state.params),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(short.history["loss"], long.history["loss"], rtol=1e-5)
    # ...and the lengths matter: read without them, the garbage changes the loss.
    blind = gradient_learner(model, classification_loss(model), optax.adam(1e-2))
    ignored = fit(
        blind,
        padded_batch(T_LONG, 123.0),
        key=jax.random.key(1),
        epochs=3,
        batch_size=16,
    )
    assert (
        abs(float(ignored.history["loss"][-1]) - float(long.history["loss"][-1])) > 0.01
    )


def test_model_kwargs_are_checked():
    model = RecurrentNet(cell="gru", features=4, out_features=2)
    with pytest.raises(TypeError, match="`model_kwargs` must be a dict"):
        classification_loss(model, model_kwargs={"seq_lengths": 3})
    loss = classification_loss(model, model_kwargs={"seq_lengths": "lengths"})
    learner = gradient_learner(model, loss, optax.adam(1e-2))
    data = padded_batch(T_SHORT, 0.0)
    del data["lengths"]
    with pytest.raises(ValueError, match="no entry 'lengths'"):
        fit(learner, data, key=jax.random.key(0), epochs=1, batch_size=16)
