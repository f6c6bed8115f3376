"""Exact and heuristic tools for the travelling salesman problem (chapter D).

The yardsticks the Hopfield-Tank TSP network (``jnn.hopfield.problems.tsp``) is measured
against: the length of a closed tour, the exact optimum of small instances by
dynamic programming, 2-opt local search, and random instances in the unit
square as in Hopfield & Tank (1985).

A tour is a permutation ``(n,)`` of the cities ``0..n-1``; it is closed, so its
length is ``L = sum_k d[t_k, t_{k+1 mod n}]``.

References:
  M. Held & R. M. Karp, "A dynamic programming approach to sequencing
  problems", J. SIAM 10(1):196-210 (1962).
  G. A. Croes, "A method for solving traveling-salesman problems", Operations
  Research 6(6):791-812 (1958) (2-opt).
  J. J. Hopfield & D. W. Tank, "'Neural' computation of decisions in
  optimization problems", Biological Cybernetics 52:141-152 (1985).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int, is_concrete

__all__ = [
    "MAX_HELD_KARP_CITIES",
    "held_karp",
    "random_tsp",
    "tour_length",
    "two_opt",
    "validate_distances",
]

MAX_HELD_KARP_CITIES = 20  # 2^19 subsets x 19 cities: ~1 s, ~0.3 GB

# ----------------------------------------------------------------------------
# Boundary checks
# ----------------------------------------------------------------------------


def validate_distances(distances: Any, name: str = "distances") -> int:
    """Check a symmetric TSP distance matrix at the public boundary.

    Shape and dtype are always checked; the values (finite, non-negative,
    symmetric, zero diagonal) only when ``distances`` is concrete (not traced).

    Args:
      distances: ``(n, n)`` real array, ``d[i, j]`` the distance between cities.
      name: the argument's name, used in the error messages.

    Returns:
      The number of cities ``n``.

    Raises:
      TypeError: not a real numeric array.
      ValueError: not square, NaN/inf, negative, asymmetric or a non-zero
        diagonal (naming ``name`` and the offending value).
    """
    n = _check_square_non_negative(distances, name)
    if not is_concrete(distances):
        return n
    d = np.asarray(distances, np.float64)
    scale = max(1.0, float(d.max()))
    gap = np.abs(d - d.T)
    if gap.max() > 1e-6 * scale:
        i, j = np.unravel_index(np.argmax(gap), d.shape)
        raise ValueError(
            f"`{name}` must be symmetric; got {name}[{i}, {j}] = {d[i, j]:.6g} but "
            f"{name}[{j}, {i}] = {d[j, i]:.6g}."
        )
    diagonal = np.abs(np.diag(d))
    if diagonal.max() > 1e-6 * scale:
        i = int(np.argmax(diagonal))
        raise ValueError(
            f"`{name}` must have a zero diagonal; got {name}[{i}, {i}] = {d[i, i]:.6g}."
        )
    return n


def _check_square_non_negative(distances: Any, name: str) -> int:
    """A square real matrix; finite and non-negative when concrete. Returns n."""
    check_array(distances, name, ndim=2, kind="n")
    n, m = distances.shape
    if n != m:
        raise ValueError(f"`{name}` must be square (n, n); got shape {(n, m)}.")
    if is_concrete(distances):
        d = np.asarray(distances, np.float64)
        if d.min() < 0:
            i, j = np.unravel_index(np.argmin(d), d.shape)
            raise ValueError(
                f"`{name}` must be non-negative; got {name}[{i}, {j}] = {d[i, j]:.6g}."
            )
    return n


def _check_tour(tour: Any, n: int, name: str = "tour") -> None:
    """Shape, dtype and (when concrete) range of one tour of ``n`` cities."""
    check_array(tour, name, ndim=1, kind="i")
    if tour.shape[0] != n:
        raise ValueError(
            f"`{name}` must visit all n = {n} cities (shape ({n},)); "
            f"got shape {tuple(tour.shape)}."
        )
    if is_concrete(tour):
        t = np.asarray(tour)
        if t.min() < 0 or t.max() >= n:
            raise ValueError(
                f"`{name}` must hold city indices in [0, {n}); "
                f"got values in [{t.min()}, {t.max()}]."
            )


def _check_permutation(tour: Any, n: int, name: str = "tour") -> None:
    _check_tour(tour, n, name)
    if is_concrete(tour) and len(np.unique(np.asarray(tour))) != n:
        raise ValueError(
            f"`{name}` must be a permutation of 0..{n - 1} (each city once); "
            f"got {len(np.unique(np.asarray(tour)))} distinct cities."
        )


# ----------------------------------------------------------------------------
# Tour length and random instances
# ----------------------------------------------------------------------------


def tour_length(distances: Any, tour: Any) -> jax.Array:
    """Length of the closed tour ``L = sum_k d[t_k, t_{(k+1) mod n}]``.

    Pure and jittable; ``jax.vmap`` over tours (or instances) as needed.

    Args:
      distances: ``(n, n)`` float distance matrix.
      tour: ``(n,)`` int city order (the walk returns to ``tour[0]``).

    Returns:
      Scalar float, the tour's length (float32 unless x64 is enabled).

    Raises:
      ValueError: ``distances`` not square, NaN/inf or negative (asymmetric
        distances are allowed); ``tour`` of the wrong length, or (when
        concrete) not a permutation of ``0..n-1``.
      TypeError: a non-integer ``tour``.

    Example:
      >>> d = jnp.array([[0.0, 1.0, 2.0], [1.0, 0.0, 3.0], [2.0, 3.0, 0.0]])
      >>> float(tour_length(d, jnp.array([0, 1, 2])))
      6.0
    """
    n = _check_square_non_negative(distances, "distances")
    _check_permutation(tour, n)
    return _tour_length(jnp.asarray(distances), jnp.asarray(tour))


def _tour_length(distances: jax.Array, tour: jax.Array) -> jax.Array:
    return distances[tour, jnp.roll(tour, -1)].sum()


def random_tsp(key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Cities drawn uniformly in the unit square, with Euclidean distances.

    The instances of Hopfield & Tank (1985) (n = 10 and 30). Vmappable over
    ``key`` (``n`` is static).

    Args:
      key: PRNG key.
      n: number of cities (>= 2).

    Returns:
      ``(coords, distances)``: ``(n, 2)`` float32 in ``[0, 1)`` and the
      ``(n, n)`` float32 matrix ``d_ij = ||x_i - x_j||`` (exactly symmetric,
      zero diagonal).
    """
    check_key(key)
    check_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"`n` must be at least 2 cities; got {n}.")
    coords = jax.random.uniform(key, (n, 2))
    diff = coords[:, None, :] - coords[None, :, :]
    return coords, jnp.sqrt(jnp.sum(diff * diff, axis=-1))


