"""Stopping criteria (curriculum S2), evaluated on the device once per epoch.

A criterion is a :class:`Stop`, a small bundle of pure functions in the style
of an Optax transformation::

    stop_state = stop.init(learner_state)
    stop_state, fired = stop.update(stop_state, record, learner_state)
    learner_state = stop.finalize(stop_state, learner_state)   # at the end

``record`` is the epoch's dict of scalars (``epoch``, ``loss``, ``grad_norm``,
``val_loss``, ...); ``fired`` is a bool vector with one entry per criterion
name, so that :func:`any_of` can report which one fired. ``finalize`` lets a
criterion change the final state (``validation_patience`` restores the best
weights). Because every piece is pure, criteria run inside ``lax.while_loop``
and under ``vmap``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_interval, check_positive_float, check_positive_int

PyTree = Any
Record = dict[str, jax.Array]


class Stop(NamedTuple):
    """A stopping criterion (or several, combined by :func:`any_of`).

    Attributes:
      names: one name per criterion, in the order of ``fired``.
      requires: record entries the criterion reads (checked before training).
      init: ``init(learner_state) -> stop_state``.
      update: ``update(stop_state, record, learner_state) -> (stop_state,
        fired)`` with ``fired`` a ``(len(names),)`` bool array.
      finalize: ``finalize(stop_state, learner_state) -> learner_state``.
    """

    names: tuple[str, ...]
    requires: tuple[str, ...]
    init: Callable[[PyTree], PyTree]
    update: Callable[[PyTree, Record, PyTree], tuple[PyTree, jax.Array]]
    finalize: Callable[[PyTree, PyTree], PyTree]


def _memoized(factory: Callable[..., Stop]) -> Callable[..., Stop]:
    """Return the same :class:`Stop` for the same (hashable) arguments.

    The engine's compiled epoch is cached on the criterion object, so
    ``fit(..., stop=validation_patience(20))`` called in a loop reuses one
    compilation instead of tracing anew for every fresh closure.
    """
    cached = functools.lru_cache(maxsize=256)(factory)

    @functools.wraps(factory)
    def wrapper(*args, **kwargs):
        try:
            return cached(*args, **kwargs)
        except TypeError as err:
            if "unhashable" not in str(err):
                raise
            return factory(*args, **kwargs)

    return wrapper


def _check_metric(metric: Any, name: str = "metric") -> None:
    """A record entry's name: a non-empty string."""
    if not isinstance(metric, str):
        raise TypeError(
            f"`{name}` must be the name of a record entry such as 'loss'; "
            f"got {metric!r}."
        )
    if not metric:
        raise ValueError(f"`{name}` must be a non-empty name; got ''.")


def _keep(stop_state: PyTree, learner_state: PyTree) -> PyTree:
    return learner_state


def _stateless(name: str, requires: tuple[str, ...], test: Callable) -> Stop:
    def update(stop_state, record, learner_state):
        return stop_state, jnp.reshape(test(record), (1,))

    return Stop((name,), requires, lambda s: (), update, _keep)


@_memoized
def max_epochs(n: int) -> Stop:
    """Fire after ``n`` epochs (criterion 4 of S2)."""
    check_positive_int(n, "n")
    return _stateless("max_epochs", ("epoch",), lambda r: r["epoch"] + 1 >= n)


@_memoized
def gradient_norm_below(eps: float, *, metric: str = "grad_norm") -> Stop:
    """Fire when the gradient norm ``||g(W)||`` drops below ``eps`` (S2, 1).

    The record's ``grad_norm`` is the epoch mean of the mini-batch gradient
    norms. With full-batch training (``batch_size=None``) that is exactly the
    norm of the gradient of the training error. With mini-batches it is at
    least the norm of the epoch's mean gradient (triangle inequality), and the
    mini-batch noise keeps it above zero: use a larger ``eps`` or full batches.
    """
    check_positive_float(eps, "eps")
    _check_metric(metric)
    return _stateless("gradient_norm_below", (metric,), lambda r: r[metric] < eps)


@_memoized
def relative_loss_change_below(eps: float, *, metric: str = "loss") -> Stop:
    """Fire when ``|E(n) - E(n-1)| / E(n-1) < eps`` (S2, 2).

    ``E`` is the epoch's mean training error (``metric``); the first epoch has
    no predecessor and never fires.
    """
    check_positive_float(eps, "eps")
    _check_metric(metric)

    def init(learner_state):
        return jnp.asarray(jnp.inf)  # default float: float64 when x64 is on

    def update(previous, record, learner_state):
        current = record[metric].astype(previous.dtype)
        change = jnp.abs(current - previous) / jnp.abs(previous)
        fired = jnp.isfinite(previous) & (change < eps)
        return current, fired[None]

    return Stop(("relative_loss_change_below",), (metric,), init, update, _keep)


@_memoized
def absolute_change_below(eps: float, *, metric: str) -> Stop:
    """Fire when ``|m(n) - m(n-1)| < eps`` for the record entry ``metric``.

    The convergence test of EM and variational Bayes (scikit-learn's ``tol`` on
    the mean log-likelihood or lower bound); the first epoch never fires.
    """
    check_positive_float(eps, "eps")
    _check_metric(metric)

    def init(learner_state):
        return jnp.asarray(jnp.nan)  # default float: float64 when x64 is on

    def update(previous, record, learner_state):
        current = record[metric].astype(previous.dtype)
        fired = jnp.abs(current - previous) < eps  # False while previous is NaN
        return current, fired[None]

    return Stop(("absolute_change_below",), (metric,), init, update, _keep)


