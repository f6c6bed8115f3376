r"""The papers' early-stopping criteria for node classification (G2).

Two :class:`jnn.train.Stop` criteria, pure functions run on the device once
per epoch like those of :mod:`jnn.train.stopping` (the same object for the same
arguments, so that the engine's compiled epoch is reused):

* :func:`window_mean_rise`: Kipf & Welling (2017, ``gcn/train.py``) stop when
  the validation loss exceeds its mean over the previous 10 epochs;
* :func:`patience_on_loss_and_accuracy`: Veličković et al. (2018,
  ``execute_cora.py``) stop after 100 epochs in which neither the validation
  loss nor the accuracy reached a new best, and keep the state of the last
  epoch that improved both.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int
from jnn.train import Stop


@functools.lru_cache(maxsize=64)
def window_mean_rise(window: int = 10, *, metric: str = "val_loss") -> Stop:
    """Kipf & Welling's early stopping: ``metric`` above its recent mean.

    Fires at epoch ``t`` when ``m_t > mean(m_{t-window}, ..., m_{t-1})`` (and
    ``window`` earlier epochs exist); the last state is kept, as in their code
    (``gcn/train.py``).
    """
    check_positive_int(window, "window")

    def init(learner_state):
        return jnp.zeros((window,), jnp.float32), jnp.zeros((), jnp.int32)

    def update(state, record, learner_state):
        previous, seen = state
        value = record[metric].astype(jnp.float32)
        fired = (seen >= window) & (value > jnp.mean(previous))
        previous = jnp.roll(previous, -1).at[-1].set(value)
        return (previous, seen + 1), fired[None]

    return Stop(("window_mean_rise",), (metric,), init, update, lambda s, st: st)


class _PatienceState(NamedTuple):
    best_loss: jax.Array
    best_accuracy: jax.Array
    bad_epochs: jax.Array
    saved: Any


@functools.lru_cache(maxsize=64)
def patience_on_loss_and_accuracy(
    patience: int = 100,
    *,
    loss: str = "val_loss",
    accuracy: str = "val_accuracy",
) -> Stop:
    """GAT's early stopping (Veličković et al. 2018, their ``execute_cora.py``).

    The patience counter restarts whenever the validation loss reaches a new
    minimum or the accuracy a new maximum (``<=`` / ``>=``); the criterion fires
    after ``patience`` epochs without either. The state of the last epoch that
    matched both records is returned at the end.
    """
    check_positive_int(patience, "patience")

    def init(learner_state):
        zero = jnp.zeros((), jnp.int32)
        return _PatienceState(
            jnp.float32(jnp.inf), jnp.float32(-jnp.inf), zero, learner_state
        )

    def update(s: _PatienceState, record, learner_state):
        value, acc = (
            record[loss].astype(jnp.float32),
            record[accuracy].astype(jnp.float32),
        )
        lower, higher = value <= s.best_loss, acc >= s.best_accuracy
        both = lower & higher
        saved = jax.tree.map(lambda a, b: jnp.where(both, a, b), learner_state, s.saved)
        new = _PatienceState(
            jnp.minimum(value, s.best_loss),
            jnp.maximum(acc, s.best_accuracy),
            jnp.where(lower | higher, 0, s.bad_epochs + 1),
            saved,
        )
        return new, (new.bad_epochs >= patience)[None]

    def finalize(s: _PatienceState, learner_state):
        return s.saved

    return Stop(
        ("patience_on_loss_and_accuracy",), (loss, accuracy), init, update, finalize
    )
