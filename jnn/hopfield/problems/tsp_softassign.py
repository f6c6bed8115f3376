r"""Softassign annealing for the TSP, and :func:`anneal`, the Potts TSP entry point.

The Potts network of :mod:`jnn.hopfield.problems.tsp_potts` makes every *row*
of ``V`` (a city over the positions) a softmax and leaves the *columns* (a
position over the cities) to a penalty ``beta``. Softassign (Gold & Rangarajan
1996; Rangarajan, Gold & Mjolsness 1996) normalises both: the mean-field
outputs at temperature ``T`` are the doubly stochastic matrix

.. math:: V = \mathrm{Sinkhorn}\big(\exp(Q / T)\big), \qquad
          Q = -\partial E / \partial V = -c\,(V S + V S^\top) + \gamma V

(``S`` the cyclic shift of the positions, ``c`` the network's couplings,
``gamma`` a self-amplification that makes the energy concave on the
permutations' polytope so that the outputs saturate), found by alternating row
and column normalisation (stabilised scaling: potentials in the log domain,
carried from one update to the next, one ``exp`` per update). The network's
free energy is ``E(V) - gamma/2 sum V^2 + T sum V ln V`` on doubly stochastic
``V``; its
``T -> 0`` limit is the linear assignment of ``Q`` (tested against SciPy).

Why (issue 19, measured on every bundled TSPLIB instance with n <= 101): in
the serial penalty form the columns overload while the tour forms (the fullest
column holds 1.2-1.26 cities on eil101 between 0.5 and 0.25 ``T_c``), and once
the rows saturate a single-city update cannot move a city into an occupied
position, so the collisions are resolved by pushing cities to whatever
position is free: tours 15-25% above the optimum at n = 96-101 (best of 256),
medians 30-50%, and four times slower cooling does not change it. With exact
columns the order forms without collisions.

Settings, all derived from the instance (``examples/hopfield/tsp_tsplib.py
--all``; what was tried is in the closing note of issue 19):

* ``T_c`` of the uniform state, ``(lambda_max + gamma) / n`` with
  ``lambda_max`` the largest eigenvalue of ``-2 cos(2 pi k / n) c`` over the
  position modes ``k`` with the city-uniform direction projected out (the
  column-collapse mode the penalty form fights does not exist here); the
  anneal runs from ``1.1 T_c`` to ``0.02 T_c``, cooling 0.97 per step.
* ``gamma = 2.5 x`` the mean of each city's two shortest couplings (the length
  scale of a tour's edges, the network's :attr:`PottsTSP.edge_scale`): with
  couplings ``d / mean(d)`` that scale falls as ``1 / sqrt(n)`` and is smaller
  on clustered instances, and a fixed ``gamma`` freezes the local order before
  the short edges decide it there (kroC100 13% with ``gamma = 1``, 6-7% with
  the rule). Below 2.5 the outputs of the small GEO instances no longer
  saturate (ulysses22: median 35% at 2, 5% at 2.5); at 3-4 the tours are
  longer on the clustered and the 100-city ones.
* Synchronous updates of all cities oscillate with period two (every entry
  flips at every update below 0.5 ``T_c``); each update is therefore damped,
  ``V <- (1 - a) V + a Sinkhorn(...)`` with ``a = 0.5``, six updates per
  temperature.
* A few zero-temperature serial sweeps of the Potts network with a column
  penalty above ``2 max c`` (as in the serial form) turn the saturated outputs
  into a permutation matrix; the tour is decoded without any repair.

References:
  S. Gold & A. Rangarajan, "Softmax to softassign: neural network algorithms
  for combinatorial optimization", J. Artificial Neural Networks 2(4):381-399
  (1996).
  A. Rangarajan, S. Gold & E. Mjolsness, "A novel optimizing network
  architecture with applications", Neural Computation 8(5):1041-1060 (1996).
  R. Sinkhorn, "A relationship between arbitrary positive matrices and doubly
  stochastic matrices", Ann. Math. Statist. 35(2):876-879 (1964).
  B. Schmitzer, "Stabilized sparse scaling algorithms for entropy regularized
  transport problems", SIAM J. Sci. Comput. 41(3):A1443-A1481 (2019).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp

from jnn._checks import (
    check_array,
    check_interval,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.hopfield.problems.schedule import schedule_steps
from jnn.hopfield.problems.tsp import TSPResult, soft_length, tour_result
from jnn.hopfield.problems.tsp_potts import (
    PottsTSP,
    _check_potts,
    _sweep,
    anneal_serial,
)

__all__ = ["anneal", "sinkhorn", "softassign"]

METHODS = ("softassign", "serial")
#: Restarts per vmapped block on CPU: a block's (n, n) states stay in cache
#: through the Sinkhorn iterations (matrix-vector products, memory-bound).
#: 256 restarts of kroC100 on one core: 12.3 s in blocks of 8-32 against
#: 18.5 s for one vmap over all (and 15.6 s for 64); the same tours. Other
#: backends vmap all restarts at once.
CPU_BLOCK = 16


def anneal(
    network: PottsTSP,
    key: jax.Array,
    *,
    method: str = "softassign",
    restarts: int = 256,
    **settings: Any,
) -> TSPResult:
    """Anneal the Potts TSP network from ``restarts`` random starts (vmapped).

    Args:
      network: a :class:`PottsTSP` from :func:`potts_tsp`.
      key: PRNG key.
      method: ``"softassign"`` (default; :func:`softassign`, rows and columns
        normalised) or ``"serial"`` (Peterson & Söderberg's serial updates
        with a column penalty, :func:`anneal_serial` of
        :mod:`jnn.hopfield.problems.tsp_potts`).
      restarts: number of independent restarts R.
      **settings: keyword settings of the chosen method's function.

    Returns:
      A :class:`TSPResult`, tours decoded without repair.

    Raises:
      ValueError: an unknown ``method``; bad settings (see the method).
      TypeError: a non-string ``method``, a setting the chosen method does
        not have.
    """
    if not isinstance(method, str):
        raise TypeError(f"`method` must be a string, one of {METHODS}; got {method!r}.")
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")
    run = softassign if method == "softassign" else anneal_serial
    return run(network, key, restarts=restarts, **settings)


def sinkhorn(logits: jax.Array, iterations: int = 10, potentials=None):
    """Doubly stochastic ``exp(logits + f_i + g_j)`` by log-domain Sinkhorn.

    Alternates row and column normalisation ``iterations`` times, then
    normalises the rows once more (rows sum to one exactly, columns to within
    the convergence of the iteration). Robust from any start; the annealer
    uses the faster stabilised scaling with warm potentials instead.

    Args:
      logits: (..., n, n) finite log-kernel.
      iterations: positive number of column updates.
      potentials: (..., n) column potentials ``g`` to start from (default 0);
        carrying them between nearby kernels makes a few iterations enough.

    Returns:
      ``(v, g)``: the (..., n, n) matrix and its column potentials.

    Raises:
      TypeError, ValueError: non-numeric or non-square ``logits``, a
        non-positive ``iterations``, potentials of the wrong shape.
    """
    check_array(logits, "logits", kind="n")
    if logits.ndim < 2 or logits.shape[-1] != logits.shape[-2]:
        raise ValueError(
            f"`logits` must be (..., n, n) square; got shape {tuple(logits.shape)}."
        )
    check_positive_int(iterations, "iterations")
    if potentials is None:
        potentials = jnp.zeros(logits.shape[:-1], logits.dtype)
    elif tuple(jnp.shape(potentials)) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"`potentials` must have shape {tuple(logits.shape[:-1])}; "
            f"got {tuple(jnp.shape(potentials))}."
        )
    return _sinkhorn_log(logits, potentials, iterations)


def _sinkhorn_log(a: jax.Array, g: jax.Array, iterations: int):
    """Log-domain Sinkhorn (two ``logsumexp`` per iteration): any start."""

    def rows(g):
        return -jax.nn.logsumexp(a + g[..., None, :], axis=-1)

    def body(g, _):
        f = rows(g)
        return -jax.nn.logsumexp(a + f[..., :, None], axis=-2), None

    g, _ = jax.lax.scan(body, g, None, length=iterations)
    return jnp.exp(a + rows(g)[..., :, None] + g[..., None, :]), g


def _sinkhorn(a: jax.Array, g: jax.Array, iterations: int):
    """Sinkhorn by stabilised scaling (Schmitzer 2019): one ``exp`` per call.

    The carried column potentials ``g`` are absorbed into the kernel, which is
    row-normalised in the log domain (``K = softmax_rows(a + g)``, the only
    ``exp``); the iterations then scale ``K`` multiplicatively (``v = 1 /
    K^T u``, ``u = 1 / K v``: products, no ``exp``) and ``log v`` is absorbed
    back into ``g``. Six times faster than log-domain iterations here (R =
    256 restarts of n = 100, 10 iterations: 9.6 ms against 59 ms on one
    core), the same matrix to 2e-6. It needs warm potentials: from a cold
    start at a low temperature (kernel entries e^-500 apart) the scaled
    columns underflow and the iteration stalls, which :func:`sinkhorn`'s
    log-domain form handles. A column whose entries all underflow gets the
    largest finite scale instead of a division by zero; the next call's
    absorption rebalances it.
    """
    k = jax.nn.softmax(a + g[..., None, :], axis=-1)
    tiny = jnp.finfo(k.dtype).tiny

    def body(carry, _):
        u, _ = carry
        v = 1.0 / jnp.maximum(jnp.einsum("...i,...ij->...j", u, k), tiny)
        u = 1.0 / jnp.einsum("...ij,...j->...i", k, v)
        return (u, v), None

    ones = jnp.ones(a.shape[:-1], k.dtype)
    (u, v), _ = jax.lax.scan(body, (ones, ones), None, length=iterations)
    return u[..., :, None] * k * v[..., None, :], g + jnp.log(v)


def softassign(
    network: PottsTSP,
    key: jax.Array,
    *,
    restarts: int = 256,
    cooling: float = 0.97,
    start: float = 1.1,
    stop: float = 0.02,
    self_coupling: float = 2.5,
    self_coupling_growth: float = 1.0,
    damping: float = 0.5,
    iterations: int = 6,
    sinkhorn_iterations: int = 10,
    noise: float = 0.1,
    cleanup_sweeps: int = 5,
) -> TSPResult:
    """Softassign mean-field annealing from ``restarts`` random starts (vmapped).

    Temperature ``T_k = start T_c cooling^k`` down to ``stop T_c`` (``T_c``
    the softassign critical temperature, module docstring); at each
    temperature ``iterations`` damped synchronous updates
    ``V <- (1 - damping) V + damping Sinkhorn(exp(Q(V) / T))`` with the
    network's true-length couplings (``final_couplings``); then
    ``cleanup_sweeps`` zero-temperature serial sweeps of the Potts network with
    the column penalty ``2 max c + 2 beta_0``. Starts: ``Sinkhorn(exp(noise
    z))``, ``z ~ N(0, 1)``.

    Args:
      network: a :class:`PottsTSP`.
      key: PRNG key (starts and clean-up orders).
      restarts: number of independent restarts R.
      cooling: geometric cooling factor in (0, 1).
      start: first temperature in units of ``T_c``.
      stop: last temperature in units of ``T_c`` (< ``start``).
      self_coupling: ``gamma`` in units of the network's ``edge_scale``
        (>= 0).
      self_coupling_growth: ``gamma`` grows geometrically by this factor over
        the anneal (> 0; 1 keeps it fixed: growing it 4x made the tours 1-4
        points longer on the bundled instances).
      damping: fraction ``a`` in (0, 1] of each update taken.
      iterations: updates per temperature (positive).
      sinkhorn_iterations: Sinkhorn iterations per update (positive; the
        column potentials are carried between updates).
      noise: standard deviation of the starts' log-kernel (> 0).
      cleanup_sweeps: zero-temperature serial sweeps at the end (>= 0).

    Returns:
      A :class:`TSPResult`; ``steps`` counts the synchronous updates plus the
      clean-up sweeps, ``trace`` (R, K) the soft tour length after each
      temperature.

    Raises:
      TypeError: ``network`` not a :class:`PottsTSP`, ``key`` not a PRNG key,
        non-integer counts.
      ValueError: a cooling factor outside (0, 1), ``stop >= start``, a
        damping outside (0, 1], a negative ``self_coupling`` or
        ``cleanup_sweeps``, other non-positive or non-finite settings.
    """
    _check_potts(network)
    check_key(key)
    for name, value in (
        ("restarts", restarts),
        ("iterations", iterations),
        ("sinkhorn_iterations", sinkhorn_iterations),
    ):
        check_positive_int(value, name)
    steps = schedule_steps(start, stop, cooling, noise, cleanup_sweeps)
    check_positive_float(damping, "damping")
    check_positive_float(self_coupling_growth, "self_coupling_growth")
    check_interval(self_coupling, "self_coupling", 0.0)
    if not damping <= 1.0:
        raise ValueError(f"`damping` must be in (0, 1]; got {damping}.")
    schedule = (float(start), float(cooling), steps)
    loops = (int(iterations), int(sinkhorn_iterations), int(cleanup_sweeps))
    coupling = (
        float(self_coupling),
        float(self_coupling_growth),
        float(damping),
        float(noise),
    )
    block = CPU_BLOCK if jax.default_backend() == "cpu" else int(restarts)
    return _softassign(network, key, int(restarts), schedule, loops, coupling, block)


@partial(jax.jit, static_argnums=(2, 3, 4, 5, 6))
def _softassign(network, key, restarts, schedule, loops, coupling, block):
    start, cooling, steps = schedule
    iterations, sinkhorn_iterations, cleanup_sweeps = loops
    self_coupling, growth, damping, noise = coupling
    n = network.state_shape[0]
    c = network.final_couplings
    gamma = self_coupling * network.edge_scale
    t_c = network.assignment_temperature + gamma / n
    beta_clean = 2.0 * jnp.max(c) + 2.0 * network.penalty

    def one(key):
        k_init, k_sweeps = jax.random.split(key)
        logits = noise * jax.random.normal(k_init, (n, n))
        v, g = _sinkhorn(logits, jnp.zeros(n, logits.dtype), sinkhorn_iterations)

        def step(carry, k):
            v, g = carry
            temperature = t_c * start * cooling**k
            g = g / cooling  # the potentials scale as 1 / T
            gamma_k = gamma * growth ** (k / (steps - 1))

            def update(carry, _):
                v, g = carry
                w = c @ (jnp.roll(v, -1, axis=1) + jnp.roll(v, 1, axis=1))
                field = gamma_k * v - w
                new, g = _sinkhorn(field / temperature, g, sinkhorn_iterations)
                return ((1.0 - damping) * v + damping * new, g), None

            (v, g), _ = jax.lax.scan(update, (v, g), None, length=iterations)
            return (v, g), soft_length(network.distances, v)

        (v, _), trace = jax.lax.scan(step, (v, g), jnp.arange(steps))
        for s in range(cleanup_sweeps):
            sweep_key = jax.random.fold_in(k_sweeps, s)
            v = _sweep(network, v, None, beta_clean, sweep_key, c)
        return v, trace

    keys = jax.random.split(key, restarts)
    if block >= restarts:
        outputs, trace = jax.vmap(one)(keys)
    else:
        outputs, trace = jax.lax.map(one, keys, batch_size=block)
    sweeps = jnp.full((restarts,), steps * iterations + cleanup_sweeps, jnp.int32)
    return tour_result(network.distances, outputs, sweeps, trace)
