r"""Exponential moving average of the weights, around any learner.

Polyak averaging's exponential form (Polyak & Juditsky 1992), as DDPM uses it
for sampling (Ho et al. 2020, decay 0.9999): after every update of the wrapped
learner,

.. math:: \bar\theta_n = d_n\,\bar\theta_{n-1} + (1 - d_n)\,\theta_n,
          \qquad \bar\theta_0 = \theta_0,

so that :math:`\bar\theta_n = d^n\theta_0 + (1 - d)\sum_{k=1}^n d^{\,n-k}
\theta_k` for a constant decay ``d``. With ``warmup`` the decay is
:math:`d_n = \min(d, n / (9 + n))` for update ``n = 1, 2, ...`` (TensorFlow's
``ExponentialMovingAverage(num_updates=...)``), so that short trainings are
not dominated by the initial weights.

:func:`with_ema` returns a :class:`jnn.train.Learner` whose state is an
:class:`EMAState`: the wrapped state plus the average. Its ``evaluate`` uses
the average (Ho et al. evaluate with the EMA weights); :func:`ema_params`
reads it. The wrapped learner's ``plan``, ``start_epoch`` and ``check`` pass
through, so ``fit``, ``run``, checkpoints and ``vmap`` over seeds work as for
the learner itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_bool, check_callable
from jnn.train.learner import Batch, Learner, evaluate_with_key
from jnn.train.loop import check_learner

PyTree = Any


class EMAState(NamedTuple):
    """State of :func:`with_ema`.

    Attributes:
      inner: the wrapped learner's state (e.g. a :class:`TrainState`).
      average: the moving average of ``params(inner)``, same structure.
      updates: ``[]`` int32, updates averaged so far.
    """

    inner: PyTree
    average: PyTree
    updates: jax.Array


def _params(state: PyTree) -> PyTree:
    return state.params


def _replace_params(state: PyTree, params: PyTree) -> PyTree:
    return state._replace(params=params)


def with_ema(
    learner: Learner,
    decay: float | Callable[[jax.Array], jax.Array] = 0.999,
    *,
    warmup: bool = False,
    params: Callable[[PyTree], PyTree] = _params,
    replace: Callable[[PyTree, PyTree], PyTree] = _replace_params,
    evaluate_average: bool = True,
) -> Learner:
    """``learner`` that also keeps an exponential moving average of its weights.

    Args:
      learner: any :class:`jnn.train.Learner` (e.g. from
        :func:`gradient_learner`).
      decay: ``d`` in ``[0, 1)``, or ``decay(updates) -> d`` (a traced int
        step in, a scalar out; e.g. an Optax schedule).
      warmup: use ``min(d, (1 + k) / (10 + k))`` for the update that follows
        ``k`` earlier ones (0.1 for the first).
      params: ``params(state) -> pytree`` of what to average (default:
        ``state.params``, for a :class:`TrainState`).
      replace: ``replace(state, pytree) -> state`` with the average in place
        of the parameters (used by ``evaluate``; default
        ``state._replace(params=...)``).
      evaluate_average: ``evaluate`` on the averaged weights (True) or on the
        learner's own (False).

    Returns:
      A :class:`Learner` whose state is an :class:`EMAState`; its ``update``
      returns the wrapped metrics plus ``ema_decay``.

    Raises:
      TypeError: ``learner`` not a Learner, bad callables or flags.
      ValueError: a constant ``decay`` outside ``[0, 1)``.

    Example:
      >>> learner = with_ema(gradient_learner(model, loss, optax.adam(1e-3)), 0.999)
      >>> result = fit(learner, data, key=key, epochs=5, batch_size=64)
      >>> averaged = ema_params(result.state)
    """
    check_learner(learner)
    if callable(decay):
        decay_fn = decay
    else:
        if isinstance(decay, bool) or not isinstance(decay, int | float):
            raise TypeError(
                f"`decay` must be a float in [0, 1) or a function of the step; "
                f"got {decay!r}."
            )
        if not 0.0 <= float(decay) < 1.0:
            raise ValueError(f"`decay` must be in [0, 1); got {decay}.")
        constant = float(decay)

        def decay_fn(_):
            return jnp.float32(constant)

    check_bool(warmup, "warmup")
    check_callable(params, "params", "a function state -> parameters")
    check_callable(replace, "replace", "a function (state, parameters) -> state")
    check_bool(evaluate_average, "evaluate_average")

    def init(key: jax.Array, batch: Batch) -> EMAState:
        inner = learner.init(key, batch)
        average = jax.tree.map(jnp.asarray, params(inner))
        return EMAState(inner, average, jnp.zeros((), jnp.int32))

    def update(state: EMAState, batch: Batch, key: jax.Array):
        inner, metrics = learner.update(state.inner, batch, key)
        n = state.updates + 1
        d = jnp.asarray(decay_fn(state.updates), jnp.float32)
        if warmup:
            k = state.updates.astype(jnp.float32)
            d = jnp.minimum(d, (1.0 + k) / (10.0 + k))
        average = jax.tree.map(
            lambda a, p: (d * a + (1.0 - d) * p).astype(a.dtype),
            state.average,
            params(inner),
        )
        return EMAState(inner, average, n), {**metrics, "ema_decay": d}

    evaluate = None
    if learner.evaluate is not None:

        def evaluate(state: EMAState, data: Batch, key: jax.Array | None = None):
            inner = state.inner
            if evaluate_average:
                inner = replace(inner, state.average)
            return evaluate_with_key(learner.evaluate, inner, data, key)

    start_epoch = None
    if learner.start_epoch is not None:

        def start_epoch(state: EMAState) -> EMAState:
            return state._replace(inner=learner.start_epoch(state.inner))

    return Learner(
        init,
        update,
        evaluate,
        learner.plan,
        start_epoch,
        learner.check,
        learner.compiler_options,
    )


def ema_params(state: EMAState) -> PyTree:
    """The averaged weights of a :func:`with_ema` learner's state.

    Raises:
      TypeError: ``state`` is not an :class:`EMAState`.
    """
    if not isinstance(state, EMAState):
        raise TypeError(
            "`state` must be the EMAState of a with_ema(...) learner; got "
            f"{type(state).__name__}."
        )
    return state.average
