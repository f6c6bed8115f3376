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

from jnn._checks import check_dataset, check_positive_int

Data = Mapping[str, jax.Array]


def n_batches(n_examples: int, batch_size: int) -> int:
    """Number of full mini-batches per epoch, ``n_examples // batch_size``."""
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
    steps = n_batches(n_examples, batch_size)
    perm = jax.random.permutation(key, n_examples)[: steps * batch_size]
    return perm.reshape(steps, batch_size).astype(jnp.int32)


def take(data: Data, indices: jax.Array) -> dict[str, jax.Array]:
    """Gather the rows ``indices`` (any shape) of every array in ``data``."""
    return {name: jnp.take(array, indices, axis=0) for name, array in data.items()}


def batches(
    key: jax.Array, data: Data, batch_size: int
) -> Iterator[dict[str, jax.Array]]:
    """Iterate over one shuffled epoch of mini-batches (for use outside the engine).

    Args:
      key: PRNG key for the permutation.
      data: dict of arrays with a common leading axis ``n``.
      batch_size: examples per batch ``B``.

    Yields:
      Dicts of arrays with leading axis ``B``.
    """
    n = check_dataset(data, "data")
    for row in epoch_indices(key, n, batch_size):
        yield take(data, row)
