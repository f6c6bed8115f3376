"""Bad-input tables: a valid call and its one-argument mutations.

Each table row is one public call with ONE argument changed to a bad value;
the test asserts a ``ValueError`` or ``TypeError`` whose message names that
argument. The checks run at the public boundary before anything is traced or
compiled, so a table of hundreds of rows runs in seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import numpy as np

NAN, INF = float("nan"), float("inf")


class Case(NamedTuple):
    """One mutated call and the error it must raise."""

    call: Callable[[], Any]
    error: type[Exception] | tuple[type[Exception], ...]
    match: str


def names(arg: str) -> str:
    """A regex for a message that names ``arg``: `` `arg` `` or ``arg must``."""
    a = re.escape(arg)
    return rf"`{a}`|(?<![\w.`]){a} must"


def _label(value: Any) -> str:
    if value is None or isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value)[:14]
    if isinstance(value, type):
        return f"class-{value.__name__}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        if not isinstance(value.dtype, np.dtype):
            return f"{value.dtype}{list(value.shape)}"  # e.g. a PRNG key
        a = np.asarray(value)
        if a.dtype.kind == "f" and a.size and not np.all(np.isfinite(a)):
            return "nan" if np.isnan(a).any() else "inf"
        return f"{a.dtype}{list(a.shape)}"
    if isinstance(value, list | tuple):
        return f"{type(value).__name__}{len(value)}"
    return type(value).__name__


def table(name: str, fn: Callable, valid: dict, changes: Iterable, cases: dict):
    """Add the rows ``fn(**{**valid, arg: value})`` of ``changes`` to ``cases``.

    Each change is ``(arg, value[, error[, match]])``; ``error`` defaults to
    ``TypeError`` for ``None`` and ``ValueError`` otherwise, ``match`` to
    :func:`names` of ``arg``. Row ids are ``name-arg-label``.

    Returns:
      The valid call (a thunk), for the valid-call test.
    """
    for change in changes:
        arg, value, *rest = change
        error = rest[0] if rest else (TypeError if value is None else ValueError)
        match = rest[1] if len(rest) > 1 else names(arg)
        row = f"{name}-{arg}-{_label(value)}"
        key, k = row, 2
        while key in cases:
            key, k = f"{row}-{k}", k + 1
        kwargs = {**valid, arg: value}
        cases[key] = Case(lambda kwargs=kwargs: fn(**kwargs), error, match)
    return lambda: fn(**valid)


# --- families of bad values -------------------------------------------------


def _with(good: np.ndarray, value: float) -> np.ndarray:
    bad = np.array(good, np.float32 if good.dtype.kind != "f" else good.dtype)
    bad.flat[0] = value
    return bad


def floats(arg: str, good: Any, *, rank: bool = True, none: bool = True) -> list[tuple]:
    """A float array argument: None, strings, NaN, inf, wrong rank, empty.

    ``rank=False`` where any rank is valid, ``none=False`` where None is.
    """
    good = np.asarray(good)
    rows = [
        *([(arg, None, TypeError)] if none else []),
        (arg, np.full(good.shape, "a"), TypeError),
        (arg, _with(good, NAN)),
        (arg, _with(good, INF)),
        (arg, np.zeros((0, *good.shape[1:]), good.dtype)),
    ]
    if rank:
        rows.append((arg, good[None]))
    return rows


def ints(arg: str, good: Any, *, rank: bool = True) -> list[tuple]:
    """An integer array argument: None, floats, wrong rank, empty, -1 entry."""
    good = np.asarray(good)
    bad = np.array(good)
    bad.flat[0] = -1
    rows = [
        (arg, None, TypeError),
        (arg, good.astype(np.float32), TypeError),
        (arg, np.zeros((0, *good.shape[1:]), good.dtype)),
        (arg, bad),
    ]
    if rank:
        rows.append((arg, good[None]))
    return rows


def positive_int(arg: str, *, none: bool = True) -> list[tuple]:
    """A count: 0, -1, a float, None (unless None is allowed)."""
    rows = [(arg, 0), (arg, -1), (arg, 2.5, TypeError)]
    return rows + [(arg, None, TypeError)] if none else rows


def positive_float(arg: str, *, none: bool = True) -> list[tuple]:
    """A positive real setting: 0, -1, NaN, inf, a string, None."""
    rows = [(arg, 0.0), (arg, -1.0), (arg, NAN), (arg, INF), (arg, "1", TypeError)]
    return rows + [(arg, None, TypeError)] if none else rows


def option(arg: str) -> list[tuple]:
    """A string option: an unknown name."""
    return [(arg, "bogus")]


def key(arg: str = "key") -> list[tuple]:
    """A PRNG key: None, an int, a float array."""
    match = f"`{arg}` must be a JAX PRNG key"
    return [
        (arg, None, TypeError, match),
        (arg, 0, TypeError, match),
        (arg, np.zeros(3, np.float32), TypeError, match),
    ]
