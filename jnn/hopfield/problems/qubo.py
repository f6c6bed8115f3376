r"""Problem -> energy -> weights (curriculum D5): binary quadratic programs.

A quadratic unconstrained binary optimisation (QUBO) problem

.. math:: \min_{x \in \{0,1\}^N} f(x) = x^\top Q x + c^\top x

is a Hopfield energy in disguise. Because ``x_i^2 = x_i`` on binary states,
``f(x) = sum_{i != j} Q_ij x_i x_j + sum_i (c_i + Q_ii) x_i``, which is the
interaction energy ``-x^T W x / 2 - I^T x`` of a sigmoid CHNN with

.. math:: W = -(Q + Q^\top) \text{ off the diagonal}, \quad W_{ii} = 0,
          \qquad I = -(c + \operatorname{diag} Q).

So :func:`qubo` maps any such problem to :class:`~jnn.hopfield.continuous.chnn.CHNN`
parameters (Hopfield & Tank 1985), constraints enter as quadratic penalties
(:func:`penalty`, :func:`one_hot_penalty`) and :func:`solve_qubo` runs many
restarts of the analogue dynamics in one compiled call, optionally annealing
the gain (mean-field annealing, Peterson & Anderson 1987). Worked problems
(max-cut, the Tank-Hopfield A/D converter) live in
:mod:`jnn.hopfield.problems.qubo_problems`.

The full CHNN energy adds the leak term: at a binary corner it is the constant
``N ln 2 / (gain tau)`` (sigmoid), so high gain makes the CHNN's minima
approach those of ``f``.

References:
  J. J. Hopfield & D. W. Tank, "'Neural' computation of decisions in
  optimization problems", Biological Cybernetics 52:141-152 (1985).
  C. Peterson & J. R. Anderson, "A mean field theory learning algorithm for
  neural networks", Complex Systems 1:995-1019 (1987).
  A. Lucas, "Ising formulations of many NP problems", Frontiers in Physics
  2:5 (2014).
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import diffrax
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.hopfield.continuous.checks import (
    _state_shape,
    check_diffrax_objects,
    check_network,
)
from jnn.hopfield.continuous.chnn import CHNN, chnn
from jnn.hopfield.continuous.simulation import (
    final_state,
    reached_steady_state,
    simulate,
)

MAX_BRUTE_FORCE_VARIABLES = 20  # 2^20 states x 20 bits, enumerated in chunks
_CHUNK_BITS = 12


def _float(x: Any, name: str, ndim: int | None = None) -> jax.Array:
    """A real array (lists accepted) after the boundary checks, as a float."""
    x = np.asarray(x) if isinstance(x, list | tuple) else x
    check_array(x, name, ndim=ndim, kind="n")
    x = jnp.asarray(x)
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _matrix(q: Any, name: str) -> jax.Array:
    """A square float matrix after the boundary checks."""
    q = _float(q, name, ndim=2)
    if q.shape[0] != q.shape[1]:
        raise ValueError(f"`{name}` must be a square (N, N) matrix; got {q.shape}.")
    return q


def _vector(c: Any, n: int, name: str, dtype) -> jax.Array:
    """A (n,) float vector (zeros when None) after the boundary checks."""
    if c is None:
        return jnp.zeros((n,), dtype)
    c = _float(c, name, ndim=1)
    if c.shape != (n,):
        raise ValueError(f"`{name}` must have shape ({n},); got {c.shape}.")
    return c.astype(dtype)


def qubo_weights(Q: Any, c: Any = None) -> tuple[jax.Array, jax.Array]:
    """The CHNN weights and bias whose interaction energy is ``f`` on {0,1}^N.

    Args:
      Q: (N, N) float, any square matrix (not necessarily symmetric).
      c: (N,) float linear term; zeros when None.

    Returns:
      ``(W, I)``: (N, N) symmetric with zero diagonal, ``W = -(Q + Q^T)``
      off the diagonal, and (N,) ``I = -(c + diag Q)``.

    Raises:
      ValueError: Q not square, c of the wrong shape, NaN or inf entries.
    """
    q = _matrix(Q, "Q")
    c = _vector(c, q.shape[0], "c", q.dtype)
    off_diagonal = 1.0 - jnp.eye(q.shape[0], dtype=q.dtype)
    return -(q + q.T) * off_diagonal, -(c + jnp.diagonal(q))


def qubo(Q: Any, c: Any = None, *, gain: float | None = None, tau: float = 1.0) -> CHNN:
    """A sigmoid CHNN whose interaction energy equals ``x^T Q x + c^T x`` on {0,1}^N.

    Args:
      Q: (N, N) float quadratic term (any square matrix).
      c: (N,) float linear term; zeros when None.
      gain: amplifier gain; None picks ``10 * critical_gain`` (see
        :func:`critical_gain`), sharp enough that the minima are near-binary
        whatever the scale of Q (needs a concrete Q: pass a gain under jit).
      tau: time constant, > 0.

    Returns:
      The :class:`CHNN` (``activation="sigmoid"``, outputs ``v in (0, 1)``).

    Raises:
      ValueError: as :func:`qubo_weights`; gain or tau not positive.
    """
    check_positive_float(tau, "tau")
    if gain is not None:
        check_positive_float(gain, "gain")
    w, b = qubo_weights(Q, c)
    if gain is None:
        gain = 10.0 * _critical_gain(np.asarray(w, np.float64), np.asarray(b), tau)
    check_positive_float(gain, "gain")
    return chnn(w, b, tau=tau, gain=gain, activation="sigmoid")


def _critical_gain(w: np.ndarray, b: np.ndarray, tau: float) -> float:
    """``4 / (tau rho(W))``; falls back to the bias scale when W = 0."""
    rho = float(np.max(np.abs(np.linalg.eigvalsh(w)))) if w.size else 0.0
    scale = rho if rho > 0 else float(np.max(np.abs(b), initial=0.0))
    return 4.0 / (tau * max(scale, 1e-12))


def critical_gain(params: CHNN) -> float:
    """The gain below which the unbiased network has one fixed point, ``v = 1/2``.

    Linearising ``du/dt = -u/tau + W g(gain u)`` at ``u = 0`` (slope of the
    sigmoid ``gain/4``) gives the Jacobian ``-I/tau + (gain/4) W``; the
    symmetric point loses stability when ``(gain/4) lambda_max(W) = 1/tau``.
    We use the spectral radius ``rho(W)`` (a safe lower bound, also for tanh
    whose slope is ``gain``, counted here as a sigmoid's for simplicity). The
    bias shifts the fixed point, so this is the temperature scale at which
    mean-field annealing starts to decide, not an exact bifurcation.

    Args:
      params: a dense :class:`CHNN` (concrete, not traced).

    Returns:
      ``4 / (tau rho(W))`` as a Python float.

    Raises:
      TypeError: ``params`` is not a dense :class:`CHNN`.
    """
    _check_dense(params)
    return _critical_gain(
        np.asarray(params.weights, np.float64),
        np.asarray(params.bias, np.float64),
        float(params.tau),
    )


def _check_dense(params: Any) -> None:
    if not isinstance(params, CHNN):
        raise TypeError(
            "`params` must be a dense CHNN (from chnn, qubo or max_cut); "
            f"got {type(params).__name__}."
        )


def gain_schedule(params: CHNN, stages: int = 8, *, start: float = 0.5) -> np.ndarray:
    """A geometric gain schedule for :func:`solve_qubo`'s ``anneal``.

    From ``start * critical_gain(params)`` to the network's own gain (the
    final, sharpest stage); for mean-field annealing (Peterson & Anderson
    1987) the gain is the inverse temperature.

    Args:
      params: a dense :class:`CHNN`.
      stages: number of gains, >= 1.
      start: first gain as a multiple of :func:`critical_gain`, > 0.

    Returns:
      (stages,) float32 gains, monotone, ending at ``params.gain``.
    """
    _check_dense(params)
    check_positive_int(stages, "stages")
    check_positive_float(start, "start")
    first = start * critical_gain(params)
    return np.geomspace(first, float(params.gain), stages).astype(np.float32)


def qubo_objective(Q: Any, c: Any, x: Any) -> jax.Array:
    """``f(x) = x^T Q x + c^T x`` for binary states ``x`` (..., N), batched."""
    q = _matrix(Q, "Q")
    c = _vector(c, q.shape[0], "c", q.dtype)
    x = _float(x, "x").astype(q.dtype)
    if x.shape[-1:] != (q.shape[0],):
        raise ValueError(f"`x` must have shape (..., {q.shape[0]}); got {x.shape}.")
    return jnp.einsum("...i,ij,...j->...", x, q, x) + x @ c


def brute_force_qubo(Q: Any, c: Any = None) -> tuple[jax.Array, jax.Array]:
    """The exact minimiser of ``x^T Q x + c^T x`` over all 2^N binary states.

    All states are enumerated in compiled chunks of 2^12 (bit i of the state's
    index is ``x_i``); ties go to the smallest index.

    Args:
      Q: (N, N) float with N <= 20 (:data:`MAX_BRUTE_FORCE_VARIABLES`).
      c: (N,) float; zeros when None.

    Returns:
      ``(x_best (N,) float 0/1, f_best [])``.

    Raises:
      ValueError: N > 20, or as :func:`qubo_weights`.
    """
    q = _matrix(Q, "Q")
    n = q.shape[0]
    if n > MAX_BRUTE_FORCE_VARIABLES:
        raise ValueError(
            f"`Q` has N = {n} variables; brute force enumerates 2^N states and "
            f"supports N <= {MAX_BRUTE_FORCE_VARIABLES}."
        )
    c = _vector(c, n, "c", q.dtype)
    index, value = _brute_force(q, c, n)
    return _bits(index[None], n, q.dtype)[0], value


def _bits(index: jax.Array, n: int, dtype) -> jax.Array:
    """(K,) state indices -> (K, n) 0/1 states (bit i is x_i)."""
    return ((index[:, None] >> jnp.arange(n)[None, :]) & 1).astype(dtype)


@functools.partial(jax.jit, static_argnums=2)
def _brute_force(q: jax.Array, c: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    chunk_bits = min(n, _CHUNK_BITS)
    low = jnp.arange(2**chunk_bits, dtype=jnp.int32)

    def chunk(high):
        index = (high << chunk_bits) + low
        x = _bits(index, n, q.dtype)
        f = jnp.sum((x @ q) * x, axis=1) + x @ c
        k = jnp.argmin(f)
        return index[k], f[k]

    index, value = jax.lax.map(chunk, jnp.arange(2 ** (n - chunk_bits)))
    best = jnp.argmin(value)
    return index[best], value[best]


def penalty(A: Any, b: Any, weight: float) -> tuple[jax.Array, jax.Array]:
    """The QUBO terms of the constraint penalty ``weight * ||A x - b||^2``.

    ``||A x - b||^2 = x^T A^T A x - 2 (A^T b)^T x + b^T b``, so the returned
    ``(Q, c)`` reproduce it up to the constant ``weight * b^T b``, which is
    dropped (it does not move the minimiser). Add them to an objective's
    ``(Q, c)``; a large enough weight makes every minimiser feasible.

    Args:
      A: (K, N) float constraint matrix.
      b: (K,) float right-hand side.
      weight: penalty weight, > 0.

    Returns:
      ``(Q (N, N), c (N,))`` with ``Q = weight A^T A``, ``c = -2 weight A^T b``.

    Raises:
      ValueError: wrong shapes, NaN entries, weight not positive.
    """
    a = _float(A, "A", ndim=2)
    if b is None:
        raise TypeError(f"`b` must be a ({a.shape[0]},) array; got None.")
    b = _vector(b, a.shape[0], "b", a.dtype)
    check_positive_float(weight, "weight")
    return weight * (a.T @ a), -2.0 * weight * (a.T @ b)


def one_hot_penalty(groups: Any, weight: float) -> tuple[jax.Array, jax.Array]:
    """Penalty ``weight * sum_g (sum_{i in g} x_i - 1)^2``: one variable per group.

    The standard "exactly one" constraint (one city per tour position, one
    colour per node). It is :func:`penalty` with ``A = groups``, ``b = 1``;
    at a feasible x the returned terms sum to ``-weight * G``.

    Args:
      groups: (G, N) 0/1 membership, ``groups[g, i] = 1`` when x_i is in
        group g; e.g. rows of an (R, C) grid of variables are
        ``jnp.kron(jnp.eye(R), jnp.ones((1, C)))``.
      weight: penalty weight, > 0.

    Returns:
      ``(Q (N, N), c (N,))``.
    """
    g = _float(groups, "groups", ndim=2)
    if not np.all((np.asarray(g) == 0) | (np.asarray(g) == 1)):
        raise ValueError("`groups` must be a (G, N) 0/1 membership matrix.")
    return penalty(g, np.ones(g.shape[0], np.float32), weight)


class QUBOSolution(NamedTuple):
    """What :func:`solve_qubo` returns.

    Attributes:
      states: (R, N) float, the decoded binary state of each restart
        (0/1 for sigmoid, ±1 for tanh networks); (R, *S) for a network whose
        state has shape S, e.g. (R, n, n) for the TSP network.
      objective: (R,) the interaction energy of each decoded state, which is
        ``f(x) = x^T Q x + c^T x`` for a network built by :func:`qubo`.
      best_state: (N,) (or S) the restart with the lowest objective.
      best_objective: [] its objective.
      steady: (R,) bool, True when the last stage ended at a steady state.
      num_steps: (R,) int, solver steps summed over the stages.
    """

    states: jax.Array
    objective: jax.Array
    best_state: jax.Array
    best_objective: jax.Array
    steady: jax.Array
    num_steps: jax.Array


def solve_qubo(
    params: Any,
    key: jax.Array,
    *,
    restarts: int = 64,
    t1: float = 20.0,
    anneal: Any = None,
    noise: float = 0.01,
    solver: diffrax.AbstractSolver | None = None,
) -> QUBOSolution:
    """Minimise the network's energy from ``restarts`` random starts, vmapped.

    Restart r starts at ``u0[r]`` with ``u0 = noise * jax.random.normal(key,
    (restarts, N))`` (outputs near ``g(0)``, the
    centre of the hypercube: no corner is favoured), integrates the CHNN with
    :func:`~jnn.hopfield.simulate` until a steady state (or ``t1``) and
    decodes ``x_i = [u_i > 0]`` (``v_i > 1/2`` for sigmoid). With ``anneal``,
    the run is a sequence of stages, one per gain, each starting from the
    previous stage's internal state ``u``: raising the gain at fixed ``u``
    sharpens the outputs, so early low-gain stages settle on a smooth,
    nearly convex energy and later ones commit to a corner (mean-field
    annealing with the gain as inverse temperature).

    Args:
      params: the network (a :class:`CHNN` from :func:`qubo`, or any network
        of the chnn protocol).
      key: PRNG key for the initial states.
      restarts: number of independent starts, run in one vmapped call.
      t1: integration time per stage (each stage stops early when steady).
      anneal: None (one stage at ``params.gain``) or a sequence of gains,
        e.g. :func:`gain_schedule`.
      noise: standard deviation of the initial internal states, > 0.
      solver: Diffrax solver; default ``Tsit5``.

    Returns:
      A :class:`QUBOSolution`.

    Raises:
      ValueError: bad ``restarts``, ``t1``, ``noise`` or ``anneal``.
      TypeError: ``key`` is not a PRNG key.
    """
    check_network(params)
    check_positive_int(restarts, "restarts")
    check_positive_float(t1, "t1")
    check_positive_float(noise, "noise")
    check_key(key)
    check_diffrax_objects(solver=solver)
    gains = jnp.reshape(jnp.asarray(params.gain), (1,))
    if anneal is not None:
        gains = _float(anneal, "anneal", ndim=1).astype(jnp.float32)
        if not bool(jnp.all(gains > 0)):
            raise ValueError(f"`anneal` gains must be > 0; got {anneal}.")
    u0 = noise * jax.random.normal(key, (restarts, *_state_shape(params)))
    return _solve(params, u0, gains.astype(jnp.result_type(params.gain)), t1, solver)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _solve(params, u0, gains, t1, solver) -> QUBOSolution:
    def one(u):
        def stage(u, gain):
            sol = simulate(params.replace(gain=gain), u, t1=t1, solver=solver)
            return final_state(sol), (reached_steady_state(sol), sol.stats["num_steps"])

        u, (steady, steps) = jax.lax.scan(stage, u, gains)
        return u, steady[-1], jnp.sum(steps)

    u, steady, steps = jax.vmap(one)(u0)
    low = 0.0 if params.activation == "sigmoid" else -1.0
    states = jnp.where(u > 0, 1.0, low).astype(u.dtype)
    objective = jax.vmap(params.interaction_energy)(states)
    best = jnp.argmin(objective)
    return QUBOSolution(states, objective, states[best], objective[best], steady, steps)
