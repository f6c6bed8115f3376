r"""The Hopfield-Tank (1985) travelling-salesman network (curriculum D5).

A tour of ``n`` cities is an ``(n, n)`` permutation matrix ``V[X, i] = 1`` when
city ``X`` is visited at position ``i``. Hopfield & Tank minimise

.. math::
   E = \tfrac{A}{2}\sum_X\sum_i\sum_{j\ne i} V_{Xi}V_{Xj}
     + \tfrac{B}{2}\sum_i\sum_X\sum_{Y\ne X} V_{Xi}V_{Yi}
     + \tfrac{C}{2}\Big(\sum_{Xi} V_{Xi} - n_t\Big)^2
     + \tfrac{D}{2}\sum_X\sum_{Y\ne X}\sum_i d_{XY} V_{Xi}(V_{Y,i+1}+V_{Y,i-1})

(row, column, global and distance terms; positions are cyclic) with a CHNN of
``n^2`` sigmoid neurons, ``V = (1 + tanh(u / u0)) / 2 = sigmoid(2 u / u0)``.

The weights are applied through their structure (row sums, column sums, the
global sum and one ``d @ (rolled V)`` product), O(n^3) per evaluation; the
``n^2 x n^2`` matrix is never built except by :func:`dense_weights` for tests.
The synaptic input is ``-dE/dV`` of the energy above (less the constant
``C n_t^2 / 2``), so the paper's weights are used exactly, including the
global term's diagonal ``T_{Xi,Xi} = -C``: the CHNN Lyapunov argument only
needs W symmetric, and the diagonal is what makes ``sum V`` close to ``n_t``.

References:
  J. J. Hopfield & D. W. Tank, "'Neural' computation of decisions in
  optimization problems", Biological Cybernetics 52:141-152 (1985).
  G. V. Wilson & G. S. Pawley, "On the stability of the travelling salesman
  problem algorithm of Hopfield and Tank", Biol. Cybern. 58:63-70 (1988).
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jnn._checks import (
    check_array,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.hopfield.continuous.checks import check_diffrax_objects
from jnn.hopfield.continuous.chnn import _output as output
from jnn.hopfield.continuous.simulation import simulate
from jnn.hopfield.problems.tsp_exact import validate_distances

__all__ = [
    "TSPNetwork",
    "TSPResult",
    "decode",
    "dense_weights",
    "hopfield_tank",
    "solve",
    "tour_result",
]


@struct.dataclass
class TSPNetwork:
    """The Hopfield-Tank TSP network, applied through its structure.

    Attributes:
      distances: (n, n) float, symmetric with zero diagonal.
      A, B, C, D: [] float, the row, column, global and distance weights.
      n_target: [] float, the global term's target ``sum V`` (15 for n = 10).
      tau: [] float, time constant.
      gain: [] float, ``2 / u0`` (``V = sigmoid(gain u)``).
      activation: ``"sigmoid"`` (static).
    """

    distances: jax.Array
    A: jax.Array
    B: jax.Array
    C: jax.Array
    D: jax.Array
    n_target: jax.Array
    tau: jax.Array
    gain: jax.Array
    activation: str = struct.field(pytree_node=False, default="sigmoid")

    @property
    def state_shape(self) -> tuple[int, int]:
        """``(n, n)``: city x position."""
        n = self.distances.shape[-1]
        return (n, n)

    def synaptic_input(self, v: jax.Array) -> jax.Array:
        """``sum_Yj T_{Xi,Yj} V_Yj + I_Xi = -dE/dV``: (n, n) -> (n, n), O(n^3).

        ``-A (row_X - V_Xi) - B (col_i - V_Xi) - C (sum V - n_t)
        - D sum_Y d_XY (V_{Y,i+1} + V_{Y,i-1})``.
        """
        rows = jnp.sum(v, axis=1, keepdims=True)
        cols = jnp.sum(v, axis=0, keepdims=True)
        neighbours = jnp.roll(v, -1, axis=1) + jnp.roll(v, 1, axis=1)
        return (
            -self.A * (rows - v)
            - self.B * (cols - v)
            - self.C * (jnp.sum(v) - self.n_target)
            - self.D * (self.distances @ neighbours)
        )

    def interaction_energy(self, v: jax.Array) -> jax.Array:
        """``-V.T V / 2 - I.V``: the paper's E less the constant ``C n_t^2 / 2``."""
        rows, cols, total = jnp.sum(v, axis=1), jnp.sum(v, axis=0), jnp.sum(v)
        squares = jnp.sum(v * v)
        neighbours = jnp.roll(v, -1, axis=1) + jnp.roll(v, 1, axis=1)
        return (
            0.5 * self.A * (rows @ rows - squares)
            + 0.5 * self.B * (cols @ cols - squares)
            + 0.5 * self.C * total * total
            - self.C * self.n_target * total
            + 0.5 * self.D * jnp.sum(v * (self.distances @ neighbours))
        )


