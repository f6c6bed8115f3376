"""Discrete Hopfield network (D6-D10): energy, overlap and compiled recall.

A network of N binary neurons with symmetric weights ``W`` (N, N) and
thresholds ``theta`` (N,). Neuron ``i`` sees the local field
``h_i = sum_j W_ij s_j - theta_i`` and takes ``+1`` when ``h_i >= 0``, else the
low state (``-1`` in the bipolar convention, ``0`` in the binary one). The
energy ``E(s) = -1/2 s^T W s + theta^T s`` never rises under asynchronous
updates when ``W`` is symmetric with a non-negative diagonal (Hopfield 1982),
so asynchronous recall always reaches a fixed point; synchronous recall ends in
a fixed point or a 2-cycle (Goles, Fogelman-Soulie & Pellegrin 1985).

Everything works on ONE state ``(N,)``; callers ``jax.vmap`` over probes (and
keys). Recall is a ``lax.while_loop`` over sweeps. An asynchronous sweep keeps
the local fields up to date and jumps straight to the next neuron (in the
sweep's order) whose sign disagrees with its field: O(N) per flip, and a
neuron that would not change costs no loop step (``_recall_core``).

Reference: J. J. Hopfield, "Neural networks and physical systems with emergent
collective computational abilities", PNAS 79 (1982).
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int, is_concrete
from jnn.hopfield.discrete._recall_core import Recall, RecallTrace, _energy, recall_core

_recall = recall_core  # the compiled core (tests count its traces)

__all__ = ["Recall", "RecallTrace", "check_states", "energy", "overlap", "recall"]

_LOW = {"bipolar": -1.0, "binary": 0.0}

# ----------------------------------------------------------------------------
# Boundary checks
# ----------------------------------------------------------------------------


def _check_weights(W: Any, *, symmetric: bool, check: bool) -> jax.Array:
    check_array(W, "W", ndim=2, kind="n")
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"`W` must be square (N, N); got shape {tuple(W.shape)}.")
    if symmetric and is_concrete(W):
        w = np.asarray(W, np.float64)
        gap = float(np.max(np.abs(w - w.T)))
        if gap > 1e-5 * max(1.0, float(np.max(np.abs(w)))):
            message = (
                "`W` must be symmetric for the Hopfield convergence theorem; "
                f"max |W - W^T| = {gap:.3g}."
            )
            if check:
                raise ValueError(message + " Pass check=False to allow it.")
            warnings.warn(message, RuntimeWarning, stacklevel=3)
    return jnp.asarray(W, jnp.float32)


def check_states(x: Any, name: str, convention: str, *, ndim: int) -> jax.Array:
    """Check an array of neuron states (±1 or 0/1) and return it as float32.

    Args:
      x: states of rank ``ndim``.
      name: the argument's name for error messages.
      convention: ``"bipolar"`` (values ±1) or ``"binary"`` (values 0/1).
      ndim: required rank (1 for one state, 2 for patterns).

    Raises:
      ValueError: wrong rank, unknown convention, or (when concrete) values
        outside the convention.
    """
    if convention not in _LOW:
        raise ValueError(
            f"`convention` must be 'bipolar' or 'binary'; got {convention!r}."
        )
    check_array(x, name, ndim=ndim)
    if is_concrete(x):
        values = np.unique(np.asarray(x))
        allowed = (-1, 1) if convention == "bipolar" else (0, 1)
        if not np.all(np.isin(values, allowed)):
            raise ValueError(
                f"`{name}` must contain only {allowed} ({convention} convention); "
                f"got values {values[:6].tolist()}."
            )
    return jnp.asarray(x, jnp.float32)


def _check_theta(theta: Any, n: int) -> jax.Array:
    if (
        theta is None
        or isinstance(theta, str)
        or (
            hasattr(theta, "dtype")
            and not np.issubdtype(np.dtype(theta.dtype), np.number)
        )
    ):
        raise TypeError(f"`theta` must be a real scalar or (N,) array; got {theta!r}.")
    theta = jnp.asarray(theta, jnp.float32)
    if theta.ndim != 0 and theta.shape != (n,):
        raise ValueError(
            f"`theta` must be a scalar or have shape ({n},) to match `W`; "
            f"got shape {tuple(theta.shape)}."
        )
    # a NaN threshold makes every comparison false: all units low, "converged"
    if is_concrete(theta):
        values = np.asarray(theta).ravel()
        bad = values[~np.isfinite(values)]
        if bad.size:
            raise ValueError(
                f"`theta` contains NaN or infinite values; got {bad[0]} "
                f"({bad.size} of {values.size})."
            )
    return jnp.broadcast_to(theta, (n,)) if theta.ndim == 0 else theta


def _check_state(state: Any, n: int, convention: str) -> jax.Array:
    state = check_states(state, "state", convention, ndim=1)
    if state.shape[0] != n:
        raise ValueError(
            f"`state` must have N = {n} entries to match `W` ({n}, {n}); "
            f"got shape {tuple(state.shape)}."
        )
    return state


def energy(W: Any, state: Any, theta: Any = 0.0) -> jax.Array:
    """Hopfield energy ``E(s) = -1/2 s^T W s + theta^T s`` of one state.

    Args:
      W: (N, N) weights (symmetry is not required to evaluate E).
      state: (N,) state (±1 or 0/1; any real values are accepted).
      theta: scalar or (N,) thresholds.

    Returns:
      [] float32 energy.
    """
    W = _check_weights(W, symmetric=False, check=False)
    check_array(state, "state", ndim=1, kind="n")
    n = W.shape[0]
    if state.shape[0] != n:
        raise ValueError(
            f"`state` must have N = {n} entries to match `W`; got {state.shape}."
        )
    return _energy(W, jnp.asarray(state, jnp.float32), _check_theta(theta, n))


def overlap(a: Any, b: Any) -> jax.Array:
    """Overlap ``m = a . b / N`` of two bipolar states (1 when equal, -1 reversed).

    Args:
      a: (N,) state.
      b: (N,) state.

    Returns:
      [] float32 overlap.
    """
    check_array(a, "a", ndim=1, kind="n")
    check_array(b, "b", ndim=1, kind="n")
    if a.shape != b.shape:
        raise ValueError(
            f"`a` and `b` must have the same shape; got {a.shape} and {b.shape}."
        )
    a = jnp.asarray(a, jnp.float32)
    return a @ jnp.asarray(b, jnp.float32) / a.shape[0]


def recall(
    W: Any,
    state: Any,
    *,
    mode: str = "async",
    order: str = "sequential",
    key: Any = None,
    theta: Any = 0.0,
    max_sweeps: int = 100,
    convention: str = "bipolar",
    trace: bool = False,
    check: bool = True,
) -> Recall | RecallTrace:
    """Run the network from ``state`` until a fixed point (or cycle, or max_sweeps).

    Update rule (Hopfield 1982): ``h_i = sum_j W_ij s_j - theta_i``,
    ``s_i <- +1 if h_i >= 0 else low`` (low = -1 bipolar, 0 binary).

    * ``mode="async"``: one neuron at a time; a sweep visits all N neurons in
      ``order`` ("sequential" 0..N-1, or "random": a fresh permutation per
      sweep drawn from ``key``). Converged = a whole sweep without change.
      For symmetric ``W`` with non-negative diagonal E never increases and
      recall always converges.
    * ``mode="sync"``: all neurons at once, ``s <- sgn(W s - theta)``. Stops at
      a fixed point (converged) or a 2-cycle (``cycle_length=2``), the only
      limit behaviours for symmetric ``W``.

    Jittable and vmappable over ``state`` and ``key`` (value checks are skipped
    for traced arguments).

    Args:
      W: (N, N) weights; must be symmetric unless ``check=False``.
      state: (N,) initial state (±1, or 0/1 with ``convention="binary"``).
      mode: "async" or "sync".
      order: "sequential" or "random" (async only).
      key: PRNG key, required when ``order="random"``.
      theta: scalar or (N,) thresholds.
      max_sweeps: maximum number of sweeps (async) or parallel updates (sync).
      convention: "bipolar" (±1) or "binary" (0/1) states.
      trace: also record every update (see :class:`RecallTrace`; memory
        O(max_sweeps N^2) in async mode, meant for small worked examples).
      check: raise on a non-symmetric ``W``; with False only warn.

    Returns:
      :class:`Recall`, or :class:`RecallTrace` when ``trace=True``.

    Raises:
      ValueError: bad shapes, values, mode, order or a missing key.
    """
    if mode not in ("async", "sync"):
        raise ValueError(f"`mode` must be 'async' or 'sync'; got {mode!r}.")
    if order not in ("sequential", "random"):
        raise ValueError(f"`order` must be 'sequential' or 'random'; got {order!r}.")
    check_positive_int(max_sweeps, "max_sweeps")
    W = _check_weights(W, symmetric=True, check=check)
    n = W.shape[0]
    state = _check_state(state, n, convention)
    theta = _check_theta(theta, n)
    random_order = mode == "async" and order == "random"
    if random_order and key is None:
        raise ValueError("`key` is required when order='random'; got None.")
    if key is not None:
        check_key(key)
    if not random_order:
        key = jax.random.key(0)  # unused; keeps one traced signature
    return _recall(
        W,
        state,
        theta,
        key,
        mode=mode,
        random_order=random_order,
        max_sweeps=max_sweeps,
        low=_LOW[convention],
        record=trace,
    )
