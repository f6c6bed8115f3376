"""Mini-batching on the device: shuffled index tables and gathers.

A data set is a dict of arrays sharing the leading (example) axis. An epoch is a
table of indices ``[n_batches, batch_size]`` drawn from a fresh permutation; the
engine scans over its rows and gathers one batch per step, so the data stay on
the device and no Python runs per step. The ``n % batch_size`` examples left
over by a permutation are skipped for that epoch only (static shapes); a new
permutation every epoch means every example is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_dataset, check_key, check_positive_int, is_concrete

Data = Mapping[str, jax.Array]


def n_batches(n_examples: int, batch_size: int) -> int:
    """Number of full mini-batches per epoch, ``n_examples // batch_size``."""
    check_positive_int(n_examples, "n_examples")
    check_positive_int(batch_size, "batch_size")
    if batch_size > n_examples:
        raise ValueError(
            f"`batch_size` ({batch_size}) must not exceed the number of training "
            f"examples ({n_examples})."
        )
    return n_examples // batch_size


def epoch_indices(key: jax.Array, n_examples: int, batch_size: int) -> jax.Array:
    """A shuffled table of example indices for one epoch.

    Args:
      key: PRNG key of this epoch.
      n_examples: number of examples ``n`` in the data set.
      batch_size: examples per mini-batch ``B``.

    Returns:
      ``[n // B, B]`` int32 indices, each example at most once.
    """
    check_key(key)
    steps = n_batches(n_examples, batch_size)
    perm = jax.random.permutation(key, n_examples)[: steps * batch_size]
    return perm.reshape(steps, batch_size).astype(jnp.int32)


def take(data: Data, indices: jax.Array) -> dict[str, jax.Array]:
    """Gather the rows ``indices`` (any shape) of every array in ``data``.

    Jittable: with traced arguments only shapes and dtypes are checked.

    Raises:
      TypeError: ``data`` not a dict of arrays, non-integer ``indices``.
      ValueError: arrays of different lengths, or (when concrete) an index
        outside ``[0, n)`` (``jnp.take`` would clamp it silently).
    """
    n = _check_rows(data, "data")
    if not hasattr(indices, "dtype") or not hasattr(indices, "shape"):
        raise TypeError(
            f"`indices` must be an integer array; got {type(indices).__name__}."
        )
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        raise TypeError(f"`indices` must have an integer dtype; got {indices.dtype}.")
    if is_concrete(indices) and np.size(indices):
        low, high = int(np.min(indices)), int(np.max(indices))
        if low < 0 or high >= n:
            raise ValueError(
                f"`indices` must lie in [0, {n}) (the rows of `data`); got values "
                f"in [{low}, {high}]."
            )
    return _take(data, indices)


def _take(data: Data, indices: jax.Array) -> dict[str, jax.Array]:
    return {name: jnp.take(array, indices, axis=0) for name, array in data.items()}


def _check_rows(data: Data, name: str) -> int:
    """A non-empty dict of numeric arrays sharing their first axis (no values)."""
    if not isinstance(data, Mapping) or not data:
        raise (ValueError if isinstance(data, Mapping) else TypeError)(
            f"`{name}` must be a non-empty dict of arrays such as "
            f"{{'x': ..., 'y': ...}}; got {data!r:.60}."
        )
    lengths = {}
    for key, array in data.items():
        if not hasattr(array, "shape") or not hasattr(array, "dtype"):
            raise TypeError(f"`{name}[{key!r}]` must be an array; got {array!r:.60}.")
        if (
            not (jnp.issubdtype(array.dtype, jnp.number) or array.dtype == jnp.bool_)
            or len(array.shape) == 0
        ):
            raise TypeError(
                f"`{name}[{key!r}]` must be a numeric array with an example axis; "
                f"got dtype {array.dtype}, shape {tuple(array.shape)}."
            )
        lengths[key] = array.shape[0]
    if len(set(lengths.values())) != 1:
        raise ValueError(
            f"the arrays of `{name}` must share their first dimension; got {lengths}."
        )
    return next(iter(lengths.values()))


def batches(
    key: jax.Array, data: Data, batch_size: int
) -> Iterator[dict[str, jax.Array]]:
    """Iterate over one shuffled epoch of mini-batches (for use outside the engine).

    Args:
      key: PRNG key for the permutation.
      data: dict of arrays with a common leading axis ``n``.
      batch_size: examples per batch ``B``.

    Returns:
      An iterator of dicts of arrays with leading axis ``B``.

    Raises:
      TypeError, ValueError: (at the call, not at the first ``next``) a bad
        key, data set or batch size.
    """
    n = check_dataset(data, "data")
    rows = epoch_indices(key, n, batch_size)
    return (_take(data, row) for row in rows)
