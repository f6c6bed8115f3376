"""Checks of user input at the public boundary, run before any tracing.

Every public function of jnn validates its arguments here and raises a
``ValueError`` or ``TypeError`` that names the argument and says what was
expected and what was given. Value checks (finite, ranges) only run on concrete
arrays: under ``jit`` the values are unknown, and compiled code reports problems
through status fields instead of raising.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np


def is_concrete(x: Any) -> bool:
    """True when ``x`` holds values (not a tracer inside ``jit``/``vmap``).

    A concrete array closed over by a traced function is still concrete here:
    checks must read it through ``np.asarray`` (a ``jnp`` operation on it inside
    the trace would return a tracer).
    """
    return not isinstance(x, jax.core.Tracer)


def check_ids_below(
    ids: Any, upper: int, name: str, *, noun: str = "ids", bound: str = "`vocab_size`"
) -> None:
    """Raise unless the integer ``ids`` (when concrete) lie in ``[0, upper)``.

    Token ids outside the vocabulary make ``jnp.take`` clamp and the
    cross-entropy return a finite, meaningless value, so every model that
    embeds ids checks them here. The values are read through a host copy
    (``np.asarray``), so a concrete array closed over by a traced function is
    checked too; tracers are skipped.

    Args:
      ids: an int array (its kind and shape are the caller's checks).
      upper: the exclusive upper bound ``V``.
      name: the argument's name in the message.
      noun: what the entries are (``"token ids"``, ``"ids"``).
      bound: what ``upper`` is, in the message.
    """
    if not is_concrete(ids):
        return
    values = np.asarray(ids)
    if values.size and (values.min() < 0 or values.max() >= upper):
        raise ValueError(
            f"`{name}` must hold {noun} in [0, {upper}) ({bound}); got min "
            f"{values.min()} and max {values.max()}."
        )


def check_positive_int(value: Any, name: str, *, allow_none: bool = False) -> None:
    """Raise unless ``value`` is a positive int (or None when ``allow_none``)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"`{name}` must be a positive int; got {value!r}.")
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive int; got {value}.")


def check_fraction(
    value: Any, name: str, *, low: float = 0.0, high: float = 1.0
) -> None:
    """Raise unless ``low <= value < high``."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise TypeError(f"`{name}` must be a float in [{low}, {high}); got {value!r}.")
    if not low <= float(value) < high:
        raise ValueError(f"`{name}` must be in [{low}, {high}); got {value}.")


def check_positive_float(value: Any, name: str) -> None:
    """Raise unless ``value`` is a finite number > 0 (a concrete hyper-parameter)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"`{name}` must be a positive number; got {value!r}.")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a finite number > 0; got {value}.")