# ----------------------------------------------------------------------------
# Held-Karp exact dynamic programme
# ----------------------------------------------------------------------------


def held_karp(distances: Any) -> tuple[float, np.ndarray]:
    """Exact shortest tour by the Held-Karp (1962) dynamic programme.

    With city 0 as the start, ``C(S, j)`` is the shortest path that leaves 0,
    visits every city of ``S`` (a subset of ``1..n-1``) once and ends at
    ``j in S``:

      C({j}, j) = d[0, j],   C(S, j) = min_{k in S - {j}} C(S - {j}, k) + d[k, j],

    and the optimum is ``min_j C({1..n-1}, j) + d[j, 0]``. Subsets are bit
    masks, processed one size at a time with NumPy vectorised over all subsets
    of that size: O(2^n n^2) time, O(2^n n) memory, host-side (float64).

    Args:
      distances: ``(n, n)`` symmetric, non-negative, zero-diagonal matrix with
        ``n <= MAX_HELD_KARP_CITIES`` (20; n = 16 takes ~0.02 s, n = 20 ~1 s).

    Returns:
      ``(length, tour)``: the optimal length (float) and one optimal tour
      ``(n,)`` int64 starting at city 0.

    Raises:
      ValueError: ``n`` too large, or ``distances`` invalid (see
        :func:`validate_distances`).
    """
    n = validate_distances(distances)
    if n > MAX_HELD_KARP_CITIES:
        raise ValueError(
            f"held_karp needs O(2^n n^2) work: `distances` must have at most "
            f"{MAX_HELD_KARP_CITIES} cities; got n = {n}."
        )
    d = np.asarray(distances, np.float64)
    if n <= 3:  # every tour has the same length
        tour = np.arange(n)
        return float(d[tour, np.roll(tour, -1)].sum()) if n > 1 else 0.0, tour
    cost, parent = _held_karp_tables(d)
    full = (1 << (n - 1)) - 1
    closing = cost[full] + d[1:, 0]
    last = int(np.argmin(closing))
    return float(closing[last]), _held_karp_path(parent, full, last)


