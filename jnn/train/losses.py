"""Losses for :func:`jnn.train.gradient_learner`, built from any Flax module.

Each factory closes over a module and returns ``loss(params, batch, key) ->
(loss, aux)``. A non-None ``key`` is passed to the module as its ``"dropout"``
stream (training); ``key=None`` means evaluation.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn.train.learner import Batch, LossFn, PyTree


def _apply(model: nn.Module, params: PyTree, x: jax.Array, key: jax.Array | None):
    rngs = None if key is None else {"dropout": key}
    return model.apply({"params": params}, x, rngs=rngs)


def classification_loss(
    model: nn.Module, *, input_key: str = "x", target_key: str = "y"
) -> LossFn:
    r"""Mean softmax cross-entropy of integer labels, with accuracy.

    .. math:: E = -\frac{1}{B}\sum_b \log \mathrm{softmax}(f(x_b))_{y_b}

    Args:
      model: module mapping ``x: (B, ...)`` to logits ``(B, n_classes)``.
      input_key: batch entry holding the inputs.
      target_key: batch entry holding ``(B,)`` int class labels.

    Returns:
      ``loss(params, batch, key) -> (loss, {"accuracy": ...})``.
    """

    def loss(params: PyTree, batch: Batch, key: jax.Array | None):
        logits = _apply(model, params, batch[input_key], key)
        labels = batch[target_key]
        value = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
        return value, {"accuracy": accuracy}

    return loss


def regression_loss(
    model: nn.Module, *, input_key: str = "x", target_key: str = "y"
) -> LossFn:
    r"""Mean squared error, the ``E`` of the back-propagation literature.

    .. math:: E = \frac{1}{B}\sum_b \lVert f(x_b) - y_b \rVert^2 / d

    Args:
      model: module mapping ``x: (B, ...)`` to predictions ``(B, d)``.
      input_key: batch entry holding the inputs.
      target_key: batch entry holding targets ``(B, d)``, or ``(B,)`` when the
        model has one output (``d = 1``).

    Returns:
      ``loss(params, batch, key) -> (mse, {"rmse": ...})``.
    """

    def loss(params: PyTree, batch: Batch, key: jax.Array | None):
        pred = _apply(model, params, batch[input_key], key)
        target = batch[target_key]
        if target.ndim == pred.ndim - 1 and pred.shape[-1] == 1:
            pred = pred[..., 0]  # one output: compare (B,) with (B,)
        if pred.shape != target.shape:
            raise ValueError(
                f"model output {pred.shape} does not match targets "
                f"batch[{target_key!r}] {target.shape}."
            )
        value = jnp.mean((pred - target) ** 2)
        return value, {"rmse": jnp.sqrt(value)}

    return loss
