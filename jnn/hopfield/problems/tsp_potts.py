r"""Potts mean-field annealing for the TSP (Peterson & Söderberg 1989).

The improved formulation of :mod:`jnn.hopfield.problems.tsp`: each city ``X`` is one
Potts neuron whose outputs over the positions are a softmax, so every row of
``V`` sums to one by construction and the A and C terms of Hopfield-Tank
disappear. With the column penalty ``beta`` the interaction energy is

.. math:: E(V) = \tfrac12 \sum_{XY} c_{XY} \sum_i V_{Xi}(V_{Y,i+1} + V_{Y,i-1})
          + \tfrac{\beta}{2}\sum_i\Big[\big(\sum_X V_{Xi}\big)^2 - \sum_X V_{Xi}^2\Big]

and the network is a CHNN with softmax outputs,
``du_X/dt = -u_X + h_X(V)``, ``h = -dE/dV``, ``V_X = softmax(u_X / T)``, whose
Lyapunov function is the mean-field free energy ``E(V) + T sum V ln V``
(:func:`potts_energy`). Each restart updates one city at a time (the serial,
unit-step Euler form of that ODE, as in the paper) while the temperature ``T``
falls geometrically from just above the critical temperature ``T_c`` at which
the uniform state ``V = 1/n`` loses stability, and ``beta`` rises from
``beta_0`` to ``2 beta_0``. A last few sweeps at ``T = 0`` with
``beta > 2 max c`` make every collision strictly costly, so the serial descent
ends in a permutation matrix (valid tour) without any repair step.

Formulation choices (issue 19: measured on every bundled TSPLIB instance
with n <= 101; ``examples/hopfield/tsp_tsplib.py --all``):

* couplings ``c = d / mean(d)`` (off-diagonal mean), the true length at every
  temperature. Squared distances ``d^2 / mean(d^2)`` (the earlier default,
  kept as ``exponent=2``) make the first unstable mode at ``T_c`` the angular
  order around the centroid (``-J d^2 J / 2`` is the Gram matrix of the
  coordinates) and shrink the couplings of the tour's short edges by the
  squared ratio of short to mean distances; on clustered instances (kroC100)
  the kink penalty of ``d^2`` is then too weak for ``d``, the columns
  collapse (the rows never saturate: ``sum V^2 / n = 0.33`` at the end of
  the anneal) and the zero-temperature sweeps turn the unsaturated state into
  a tour 229% above the optimum (``beta_0`` 0.56; at 1.2 the rows saturate
  but the best of 16 is still 42% above; with ``d``: 20-28%).
* ``beta_0`` by the *kink rule*: the smallest penalty at which the linear
  instability at ``T_c`` is the tour-forming (distance) mode rather than the
  column-collapse mode, ``T_c(beta) <= 1.03 T_dist(beta)``; both come from the
  spectrum of the linearised map in the Fourier basis of the positions.
  Scale-free: ``c``, ``beta_0`` and ``T_c`` do not change when the distances
  are multiplied by a constant.
* random starts, ``softmax(3 z)`` with ``z ~ N(0, 1)`` per row, so that the
  restarts leave ``T_c`` along different modes (with nearly uniform starts
  they take nearly the same path).

Limits (256 restarts, seed 0, all tours valid): best gap <= 10% up to
n = 70 except berlin52 (13.2%), but 15-25% at n = 96-101 (kroC100 15.1%,
eil101 20.7%, gr96 25.3%); once the rows saturate, single-city updates cannot
move a city into an occupied position, so the order is fixed where the rows
saturate. Four times more sweeps gives eil101 21% instead of 27% (32 restarts).
The default annealer is therefore softassign
(:mod:`jnn.hopfield.problems.tsp_softassign`: rows and columns normalised,
best gap <= 7.4% on all of them); this module's :func:`anneal_serial` is the
paper's serial form, ``anneal_tsp(..., method="serial")``.

References:
  C. Peterson & B. Söderberg, "A new method for mapping optimization problems
  onto neural networks", Int. J. Neural Systems 1(1):3-22 (1989).
  C. Peterson, "Parallel distributed approaches to combinatorial
  optimization: benchmark studies on traveling salesman problem", Neural
  Computation 2(3):261-269 (1990).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jnn._checks import (
    check_array,
    check_interval,
    check_key,
    check_positive_float,
    check_positive_int,
    is_concrete,
)
from jnn.hopfield.problems.schedule import schedule_steps
from jnn.hopfield.problems.tsp import TSPResult, soft_length, tour_result
from jnn.hopfield.problems.tsp_exact import validate_distances

__all__ = [
    "PottsTSP",
    "anneal_serial",
    "critical_temperature",
    "edge_scale",
    "potts_energy",
    "potts_tsp",
    "soft_length",
]


@struct.dataclass
class PottsTSP:
    """A Potts TSP network.

    Attributes:
      distances: (n, n) float, the true distances (tour lengths).
      couplings: (n, n) float, ``d^p / mean(d^p)`` (zero diagonal), the
        couplings at ``T_c``.
      final_couplings: (n, n) float, ``d^q / mean(d^q)``, reached at the end
        of the anneal (``q = 1``: the true tour length).
      penalty: [] float, ``beta_0``, the column penalty at ``T_c``.
      critical_temperature: [] float, ``T_c`` at ``beta_0`` (serial form).
      edge_scale: [] float, the mean over cities of the two shortest
        ``final_couplings`` of each (:func:`edge_scale`), the length scale of
        a tour's edges in coupling units.
      assignment_temperature: [] float, ``T_c`` of the softassign dynamics
        without self-coupling (rows and columns normalised:
        :mod:`jnn.hopfield.problems.tsp_softassign`).
    """

    distances: jax.Array
    couplings: jax.Array
    final_couplings: jax.Array
    penalty: jax.Array
    critical_temperature: jax.Array
    edge_scale: jax.Array
    assignment_temperature: jax.Array

    @property
    def state_shape(self) -> tuple[int, int]:
        """``(n, n)``: city x position."""
        n = self.distances.shape[-1]
        return (n, n)

    def local_field(self, v: jax.Array, penalty: jax.Array) -> jax.Array:
        """``h = -dE/dV`` (n, n), O(n^3): distance term plus column penalty."""
        neighbours = jnp.roll(v, -1, axis=1) + jnp.roll(v, 1, axis=1)
        cols = jnp.sum(v, axis=0, keepdims=True)
        return -(self.couplings @ neighbours) - penalty * (cols - v)

    def interaction_energy(self, v: jax.Array, penalty: jax.Array) -> jax.Array:
        """``E(V)`` of the module docstring, a scalar."""
        neighbours = jnp.roll(v, -1, axis=1) + jnp.roll(v, 1, axis=1)
        cols = jnp.sum(v, axis=0)
        column = 0.5 * penalty * (cols @ cols - jnp.sum(v * v))
        return 0.5 * jnp.sum(v * (self.couplings @ neighbours)) + column


def _check_potts(network: Any) -> None:
    if not isinstance(network, PottsTSP):
        raise TypeError(
            "`network` must be a PottsTSP (from potts_tsp); "
            f"got {type(network).__name__}."
        )


def _check_non_negative(value: Any, name: str) -> None:
    """A finite number >= 0 (a concrete 0-d array counts as one)."""
    if not is_concrete(value):
        return
    if hasattr(value, "dtype") and np.ndim(value) == 0:
        if np.issubdtype(np.asarray(value).dtype, np.number):
            value = np.asarray(value).item()
    check_interval(value, name, 0.0)


def potts_energy(network: PottsTSP, v: Any, temperature: float, penalty=None):
    """Mean-field free energy ``E(V) + T sum V ln V`` (the Lyapunov function).

    Args:
      network: a :class:`PottsTSP`.
      v: (n, n) outputs in [0, 1] (city x position).
      temperature: ``T >= 0``.
      penalty: column penalty ``beta >= 0``; default the network's ``beta_0``.

    Raises:
      TypeError: ``network`` not a :class:`PottsTSP`, ``v`` not numeric, a
        non-number temperature or penalty.
      ValueError: ``v`` not of shape (n, n) or (when concrete) outside
        [0, 1]; a negative or non-finite temperature or penalty.
    """
    _check_potts(network)
    check_array(v, "v", ndim=2, kind="n")
    if tuple(v.shape) != network.state_shape:
        raise ValueError(
            f"`v` must have the network's shape {network.state_shape}; "
            f"got {tuple(v.shape)}."
        )
    if is_concrete(v) and not np.all((np.asarray(v) >= 0) & (np.asarray(v) <= 1)):
        raise ValueError("`v` must hold outputs in [0, 1] (rows of softmaxes).")
    _check_non_negative(temperature, "temperature")
    if penalty is not None:
        _check_non_negative(penalty, "penalty")
    penalty = network.penalty if penalty is None else penalty
    entropy = jnp.sum(jax.scipy.special.xlogy(v, v))
    return network.interaction_energy(v, penalty) + temperature * entropy


def critical_temperature(couplings: Any, penalty: float) -> tuple[float, float]:
    """``(T_c, T_dist)`` of the uniform state for penalty ``beta`` (host, NumPy).

    Linearising ``V_X = softmax(h_X / T)`` at ``V = 1/n`` gives
    ``delta V = P h / (n T)`` (P removes each row's mean over positions). In the
    Fourier basis of the positions (mode ``k != 0``, ``theta = 2 pi k / n``)
    the coupling is the city matrix
    ``M_k = -2 cos(theta) c - beta (J - I)`` (J all ones), so the uniform state
    is unstable below ``T_c = max_k lambda_max(M_k) / n``. ``T_dist`` is the
    same with the city-uniform vector projected out (no column collapse).

    Args:
      couplings: (n, n) finite real matrix (n >= 2).
      penalty: the column penalty ``beta >= 0``.

    Raises:
      TypeError: non-numeric ``couplings`` or ``penalty``.
      ValueError: ``couplings`` not square or not finite, a negative or
        non-finite ``penalty``.
    """
    check_array(couplings, "couplings", ndim=2, kind="n")
    if couplings.shape[0] != couplings.shape[1] or couplings.shape[0] < 2:
        raise ValueError(
            f"`couplings` must be a square (n, n) matrix, n >= 2; "
            f"got shape {tuple(couplings.shape)}."
        )
    check_interval(penalty, "penalty", 0.0)
    return _critical_temperature(couplings, penalty)


def _critical_temperature(couplings: Any, penalty: float) -> tuple[float, float]:
    c = np.asarray(couplings, np.float64)
    n = c.shape[0]
    eye, ones = np.eye(n), np.ones((n, n))
    centre = eye - ones / n
    t_c = t_dist = -np.inf
    # lambda_max(a c - beta (J - I)) is convex in a = -2 cos(theta): its
    # largest value over the modes is at the extreme modes k = 1 and n // 2
    for k in sorted({1, n // 2}):
        m = -2.0 * math.cos(2.0 * math.pi * k / n) * c - penalty * (ones - eye)
        t_c = max(t_c, np.linalg.eigvalsh(m)[-1])
        t_dist = max(t_dist, np.linalg.eigvalsh(centre @ m @ centre)[-1])
    return float(t_c / n), float(t_dist / n)


def kink_penalty(couplings: np.ndarray, ratio: float = 1.03) -> float:
    """Smallest ``beta`` with ``T_c(beta) <= ratio T_dist(beta)`` (bisection)."""
    low, high = 0.0, 8.0
    for _ in range(24):
        mid = 0.5 * (low + high)
        t_c, t_dist = _critical_temperature(couplings, mid)
        low, high = (low, mid) if t_c <= ratio * t_dist else (mid, high)
    return high


def edge_scale(couplings: Any) -> float:
    """Mean over cities of each city's two smallest off-diagonal couplings.

    The length scale of a tour's edges (a city's tour neighbours are mostly
    among its nearest): 0.10-0.38 of the mean distance on the bundled TSPLIB
    instances, falling as ``1 / sqrt(n)`` for uniform cities and smaller on
    clustered ones (host, NumPy).

    Raises:
      TypeError, ValueError: ``couplings`` not a finite square (n, n) matrix
        with n >= 3.
    """
    check_array(couplings, "couplings", ndim=2, kind="n")
    c = np.asarray(couplings, np.float64)
    if c.shape[0] != c.shape[1] or c.shape[0] < 3:
        raise ValueError(
            f"`couplings` must be a square (n, n) matrix, n >= 3; "
            f"got shape {tuple(c.shape)}."
        )
    if not np.all(np.isfinite(c)):
        raise ValueError("`couplings` must be finite.")
    off = c + np.diag(np.full(c.shape[0], np.inf))
    return float(np.mean(np.sort(off, axis=1)[:, :2]))


def potts_tsp(
    distances: Any,
    *,
    exponent: float = 1.0,
    final_exponent: float = 1.0,
    penalty: float | None = None,
) -> PottsTSP:
    """Build the Potts network of a distance matrix.

    Args:
      distances: (n, n) symmetric, non-negative, zero-diagonal, n >= 4.
      exponent: p of the couplings ``c = d^p / mean(d^p)`` at ``T_c``.
      final_exponent: q of the couplings at the end of the anneal.
      penalty: ``beta_0``; default the kink rule (module docstring).

    Returns:
      The :class:`PottsTSP` with its critical temperature.

    Raises:
      ValueError: invalid ``distances`` (NaN, negative, asymmetric), fewer
        than 4 cities, non-positive ``exponent`` or ``penalty``.
    """
    n = validate_distances(distances)
    if n < 4:
        raise ValueError(f"`distances` must have at least 4 cities; got n = {n}.")
    check_positive_float(exponent, "exponent")
    check_positive_float(final_exponent, "final_exponent")
    d = np.asarray(distances, np.float64)
    if d.max() <= 0:
        raise ValueError("`distances` must have a positive off-diagonal entry.")
    c, c_final = _normalised(d, exponent), _normalised(d, final_exponent)
    if penalty is None:
        penalty = kink_penalty(c)
    check_positive_float(penalty, "penalty")
    t_c, _ = _critical_temperature(c, penalty)
    _, t_assign = _critical_temperature(c_final, 0.0)
    f32 = partial(jnp.asarray, dtype=jnp.float32)
    return PottsTSP(
        f32(d),
        f32(c),
        f32(c_final),
        f32(penalty),
        f32(t_c),
        f32(edge_scale(c_final)),
        f32(t_assign),
    )


def _normalised(d: np.ndarray, exponent: float) -> np.ndarray:
    """``d^p`` divided by its off-diagonal mean."""
    n = d.shape[0]
    c = d**exponent
    return c / (c.sum() / (n * (n - 1)))


def anneal_serial(
    network: PottsTSP,
    key: jax.Array,
    *,
    restarts: int = 256,
    cooling: float = 0.98,
    start: float = 1.2,
    stop: float = 0.01,
    penalty_growth: float = 2.0,
    noise: float = 3.0,
    cleanup_sweeps: int = 5,
) -> TSPResult:
    """Serial Potts mean-field annealing (Peterson & Söderberg) from random starts.

    The paper's form, kept as the reference beside the default
    :func:`jnn.hopfield.problems.tsp_softassign.softassign` (see that module
    for why it falls behind at n ~ 100); ``anneal_tsp(..., method="serial")``.

    Temperature ``T_k = start T_c cooling^k`` down to ``stop T_c``; at each
    temperature one serial sweep (cities in a random order) sets
    ``V_X = softmax(h_X(V) / T)`` with couplings moving linearly from
    ``couplings`` to ``final_couplings``; the penalty grows geometrically from
    ``beta_0`` to ``penalty_growth beta_0``. Then ``cleanup_sweeps`` sweeps at
    ``T = 0`` (one-hot rows) with ``beta = 2 max(c) + beta_end`` (module
    docstring). Decoded with :func:`jnn.hopfield.problems.tsp.decode`: no repair.

    Args:
      network: a :class:`PottsTSP`.
      key: PRNG key (starts and update orders).
      restarts: number of independent restarts R.
      cooling: geometric cooling factor in (0, 1).
      start: first temperature in units of ``T_c``.
      stop: last annealing temperature in units of ``T_c``.
      penalty_growth: ``beta_end / beta_0`` (>= 1).
      noise: standard deviation of the initial ``u / T`` (rows
        ``softmax(noise z)``, ``z ~ N(0, 1)``).
      cleanup_sweeps: zero-temperature sweeps at the end (0 for none).

    Returns:
      A :class:`TSPResult`; ``steps`` counts the sweeps and ``trace`` (R, K)
      holds the soft tour length after each annealing step.

    Raises:
      ValueError: a cooling factor outside (0, 1), ``stop >= start``, a
        ``penalty_growth`` below 1 or infinite, other non-positive or
        non-finite settings.
      TypeError: ``key`` is not a PRNG key, a non-integer ``cleanup_sweeps``.
    """
    _check_potts(network)
    check_key(key)
    check_positive_int(restarts, "restarts")
    steps = schedule_steps(start, stop, cooling, noise, cleanup_sweeps)
    check_positive_float(penalty_growth, "penalty_growth")
    if not penalty_growth >= 1.0:
        raise ValueError(f"`penalty_growth` must be >= 1; got {penalty_growth}.")
    schedule = (float(start), float(cooling), steps, float(penalty_growth))
    return _anneal(network, key, restarts, schedule, float(noise), cleanup_sweeps)


def _sweep(network: PottsTSP, v, temperature, penalty, key, c):
    """One serial sweep: each city in random order takes its mean-field row.

    ``temperature=None`` is the ``T -> 0`` limit, a one-hot row at the largest
    field (ties broken by position): exact ties such as two cities sharing two
    positions half-and-half are fixed points of the softmax at any ``T``.
    """
    n = v.shape[0]

    def update(carry, x):
        v, cols = carry
        w = c[x] @ v  # (c V)_x, rolled: one read of V instead of three
        field = -(jnp.roll(w, -1) + jnp.roll(w, 1)) - penalty * (cols - v[x])
        if temperature is None:
            row = jax.nn.one_hot(jnp.argmax(field), n, dtype=v.dtype)
        else:
            row = jax.nn.softmax(field / temperature)
        return (v.at[x].set(row), cols + row - v[x]), None

    order = jax.random.permutation(key, n)
    (v, _), _ = jax.lax.scan(update, (v, jnp.sum(v, axis=0)), order)
    return v


@partial(jax.jit, static_argnums=(2, 3, 4, 5))
def _anneal(network, key, restarts, schedule, noise, cleanup_sweeps):
    start, cooling, steps, growth = schedule
    n = network.state_shape[0]
    t_c, beta = network.critical_temperature, network.penalty
    beta_end = growth * beta
    beta_clean = 2.0 * jnp.max(network.final_couplings) + beta_end

    def one(key):
        k_init, k_sweeps = jax.random.split(key)
        v = jax.nn.softmax(noise * jax.random.normal(k_init, (n, n)), axis=1)

        def step(v, k):
            frac = k / (steps - 1)
            temperature = t_c * start * cooling**k
            penalty = beta * growth**frac
            sweep_key = jax.random.fold_in(k_sweeps, k)
            c = (1.0 - frac) * network.couplings + frac * network.final_couplings
            v = _sweep(network, v, temperature, penalty, sweep_key, c)
            return v, soft_length(network.distances, v)

        v, trace = jax.lax.scan(step, v, jnp.arange(steps))
        for s in range(cleanup_sweeps):
            sweep_key = jax.random.fold_in(k_sweeps, steps + s)
            c = network.final_couplings
            v = _sweep(network, v, None, beta_clean, sweep_key, c)
        return v, trace

    outputs, trace = jax.vmap(one)(jax.random.split(key, restarts))
    sweeps = jnp.full((restarts,), steps + cleanup_sweeps, jnp.int32)
    return tour_result(network.distances, outputs, sweeps, trace)
