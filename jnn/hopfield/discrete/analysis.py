"""Analysis of discrete Hopfield memories: basins, capacity, spurious states (D9, D11).

Every measurement is a batch of independent recalls of one state each
(:func:`jnn.hopfield.discrete.dhnn.recall`), ``vmap``-ped over trials (and distances),
compiled once per shape (recall once per N, storage once per load).

References:
  Amit, Gutfreund & Sompolinsky (1985), "Storing infinite numbers of patterns
  in a spin-glass model of neural networks", Phys. Rev. Lett. 55, 1530.
  Amit, Gutfreund & Sompolinsky (1985), "Spin-glass models of neural
  networks", Phys. Rev. A 32, 1007 (mixture and spin-glass states).
  Personnaz, Guyon & Dreyfus (1986), "Collective computational properties of
  neural networks: new learning mechanisms", Phys. Rev. A 34, 4217.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_fraction,
    check_key,
    check_positive_int,
    is_concrete,
)
from jnn.hopfield.discrete.correlated import random_patterns
from jnn.hopfield.discrete.dhnn import overlap, recall

MAX_CENSUS_PATTERNS = 40  # 4 * C(40, 3) = 39,520 mixture states to compare against


def _check_bipolar(x, name: str) -> None:
    check_array(x, name, kind="n")
    if is_concrete(x) and not bool(np.all(np.abs(np.asarray(x)) == 1)):
        values = np.unique(np.asarray(x))[:5]
        raise ValueError(f"`{name}` must hold only -1 and +1; got values {values}.")


def _check_weights(w, n: int | None = None, against: str = "patterns") -> None:
    check_array(w, "W", ndim=2, kind="f")
    if w.shape[0] != w.shape[1]:
        raise ValueError(f"`W` must be square (N, N); got shape {tuple(w.shape)}.")
    if n is not None and w.shape[0] != n:
        raise ValueError(
            f"`W` is ({w.shape[0]}, {w.shape[0]}) but `{against}` has N = {n} "
            "units: they must agree."
        )
    gap = _asymmetry(w)
    if gap is not None:
        raise ValueError(
            "`W` must be symmetric (the recalls run compiled, where recall's own "
            f"check cannot raise); got max |W - W^T| = {gap:.3g}."
        )


def _asymmetry(w) -> float | None:
    """``max |W - W^T|`` of concrete (..., N, N) weights, None if symmetric.

    Symmetric means within float32 rounding: recall's tolerance, ``1e-5``
    relative to ``max(1, max |W|)``. Traced weights give None (not checked).
    """
    if not is_concrete(w):
        return None
    w = np.asarray(w, np.float64)
    gap = float(np.max(np.abs(w - np.swapaxes(w, -1, -2)), initial=0.0))
    scale = max(1.0, float(np.max(np.abs(w), initial=0.0)))
    return gap if gap > 1e-5 * scale else None


def _check_modes(mode: str, order: str) -> None:
    if mode not in ("async", "sync"):
        raise ValueError(f"`mode` must be 'async' or 'sync'; got {mode!r}.")
    if order not in ("sequential", "random"):
        raise ValueError(f"`order` must be 'sequential' or 'random'; got {order!r}.")


def flip_bits(key: jax.Array, state: jax.Array, d) -> jax.Array:
    """Flip exactly ``d`` distinct, uniformly chosen units of ``state``.

    Args:
      key: PRNG key.
      state: (N,) array of ±1.
      d: [] int number of units to flip (may be traced), 0 <= d <= N.

    Returns:
      (N,) the state with ``d`` signs reversed: Hamming distance ``d`` from it.
    """
    check_key(key)
    check_array(state, "state", ndim=1, kind="n")
    _check_flips(d, state.shape[0])
    # The rank of each unit in a random permutation: the d lowest ranks flip.
    ranks = jnp.argsort(jnp.argsort(jax.random.uniform(key, state.shape)))
    return jnp.where(ranks < d, -state, state)


def _check_flips(d, n: int) -> None:
    """``d`` an integer in [0, n] (its value only when concrete)."""
    if not is_concrete(d):
        return
    kind = np.asarray(d).dtype if hasattr(d, "dtype") else None
    integer = (
        isinstance(d, int | np.integer)
        if kind is None
        else np.issubdtype(kind, np.integer) and np.ndim(d) == 0
    )
    if isinstance(d, bool) or not integer:
        raise TypeError(f"`d` must be an int in [0, N={n}]; got {d!r}.")
    if not 0 <= int(d) <= n:
        raise ValueError(f"`d` must be in [0, N={n}]; got {int(d)}.")


def _recall_from(w, start, key, mode, order, max_sweeps):
    return recall(w, start, mode=mode, order=order, key=key, max_sweeps=max_sweeps)


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
