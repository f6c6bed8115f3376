"""Basins of attraction of a discrete Hopfield memory (D9).

:func:`basin_size`: the fraction of starts at Hamming distance ``d`` from a
stored pattern that recall it; all distances and trials are independent
recalls (:mod:`jnn.hopfield.discrete.trials`) in one compiled, ``vmap``-ped
call.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_key, check_positive_int
from jnn.hopfield.discrete.dhnn import overlap
from jnn.hopfield.discrete.trials import (
    _check_bipolar,
    _check_modes,
    _check_weights,
    _recall_from,
    flip_bits,
)


@partial(jax.jit, static_argnames=("mode", "order", "max_sweeps"))
def _basin(w, pattern, distances, keys, min_overlap, mode, order, max_sweeps):
    def one(d, key):
        flip_key, order_key = jax.random.split(key)
        start = flip_bits(flip_key, pattern, d)
        final = _recall_from(w, start, order_key, mode, order, max_sweeps).state
        return overlap(final, pattern) >= min_overlap

    per_trial = jax.vmap(one, in_axes=(None, 0))
    hits = jax.vmap(per_trial)(distances, keys)  # (D, trials)
    return jnp.mean(hits.astype(jnp.float32), axis=1)


def basin_size(
    W: jax.Array,
    pattern: jax.Array,
    *,
    distances: Sequence[int] | jax.Array,
    key: jax.Array,
    trials: int,
    mode: str = "async",
    order: str = "random",
    max_sweeps: int = 100,
    min_overlap: float = 1.0,
) -> jax.Array:
    """Fraction of starts at Hamming distance ``d`` that recall ``pattern`` (D9).

    For each distance ``d`` and each of ``trials`` draws, ``d`` distinct units
    of ``pattern`` are flipped at random and the network is run to a fixed
    point with :func:`recall`; a trial succeeds when the final overlap
    ``m = s . pattern / N >= min_overlap`` (1.0: the pattern exactly). The
    fraction of successes traces the basin of attraction: 1 near the pattern,
    falling to 0 around its radius (and the reversed pattern's basin takes over
    beyond ``N/2``). All ``len(distances) * trials`` recalls run in one
    compiled, ``vmap``-ped call.

    Args:
      W: (N, N) float weights.
      pattern: (N,) array of ±1, the stored pattern.
      distances: (D,) ints in [0, N], the Hamming distances of the starts.
      key: PRNG key (flips and, for ``order="random"``, the update order).
      trials: starts per distance.
      mode: ``"async"`` or ``"sync"`` updates (see :func:`recall`).
      order: async update order, ``"random"`` (a fresh permutation per sweep)
        or ``"sequential"``.
      max_sweeps: recall gives up after this many sweeps (counted as failure
        unless the state already matches).
      min_overlap: success threshold on the final overlap, in (0, 1].

    Returns:
      (D,) float32 fraction of the ``trials`` starts that reached the pattern.

    Raises:
      ValueError: bad shapes, non-±1 pattern, distance outside [0, N], bad
        mode, an asymmetric ``W`` (when concrete).
      TypeError: ``key`` is not a PRNG key.
    """
    check_key(key)
    _check_bipolar(pattern, "pattern")
    if pattern.ndim != 1:
        raise ValueError(f"`pattern` must have shape (N,); got {pattern.shape}.")
    n = pattern.shape[0]
    _check_weights(W, n, against="pattern")
    check_positive_int(trials, "trials")
    check_positive_int(max_sweeps, "max_sweeps")
    _check_modes(mode, order)
    if isinstance(min_overlap, bool) or not isinstance(
        min_overlap, int | float | np.number
    ):
        raise TypeError(
            f"`min_overlap` must be a number in (0, 1]; got {min_overlap!r}."
        )
    if not 0.0 < min_overlap <= 1.0:
        raise ValueError(f"`min_overlap` must be in (0, 1]; got {min_overlap}.")
    if distances is None:
        raise TypeError("`distances` must be a 1-D list of ints; got None.")
    distances = np.asarray(distances)
    if distances.ndim != 1 or distances.size == 0:
        raise ValueError(f"`distances` must be a non-empty 1-D list; got {distances}.")
    if not np.issubdtype(distances.dtype, np.integer):
        raise TypeError(f"`distances` must be integers; got {distances.dtype}.")
    if distances.min() < 0 or distances.max() > n:
        raise ValueError(f"`distances` must lie in [0, N={n}]; got {distances}.")
    keys = jax.random.split(key, (distances.size, trials))
    return _basin(
        jnp.asarray(W, jnp.float32),
        jnp.asarray(pattern, jnp.float32),
        jnp.asarray(distances, jnp.int32),
        keys,
        jnp.float32(min_overlap - 1e-6),  # m is a multiple of 1/N: absorb rounding
        mode,
        order,
        max_sweeps,
    )
