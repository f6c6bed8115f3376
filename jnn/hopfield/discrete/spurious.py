"""Spurious states of a discrete Hopfield memory (D9).

:func:`spurious_census`: the fixed points reached from uniformly random starts
(independent recalls in one compiled, ``vmap``-ped call,
:mod:`jnn.hopfield.discrete.trials`), classified as stored patterns, reversed
patterns, odd mixtures of three patterns, or other (spin-glass) states.

References:
  Amit, Gutfreund & Sompolinsky (1985), "Spin-glass models of neural
  networks", Phys. Rev. A 32, 1007 (mixture and spin-glass states).
"""

from __future__ import annotations

import itertools
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_key, check_positive_int
from jnn.hopfield.discrete.trials import _check_bipolar, _check_weights, _recall_from

MAX_CENSUS_PATTERNS = 40  # 4 * C(40, 3) = 39,520 mixture states to compare against


class SpuriousCensus(NamedTuple):
    """Fixed points reached from random starts, by kind (:func:`spurious_census`).

    The first four fields count *distinct* converged final states.

    Attributes:
      stored: stored patterns found.
      reversed: reversed patterns ``-xi`` found (fixed points since E(-s)=E(s)).
      mixture: odd mixtures of three, ``±sign(±xi_a ± xi_b ± xi_c)``.
      other: any other fixed point (spin-glass states, higher mixtures).
      unconverged: starts that did not reach a fixed point.
      share: (4,) fraction of the converged starts ending in each kind, in the
        order stored, reversed, mixture, other.
    """

    stored: int
    reversed: int
    mixture: int
    other: int
    unconverged: int
    share: np.ndarray


def _mixtures(patterns: np.ndarray) -> np.ndarray:
    """(4 C(M,3), N) odd 3-mixtures, one sign pattern per pair ±s (sign is odd)."""
    signs = np.array([[1, 1, 1], [1, 1, -1], [1, -1, 1], [-1, 1, 1]], np.float32)
    triples = np.array(list(itertools.combinations(range(len(patterns)), 3)))
    if triples.size == 0:
        return np.zeros((0, patterns.shape[1]), np.float32)
    stacks = patterns[triples]  # (T, 3, N)
    mixed = np.einsum("sk,tkn->tsn", signs, stacks)  # odd sums: never zero
    return np.sign(mixed).reshape(-1, patterns.shape[1])


@partial(jax.jit, static_argnames=("max_sweeps",))
def _random_recalls(w, keys, max_sweeps):
    def one(key):
        start_key, order_key = jax.random.split(key)
        start = jax.random.rademacher(start_key, (w.shape[0],), dtype=jnp.float32)
        result = _recall_from(w, start, order_key, "async", "random", max_sweeps)
        return result.state, result.converged

    return jax.vmap(one)(keys)


def _matches(states: np.ndarray, targets: np.ndarray, sign: int) -> np.ndarray:
    if len(targets) == 0:
        return np.zeros(len(states), bool)
    # Exact integer overlaps: a state equals a target iff s . t = N.
    dots = np.rint(states @ targets.T).astype(np.int64)
    return np.any(dots == sign * states.shape[1], axis=1)


def spurious_census(
    W: jax.Array,
    patterns: jax.Array,
    *,
    key: jax.Array,
    starts: int,
    max_sweeps: int = 100,
) -> SpuriousCensus:
    """Classify the fixed points reached from uniformly random starts (D9).

    ``starts`` random ±1 states are recalled (async, random order) in one
    ``vmap``-ped call; each converged final state is compared exactly with the
    stored patterns, their reversals and the ``4 C(M, 3)`` odd mixtures of three
    patterns with both global signs (Amit, Gutfreund & Sompolinsky 1985), and
    the distinct states of each kind are counted.

    Args:
      W: (N, N) float weights.
      patterns: (M, N) array of ±1, the stored patterns, M <= 40.
      key: PRNG key.
      starts: number of random starts.
      max_sweeps: sweep limit of each recall.

    Returns:
      A :class:`SpuriousCensus`.

    Raises:
      ValueError: bad shapes, non-±1 patterns, too many patterns, an
        asymmetric ``W`` (when concrete).
      TypeError: ``key`` is not a PRNG key.
    """
    check_key(key)
    _check_bipolar(patterns, "patterns")
    if patterns.ndim != 2:
        raise ValueError(f"`patterns` must have shape (M, N); got {patterns.shape}.")
    if patterns.shape[0] > MAX_CENSUS_PATTERNS:
        raise ValueError(
            f"`patterns` must have M <= {MAX_CENSUS_PATTERNS} rows (the census "
            f"enumerates 4 C(M, 3) mixtures); got M = {patterns.shape[0]}."
        )
    _check_weights(W, patterns.shape[1])
    check_positive_int(starts, "starts")
    check_positive_int(max_sweeps, "max_sweeps")
    states, converged = _random_recalls(
        jnp.asarray(W, jnp.float32), jax.random.split(key, starts), max_sweeps
    )
    states = np.asarray(states, np.float32)[np.asarray(converged)]
    x = np.asarray(patterns, np.float32)
    mixtures = _mixtures(x)
    stored = _matches(states, x, 1)
    reversed_ = _matches(states, x, -1)
    mixture = (_matches(states, mixtures, 1) | _matches(states, mixtures, -1)) & ~(
        stored | reversed_
    )
    other = ~(stored | reversed_ | mixture)
    kinds = (stored, reversed_, mixture, other)

    def distinct(mask: np.ndarray) -> int:
        return len(np.unique(states[mask], axis=0))

    share = np.array([k.mean() if len(states) else 0.0 for k in kinds])
    return SpuriousCensus(
        *(distinct(k) for k in kinds), int(starts - len(states)), share
    )
