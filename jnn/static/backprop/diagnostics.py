"""Diagnostics of back-propagation's weaknesses (curriculum S3).

* Vanishing and exploding gradients: :func:`layer_gradient_norms` measures
  ``||dE/dW_l||`` for every layer ``l``. With sigmoid units each layer
  multiplies the back-propagated error by ``W^T`` and by ``g'(a) <= 1/4``, so
  norms shrink geometrically towards the input; with large initial weights the
  factor ``||W||`` wins and they grow. Use it as ``gradient_learner(...,
  grad_metrics=layer_gradient_norms)`` to record them every epoch.
* Local minima: :func:`seed_spread` trains many initialisations in one
  ``vmap``-ed, compiled call and returns the spread of final errors.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn._checks import (
    check_callable,
    check_dataset,
    check_key,
    check_positive_int,
)
from jnn.train import Learner, run
from jnn.train.learner import Batch, LossFn, PyTree
from jnn.train.stopping import Stop

_LAYER = re.compile(r"^layer_(\d+)$")


def layer_gradient_norms(grads: PyTree) -> dict[str, jax.Array]:
    """L2 norm of the gradient of each ``layer_i`` (kernel and bias).

    Args:
      grads: a params-shaped gradient of an :class:`jnn.static.MLP` (any
        params dict whose top-level entries are named ``layer_<i>``).

    Returns:
      ``{"layer_grad_norm": (n_layers,)}``, ordered from input to output.

    Raises:
      TypeError, ValueError: ``grads`` not a dict, or without ``layer_<i>``
        entries.
    """
    if not isinstance(grads, Mapping):
        raise TypeError(
            "`grads` must be a params-shaped dict of gradients with `layer_<i>` "
            f"entries; got {type(grads).__name__}."
        )
    layers = sorted(
        ((int(m.group(1)), name) for name in grads if (m := _LAYER.match(name))),
    )
    if not layers:
        raise ValueError(f"`grads` has no `layer_<i>` entries; got {sorted(grads)}.")
    norms = [optax.tree.norm(grads[name]) for _, name in layers]
    return {"layer_grad_norm": jnp.stack(norms)}


def initial_gradient_norms(
    model, loss: LossFn, key: jax.Array, batch: Batch
) -> jax.Array:
    """Per-layer gradient norms of ``loss`` at a fresh initialisation.

    Args:
      model: an :class:`jnn.static.MLP` (or a module with ``layer_<i>`` params).
      loss: ``loss(params, batch, ctx)``, e.g. ``classification_loss(model)``.
      key: initialisation key.
      batch: ``{"x": (B, d), "y": ...}``.

    Returns:
      ``(n_layers,)`` norms, input layer first.

    Raises:
      TypeError, ValueError: ``model`` not a Flax module, ``loss`` not
        callable, a bad ``key``, ``batch`` not a dict of arrays with ``"x"``
        (sharing their rows, no NaN).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"`model` must be a Flax Linen module such as jnn.static.MLP; got "
            f"{type(model).__name__}."
        )
    check_callable(loss, "loss", "a loss function loss(params, batch, ctx)")
    check_key(key)
    check_dataset(batch, "batch")
    if "x" not in batch:
        raise ValueError(f"`batch` must hold the inputs 'x'; got {sorted(batch)}.")
    return _initial_norms(model, loss, key, batch)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _initial_norms(model, loss, key, batch):
    # One compiled program: eager grad dispatches (and compiles) op by op.
    params = model.init(key, batch["x"])["params"]
    grads = jax.grad(lambda p: loss(p, batch, None)[0])(params)
    return layer_gradient_norms(grads)["layer_grad_norm"]


class SeedSpread(NamedTuple):
    """Final errors of many independently initialised trainings.

    Attributes:
      final_loss: ``(n_seeds,)`` training loss of the last epoch.
      final_val: ``(n_seeds,)`` last validation loss (NaN without ``val``).
      history: the stacked :class:`jnn.train.RunResult` histories.
    """

    final_loss: jax.Array
    final_val: jax.Array
    history: dict[str, jax.Array]


def seed_spread(
    learner: Learner,
    train: Batch,
    *,
    key: jax.Array,
    n_seeds: int,
    epochs: int,
    batch_size: int | None = None,
    val: Batch | None = None,
    stop: Stop | None = None,
) -> SeedSpread:
    """Train ``n_seeds`` initialisations at once (one ``vmap``) and collect errors.

    Different initial weights end in different minima (S3); the spread of
    ``final_loss`` measures how much. Shuffling also differs per seed.

    Returns:
      A :class:`SeedSpread`.

    Raises:
      TypeError, ValueError: ``learner`` not a :class:`jnn.train.Learner`,
        ``train`` or ``val`` not dicts of arrays sharing their rows (NaN, inf),
        bad counts, ``key`` or ``stop``; all before anything is traced.
    """
    if not isinstance(learner, Learner):
        raise TypeError(
            f"`learner` must be a jnn.train.Learner; got {type(learner).__name__}."
        )
    check_dataset(train, "train")
    check_key(key)
    check_positive_int(n_seeds, "n_seeds")
    check_positive_int(epochs, "epochs")
    check_positive_int(batch_size, "batch_size", allow_none=True)
    if val is not None:
        check_dataset(val, "val")
    if stop is not None and not isinstance(stop, Stop):
        raise TypeError(
            "`stop` must be a stopping criterion of jnn.train (e.g. "
            f"jnn.train.max_epochs(10)); got {type(stop).__name__}."
        )

    def one(k):
        result = run(
            learner,
            train,
            key=k,
            epochs=epochs,
            batch_size=batch_size,
            val=val,
            stop=stop,
        )
        last = result.n_epochs - 1
        final_val = (
            result.history["val_loss"][last]
            if val is not None
            else jnp.array(jnp.nan, jnp.float32)
        )
        return result.history["loss"][last], final_val, result.history

    final_loss, final_val, history = jax.jit(jax.vmap(one))(
        jax.random.split(key, n_seeds)
    )
    return SeedSpread(final_loss, final_val, history)
