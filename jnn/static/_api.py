"""What the fits of the shallow chapter share: result fields and renamed names.

Every ``*_fit`` of :mod:`jnn.static` returns a NamedTuple with the fitted
model's fields, ``params`` (the bundled model, what the ``*_predict``
functions take), ``iterations``, ``converged`` and ``history``; every
predictor accepts the fit's result or its ``params``. See the table in the
README ("The shallow chapter's API").
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def deprecated_alias(old: str, new: str) -> property:
    """A read-only attribute ``old`` that warns and returns ``self.new``."""

    def getter(self):
        warnings.warn(
            f"`{old}` is deprecated and will be removed in the next release; "
            f"use `{new}`.",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(self, new)

    return property(getter, doc=f"Deprecated alias of ``{new}``.")


def renamed_argument(old_value: Any, old: str, new_value: Any, new: str, default):
    """The value of a keyword renamed from ``old`` to ``new`` (warns on ``old``).

    ``old_value`` is None when the caller did not pass the old name; passing
    both names is an error.
    """
    if old_value is None:
        return new_value
    if new_value is not default:
        raise TypeError(f"pass `{new}` only; `{old}` is its deprecated name.")
    warnings.warn(
        f"`{old}` is deprecated and will be removed in the next release; use `{new}`.",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value


def trimmed_history(history: dict, n: int) -> dict[str, np.ndarray]:
    """A run's fixed-size history cut to its ``n`` epochs, per-epoch metrics only."""
    skip = ("fired", "epoch")
    return {k: np.asarray(v)[:n] for k, v in history.items() if k not in skip}


def fitted(obj: Any, params_type: type, result_type: type, name: str = "params"):
    """``obj`` as ``params_type``: itself, or the ``params`` of a fit result.

    Raises:
      TypeError: ``obj`` is neither.
    """
    if isinstance(obj, result_type):
        return obj.params
    if isinstance(obj, params_type):
        return obj
    raise TypeError(
        f"`{name}` must be a {params_type.__name__} or the {result_type.__name__} "
        f"of the fit; got {type(obj).__name__}."
    )
