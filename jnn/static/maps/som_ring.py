r"""A self-organising ring for the TSP (Angéniol, Vaubois & Le Texier 1988).

Kohonen's map with a one-dimensional, closed topology whose units ("nodes")
are created and deleted as it learns. Each *survey* presents every city once,
in a random order. For city ``x`` the winner is the nearest node that is not
inhibited, and every node moves towards the city by its ring distance ``r``
(in nodes, both ways round) to the winner:

.. math:: c_u \leftarrow c_u + f(G, r_u)\,(x - c_u), \qquad
          f(G, r) = \tfrac{1}{\sqrt 2} \exp(-r^2 / G^2)

A node that wins a second time in one survey is duplicated: the copy is
inserted next to it, and both are inhibited until the survey ends. A node
that wins no city for three surveys is deleted. After each survey the gain
shrinks, ``G <- (1 - alpha) G``. At the end each city is read at its nearest
node and the cities are taken in ring order: a valid tour by construction.

Why not :func:`jnn.static.som`: that map is a fixed rectangular or hexagonal
grid, while this one is a ring that grows from a single node, so the ring has
its own compiled loop here (fixed capacity, nodes packed at the front of the
arrays in ring order). Cities are scaled into the unit square first.

Reference:
  B. Angéniol, G. de La Croix Vaubois & J.-Y. Le Texier, "Self-organizing
  feature maps and the travelling salesman problem", Neural Networks
  1(4):289-293 (1988).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_fraction,
    check_key,
    check_positive_float,
    check_positive_int,
)

__all__ = ["SOMRingResult", "som_ring"]


class SOMRingResult(NamedTuple):
    """Restarts of the SOM ring.

    Attributes:
      tours: (R, n) int32, cities in ring order (always a permutation).
      lengths: (R,) float, tour lengths on the given distances.
      nodes: (R, C, dim) float node positions (unit-square coordinates);
        only the first ``sizes[r]`` of restart r are on the ring.
      sizes: (R,) int32, the final number of nodes.
    """

    tours: jax.Array
    lengths: jax.Array
    nodes: jax.Array
    sizes: jax.Array

    @property
    def best(self) -> tuple[jax.Array, jax.Array]:
        """``(tour, length)`` of the shortest restart."""
        i = jnp.argmin(self.lengths)
        return self.tours[i], self.lengths[i]


def som_ring(
    points: Any,
    key: jax.Array,
    *,
    distances: Any = None,
    restarts: int = 256,
    gain: float = 10.0,
    final_gain: float = 0.2,
    alpha: float = 0.03,
) -> SOMRingResult:
    """Angéniol's self-organising ring from ``restarts`` runs, vmapped.

    Each restart starts from one node at the centroid (plus a tiny jitter)
    and uses its own city orders; surveys run until ``G`` falls below
    ``final_gain`` (``ceil(log(final_gain / gain) / log(1 - alpha))`` surveys).

    Args:
      points: (n, dim) city coordinates, n >= 4 (any scale).
      key: PRNG key (jitter and survey orders).
      distances: (n, n) symmetric distances the lengths are measured on;
        default the Euclidean distances of ``points``.
      restarts: number of runs R.
      gain: initial ``G`` (in nodes).
      final_gain: ``G`` at which learning stops (< ``gain``).
      alpha: gain decay per survey, in (0, 1).

    Returns:
      A :class:`SOMRingResult`.

    Raises:
      ValueError: ``points`` not (n, dim) finite with n >= 4, ``distances``
        not (n, n), non-symmetric, negative or not finite, ``final_gain >=
        gain``, ``alpha`` outside (0, 1), other non-positive settings.
      TypeError: ``key`` not a PRNG key, a non-integer ``restarts``.
    """
    check_array(points, "points", ndim=2, kind="n")
    n, _ = points.shape
    if n < 4:
        raise ValueError(f"`points` must hold at least 4 cities; got n = {n}.")
    check_key(key)
    check_positive_int(restarts, "restarts")
    check_positive_float(gain, "gain")
    check_positive_float(final_gain, "final_gain")
    check_positive_float(alpha, "alpha")
    check_fraction(alpha, "alpha")
    if not final_gain < gain:
        raise ValueError(f"`final_gain` must be < `gain`; got {final_gain} >= {gain}.")
    xy = np.asarray(points, np.float64)
    if distances is None:
        distances = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
    _check_distances(distances, n)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float(np.max(hi - lo)) or 1.0
    x = jnp.asarray((xy - 0.5 * (lo + hi)) / span, jnp.float32)
    surveys = math.ceil(math.log(final_gain / gain) / math.log(1.0 - alpha))
    d = jnp.asarray(distances, jnp.float32)
    settings = (3 * n, float(gain), float(alpha), surveys)
    return _som_ring(x, d, key, restarts, settings)


def _check_distances(distances: Any, n: int) -> None:
    check_array(distances, "distances", ndim=2, kind="n")
    d = np.asarray(distances, np.float64)
    if d.shape != (n, n):
        raise ValueError(
            f"`distances` must be ({n}, {n}) like `points`; got {d.shape}."
        )
    if np.any(d < 0) or not np.allclose(d, d.T):
        raise ValueError("`distances` must be symmetric and non-negative.")


class _Ring(NamedTuple):
    nodes: jax.Array  # (C, dim), nodes [0, size) in ring order
    size: jax.Array  # [] int32
    won: jax.Array  # (C,) bool, won a city this survey
    inhibited: jax.Array  # (C,) bool, created this survey
    idle: jax.Array  # (C,) int32, surveys without a win


def _insert(a: jax.Array, j: jax.Array, value: jax.Array) -> jax.Array:
    """``a`` with ``value`` inserted at ``j + 1`` (the last entry drops off)."""
    idx = jnp.arange(a.shape[0]).reshape((-1,) + (1,) * (a.ndim - 1))
    shifted = jnp.roll(a, 1, axis=0)
    value = jnp.broadcast_to(value, a.shape[1:])[None]
    return jnp.where(idx <= j, a, jnp.where(idx == j + 1, value, shifted))


def _present(ring: _Ring, x: jax.Array, gain: jax.Array) -> _Ring:
    """One city: find the winner, duplicate it if it won before, move the ring."""
    capacity = ring.nodes.shape[0]
    idx = jnp.arange(capacity)
    active = idx < ring.size
    squared = jnp.sum((ring.nodes - x[None, :]) ** 2, axis=1)
    j = jnp.argmin(jnp.where(active & ~ring.inhibited, squared, jnp.inf))
    grow = ring.won[j] & (ring.size < capacity)
    nodes = jnp.where(grow, _insert(ring.nodes, j, ring.nodes[j]), ring.nodes)
    won = jnp.where(grow, _insert(ring.won, j, True), ring.won).at[j].set(True)
    inhibited = jnp.where(grow, _insert(ring.inhibited, j, True), ring.inhibited)
    inhibited = inhibited.at[j].set(inhibited[j] | grow)
    idle = jnp.where(grow, _insert(ring.idle, j, 0), ring.idle).at[j].set(0)
    size = ring.size + grow.astype(jnp.int32)
    r = jnp.abs(idx - j)
    r = jnp.minimum(r, size - r).astype(nodes.dtype)
    f = jnp.where(idx < size, jnp.exp(-((r / gain) ** 2)) / math.sqrt(2.0), 0.0)
    nodes = nodes + f[:, None] * (x[None, :] - nodes)
    return _Ring(nodes, size, won, inhibited, idle)


def _end_survey(ring: _Ring) -> _Ring:
    """Idle counts, deletion of nodes idle for three surveys, flags reset."""
    idx = jnp.arange(ring.nodes.shape[0])
    active = idx < ring.size
    idle = jnp.where(ring.won, 0, ring.idle + 1)
    keep = active & (idle < 3)
    order = jnp.argsort(~keep, stable=True)  # kept nodes first, in ring order
    false = jnp.zeros_like(ring.won)
    return _Ring(
        ring.nodes[order], jnp.sum(keep, dtype=jnp.int32), false, false, idle[order]
    )


@partial(jax.jit, static_argnums=(3, 4))
def _som_ring(x, d, key, restarts, settings):
    capacity, gain0, alpha, surveys = settings
    n = x.shape[0]

    def one(key):
        k_init, k_orders = jax.random.split(key)
        nodes = jnp.zeros((capacity, x.shape[1]), x.dtype)
        first = jnp.mean(x, axis=0) + 1e-3 * jax.random.normal(k_init, x.shape[1:])
        ring = _Ring(
            nodes.at[0].set(first),
            jnp.int32(1),
            jnp.zeros(capacity, bool),
            jnp.zeros(capacity, bool),
            jnp.zeros(capacity, jnp.int32),
        )

        def survey(ring, s):
            gain = gain0 * (1.0 - alpha) ** s.astype(x.dtype)
            order = jax.random.permutation(jax.random.fold_in(k_orders, s), n)
            ring, _ = jax.lax.scan(
                lambda r, i: (_present(r, x[i], gain), None), ring, order
            )
            return _end_survey(ring), None

        ring, _ = jax.lax.scan(survey, ring, jnp.arange(surveys))
        return ring.nodes, ring.size

    nodes, sizes = jax.vmap(one)(jax.random.split(key, restarts))
    tours = jax.vmap(lambda y, m: _ring_order(x, y, m))(nodes, sizes)
    lengths = jax.vmap(lambda t: d[t, jnp.roll(t, -1)].sum())(tours)
    return SOMRingResult(tours, lengths, nodes, sizes)


def _ring_order(x: jax.Array, nodes: jax.Array, size: jax.Array) -> jax.Array:
    """Cities sorted by their nearest node, ties along the ring's tangent."""
    idx = jnp.arange(nodes.shape[0])
    squared = jnp.sum((x[:, None, :] - nodes[None, :, :]) ** 2, axis=-1)
    nearest = jnp.argmin(jnp.where(idx < size, squared, jnp.inf), axis=1)
    after = nodes[jnp.where(nearest + 1 < size, nearest + 1, 0)]
    before = nodes[jnp.where(nearest > 0, nearest - 1, size - 1)]
    tangent = after - before
    along = jnp.sum((x - nodes[nearest]) * tangent, axis=1)
    along = along / (jnp.sum(tangent**2, axis=1) + 1e-12)
    return jnp.argsort(nearest + 0.49 * jnp.tanh(along)).astype(jnp.int32)