def hopfield_tank(
    distances: Any,
    *,
    A: float = 500.0,
    B: float = 500.0,
    C: float = 200.0,
    D: float = 500.0,
    n_target: float = 15.0,
    u0: float = 0.02,
    tau: float = 1.0,
) -> TSPNetwork:
    """The Hopfield-Tank network for a distance matrix, the paper's defaults.

    Args:
      distances: (n, n) symmetric, non-negative, zero-diagonal distances
        (the paper's cities lie in the unit square).
      A: row weight (paper: 500).
      B: column weight (paper: 500).
      C: global weight (paper: 200).
      D: distance weight (paper: 500).
      n_target: target of the global term (paper: 15 for 10 cities, a
        deliberate overshoot of n).
      u0: the gain scale of ``V = (1 + tanh(u / u0)) / 2`` (paper: 0.02).
      tau: time constant (paper: 1).

    Returns:
      The :class:`TSPNetwork` (gain = 2 / u0).

    Raises:
      ValueError: invalid ``distances`` (NaN, negative, asymmetric), a
        non-positive weight, u0 or tau.
    """
    validate_distances(distances)
    for name, value in (("A", A), ("B", B), ("C", C), ("D", D)):
        check_positive_float(value, name)
    for name, value in (("n_target", n_target), ("u0", u0), ("tau", tau)):
        check_positive_float(value, name)
    d = jnp.asarray(distances, jnp.float32)
    f = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return TSPNetwork(d, f(A), f(B), f(C), f(D), f(n_target), f(tau), f(2.0 / u0))


def dense_weights(network: TSPNetwork) -> tuple[jax.Array, jax.Array]:
    """The paper's ``(n^2, n^2)`` weights T and ``(n^2,)`` inputs I (tests only).

    ``T_{Xi,Yj} = -A d_XY (1 - d_ij) - B d_ij (1 - d_XY) - C
    - D d_XY (d_{j,i+1} + d_{j,i-1})`` (Kronecker deltas ``d``), flattened
    city-major; ``I_Xi = C n_t``. Note ``T_{Xi,Xi} = -C`` (module docstring).
    """
    _check_tsp_network(network)
    n = network.state_shape[0]
    eye = jnp.eye(n)
    shift = jnp.roll(eye, 1, axis=1) + jnp.roll(eye, -1, axis=1)
    t = (
        -network.A * jnp.kron(eye, 1.0 - eye)
        - network.B * jnp.kron(1.0 - eye, eye)
        - network.C
        - network.D * jnp.kron(network.distances, shift)
    )
    return t, jnp.full((n * n,), network.C * network.n_target)


def _check_tsp_network(network: Any) -> None:
    if not isinstance(network, TSPNetwork):
        raise TypeError(
            "`network` must be a TSPNetwork (from hopfield_tank); "
            f"got {type(network).__name__}."
        )


def decode(v: Any) -> tuple[jax.Array, jax.Array]:
    """Read a tour from outputs ``v`` (n, n) (city x position). Jittable.

    Args:
      v: (n, n) outputs in [0, 1].

    Returns:
      ``(tour, valid)``: (n,) int32, the city of largest output at each
      position, and [] bool, True iff ``v > 1/2`` is a permutation matrix
      (exactly one active neuron in every row and every column).

    Raises:
      TypeError: ``v`` not a numeric array.
      ValueError: ``v`` not square, or (when concrete) not finite.
    """
    check_array(v, "v", ndim=2, kind="n")
    if v.shape[0] != v.shape[1]:
        raise ValueError(
            f"`v` must be square (n cities, n positions); got {tuple(v.shape)}."
        )
    return _decode(jnp.asarray(v))