def _held_karp_tables(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cost table ``C[S, j-1]`` and argmin table over subsets ``S`` of 1..n-1."""
    m = d.shape[0] - 1  # cities 1..m are the bits 0..m-1
    subsets = np.arange(1 << m)
    size = np.bitwise_count(subsets)
    cost = np.full((1 << m, m), np.inf)
    parent = np.full((1 << m, m), -1, np.int8)
    cost[1 << np.arange(m), np.arange(m)] = d[0, 1:]
    inner = d[1:, 1:]  # inner[k, j]: from city k+1 to city j+1
    for s in range(2, m + 1):
        layer = subsets[size == s]
        for j in range(m):
            with_j = layer[(layer >> j) & 1 == 1]
            # C[S - {j}, k] is inf unless k is in S - {j}, so argmin picks a member
            via = cost[with_j ^ (1 << j)] + inner[None, :, j]
            best = np.argmin(via, axis=1)
            cost[with_j, j] = via[np.arange(len(with_j)), best]
            parent[with_j, j] = best
    return cost, parent


def _held_karp_path(parent: np.ndarray, full: int, last: int) -> np.ndarray:
    """Walk the argmin table back from (all cities, last) to city 0."""
    path = []
    subset, j = full, last
    while j >= 0:
        path.append(j + 1)
        subset, j = subset ^ (1 << j), int(parent[subset, j])
    return np.array([0, *reversed(path)], np.int64)


# ----------------------------------------------------------------------------
# 2-opt local search
# ----------------------------------------------------------------------------


def two_opt(distances: Any, tour: Any, *, max_sweeps: int = 10_000) -> jax.Array:
    """2-opt local search with best-improvement moves, compiled as a while loop.

    A 2-opt move removes the edges ``(t_i, t_{i+1})`` and ``(t_j, t_{j+1})`` and
    reconnects the tour by reversing ``t_{i+1..j}``; its gain is

      delta(i, j) = d[t_i, t_j] + d[t_{i+1}, t_{j+1}] - d[t_i, t_{i+1}]
                    - d[t_j, t_{j+1}].

    Each step ("sweep") evaluates all ``n(n-3)/2`` moves at once (O(n^2),
    vectorised) and applies the best one while it shortens the tour by more
    than ``1e-6 * max(d)``, so the result is never longer than the input and is
    a 2-opt local optimum unless ``max_sweeps`` ran out. Jittable; ``jax.vmap``
    over tours for restarts (the loop runs until every restart has converged).

    Args:
      distances: ``(n, n)`` symmetric distance matrix.
      tour: ``(n,)`` int permutation of ``0..n-1``, the starting tour.
      max_sweeps: cap on the number of improving moves.

    Returns:
      ``(n,)`` int32 tour, a permutation of the same cities with ``tour[0]``
      still first, no longer than ``tour``.

    Reference: G. A. Croes, Operations Research 6(6):791-812 (1958).
    """
    n = validate_distances(distances)
    _check_permutation(tour, n)
    check_positive_int(max_sweeps, "max_sweeps")
    d = jnp.asarray(distances, jnp.result_type(float))
    return _two_opt(d, jnp.asarray(tour, jnp.int32), max_sweeps)


def _two_opt_gains(d: jax.Array, tour: jax.Array) -> jax.Array:
    """``delta[i, j]`` for every pair, +inf where the move is not a 2-opt move."""
    n = tour.shape[0]
    nxt = jnp.roll(tour, -1)
    edge = d[tour, nxt]
    delta = (
        d[tour[:, None], tour[None, :]]
        + d[nxt[:, None], nxt[None, :]]
        - edge[:, None]
        - edge[None, :]
    )
    i = jnp.arange(n)[:, None]
    j = jnp.arange(n)[None, :]
    # j >= i + 2 so the two edges are disjoint; (0, n-1) shares city t_0
    valid = (j >= i + 2) & ~((i == 0) & (j == n - 1))
    return jnp.where(valid, delta, jnp.inf)


@partial(jax.jit, static_argnames="max_sweeps")
def _two_opt(d: jax.Array, tour: jax.Array, max_sweeps: int) -> jax.Array:
    n = tour.shape[0]
    tolerance = 1e-6 * jnp.max(d)
    positions = jnp.arange(n)

    def best_move(t):
        gains = _two_opt_gains(d, t)
        flat = jnp.argmin(gains)
        return gains.reshape(-1)[flat], flat // n, flat % n

    def cond(carry):
        _, gain, _, _, sweeps = carry
        return (gain < -tolerance) & (sweeps < max_sweeps)

    def body(carry):
        t, _, i, j, sweeps = carry
        # reverse t[i+1 .. j]: position p takes t[i + 1 + j - p]
        inside = (positions > i) & (positions <= j)
        t = jnp.where(inside, t[jnp.clip(i + 1 + j - positions, 0, n - 1)], t)
        return (t, *best_move(t), sweeps + 1)

    if n < 4:  # no two disjoint edges: every tour is 2-optimal
        return tour
    carry = (tour, *best_move(tour), jnp.int32(0))
    return jax.lax.while_loop(cond, body, carry)[0]
