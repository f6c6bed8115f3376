"""Learners: every learning rule as a pair of pure functions.

A :class:`Learner` is to training what an Optax ``GradientTransformation`` is
to optimisation::

    state = learner.init(key, batch)                    # any pytree
    state, metrics = learner.update(state, batch, key)  # one step on one batch
    metrics = learner.evaluate(state, data, key)        # optional, no learning

Because the functions are pure, the engine (:mod:`jnn.train.loop`) can ``jit``
an epoch, ``lax.scan`` over mini-batches, ``vmap`` over seeds or
hyper-parameters and shard over devices, for every learner at once. Gradient
descent on a Flax module is one constructor, :func:`gradient_learner`; k-means,
EM, SOM, Hebbian rules, CD-k and GAN steps are learners written by hand (a
learner with several optimisers: :func:`jnn.train.players_learner`).

Conventions: ``metrics`` is a dict of scalars (or small fixed-shape arrays)
that the engine averages over an epoch. A ``"loss"`` entry is what the stopping
criteria and the divergence check look at.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn.train.modules import Context, check_module, check_names, init_model
from jnn.train.plans import BatchPlan, check_plan

PyTree = Any
Batch = Mapping[str, jax.Array]
Metrics = dict[str, jax.Array]
#: ``loss(params, batch, ctx) -> (loss, aux_metrics, model_state)``: ``ctx`` is
#: a :class:`jnn.train.Context` (key, train flag, model state); the loss
#: returns the model state its module produced (``ctx.model_state`` unchanged
#: when the module has none or when evaluating). A loss may carry a
#: ``check(data, name)`` attribute that validates data before tracing.
LossFn = Callable[[PyTree, Batch, Context], tuple[jax.Array, Metrics, PyTree]]


class Learner(NamedTuple):
    """A learning rule as pure functions.

    Attributes:
      init: ``init(key, batch) -> state``; ``batch`` is an example batch that
        fixes shapes and dtypes.
      update: ``update(state, batch, key) -> (state, metrics)``, one learning
        step on one mini-batch.
      evaluate: optional ``evaluate(state, data, key) -> metrics`` on held-out
        data (no learning; ``key`` for sampling-based estimates, may be None).
        A two-argument ``evaluate(state, data)`` is called without the key. The
        engine prefixes its keys with ``val_``.
      plan: the :class:`jnn.train.BatchPlan` the rule needs, or None to let the
        caller choose (``full_batch()`` for rules that need every example: then
        a ``batch_size`` is refused).
      start_epoch: optional ``start_epoch(state) -> state`` run at the start of
        every epoch (e.g. zero the hidden state carried across the windows of
        truncated BPTT).
      check: optional ``check(data, name)`` raising ``ValueError``/``TypeError``
        for data the rule cannot use; the engine calls it on ``train`` and
        ``val`` before anything is traced.
      compiler_options: optional ``compiler_options(backend) -> dict | None``:
        XLA options for the training program :func:`jnn.train.fit` compiles
        on ``backend`` (``"cpu"``, ``"gpu"``, ...), passed to ``jax.jit``'s
        ``compiler_options``. A backend-aware speed choice (e.g. which XLA:CPU
        library fusions to use); the results must not depend on it beyond
        float rounding. None: XLA's defaults.
    """

    init: Callable[[jax.Array, Batch], PyTree]
    update: Callable[[PyTree, Batch, jax.Array], tuple[PyTree, Metrics]]
    evaluate: Callable[..., Metrics] | None = None
    plan: BatchPlan | None = None
    start_epoch: Callable[[PyTree], PyTree] | None = None
    check: Callable[[Batch, str], None] | None = None
    compiler_options: Callable[[str], dict | None] | None = None


def evaluate_with_key(
    evaluate: Callable[..., Metrics], state: PyTree, data: Batch, key
) -> Metrics:
    """``evaluate(state, data, key)``, or ``evaluate(state, data)`` if it takes two.

    Raises:
      TypeError: ``evaluate`` not callable, ``data`` not a dict.
    """
    if not callable(evaluate):
        raise TypeError(f"`evaluate` must be a function; got {evaluate!r}.")
    if not isinstance(data, Mapping):
        raise TypeError(f"`data` must be a dict of arrays; got {type(data).__name__}.")
    if _takes_key(evaluate):
        return evaluate(state, data, key)
    return evaluate(state, data)


def _takes_key(fn: Callable) -> bool:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= 3


class TrainState(NamedTuple):
    """State of a gradient learner.

    Attributes:
      params: the Flax ``params`` collection.
      opt_state: the Optax optimiser state.
      step: ``[]`` int32, updates applied so far.
      model_state: the module's other collections (``{"batch_stats": ...}``),
        ``{}`` when it has none.
    """

    params: PyTree
    opt_state: optax.OptState
    step: jax.Array
    model_state: PyTree = {}


def gradient_learner(
    model: nn.Module,
    loss: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    input_key: str = "x",
    grad_metrics: Callable[[PyTree], Metrics] | None = None,
    grad_norm: bool = True,
    reset_collections: Sequence[str] = (),
    plan: BatchPlan | None = None,
    rng_streams: Sequence[str] = (),
) -> Learner:
    r"""Gradient descent on a Flax Linen module's parameters.

    The update is back-propagation followed by the optimiser (Rumelhart, Hinton
    & Williams 1986):

    .. math:: g = \nabla_\theta E(\theta; \text{batch}),\quad
              \theta \leftarrow \theta + \text{optimizer}(g)

    Model state: the module's collections other than ``params`` (BatchNorm's
    ``batch_stats``, a recurrent ``carry``) are kept in
    :attr:`TrainState.model_state`, updated by every training step (the loss
    applies the module with them mutable and ``train=True``), used frozen by
    ``evaluate`` (``train=False``: BatchNorm uses its running statistics), and
    checkpointed and replicated with the rest of the state. They are inputs,
    not parameters: no gradient flows into them, which is what truncated BPTT
    needs of a carried hidden state.

    Args:
      model: a Flax Linen module; ``model.init(key, batch[input_key])`` (with
        ``train=False`` / ``deterministic=True`` if it takes one) creates its
        variables.
      loss: ``loss(params, batch, ctx) -> (loss, aux, model_state)``, e.g.
        :func:`jnn.train.classification_loss`; ``ctx`` is a
        :class:`jnn.train.Context`.
      optimizer: any Optax gradient transformation (``optax.adam(1e-3)``,
        ``optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(0.1, 0.9))``).
      input_key: the batch entry passed to ``model.init``.
      grad_metrics: optional ``f(grads) -> dict`` of extra metrics computed from
        the gradient every step (e.g. :func:`jnn.static.layer_gradient_norms`).
      grad_norm: record the metric ``grad_norm`` every step (default). It is
        one more pass over the gradient unless the optimiser computes the same
        norm (``optax.clip_by_global_norm``, which XLA then shares): ~10 % of
        a small model's step on a CPU core (the 784-400-20 VAE at batch 128).
        False drops the metric (and :func:`jnn.train.gradient_norm_below`
        with it).
      reset_collections: model-state collections zeroed at the start of every
        epoch (``("carry",)`` for a hidden state carried across the windows of
        :func:`jnn.train.sequence_windows`).
      plan: a batch plan the learner requires (None: the caller chooses).
      rng_streams: RNG streams the module draws from at init besides
        ``params`` (e.g. ``("dropout",)`` for a module that needs it).

    Returns:
      A :class:`Learner` whose state is a :class:`TrainState` and whose metrics
      hold ``loss``, ``grad_norm`` (global L2 norm of the mini-batch gradient;
      unless ``grad_norm=False``) and the loss's aux metrics;
      ``evaluate(state, data, key=None)``.

    Example:
      >>> import optax, jnn
      >>> model = jnn.static.MLP(features=(16, 3))
      >>> learner = gradient_learner(
      ...     model, jnn.train.classification_loss(model), optax.adam(1e-2))
    """
    check_module(model)
    if not callable(loss):
        raise TypeError(f"`loss` must be callable; got {type(loss).__name__}.")
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "`optimizer` must be an optax.GradientTransformation such as "
            f"optax.adam(1e-3); got {type(optimizer).__name__}."
        )
    if not isinstance(input_key, str):
        raise TypeError(f"`input_key` must be a string; got {input_key!r}.")
    if not isinstance(grad_norm, bool):
        raise TypeError(f"`grad_norm` must be a bool; got {grad_norm!r}.")
    if grad_metrics is not None and not callable(grad_metrics):
        raise TypeError(
            f"`grad_metrics` must be a function of the gradients (or None); "
            f"got {grad_metrics!r}."
        )
    reset_collections = check_names(
        reset_collections, "reset_collections", allow_str=True
    )
    rng_streams = check_names(rng_streams, "rng_streams")
    if plan is not None:
        check_plan(plan)

    def init(key: jax.Array, batch: Batch) -> TrainState:
        if input_key not in batch:
            raise ValueError(
                f"the batch has no entry {input_key!r} (`input_key`); it has "
                f"{sorted(batch)}."
            )
        params, model_state = init_model(
            model, key, batch[input_key], rng_streams=rng_streams
        )
        missing = [c for c in reset_collections if c not in model_state]
        if missing:
            raise ValueError(
                f"`reset_collections` names {missing}, but the module has only "
                f"the model-state collections {sorted(model_state)}."
            )
        step = jnp.zeros((), jnp.int32)
        return TrainState(params, optimizer.init(params), step, model_state)

    def call_loss(params, batch, ctx: Context):
        out = loss(params, batch, ctx)
        if not (isinstance(out, tuple) and len(out) == 3):
            raise TypeError(
                "`loss` must return (value, aux_metrics, model_state) and take "
                "(params, batch, ctx: jnn.train.Context); a loss written for the "
                "older (params, batch, key) -> (value, aux) protocol can read "
                "ctx.key and return ctx.model_state as the third item."
            )
        value, aux, new_state = out
        return value, (aux, new_state)

    def update(state: TrainState, batch: Batch, key: jax.Array):
        ctx = Context(key, True, state.model_state)
        grad_fn = jax.value_and_grad(call_loss, has_aux=True)
        (value, (aux, model_state)), grads = grad_fn(state.params, batch, ctx)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        metrics = {"loss": value}
        if grad_norm:
            metrics["grad_norm"] = optax.tree.norm(grads)
        metrics.update(aux)
        if grad_metrics is not None:
            metrics.update(grad_metrics(grads))
        new = TrainState(params, opt_state, state.step + 1, model_state)
        return new, metrics

    def evaluate(state: TrainState, data: Batch, key: jax.Array | None = None):
        value, (aux, _) = call_loss(
            state.params, data, Context(key, False, state.model_state)
        )
        return {"loss": value, **aux}

    def start_epoch(state: TrainState) -> TrainState:
        model_state = dict(state.model_state)
        for name in reset_collections:
            model_state[name] = jax.tree.map(jnp.zeros_like, model_state[name])
        return state._replace(model_state=model_state)

    return Learner(
        init,
        update,
        evaluate,
        plan=plan,
        start_epoch=start_epoch if reset_collections else None,
        check=getattr(loss, "check", None),
    )


def learner_compiler_options(learner: Learner) -> dict | None:
    """``learner.compiler_options`` for JAX's default backend (None: defaults).

    Raises:
      TypeError: the options are not a dict (or None).
    """
    if learner.compiler_options is None:
        return None
    options = learner.compiler_options(jax.default_backend())
    if options is not None and not isinstance(options, dict):
        raise TypeError(
            "`learner.compiler_options(backend)` must return a dict or None; got "
            f"{options!r}."
        )
    return options or None