@_memoized
def metric_below(threshold: float, *, metric: str) -> Stop:
    """Fire when the record entry ``metric`` is at most ``threshold``.

    For learners that report their own convergence measure, e.g. the squared
    shift of k-means centres (``metric="center_shift"``) or a target error.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise TypeError(f"`threshold` must be a number; got {threshold!r}.")
    if not math.isfinite(threshold):
        raise ValueError(f"`threshold` must be finite; got {threshold}.")
    _check_metric(metric)
    return _stateless("metric_below", (metric,), lambda r: r[metric] <= threshold)


class PatienceState(NamedTuple):
    """State of :func:`validation_patience`."""

    best: jax.Array  # [] best (sign-adjusted) validation metric so far
    bad_epochs: jax.Array  # [] int32 epochs since the last improvement
    best_epoch: jax.Array  # [] int32
    best_state: PyTree  # learner state at the best epoch (or () if not kept)


@_memoized
def validation_patience(
    patience: int,
    *,
    restore_best: bool = True,
    metric: str = "val_loss",
    mode: str = "min",
    min_delta: float = 0.0,
) -> Stop:
    """Fire when the validation metric has not improved for ``patience`` epochs.

    Cross-validation stopping (S2, 3): an improvement is a change by more than
    ``min_delta`` in the direction of ``mode``. With ``restore_best`` the
    criterion keeps a copy of the learner state at the best epoch, and the
    engine returns that state when training ends (for whatever reason).

    Args:
      patience: epochs without improvement before firing.
      restore_best: return the best state instead of the last one.
      metric: record entry to watch (``fit(val=...)`` provides ``val_*``).
      mode: ``"min"`` (losses) or ``"max"`` (accuracies).
      min_delta: smallest change that counts as an improvement.
    """
    check_positive_int(patience, "patience")
    if mode not in ("min", "max"):
        raise ValueError(f"`mode` must be 'min' or 'max'; got {mode!r}.")
    check_interval(min_delta, "min_delta", 0.0)
    _check_metric(metric)
    sign = 1.0 if mode == "min" else -1.0

    def init(learner_state):
        kept = learner_state if restore_best else ()
        zero = jnp.zeros((), jnp.int32)
        return PatienceState(jnp.array(jnp.inf, jnp.float32), zero, zero - 1, kept)

    def update(s: PatienceState, record, learner_state):
        value = sign * record[metric].astype(jnp.float32)
        better = value < s.best - min_delta
        best_state = s.best_state
        if restore_best:
            best_state = jax.tree.map(
                lambda new, old: jnp.where(better, new, old), learner_state, best_state
            )
        new = PatienceState(
            jnp.where(better, value, s.best),
            jnp.where(better, 0, s.bad_epochs + 1),
            jnp.where(better, record["epoch"], s.best_epoch),
            best_state,
        )
        return new, (new.bad_epochs >= patience)[None]

    def finalize(s: PatienceState, learner_state):
        if not restore_best:
            return learner_state
        found = s.best_epoch >= 0
        return jax.tree.map(
            lambda b, last: jnp.where(found, b, last), s.best_state, learner_state
        )

    return Stop(("validation_patience",), (metric, "epoch"), init, update, finalize)


@_memoized
def any_of(*stops: Stop) -> Stop:
    """Stop as soon as any of ``stops`` fires; the record says which one.

    States are kept as a tuple (like ``optax.chain``); ``finalize`` runs every
    criterion's finalizer in order. Repeated names get a ``_2``, ``_3`` suffix.
    """
    if not stops or not all(isinstance(s, Stop) for s in stops):
        raise TypeError(
            "`stops` of any_of must be one or more Stop criteria; got "
            f"{[type(s).__name__ for s in stops]}."
        )
    names: list[str] = []
    for stop in stops:
        for name in stop.names:
            unique, k = name, 2
            while unique in names:
                unique, k = f"{name}_{k}", k + 1
            names.append(unique)
    requires = tuple(dict.fromkeys(r for s in stops for r in s.requires))

    def init(learner_state):
        return tuple(s.init(learner_state) for s in stops)

    def update(states, record, learner_state):
        pairs = [
            s.update(st, record, learner_state)
            for s, st in zip(stops, states, strict=True)
        ]
        new_states = tuple(p[0] for p in pairs)
        return new_states, jnp.concatenate([p[1] for p in pairs])

    def finalize(states, learner_state):
        for stop, state in zip(stops, states, strict=True):
            learner_state = stop.finalize(state, learner_state)
        return learner_state

    return Stop(tuple(names), requires, init, update, finalize)


def _never_update(stop_state, record, learner_state):
    return stop_state, jnp.zeros((0,), bool)


_NEVER = Stop((), (), lambda learner_state: (), _never_update, _keep)


def never() -> Stop:
    """A criterion that never fires: train for all the epochs asked for.

    Always the same object, so that the engine's compiled epoch is reused.
    """
    return _NEVER
