"""Calling a Flax Linen module from a loss: parameters, model state, train flag.

A Flax module's variables are collections: ``params`` (what the optimiser
changes) and, for some modules, others: ``batch_stats`` of BatchNorm, a
``carry`` of a recurrent layer whose state outlives one batch, any collection
the module declares with ``self.variable``. The engine calls everything but
``params`` the **model state**: it travels in the learner state, is updated by
training steps (the collections are mutable) and is used frozen in evaluation.
``intermediates`` (what ``sow`` records) are diagnostics, never state.

One :class:`Context` tells a loss how to call the module at this step:

* ``key``: randomness of the step (dropout, sampling), or None;
* ``train``: training (True) or evaluation (False). It reaches the module the
  Flax way: a ``train`` argument of ``__call__`` gets it, a ``deterministic``
  argument gets ``not train``; the ``dropout`` stream is given in training
  only, so ``Dropout`` modules keyed on ``has_rng("dropout")`` are off in
  evaluation even when evaluation has a key;
* ``model_state``: the current non-parameter collections (``{}`` if none).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping, Sequence
from typing import Any

import flax.linen as nn
import jax
import numpy as np
from flax import struct

from jnn._checks import check_key, is_concrete

PyTree = Any
#: Collections that are never model state (``sow``'s diagnostics).
NOT_STATE = ("params", "intermediates")


@struct.dataclass
class Context:
    """How a loss calls its module at one step (a pytree; ``train`` is static).

    Attributes:
      key: PRNG key of the step, or None (no randomness).
      train: True in a training step, False in evaluation (a Python bool,
        static under ``jit``).
      model_state: ``{collection: pytree}`` of the module's non-parameter
        variables (``{}`` when it has none).

    Example:
      >>> ctx = Context(jax.random.key(0), train=True)
      >>> ctx.replace(train=False).train
      False
    """

    key: jax.Array | None = None
    train: bool = struct.field(pytree_node=False, default=False)
    model_state: Mapping[str, PyTree] = struct.field(default_factory=dict)


@functools.lru_cache(maxsize=256)
def _flag_argument(module_type: type) -> str | None:
    """The name of the train/eval argument of ``module_type.__call__``, if any."""
    try:
        names = inspect.signature(module_type.__call__).parameters
    except (TypeError, ValueError):
        return None
    for name in ("train", "deterministic"):
        if name in names:
            return name
    return None


def flag_kwargs(model: nn.Module, train: bool) -> dict[str, bool]:
    """``{"train": train}`` or ``{"deterministic": not train}`` for ``model``."""
    name = _flag_argument(type(model))
    if name is None:
        return {}
    return {name: train if name == "train" else not train}


def split_variables(variables: Mapping[str, PyTree]) -> tuple[PyTree, dict]:
    """``(params, model_state)`` of ``variables`` (``intermediates`` dropped)."""
    params = variables.get("params", {})
    state = {k: v for k, v in variables.items() if k not in NOT_STATE}
    return params, state


def check_module(model: Any, name: str = "model") -> None:
    """Raise a ``TypeError`` unless ``model`` is a Flax Linen module."""
    if not isinstance(model, nn.Module):
        raise TypeError(
            f"`{name}` must be a flax.linen Module; got {type(model).__name__}."
        )


def check_names(value: Any, name: str, *, allow_str: bool = False) -> tuple[str, ...]:
    """``value`` as a tuple of strings (collection or stream names).

    Raises:
      TypeError: not a list or tuple of strings (a single string only with
        ``allow_str``, as a one-name tuple).
    """
    if isinstance(value, str) and allow_str:
        return (value,)
    if not isinstance(value, list | tuple) or not all(
        isinstance(v, str) for v in value
    ):
        raise TypeError(f"`{name}` must be a tuple of names (strings); got {value!r}.")
    return tuple(value)


#: Compiler options of one-off initialisers (here and in ``fit``): on CPU,
#: LLVM's optimisation passes are most of the compile time of a model's
#: initialisation (one threefry kernel per parameter array) and buy nothing
#: for a program that runs once (LeNet-5: 2.0 s -> 0.5 s). The values may
#: differ from an optimised compile in the last bit (float rounding of the
#: initialisers' scaling).
INIT_COMPILER_OPTIONS = {"cpu": {"xla_backend_optimization_level": 0}}


def init_model(
    model: nn.Module, key: jax.Array, *inputs: Any, rng_streams: Sequence[str] = ()
) -> tuple[PyTree, dict]:
    """Initialise ``model`` in evaluation mode: ``(params, model_state)``.

    Args:
      model: a Flax Linen module.
      key: PRNG key of the ``params`` stream (``rng_streams`` get keys folded
        from it).
      *inputs: example inputs for ``model.init``.
      rng_streams: other RNG streams the module draws from at init.

    Raises:
      TypeError: ``model`` not a module, ``key`` not a PRNG key, stream names
        not strings.
    """
    check_module(model)
    check_key(key)
    rng_streams = check_names(rng_streams, "rng_streams")
    rngs = {"params": key}  # the key itself: results match model.init(key, x)
    for i, name in enumerate(rng_streams, start=1):
        rngs[name] = jax.random.fold_in(key, i)
    init = functools.partial(model.init, **flag_kwargs(model, False))
    arrays = all(isinstance(x, jax.Array | np.ndarray) for x in inputs)
    if arrays and all(is_concrete(x) for x in (key, *inputs)):  # not inside a trace
        # One compiled program without LLVM's optimisations on CPU (it runs
        # once): called eagerly, Flax's init compiles every initialiser op by
        # op, ~0.7 s per parameter array (a small DCGAN pair: 10 s -> 1 s).
        options = INIT_COMPILER_OPTIONS.get(jax.default_backend())
        init = jax.jit(init, compiler_options=options)
    return split_variables(init(rngs, *inputs))


def apply_model(
    model: nn.Module,
    params: PyTree,
    ctx: Context | None,
    *inputs: Any,
    rng_streams: Sequence[str] = (),
    **kwargs: Any,
) -> tuple[Any, dict]:
    """Apply ``model`` as the engine does: ``(outputs, new_model_state)``.

    In training (``ctx.train``) the model-state collections are mutable and
    the ``dropout`` stream gets ``ctx.key``; in evaluation they are frozen and
    the returned state is ``ctx.model_state`` itself. ``rng_streams`` (e.g.
    ``("sample",)``) get keys folded from ``ctx.key`` in both modes.

    Args:
      model: the Flax Linen module.
      params: its ``params`` collection.
      ctx: the step's :class:`Context`; None means ``Context()``
        (evaluation without a key or model state).
      *inputs: positional inputs of ``model.__call__``.
      rng_streams: named RNG streams besides ``dropout``.
      **kwargs: keyword inputs of ``model.__call__``.

    Returns:
      ``(outputs, model_state)``.

    Raises:
      TypeError: ``model`` not a module, ``params`` not a dict, ``ctx`` not a
        :class:`Context`, stream names not strings.
    """
    check_module(model)
    if not isinstance(params, Mapping):
        raise TypeError(
            "`params` must be the module's params collection (a dict); "
            f"got {type(params).__name__}."
        )
    if ctx is not None and not isinstance(ctx, Context):
        raise TypeError(
            f"`ctx` must be a jnn.train.Context (or None); got {type(ctx).__name__}."
        )
    rng_streams = check_names(rng_streams, "rng_streams")
    ctx = Context() if ctx is None else ctx
    variables = {"params": params, **ctx.model_state}
    rngs = {}
    if ctx.key is not None:
        if ctx.train:
            rngs["dropout"] = ctx.key
        for i, name in enumerate(rng_streams, start=1):
            rngs[name] = jax.random.fold_in(ctx.key, i)
    flags = flag_kwargs(model, ctx.train)
    mutable = list(ctx.model_state) if ctx.train else False
    if mutable:
        out, state = model.apply(
            variables, *inputs, rngs=rngs, mutable=mutable, **flags, **kwargs
        )
        return out, {k: state[k] for k in ctx.model_state}
    out = model.apply(variables, *inputs, rngs=rngs, **flags, **kwargs)
    return out, dict(ctx.model_state)