def _decode(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    on = v > 0.5
    valid = jnp.all(jnp.sum(on, axis=0) == 1) & jnp.all(jnp.sum(on, axis=1) == 1)
    return jnp.argmax(v, axis=0).astype(jnp.int32), valid


class TSPResult(NamedTuple):
    """Restarts of a TSP network.

    Attributes:
      tours: (R, n) int32, the decoded tours (city at each position).
      valid: (R,) bool, the outputs were a permutation matrix.
      lengths: (R,) float, tour lengths; +inf where not valid.
      outputs: (R, n, n) float, the final outputs V.
      steps: (R,) int32, solver steps (or mean-field sweeps) per restart.
      trace: (R, K) float per-step trace (the Potts anneal's soft tour length
        ``sum_XY d_XY sum_i V_Xi V_{Y,i+1}``), or None.
    """

    tours: jax.Array
    valid: jax.Array
    lengths: jax.Array
    outputs: jax.Array
    steps: jax.Array
    trace: jax.Array | None = None

    @property
    def best(self) -> tuple[jax.Array, jax.Array]:
        """``(tour, length)`` of the shortest valid restart (length inf if none)."""
        i = jnp.argmin(self.lengths)
        return self.tours[i], self.lengths[i]


def tour_result(distances: jax.Array, outputs: jax.Array, steps: jax.Array, trace=None):
    """Decode a batch of final outputs (R, n, n) into a :class:`TSPResult`."""
    tours, valid = jax.vmap(_decode)(outputs)
    lengths = jax.vmap(lambda t: distances[t, jnp.roll(t, -1)].sum())(tours)
    lengths = jnp.where(valid, lengths, jnp.inf)
    return TSPResult(tours, valid, lengths, outputs, steps, trace)


def initial_states(network: TSPNetwork, key: jax.Array, restarts: int, noise: float):
    """The paper's starts: ``u00 + delta``, ``sum V = n`` at ``u00``.

    ``u00 = -ln(n - 1) / gain`` gives ``V = 1/n``; ``delta`` is uniform in
    ``[-noise u0, noise u0]`` with ``u0 = 2 / gain`` (paper: noise 0.1).
    """
    n = network.state_shape[0]
    u00 = -math.log(max(n - 1, 1)) / network.gain
    delta = jax.random.uniform(key, (restarts, n, n), minval=-1.0, maxval=1.0)
    return u00 + delta * noise * 2.0 / network.gain


def solve(
    network: TSPNetwork,
    key: jax.Array,
    *,
    restarts: int = 100,
    t1: float = 1.0,
    noise: float = 0.1,
    solver: Any = None,
    max_steps: int = 4096,
) -> TSPResult:
    """Integrate ``restarts`` random starts with Diffrax (one vmapped call).

    Each restart follows ``du/dt = -u / tau + T V + I`` from
    :func:`initial_states` with :func:`jnn.hopfield.continuous.simulation.simulate`
    (Tsit5 with a PID controller unless ``solver``) until a steady state or
    ``t1``, then is decoded by :func:`decode`.

    Args:
      network: a :class:`TSPNetwork`.
      key: PRNG key of the starts.
      restarts: number of starts R.
      t1: end time (default 1 = tau: the thresholded outputs no longer change
        after it on 10-city instances, while u still creeps to equilibrium).
      noise: start noise in units of u0.
      solver: a Diffrax solver (default Tsit5).
      max_steps: Diffrax step budget per restart.

    Returns:
      A :class:`TSPResult` with R restarts.

    Raises:
      ValueError: non-positive ``restarts``, ``t1``, ``noise`` or ``max_steps``.
      TypeError: ``key`` is not a PRNG key.
    """
    _check_tsp_network(network)
    check_positive_int(restarts, "restarts")
    check_positive_int(max_steps, "max_steps")
    check_positive_float(t1, "t1")
    check_positive_float(noise, "noise")
    check_key(key)
    check_diffrax_objects(solver=solver)
    return _solve(network, key, restarts, float(t1), float(noise), solver, max_steps)


@partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _solve(network, key, restarts, t1, noise, solver, max_steps):
    u0s = initial_states(network, key, restarts, noise)

    def one(u0):
        sol = simulate(network, u0, t1=t1, solver=solver, max_steps=max_steps)
        return output(network, sol.ys[-1]), sol.stats["num_steps"]

    outputs, steps = jax.vmap(one)(u0s)
    return tour_result(network.distances, outputs, steps.astype(jnp.int32))


def gaps(lengths: Any, optimum: float) -> np.ndarray:
    """Relative gaps ``L / L* - 1`` of the valid lengths (inf dropped)."""
    lengths = np.asarray(lengths, np.float64)
    return lengths[np.isfinite(lengths)] / optimum - 1.0


def soft_length(distances: jax.Array, v: jax.Array) -> jax.Array:
    """Expected tour length ``sum_XY d_XY sum_i V_Xi V_{Y,i+1}`` of outputs v.

    Equals the tour's length when v is a permutation matrix.
    """
    return jnp.sum(v * (distances @ jnp.roll(v, -1, axis=1)))