def check_array(
    x: Any, name: str, *, ndim: int | None = None, kind: str | None = None
) -> None:
    """Check one array: numeric, non-empty, optional rank and dtype kind, finite.

    Args:
      x: the array (NumPy or JAX) to check.
      name: the argument's name, used in the error message.
      ndim: the required rank, or None for any.
      kind: required dtype kind: ``"f"`` floating, ``"i"`` integer, ``"n"`` any
        numeric (bool excluded), or None for any numeric or bool.

    Raises:
      TypeError: not an array, or of the wrong dtype kind.
      ValueError: wrong rank, empty, or (when concrete) containing NaN or inf.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"`{name}` must be an array; got {type(x).__name__}.")
    dtype = np.dtype(x.dtype)
    numeric = np.issubdtype(dtype, np.number) and not np.issubdtype(
        dtype, np.complexfloating
    )
    if not (numeric or dtype == np.bool_):
        raise TypeError(f"`{name}` must have a real numeric dtype; got {dtype}.")
    wanted = {
        "f": np.issubdtype(dtype, np.floating),
        "i": np.issubdtype(dtype, np.integer),
        "n": numeric,
        None: True,
    }
    if kind not in wanted:
        raise ValueError(f"unknown dtype kind {kind!r}")
    if not wanted[kind]:
        label = {"f": "floating", "i": "integer", "n": "numeric"}[kind]
        article = "an" if label == "integer" else "a"
        raise TypeError(f"`{name}` must have {article} {label} dtype; got {dtype}.")
    if ndim is not None and len(x.shape) != ndim:
        raise ValueError(f"`{name}` must have rank {ndim}; got shape {tuple(x.shape)}.")
    if len(x.shape) == 0 or x.shape[0] == 0:
        raise ValueError(f"`{name}` must be a non-empty array; got shape {x.shape}.")
    if is_concrete(x) and np.issubdtype(dtype, np.floating):
        if not bool(np.all(np.isfinite(np.asarray(x)))):
            raise ValueError(f"`{name}` contains NaN or infinite values.")


def check_dataset(data: Any, name: str) -> int:
    """Check a data set: a mapping of arrays sharing their leading (example) axis.

    Args:
      data: e.g. ``{"x": (n, d) float, "y": (n,) int}``.
      name: the argument's name, used in the error message.

    Returns:
      The number of examples ``n``.

    Raises:
      TypeError: ``data`` is not a mapping of arrays.
      ValueError: it is empty, its arrays disagree on ``n``, or one is invalid.
    """
    if not isinstance(data, Mapping):
        raise TypeError(
            f"`{name}` must be a dict of arrays such as {{'x': ..., 'y': ...}}; "
            f"got {type(data).__name__}."
        )
    if not data:
        raise ValueError(f"`{name}` must hold at least one array; got an empty dict.")
    lengths = {}
    for key, value in data.items():
        check_array(value, f"{name}[{key!r}]")
        lengths[key] = value.shape[0]
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"the arrays of `{name}` must share their first dimension (one row per "
            f"example); got lengths {lengths}."
        )
    return next(iter(lengths.values()))


def check_key(key: Any, name: str = "key") -> None:
    """Raise a ``TypeError`` unless ``key`` is one JAX PRNG key.

    Accepts a typed key (``jax.random.key(seed)``, shape ``()``) or a raw
    legacy key (``jax.random.PRNGKey(seed)``, uint32 of shape ``(2,)``); works
    on tracers too (only the dtype and shape are read).
    """
    expected = f"`{name}` must be a JAX PRNG key such as jax.random.key(0)"
    if key is None or not hasattr(key, "dtype") or not hasattr(key, "shape"):
        raise TypeError(f"{expected}; got {type(key).__name__}.")
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise TypeError(f"{expected} (one key); got key shape {key.shape}.")
        return
    if np.dtype(key.dtype) == np.uint32 and tuple(key.shape) == (2,):
        return  # raw legacy key
    raise TypeError(
        f"{expected}; got an array of dtype {key.dtype} and shape {key.shape}."
    )


def check_interval(
    value: Any,
    name: str,
    low: float = -np.inf,
    high: float = np.inf,
    *,
    closed: bool = True,
) -> None:
    """Raise unless ``value`` is a finite real number in ``[low, high]``.

    With ``closed=False`` the interval is open, ``(low, high)``: e.g. the step
    size of normalised LMS, stable for ``0 < eta < 2``.
    """
    left = "[" if closed and np.isfinite(low) else "("
    right = "]" if closed and np.isfinite(high) else ")"
    interval = f"{left}{low:g}, {high:g}{right}"
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"`{name}` must be a number in {interval}; got {value!r}.")
    inside = low <= value <= high if closed else low < value < high
    if not (np.isfinite(value) and inside):
        raise ValueError(
            f"`{name}` must be a finite number in {interval}; got {value}."
        )


def check_bool(value: Any, name: str) -> None:
    """Raise a ``TypeError`` unless ``value`` is True or False (not a truthy value)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"`{name}` must be True or False; got {value!r}.")


def check_callable(value: Any, name: str, expected: str) -> None:
    """Raise a ``TypeError`` unless ``value`` is callable; ``expected`` says what."""
    if not callable(value):
        raise TypeError(f"`{name}` must be {expected}; got {type(value).__name__}.")
