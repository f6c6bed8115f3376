"""Dense associative memory and the modern continuous Hopfield network.

Dense associative memory (Krotov & Hopfield 2016, "Dense associative memory
for pattern recognition", NeurIPS) replaces the quadratic Hopfield energy by a
sum of a rapidly growing interaction function ``F`` of the overlaps::

    E(s) = - sum_mu F(xi_mu . s),  F(x) = x^n (n >= 2)  or  F(x) = exp(x)

(the exponential is Demircigil et al. 2017, "On a model of associative memory
with huge storage capacity"). ``n = 2`` is the classical Hopfield energy up to
constants; larger ``n`` store about ``N^(n-1)`` patterns instead of ``0.14 N``.

The modern continuous Hopfield network (Ramsauer et al. 2020, "Hopfield
networks is all you need", ICLR 2021) stores real patterns ``X`` (M, d) and
updates a continuous state by ``xi <- X^T softmax(beta X xi)``, which is one
step of attention with the state as query and the patterns as keys and values.

Every function works on ONE state and is vmapped by the caller.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jnn._checks import (
    check_array,
    check_key,
    check_positive_float,
    check_positive_int,
    is_concrete,
)

INTERACTIONS = ("polynomial", "exponential")
ORDERS = ("sequential", "random")


class DenseRecall(NamedTuple):
    """The end of a dense-memory recall.

    Attributes:
      state: (N,) float32 of ±1, the final state.
      sweeps: [] int32, sweeps run (the last one is the sweep with no change
        when converged).
      converged: [] bool, a full sweep changed no neuron.
      energy: [] float32, the dense energy of the final state.
    """

    state: jax.Array
    sweeps: jax.Array
    converged: jax.Array
    energy: jax.Array


class ModernRecall(NamedTuple):
    """The end of a modern-Hopfield retrieval.

    Attributes:
      state: (d,) float32, the retrieved state.
      iterations: [] int32, updates applied.
      converged: [] bool, the last update moved the state by < ``tol`` (max-abs).
      energy: [] float32, the modern energy of the final state.
    """

    state: jax.Array
    iterations: jax.Array
    converged: jax.Array
    energy: jax.Array


# --- input checks (host side, before tracing) --------------------------------


def _check_bipolar(x, name: str, ndim: int) -> None:
    check_array(x, name, ndim=ndim)
    if is_concrete(x) and not bool(np.all(np.abs(np.asarray(x)) == 1)):
        raise ValueError(f"`{name}` must hold only -1 and +1 (bipolar states).")


def _check_dense_args(patterns, state, n: int, interaction: str) -> None:
    _check_bipolar(patterns, "patterns", 2)
    _check_bipolar(state, "state", 1)
    if patterns.shape[1] != state.shape[0]:
        raise ValueError(
            f"`state` must have N = patterns.shape[1] = {patterns.shape[1]} "
            f"entries; got shape {tuple(state.shape)}."
        )
    if interaction not in INTERACTIONS:
        raise ValueError(
            f"`interaction` must be one of {INTERACTIONS}; got {interaction!r}."
        )
    check_positive_int(n, "n")
    if n < 2:
        raise ValueError(f"`n` must be >= 2 (n = 2 is the classical network); got {n}.")


# --- dense associative memory -------------------------------------------------


def _interaction_gain(overlap_rest, column, n: int, interaction: str):
    """sum_mu F(rest + xi_i) - F(rest - xi_i), or a number of the same sign.

    Args:
      overlap_rest: (M,) sum_{j != i} xi_mu_j s_j.
      column: (M,) xi_mu_i.
      n: the power of the polynomial.
      interaction: "polynomial" or "exponential".
    """
    up, down = overlap_rest + column, overlap_rest - column
    if interaction == "exponential":
        # sum exp(a) - sum exp(b) has the sign of lse(a) - lse(b); exp would
        # overflow float32 once an overlap exceeds 88.
        return jax.nn.logsumexp(up) - jax.nn.logsumexp(down)
    return jnp.sum(up**n - down**n)


def dense_energy(patterns, state, *, n: int = 3, interaction: str = "polynomial"):
    """Energy of the dense associative memory (Krotov & Hopfield 2016, eq. 2).

    ``E = - sum_mu F(xi_mu . s)`` with ``F(x) = x^n`` ("polynomial") or
    ``F(x) = exp(x)`` ("exponential", Demircigil et al. 2017). The exponential
    energy overflows float32 when an overlap exceeds ~88 (N > 88 at a stored
    pattern); the recall itself stays exact (it compares log-sum-exps).

    Args:
      patterns: (M, N) array of ±1, the stored patterns ``xi_mu``.
      state: (N,) array of ±1.
      n: the power of the polynomial interaction (ignored for "exponential").
      interaction: "polynomial" or "exponential".

    Returns:
      [] float32 energy.
    """
    _check_dense_args(patterns, state, n, interaction)
    return _dense_energy(jnp.asarray(patterns, jnp.float32), state, n, interaction)


def _dense_energy(patterns, state, n: int, interaction: str):
    overlaps = patterns @ jnp.asarray(state, jnp.float32)
    if interaction == "exponential":
        return -jnp.exp(jax.nn.logsumexp(overlaps))
    return -jnp.sum(overlaps**n)


def _sweep(columns, n: int, interaction: str, s, overlaps, order):
    """One asynchronous sweep: every neuron once, in ``order``.

    Keeps the overlaps ``m = X s`` (M,) up to date, so one neuron costs O(M).
    """

    def update(pos, carry):
        s, overlaps, changed = carry
        i = order[pos]
        column = columns[i]
        rest = overlaps - column * s[i]
        gain = _interaction_gain(rest, column, n, interaction)
        new = jnp.where(gain >= 0, 1.0, -1.0)  # h >= 0 -> +1, as in the seed
        overlaps = rest + column * new
        return s.at[i].set(new), overlaps, changed | (new != s[i])

    return lax.fori_loop(0, s.shape[0], update, (s, overlaps, jnp.array(False)))


def dense_recall(
    patterns,
    state,
    *,
    n: int = 3,
    interaction: str = "polynomial",
    order: str = "sequential",
    key=None,
    max_sweeps: int = 100,
) -> DenseRecall:
    """Asynchronous recall in a dense associative memory (Krotov & Hopfield 2016).

    Each neuron in turn takes the sign that lowers the energy (eq. 3)::

        s_i <- sign( sum_mu [ F( xi_mu_i + sum_{j!=i} xi_mu_j s_j)
                             - F(-xi_mu_i + sum_{j!=i} xi_mu_j s_j) ] )

    with sign(0) = +1, in sweeps over all N neurons (``order="sequential"``:
    0..N-1; ``"random"``: a fresh permutation per sweep drawn from ``key``)
    until a full sweep changes nothing or ``max_sweeps`` is reached. A compiled
    ``lax.while_loop`` over sweeps; jittable and vmappable over ``state`` (and
    ``key``). With ``n = 2`` it is exactly the classical recall with Hebbian
    weights.

    Args:
      patterns: (M, N) array of ±1, the stored patterns.
      state: (N,) array of ±1, the probe.
      n: power of ``F(x) = x^n`` (>= 2); larger n stores more patterns.
      interaction: "polynomial" (x^n) or "exponential" (exp(x)).
      order: "sequential" or "random".
      key: PRNG key, required for ``order="random"``.
      max_sweeps: the most sweeps to run.

    Returns:
      A :class:`DenseRecall`.

    Raises:
      ValueError: non-bipolar or mismatched arrays, bad n, interaction or order,
        or no key for a random order.
    """
    _check_dense_args(patterns, state, n, interaction)
    check_positive_int(max_sweeps, "max_sweeps")
    if order not in ORDERS:
        raise ValueError(f"`order` must be one of {ORDERS}; got {order!r}.")
    if order == "random" and key is None:
        raise ValueError("`key` is required when `order='random'`.")
    if key is not None:
        check_key(key)
    patterns = jnp.asarray(patterns, jnp.float32)
    return _dense_recall(patterns, state, n, interaction, order, key, max_sweeps)


def _dense_recall(patterns, state, n, interaction, order, key, max_sweeps):
    size = patterns.shape[1]
    columns = patterns.T  # (N, M): row i holds xi_mu_i for all mu
    s0 = jnp.asarray(state, jnp.float32)
    key = jax.random.key(0) if key is None else key

    def cond(carry):
        _, _, sweeps, changed, _ = carry
        return changed & (sweeps < max_sweeps)

    def body(carry):
        s, overlaps, sweeps, _, key = carry
        key, sub = jax.random.split(key)
        if order == "random":
            perm = jax.random.permutation(sub, size)
        else:
            perm = jnp.arange(size)
        s, overlaps, changed = _sweep(columns, n, interaction, s, overlaps, perm)
        return s, overlaps, sweeps + 1, changed, key

    init = (s0, patterns @ s0, jnp.int32(0), jnp.array(True), key)
    s, _, sweeps, changed, _ = lax.while_loop(cond, body, init)
    energy = _dense_energy(patterns, s, n, interaction)
    return DenseRecall(s, sweeps, ~changed, energy)


# --- modern continuous Hopfield network --------------------------------------


def _check_modern_args(patterns, state, beta) -> None:
    check_array(patterns, "patterns", ndim=2, kind="n")
    check_array(state, "state", ndim=1, kind="n")
    if patterns.shape[1] != state.shape[0]:
        raise ValueError(
            f"`state` must have d = patterns.shape[1] = {patterns.shape[1]} "
            f"entries; got shape {tuple(state.shape)}."
        )
    check_positive_float(beta, "beta")


def modern_update(patterns, state, *, beta: float = 1.0):
    """One update of the modern Hopfield network (Ramsauer et al. 2020, eq. 3).

    ``xi_new = X^T softmax(beta X xi)``: the attention of query ``xi`` over
    keys and values ``X``; with ``beta = 1/sqrt(d)`` it equals
    ``softmax(q K^T / sqrt(d)) V`` for ``K = V = X``.

    Args:
      patterns: (M, d) float, the stored patterns ``X`` (one per row).
      state: (d,) float, the state (query) ``xi``.
      beta: inverse temperature (> 0).

    Returns:
      (d,) float32, the new state.
    """
    _check_modern_args(patterns, state, beta)
    return _modern_update(_f32(patterns), _f32(state), beta)


def _f32(x):
    return jnp.asarray(x, jnp.float32)


def _modern_update(patterns, state, beta):
    return patterns.T @ jax.nn.softmax(beta * (patterns @ state))


def modern_energy(patterns, state, *, beta: float = 1.0):
    """Energy of the modern Hopfield network (Ramsauer et al. 2020, eq. 2).

    ``E = -lse(beta, X xi) + 1/2 xi.xi + ln(M)/beta + 1/2 max_mu |x_mu|^2``
    with ``lse(beta, z) = log(sum_mu exp(beta z_mu)) / beta``; the constants
    make ``0 <= E <= 2 max_mu |x_mu|^2`` at the patterns' convex hull.

    Args:
      patterns: (M, d) float, the stored patterns (rows).
      state: (d,) float.
      beta: inverse temperature (> 0).

    Returns:
      [] float32 energy.
    """
    _check_modern_args(patterns, state, beta)
    return _modern_energy(_f32(patterns), _f32(state), beta)


def _modern_energy(patterns, state, beta):
    lse = jax.nn.logsumexp(beta * (patterns @ state)) / beta
    largest = jnp.max(jnp.sum(patterns * patterns, axis=1))
    count = patterns.shape[0]
    return -lse + 0.5 * state @ state + np.log(count) / beta + 0.5 * largest


def modern_recall(
    patterns,
    state,
    *,
    beta: float = 1.0,
    max_iterations: int = 100,
    tol: float = 1e-6,
) -> ModernRecall:
    """Iterate :func:`modern_update` until the state stops moving.

    A compiled ``lax.while_loop``: stops when ``max|xi_new - xi| < tol`` or
    after ``max_iterations`` updates. The energy never increases along the
    way (Ramsauer et al. 2020, Theorem 1); with a large ``beta`` one update
    usually retrieves the stored pattern nearest the query.

    Args:
      patterns: (M, d) float, the stored patterns (rows).
      state: (d,) float, the query.
      beta: inverse temperature (> 0).
      max_iterations: the most updates.
      tol: the convergence threshold on the max-abs step.

    Returns:
      A :class:`ModernRecall`.
    """
    _check_modern_args(patterns, state, beta)
    check_positive_int(max_iterations, "max_iterations")
    check_positive_float(tol, "tol")
    patterns, state = _f32(patterns), _f32(state)

    def cond(carry):
        _, iterations, step = carry
        return (step >= tol) & (iterations < max_iterations)

    def body(carry):
        xi, iterations, _ = carry
        new = _modern_update(patterns, xi, beta)
        return new, iterations + 1, jnp.max(jnp.abs(new - xi))

    init = (state, jnp.int32(0), jnp.array(jnp.inf, jnp.float32))
    xi, iterations, step = lax.while_loop(cond, body, init)
    energy = _modern_energy(patterns, xi, beta)
    return ModernRecall(xi, iterations, step < tol, energy)
