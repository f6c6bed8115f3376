"""The map of a self-organising map: geometry, schedules, initialisation, metrics.

A SOM of ``grid = (rows, cols)`` units keeps its codebook as ``weights:
(rows * cols, d)``, unit ``u = i * cols + j`` sitting at map position ``(i,
j)`` (row-major, MiniSom's ``(x, y)`` order). Its place in the plane is
:func:`grid_coordinates`: ``(i, j)`` on a rectangular grid; on a hexagonal grid
every other column is shifted by half a unit and columns are ``sqrt(3)/2``
apart, so that all six neighbours lie at distance 1 (MiniSom 2.3.6's
convention, reproduced exactly).

Schedules :data:`DECAYS` (``f(value0, t, T)``) and the initial codebooks of
:func:`initial_weights` are MiniSom's too.

Metrics (Kohonen 2001, ch. 3; MiniSom's definitions):

* quantization error ``QE = mean_i ||x_i - w_{c(x_i)}||`` with the best
  matching unit ``c(x) = argmin_u ||x - w_u||``;
* topographic error: the fraction of samples whose best and second-best units
  are not neighbours (rectangular: grid distance > 1.42, so diagonals count as
  neighbours; hexagonal: plane distance not 1);
* the U-matrix (distance map): for each unit the summed (or mean) distance of
  its weights to its neighbours' weights, divided by the largest;
* the hit map (activation response): how many samples each unit wins.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key

TOPOLOGIES = ("rectangular", "hexagonal")
NEIGHBORHOODS = ("gaussian", "bubble", "mexican_hat", "triangle")
INITS = ("random", "samples", "pca")
#: Grid distance beyond which two units are not neighbours (MiniSom's 1.42).
_RECTANGULAR_NEIGHBOUR = 1.42


#: ``decay(value0, t, n_iterations) -> value(t)``, MiniSom's decay functions.
DECAYS: dict[str, Callable] = {
    "asymptotic_decay": lambda v, t, n: v / (1 + t / (n / 2)),
    "inverse_decay_to_zero": lambda v, t, n: v * (n / 100) / (n / 100 + t),
    "linear_decay_to_zero": lambda v, t, n: v * (1 - t / n),
    "inverse_decay_to_one": lambda v, t, n: v / (1 + t * (v - 1) / n),
    "linear_decay_to_one": lambda v, t, n: v + t * (1 - v) / n,
    "constant": lambda v, t, n: v + 0 * t,
}


def decay_schedule(decay, name: str = "decay") -> Callable:
    """The schedule ``f(value0, t, n_iterations)`` named ``decay`` (or ``decay``)."""
    if callable(decay):
        return decay
    if decay not in DECAYS:
        raise ValueError(f"`{name}` must be one of {tuple(DECAYS)}; got {decay!r}.")
    return DECAYS[decay]


def check_grid(grid, topology: str = "rectangular") -> tuple[int, int]:
    """Validate ``grid = (rows, cols)`` and ``topology``; return the grid."""
    if (
        not isinstance(grid, tuple | list)
        or len(grid) != 2
        or not all(isinstance(g, int | np.integer) for g in grid)
        or isinstance(grid[0], bool)
        or isinstance(grid[1], bool)
    ):
        raise ValueError(f"`grid` must be a pair of ints (rows, cols); got {grid!r}.")
    if min(grid) < 1:
        raise ValueError(
            f"`grid` must have at least one unit per side (rows, cols >= 1); "
            f"got {tuple(grid)}."
        )
    if topology not in TOPOLOGIES:
        raise ValueError(f"`topology` must be one of {TOPOLOGIES}; got {topology!r}.")
    return int(grid[0]), int(grid[1])


def grid_indices(grid: tuple[int, int]) -> np.ndarray:
    """Map positions ``(i, j)`` of the units: ``(rows * cols, 2)`` float."""
    rows, cols = grid
    i, j = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.stack([i.ravel(), j.ravel()], axis=1).astype(np.float64)


def grid_coordinates(grid, topology: str = "rectangular") -> np.ndarray:
    """Positions of the units in the plane: ``(rows * cols, 2)`` float.

    Hexagonal: the columns ``j`` with ``cols - 1 - j`` even are shifted by
    -1/2 along the rows and column ``j`` is at height ``j * sqrt(3) / 2``
    (MiniSom's ``get_euclidean_coordinates``).
    """
    rows, cols = check_grid(grid, topology)
    coords = grid_indices((rows, cols))
    if topology == "hexagonal":
        shifted = (cols - 1 - coords[:, 1]) % 2 == 0
        coords[:, 0] -= 0.5 * shifted
        coords[:, 1] *= np.sqrt(3.0) / 2.0
    return coords


def neighbour_table(grid, topology: str = "rectangular") -> np.ndarray:
    """Neighbours of every unit, ``(n_units, 8)`` int, padded with -1.

    Rectangular: the 8 surrounding units; hexagonal: the 6 units at plane
    distance 1 (for an odd number of columns this is MiniSom's
    ``distance_map``; for an even number MiniSom's hard-coded table picks the
    wrong diagonal, and this follows its own coordinates instead).
    """
    coords = grid_coordinates(grid, topology)
    index = grid_indices(tuple(grid))
    step = np.abs(index[:, None, :] - index[None, :, :]).max(axis=-1)
    dist = np.linalg.norm(coords[:, None, :] - coords[None, :, :], axis=-1)
    near = (step == 1) & (dist < _RECTANGULAR_NEIGHBOUR)
    if topology == "hexagonal":
        near &= np.isclose(dist, 1.0)
    table = np.full((len(coords), 8), -1, np.int32)
    for u, row in enumerate(near):
        found = np.flatnonzero(row)
        table[u, : len(found)] = found
    return table


def neighborhood(
    name: str, grid, topology: str = "rectangular"
) -> Callable[[jax.Array, jax.Array], jax.Array]:
    r"""The neighbourhood function ``h(c, sigma) -> (n_units,)`` of MiniSom.

    With ``r_u`` the plane position of unit ``u`` (:func:`grid_coordinates`)
    and ``(i_u, j_u)`` its map position:

    * gaussian: :math:`h_u = \exp(-\|r_u - r_c\|^2 / 2\sigma^2)`
    * mexican_hat: :math:`h_u = e^{-p/2\sigma^2}(1 - p/\sigma^2)`,
      :math:`p = \|r_u - r_c\|^2`
    * bubble: :math:`h_u = [|i_u - i_c| < \sigma][|j_u - j_c| < \sigma]`
    * triangle: :math:`h_u = (\sigma - |i_u - i_c|)^+ (\sigma - |j_u - j_c|)^+`

    Bubble and triangle use map positions, also on a hexagonal grid (as
    MiniSom does).

    Args:
      name: one of ``gaussian``, ``bubble``, ``mexican_hat``, ``triangle``.
      grid: ``(rows, cols)``.
      topology: ``rectangular`` or ``hexagonal``.

    Returns:
      ``h(center, sigma)``: ``center`` a ``[]`` int unit index (or ``(k,)``
      indices, giving ``(k, n_units)``), ``sigma`` a ``[]`` float.
    """
    if name not in NEIGHBORHOODS:
        raise ValueError(
            f"`neighborhood` must be one of {NEIGHBORHOODS}; got {name!r}."
        )
    plane = grid_coordinates(grid, topology)
    index = grid_indices(check_grid(grid))

    def h(center: jax.Array, sigma: jax.Array) -> jax.Array:
        sigma = jnp.asarray(sigma)
        dtype = sigma.dtype if jnp.issubdtype(sigma.dtype, jnp.floating) else None
        center = jnp.asarray(center)
        # Explicit broadcast over the centres (rank promotion raises).
        lead = (1,) * center.ndim
        if name in ("gaussian", "mexican_hat"):
            where = jnp.asarray(plane, dtype)
            diff = where[center][..., None, :] - where.reshape(lead + where.shape)
            p = jnp.sum(diff * diff, axis=-1)
            d = 2.0 * sigma * sigma
            out = jnp.exp(-p / d)
            return out * (1.0 - 2.0 / d * p) if name == "mexican_hat" else out
        at = jnp.asarray(index, dtype)
        gap = jnp.abs(at[center][..., None, :] - at.reshape(lead + at.shape))
        if name == "bubble":
            return jnp.all(gap < sigma, axis=-1).astype(gap.dtype)
        return jnp.prod(jnp.maximum(sigma - gap, 0.0), axis=-1)

    return h


def squared_distances(weights: jax.Array, x: jax.Array) -> jax.Array:
    """``||x_i - w_u||^2`` for all pairs: ``(n, n_units)``, clipped at 0."""
    cross = x @ weights.T
    xx = jnp.sum(x * x, axis=1)[:, None]
    ww = jnp.sum(weights * weights, axis=1)[None, :]
    return jnp.maximum(xx - 2.0 * cross + ww, 0.0)


def _check(weights, x) -> None:
    check_array(weights, "weights", ndim=2, kind="f")
    check_array(x, "x", ndim=2, kind="n")
    if x.shape[1] != weights.shape[1]:
        raise ValueError(
            f"`x` must have {weights.shape[1]} features like `weights`; got "
            f"shape {tuple(x.shape)}."
        )


def best_matching_unit(weights: jax.Array, x: jax.Array) -> jax.Array:
    """Index of the winning unit of each sample, ``argmin_u ||x_i - w_u||``.

    Args:
      weights: ``(n_units, d)`` codebook.
      x: ``(n, d)`` samples.

    Returns:
      ``(n,)`` int32 unit indices (``i * cols + j``).
    """
    _check(weights, x)
    return jnp.argmin(squared_distances(weights, x), axis=1).astype(jnp.int32)


def quantization_error(weights: jax.Array, x: jax.Array) -> jax.Array:
    """Mean distance of the samples to their best matching unit's weights.

    Args:
      weights: ``(n_units, d)``.
      x: ``(n, d)``.

    Returns:
      ``[]`` float, ``mean_i ||x_i - w_{c(x_i)}||``.
    """
    bmu = best_matching_unit(weights, x)
    return jnp.mean(jnp.linalg.norm(x - weights[bmu], axis=1))


def topographic_error(
    weights: jax.Array, x: jax.Array, grid, topology: str = "rectangular"
) -> jax.Array:
    """Fraction of samples whose two best units are not neighbours on the map.

    Args:
      weights: ``(rows * cols, d)``.
      x: ``(n, d)``.
      grid: ``(rows, cols)`` with at least two units.
      topology: ``rectangular`` (neighbours within grid distance 1.42) or
        ``hexagonal`` (neighbours at plane distance 1).

    Returns:
      ``[]`` float in [0, 1].
    """
    _check(weights, x)
    grid = _check_units(weights, grid, topology)
    if grid[0] * grid[1] < 2:
        raise ValueError(f"the topographic error needs >= 2 units; `grid` is {grid}.")
    _, best2 = jax.lax.top_k(-squared_distances(weights, x), 2)
    if topology == "hexagonal":
        plane = jnp.asarray(grid_coordinates(grid, topology), jnp.float32)
        gap = jnp.linalg.norm(plane[best2[:, 0]] - plane[best2[:, 1]], axis=1)
        return jnp.mean(jnp.abs(gap - 1.0) > 1e-4)
    index = jnp.asarray(grid_indices(grid), jnp.float32)
    gap = jnp.linalg.norm(index[best2[:, 0]] - index[best2[:, 1]], axis=1)
    return jnp.mean(gap > _RECTANGULAR_NEIGHBOUR)


def u_matrix(
    weights: jax.Array, grid, topology: str = "rectangular", scaling: str = "sum"
) -> jax.Array:
    """The U-matrix (distance map): how far each unit is from its neighbours.

    Args:
      weights: ``(rows * cols, d)``.
      grid: ``(rows, cols)``.
      topology: ``rectangular`` (8 neighbours) or ``hexagonal`` (6).
      scaling: ``sum`` or ``mean`` of the distances to the neighbours.

    Returns:
      ``(rows, cols)`` float, divided by its maximum (MiniSom's
      ``distance_map``).
    """
    check_array(weights, "weights", ndim=2, kind="f")
    grid = _check_units(weights, grid, topology)
    if scaling not in ("sum", "mean"):
        raise ValueError(f"`scaling` must be 'sum' or 'mean'; got {scaling!r}.")
    table = jnp.asarray(neighbour_table(grid, topology))
    valid = table >= 0
    gaps = jnp.linalg.norm(weights[:, None, :] - weights[table], axis=-1)
    total = jnp.sum(jnp.where(valid, gaps, 0.0), axis=1)
    if scaling == "mean":
        total = total / jnp.maximum(jnp.sum(valid, axis=1), 1)
    return (total / jnp.max(total)).reshape(grid)


def hit_map(weights: jax.Array, x: jax.Array, grid) -> jax.Array:
    """How many samples each unit wins (MiniSom's ``activation_response``).

    Args:
      weights: ``(rows * cols, d)``.
      x: ``(n, d)``.
      grid: ``(rows, cols)``.

    Returns:
      ``(rows, cols)`` float counts summing to ``n``.
    """
    _check(weights, x)
    grid = _check_units(weights, grid, "rectangular")
    bmu = best_matching_unit(weights, x)
    counts = jnp.zeros(grid[0] * grid[1], jnp.float32).at[bmu].add(1.0)
    return counts.reshape(grid)


def _check_units(weights, grid, topology) -> tuple[int, int]:
    grid = check_grid(grid, topology)
    if weights.shape[0] != grid[0] * grid[1]:
        raise ValueError(
            f"`weights` must have rows * cols = {grid[0] * grid[1]} units for "
            f"`grid` {grid}; got shape {tuple(weights.shape)}."
        )
    return grid


def random_weights(key: jax.Array, n_units: int, d: int, dtype=jnp.float32):
    """MiniSom's default initialisation: uniform in [-1, 1)^d, unit length rows."""
    w = jax.random.uniform(key, (n_units, d), dtype, -1.0, 1.0)
    return w / jnp.linalg.norm(w, axis=1, keepdims=True)


def initial_weights(
    key: jax.Array, x: jax.Array, grid: tuple[int, int], init: str = "random"
) -> jax.Array:
    """Initial codebook ``(rows * cols, d)`` in one of MiniSom's three ways.

    Args:
      key: PRNG key (unused by ``pca``, which accepts None).
      x: ``(n, d)`` training samples.
      grid: ``(rows, cols)``.
      init: ``random`` (uniform, unit-length rows), ``samples`` (random rows of
        ``x``) or ``pca`` (the plane of the first two principal components,
        ``mean + a pc1 + b pc2`` with ``a, b`` evenly in [-1, 1]).
    """
    rows, cols = check_grid(grid)
    if init not in INITS:
        raise ValueError(f"`init` must be one of {INITS}; got {init!r}.")
    check_array(x, "x", ndim=2, kind="f")
    if init != "pca":
        check_key(key)
    x, n_units, d = jnp.asarray(x), rows * cols, x.shape[1]
    if init == "random":
        return random_weights(key, n_units, d, x.dtype)
    if init == "samples":
        return x[jax.random.randint(key, (n_units,), 0, x.shape[0])]
    if d < 2:
        raise ValueError(f"`init='pca'` needs >= 2 features; `x` has {d}.")
    centred = x - jnp.mean(x, axis=0)[None, :]
    _, vectors = jnp.linalg.eigh(centred.T @ centred)
    pc1, pc2 = vectors[:, -1], vectors[:, -2]
    a = jnp.repeat(jnp.linspace(-1, 1, rows, dtype=x.dtype), cols)
    b = jnp.tile(jnp.linspace(-1, 1, cols, dtype=x.dtype), rows)
    mean = jnp.mean(x, axis=0)[None, :]
    return mean + a[:, None] * pc1[None, :] + b[:, None] * pc2[None, :]
