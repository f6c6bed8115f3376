r"""The elastic net for the TSP (Durbin & Willshaw 1987), vmapped restarts.

A closed ring of ``M`` points ``y_j`` is pulled towards the cities ``x_i``
while its own tension keeps it short. With the scale ``K`` shrinking, every
city ends up captured by a ring point, and the ring order is the tour. One
iteration is the gradient step of the energy
``E = -alpha K sum_i log sum_j exp(-|x_i - y_j|^2 / 2K^2)
+ beta/2 sum_j |y_{j+1} - y_j|^2``:

.. math:: \Delta y_j = \alpha \sum_i w_{ij} (x_i - y_j)
          + \beta K (y_{j+1} - 2 y_j + y_{j-1}),
          \qquad w_{ij} = \frac{\exp(-|x_i - y_j|^2 / 2K^2)}
                               {\sum_k \exp(-|x_i - y_k|^2 / 2K^2)}

The paper's settings are the defaults: ``M = 2.5 n`` ring points, ``alpha =
0.2``, ``beta = 2``, ``K`` from 0.2 down to 0.005 (here geometrically over a
fixed number of iterations instead of 1% every 25 iterations), on cities
scaled into the unit square. The elastic net needs coordinates: for an
instance given only by a distance matrix, :func:`classical_scaling` embeds it
(Torgerson's classical multidimensional scaling), and tour lengths are always
measured on the true distances.

References:
  R. Durbin & D. Willshaw, "An analogue approach to the travelling salesman
  problem using an elastic net method", Nature 326:689-691 (1987).
  W. S. Torgerson, "Multidimensional scaling: I. Theory and method",
  Psychometrika 17:401-419 (1952).
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
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.hopfield.problems.tsp_exact import validate_distances

__all__ = ["ElasticNetResult", "classical_scaling", "elastic_net", "ring_tours"]


class ElasticNetResult(NamedTuple):
    """Restarts of the elastic net.

    Attributes:
      tours: (R, n) int32, cities in ring order (always a permutation).
      lengths: (R,) float, tour lengths on the given distances.
      rings: (R, M, dim) float, the final rings in the scaled coordinates.
    """

    tours: jax.Array
    lengths: jax.Array
    rings: jax.Array

    @property
    def best(self) -> tuple[jax.Array, jax.Array]:
        """``(tour, length)`` of the shortest restart."""
        i = jnp.argmin(self.lengths)
        return self.tours[i], self.lengths[i]


def classical_scaling(distances: Any, dim: int = 2) -> np.ndarray:
    """Points whose Euclidean distances approximate ``distances`` (host, NumPy).

    Torgerson's classical MDS: ``B = -J D^2 J / 2`` with ``J = I - 11^T/n``,
    points ``X = U_k sqrt(Lambda_k)`` from the ``k = dim`` largest eigenpairs
    (negative eigenvalues clipped to 0). Exact for Euclidean distances.

    Args:
      distances: (n, n) symmetric, non-negative, zero diagonal.
      dim: embedding dimension (positive int).

    Returns:
      (n, dim) float64 points.

    Raises:
      ValueError: invalid ``distances`` or ``dim`` >= n.
      TypeError: non-integer ``dim``.
    """
    n = validate_distances(distances)
    check_positive_int(dim, "dim")
    if dim >= n:
        raise ValueError(f"`dim` must be < n = {n}; got {dim}.")
    d = np.asarray(distances, np.float64)
    centre = np.eye(n) - 1.0 / n
    values, vectors = np.linalg.eigh(-0.5 * centre @ (d * d) @ centre)
    top = np.argsort(values)[::-1][:dim]
    return vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))


def _unit_square(points: np.ndarray) -> np.ndarray:
    """Centred at the origin, largest coordinate range 1 (aspect kept)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = float(np.max(hi - lo))
    return (points - 0.5 * (lo + hi)) / (span if span > 0 else 1.0)


