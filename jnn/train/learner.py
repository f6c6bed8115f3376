"""Learners: every learning rule as a pair of pure functions.

A :class:`Learner` is to training what an Optax ``GradientTransformation`` is
to optimisation::

    state = learner.init(key, batch)                  # any pytree
    state, metrics = learner.update(state, batch, key)  # one step on one batch
    metrics = learner.evaluate(state, data)           # optional, no learning

Because the functions are pure, the engine (:mod:`jnn.train.loop`) can ``jit``
an epoch, ``lax.scan`` over mini-batches, ``vmap`` over seeds or
hyper-parameters and shard over devices, for every learner at once. Gradient
descent on a Flax module is one constructor, :func:`gradient_learner`; k-means,
EM, SOM, Hebbian rules, CD-k and GAN steps are learners written by hand.

Conventions: ``metrics`` is a dict of scalars (or small fixed-shape arrays)
that the engine averages over an epoch. A ``"loss"`` entry is what the stopping
criteria and the divergence check look at.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

PyTree = Any
Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]
#: ``loss(params, batch, key) -> (loss, aux_metrics)``; ``key=None`` means
#: evaluation (deterministic: no dropout, no noise).
LossFn = Callable[[PyTree, Batch, jax.Array | None], tuple[jax.Array, Metrics]]


class Learner(NamedTuple):
    """A learning rule as pure functions.

    Attributes:
      init: ``init(key, batch) -> state``; ``batch`` is an example batch that
        fixes shapes and dtypes.
      update: ``update(state, batch, key) -> (state, metrics)``, one learning
        step on one mini-batch.
      evaluate: optional ``evaluate(state, data) -> metrics`` on held-out data
        (no learning, deterministic); the engine prefixes its keys with
        ``val_``.
    """

    init: Callable[[jax.Array, Batch], PyTree]
    update: Callable[[PyTree, Batch, jax.Array], tuple[PyTree, Metrics]]
    evaluate: Callable[[PyTree, Batch], Metrics] | None = None


class TrainState(NamedTuple):
    """State of a gradient learner.

    Attributes:
      params: the Flax ``params`` collection.
      opt_state: the Optax optimiser state.
      step: ``[]`` int32, updates applied so far.
    """

    params: PyTree
    opt_state: optax.OptState
    step: jax.Array


def gradient_learner(
    model: nn.Module,
    loss: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    input_key: str = "x",
    grad_metrics: Callable[[PyTree], Metrics] | None = None,
) -> Learner:
    r"""Gradient descent on a Flax Linen module's parameters.

    The update is back-propagation followed by the optimiser (Rumelhart, Hinton
    & Williams 1986):

    .. math:: g = \nabla_\theta E(\theta; \text{batch}),\quad
              \theta \leftarrow \theta + \text{optimizer}(g)

    Args:
      model: a Flax Linen module; ``model.init(key, batch[input_key])`` creates
        its parameters.
      loss: ``loss(params, batch, key) -> (scalar loss, aux metrics)``, e.g.
        :func:`jnn.train.classification_loss`. It receives ``key=None`` when
        evaluating.
      optimizer: any Optax gradient transformation (``optax.adam(1e-3)``,
        ``optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1, 0.9))``).
      input_key: the batch entry passed to ``model.init``.
      grad_metrics: optional ``f(grads) -> dict`` of extra metrics computed from
        the gradient every step (e.g. :func:`jnn.static.layer_gradient_norms`).

    Returns:
      A :class:`Learner` whose state is a :class:`TrainState` and whose metrics
      hold ``loss``, ``grad_norm`` (global L2 norm of the mini-batch gradient)
      and the loss's aux metrics.

    Example:
      >>> import optax, jnn
      >>> model = jnn.static.MLP(features=(16, 3))
      >>> learner = gradient_learner(
      ...     model, jnn.train.classification_loss(model), optax.adam(1e-2))
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a flax.linen Module; got {type(model)}.")
    if not callable(loss):
        raise TypeError(f"`loss` must be callable; got {type(loss).__name__}.")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "`optimizer` must be an optax.GradientTransformation such as "
            f"optax.adam(1e-3); got {type(optimizer).__name__}."
        )

    def init(key: jax.Array, batch: Batch) -> TrainState:
        if input_key not in batch:
            raise ValueError(
                f"the batch has no entry {input_key!r} (`input_key`); it has "
                f"{sorted(batch)}."
            )
        params = model.init(key, batch[input_key])["params"]
        return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))

    def update(state: TrainState, batch: Batch, key: jax.Array):
        grad_fn = jax.value_and_grad(loss, has_aux=True)
        (value, aux), grads = grad_fn(state.params, batch, key)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": value, "grad_norm": optax.tree.norm(grads), **aux}
        if grad_metrics is not None:
            metrics.update(grad_metrics(grads))
        return TrainState(params, opt_state, state.step + 1), metrics

    def evaluate(state: TrainState, data: Batch) -> Metrics:
        value, aux = loss(state.params, data, None)
        return {"loss": value, **aux}

    return Learner(init, update, evaluate)
