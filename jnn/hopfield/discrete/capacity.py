"""Storage capacity of a discrete Hopfield memory (D11).

:func:`capacity_curve`: the final overlap with a stored pattern against the
load ``alpha = M / N``. The trials of one load (storage included) are one
compiled, ``vmap``-ped call of independent recalls
(:mod:`jnn.hopfield.discrete.trials`): recall compiles once per N, storage
once per load.

References:
  Amit, Gutfreund & Sompolinsky (1985), "Storing infinite numbers of patterns
  in a spin-glass model of neural networks", Phys. Rev. Lett. 55, 1530.
  Personnaz, Guyon & Dreyfus (1986), "Collective computational properties of
  neural networks: new learning mechanisms", Phys. Rev. A 34, 4217.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_fraction, check_key, check_positive_int
from jnn.hopfield.discrete.correlated import random_patterns
from jnn.hopfield.discrete.dhnn import overlap
from jnn.hopfield.discrete.trials import (
    _asymmetry,
    _check_modes,
    _recall_from,
    flip_bits,
)


class CapacityCurve(NamedTuple):
    """Final overlaps of :func:`capacity_curve`.

    Attributes:
      alpha: (L,) actual loads ``M / N``.
      n_patterns: (L,) int numbers of stored patterns ``M``.
      overlap: (L, trials) final overlap ``m`` of each trial.
      converged: (L, trials) bool, recall reached a fixed point.
    """

    alpha: np.ndarray
    n_patterns: np.ndarray
    overlap: np.ndarray
    converged: np.ndarray

    @property
    def mean_overlap(self) -> np.ndarray:
        """(L,) mean final overlap per load."""
        return self.overlap.mean(axis=1)


@jax.jit
def _trial_draws(keys, m):
    """Per trial: the key of its patterns and the index of its target in 0..M-1.

    ``m`` is traced, so this compiles once for all loads (the key-splitting
    and integer draws would otherwise recompile with every M).
    """

    def one(key):
        pattern_key, pick_key = jax.random.split(key)
        return pattern_key, jax.random.randint(pick_key, (), 0, m)

    return jax.vmap(one)(keys)


@partial(jax.jit, static_argnames=("rule", "sampler", "m", "n"))
def _store_trials(pattern_keys, picks, rule, sampler, m, n):
    """Per trial: M patterns, their weights and the picked target."""

    def one(key, pick):
        patterns = sampler(key, m, n)
        return rule(patterns), patterns[pick]

    return jax.vmap(one)(pattern_keys, picks)


@partial(jax.jit, static_argnames=("mode", "order", "sweeps"))
def _recall_trials(w, targets, keys, flips, mode, order, sweeps):
    # Separate from storage: its shapes do not depend on M, so it compiles
    # once per N for all loads.
    def one(w, target, key):
        flip_key, order_key = jax.random.split(key)
        start = flip_bits(flip_key, target, flips)
        result = _recall_from(w, start, order_key, mode, order, sweeps)
        return overlap(result.state, target), result.converged

    return jax.vmap(one)(w, targets, keys)


def capacity_curve(
    rule: Callable[[jax.Array], jax.Array],
    n_units: int,
    loads: Sequence[float],
    *,
    key: jax.Array,
    trials: int,
    noise: float = 0.0,
    patterns: Callable[[jax.Array, int, int], jax.Array] = random_patterns,
    mode: str = "async",
    order: str = "random",
    max_sweeps: int = 100,
) -> CapacityCurve:
    """Final overlap with a stored pattern vs load ``alpha = M / N`` (D11).

    Measurement, per load and trial: draw ``M = max(1, round(alpha N))``
    patterns with ``patterns(key, M, N)``, store them with ``rule``, pick one
    stored pattern at random, flip ``round(noise N)`` of its units, recall to a
    fixed point (async, random order by default) and record the overlap
    ``m = s . xi / N`` of the final state with the picked pattern. Starting on
    the pattern (``noise=0``) measures whether the retrieval state exists near
    it: for the Hebbian rule ``m ~ 0.97-1`` below the critical load
    ``alpha_c ~ 0.138`` and it drops to a spin-glass state of small overlap
    above it (Amit, Gutfreund & Sompolinsky 1985). The trials of one load are
    one compiled, ``vmap``-ped call (storage included).

    Args:
      rule: storage rule ``(M, N) ±1 patterns -> (N, N) W``, traceable (e.g.
        ``hebbian``, ``storkey``, ``pseudo_inverse``).
      n_units: N.
      loads: (L,) loads alpha > 0, each with ``round(alpha N) <= N``.
      key: PRNG key.
      trials: independent pattern sets per load.
      noise: fraction of flipped units in the start, in [0, 0.5).
      patterns: pattern sampler ``(key, M, N) -> (M, N) ±1``, e.g.
        :func:`random_patterns` or ``partial(correlated_patterns,
        correlation=0.5)``.
      mode: ``"async"`` or ``"sync"``.
      order: async order, ``"random"`` or ``"sequential"``.
      max_sweeps: sweep limit of each recall.

    Returns:
      A :class:`CapacityCurve` of NumPy arrays.

    Raises:
      ValueError: bad sizes, loads, noise or mode; a ``rule`` that returns
        asymmetric weights.
      TypeError: ``key`` is not a PRNG key; ``rule`` or ``patterns`` not
        callable.
    """
    if not callable(rule) or not callable(patterns):
        raise TypeError("`rule` and `patterns` must be callables.")
    check_key(key)
    check_positive_int(n_units, "n_units")
    check_positive_int(trials, "trials")
    check_positive_int(max_sweeps, "max_sweeps")
    check_fraction(noise, "noise", high=0.5)
    _check_modes(mode, order)
    if loads is None:
        raise TypeError("`loads` must be a 1-D list of floats; got None.")
    loads = np.asarray(loads)
    if not np.issubdtype(loads.dtype, np.number) or loads.dtype.kind == "c":
        raise TypeError(f"`loads` must hold real numbers; got {loads.tolist()}.")
    loads = loads.astype(np.float64)
    if loads.ndim != 1 or loads.size == 0 or not np.all(np.isfinite(loads)):
        raise ValueError(f"`loads` must be a non-empty 1-D list of floats; got {loads}")
    counts = np.maximum(1, np.rint(loads * n_units)).astype(int)
    if loads.min() <= 0 or counts.max() > n_units:
        raise ValueError(
            f"`loads` must lie in (0, 1] so that 1 <= M <= N={n_units}; got {loads}."
        )
    flips = int(round(noise * n_units))
    overlaps, converged = [], []
    for m, load_key in zip(counts, jax.random.split(key, counts.size), strict=True):
        store_key, recall_key = jax.random.split(load_key)
        keys = jax.random.split(store_key, trials)
        pattern_keys, picks = _trial_draws(keys, jnp.int32(m))
        w, targets = _store_trials(pattern_keys, picks, rule, patterns, int(m), n_units)
        gap = _asymmetry(w)
        if gap is not None:
            raise ValueError(
                f"`rule` must return symmetric weights (recall runs compiled, "
                f"where its own check cannot raise); at M = {m} it gave "
                f"max |W - W^T| = {gap:.3g}."
            )
        keys = jax.random.split(recall_key, trials)
        o, c = _recall_trials(w, targets, keys, flips, mode, order, max_sweeps)
        overlaps.append(np.asarray(o))
        converged.append(np.asarray(c))
    return CapacityCurve(
        counts / n_units, counts, np.stack(overlaps), np.stack(converged)
    )