def elastic_net(
    points: Any,
    key: jax.Array,
    *,
    distances: Any = None,
    restarts: int = 256,
    ring_ratio: float = 2.5,
    alpha: float = 0.2,
    beta: float = 2.0,
    start_width: float = 0.2,
    stop_width: float = 0.005,
    iterations: int = 2000,
) -> ElasticNetResult:
    """Elastic-net tours from ``restarts`` rings, vmapped (module docstring).

    Each restart starts from a ring of radius 0.1 around the centroid with a
    random phase and a small jitter; ``K`` falls geometrically from
    ``start_width`` to ``stop_width`` over ``iterations`` steps. Each city is
    then assigned its nearest ring point and the cities are read in ring order
    (:func:`ring_tours`): a valid tour by construction.

    Args:
      points: (n, dim) city coordinates, n >= 4 (any scale: they are scaled
        into the unit square).
      key: PRNG key (initial rings).
      distances: (n, n) distances the lengths are measured on; default the
        Euclidean distances of ``points``.
      restarts: number of rings R.
      ring_ratio: ring points per city (``M = ceil(ring_ratio n)``).
      alpha: pull of the cities.
      beta: ring tension.
      start_width: first ``K`` (unit-square units).
      stop_width: last ``K``.
      iterations: number of gradient steps.

    Returns:
      An :class:`ElasticNetResult`.

    Raises:
      ValueError: ``points`` not (n, dim) finite with n >= 4, ``distances``
        invalid or not (n, n), non-positive settings, ``stop_width >=
        start_width``.
      TypeError: ``key`` not a PRNG key, non-integer ``restarts`` or
        ``iterations``.
    """
    check_array(points, "points", ndim=2, kind="n")
    n, dim = points.shape
    if n < 4:
        raise ValueError(f"`points` must hold at least 4 cities; got n = {n}.")
    check_key(key)
    check_positive_int(restarts, "restarts")
    check_positive_int(iterations, "iterations")
    for name, value in (
        ("ring_ratio", ring_ratio),
        ("alpha", alpha),
        ("beta", beta),
        ("start_width", start_width),
        ("stop_width", stop_width),
    ):
        check_positive_float(value, name)
    if not stop_width < start_width:
        raise ValueError(
            f"`stop_width` must be < `start_width`; got {stop_width} >= {start_width}."
        )
    xy = np.asarray(points, np.float64)
    if distances is None:
        distances = np.linalg.norm(xy[:, None] - xy[None, :], axis=-1)
    elif validate_distances(distances) != n:
        raise ValueError(
            f"`distances` must be ({n}, {n}) like `points`; "
            f"got {tuple(np.shape(distances))}."
        )
    ring = max(4, math.ceil(ring_ratio * n))
    settings = (ring, float(alpha), float(beta), float(start_width))
    settings += (float(stop_width), iterations)
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    return _elastic_net(f32(_unit_square(xy)), f32(distances), key, restarts, settings)


@partial(jax.jit, static_argnums=(3, 4))
def _elastic_net(x, d, key, restarts, settings):
    ring, alpha, beta, k0, k1, iterations = settings
    decay = (k1 / k0) ** (1.0 / max(iterations - 1, 1))
    angles = 2.0 * jnp.pi * jnp.arange(ring) / ring
    circle = 0.1 * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
    circle = jnp.pad(circle, ((0, 0), (0, max(x.shape[1] - 2, 0))))[:, : x.shape[1]]

    def one(key):
        k_phase, k_jitter = jax.random.split(key)
        shift = jax.random.randint(k_phase, (), 0, ring)
        jitter = 0.01 * jax.random.normal(k_jitter, circle.shape)
        y0 = jnp.mean(x, axis=0)[None, :] + jnp.roll(circle, shift, axis=0) + jitter

        def step(y, t):
            width = k0 * decay**t
            squared = jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
            w = jax.nn.softmax(-squared / (2.0 * width * width), axis=1)  # (n, M)
            pull = w.T @ x - jnp.sum(w, axis=0)[:, None] * y
            tension = jnp.roll(y, -1, axis=0) - 2.0 * y + jnp.roll(y, 1, axis=0)
            return y + alpha * pull + beta * width * tension, None

        y, _ = jax.lax.scan(step, y0, jnp.arange(iterations, dtype=x.dtype))
        return y

    rings = jax.vmap(one)(jax.random.split(key, restarts))
    tours = jax.vmap(lambda y: _ring_order(x, y))(rings)
    lengths = jax.vmap(lambda t: d[t, jnp.roll(t, -1)].sum())(tours)
    return ElasticNetResult(tours, lengths, rings)


def _ring_order(x: jax.Array, y: jax.Array) -> jax.Array:
    """Cities sorted by their nearest ring point, ties along the ring's tangent."""
    squared = jnp.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1)
    nearest = jnp.argmin(squared, axis=1)
    tangent = jnp.roll(y, -1, axis=0) - jnp.roll(y, 1, axis=0)
    along = jnp.sum((x - y[nearest]) * tangent[nearest], axis=1)
    along = along / (jnp.sum(tangent[nearest] ** 2, axis=1) + 1e-12)
    return jnp.argsort(nearest + 0.49 * jnp.tanh(along)).astype(jnp.int32)


def ring_tours(points: Any, rings: Any) -> jax.Array:
    """Tours read from rings: each city at its nearest ring point, ring order.

    Args:
      points: (n, dim) cities (in the rings' coordinates).
      rings: (R, M, dim) closed rings.

    Returns:
      (R, n) int32 tours, each a permutation of ``0..n-1``.

    Raises:
      ValueError: shapes that do not match; TypeError: non-numeric arrays.
    """
    check_array(points, "points", ndim=2, kind="n")
    check_array(rings, "rings", ndim=3, kind="n")
    if rings.shape[2] != points.shape[1]:
        raise ValueError(
            f"`rings` must have the points' dimension {points.shape[1]}; "
            f"got shape {tuple(rings.shape)}."
        )
    x = jnp.asarray(points, jnp.float32)
    return jax.vmap(lambda y: _ring_order(x, y))(jnp.asarray(rings, jnp.float32))
