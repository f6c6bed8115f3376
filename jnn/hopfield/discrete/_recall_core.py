"""Compiled recall loops of the discrete Hopfield network (see :mod:`dhnn`).

Private: :func:`jnn.hopfield.recall` validates its arguments and calls
:func:`recall_core`. Async recall is event-driven (jumps to the next neuron
that flips, O(N) per flip); with ``record=True`` a neuron-by-neuron loop
records every update for worked examples.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import jax
import jax.numpy as jnp


class Recall(NamedTuple):
    """Result of :func:`recall` for one probe.

    Attributes:
      state: (N,) float32 final state.
      sweeps: [] int32 sweeps run (async: passes over all N neurons, the last
        one being the pass without change; sync: parallel updates).
      converged: [] bool, True when a fixed point was reached.
      cycle_length: [] int32, 0 when none was detected, 2 for a sync 2-cycle.
      energy: [] float32 energy of the final state.
    """

    state: jax.Array
    sweeps: jax.Array
    converged: jax.Array
    cycle_length: jax.Array
    energy: jax.Array


class RecallTrace(NamedTuple):
    """Step-by-step record of one recall (``recall(..., trace=True)``).

    ``T = max_sweeps * N`` rows in async mode (one per single-neuron update),
    ``T = max_sweeps`` in sync mode (one per parallel update); rows past
    ``steps`` are padding (NaN, neuron -1).

    Attributes:
      result: the :class:`Recall` of the run.
      states: (T, N) state after each update.
      neurons: (T,) int32 index of the updated neuron (async), -1 for sync.
      fields: async (T,) local field ``h_i`` of the updated neuron; sync (T, N)
        all local fields before the parallel update.
      energies: (T,) energy after each update.
      sweep: (T,) int32 sweep each update belongs to (0-based).
      steps: [] int32 number of valid rows.
    """

    result: Recall
    states: jax.Array
    neurons: jax.Array
    fields: jax.Array
    energies: jax.Array
    sweep: jax.Array
    steps: jax.Array


def _energy(W: jax.Array, s: jax.Array, theta: jax.Array) -> jax.Array:
    return -0.5 * s @ (W @ s) + theta @ s


# ----------------------------------------------------------------------------
# Compiled core
# ----------------------------------------------------------------------------


def _empty_trace(rows: int, n: int, field_shape: tuple[int, ...]) -> dict:
    nan = jnp.float32(jnp.nan)
    return {
        "states": jnp.full((rows, n), nan),
        "neurons": jnp.full((rows,), -1, jnp.int32),
        "fields": jnp.full((rows, *field_shape), nan),
        "energies": jnp.full((rows,), nan),
        "sweep": jnp.full((rows,), -1, jnp.int32),
    }


def _write(buf: dict, t: jax.Array, **row: jax.Array) -> dict:
    return {k: v.at[t].set(row[k]) if k in row else v for k, v in buf.items()}


@functools.partial(
    jax.jit, static_argnames=("mode", "random_order", "max_sweeps", "low", "record")
)
def recall_core(W, state, theta, key, *, mode, random_order, max_sweeps, low, record):
    if mode == "sync":
        out = _recall_sync(W, state, theta, max_sweeps, low, record)
        return out if record else out.result
    args = (W, state, theta, key, random_order, max_sweeps, low)
    return _recall_async_trace(*args) if record else _recall_async(*args)


def _mix32(x: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finaliser: a cheap bijective bit mixer."""
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def _priorities(base, k, n):
    """Visiting order of sweep ``k``: neurons in increasing priority.

    Priorities are unique and carry the neuron's index in their low bits, so
    one ``min`` finds both the next neuron and its place in the order.
    Sequential order is the index itself. Random order puts re-mixed bits
    above the index: one threefry draw per probe, re-mixed with the sweep
    number (a fresh, uniform-looking permutation each sweep, without a sort or
    a new draw per sweep). The top bit stays 0, below the ``never`` sentinel.
    """
    index = jnp.arange(n, dtype=jnp.uint32)
    if base is None:
        return index
    bits = max(1, math.ceil(math.log2(n)))
    salt = (k.astype(jnp.uint32) + 1) * jnp.uint32(0x9E3779B9)
    high = _mix32(base ^ salt) >> (bits + 1)
    return (high << bits) | index


def _recall_async(W, s0, theta, key, random_order, max_sweeps, low):
    """Event-driven async recall: jump straight to the next neuron that flips.

    Neurons are visited in the sweep's order, but a neuron whose sign already
    agrees with its field is a no-op, so the loop only stops at the next
    unstable neuron in that order (found with one vectorised search), flips
    it and updates all fields ``h += delta W[:, j]`` in O(N). The result equals
    the neuron-by-neuron loop (:func:`_recall_async_trace`), up to float32
    rounding of the incrementally maintained fields at exact ties ``h = 0``.
    """
    n = s0.shape[0]
    WT = W.T
    base = jax.random.bits(key, (n,), jnp.uint32) if random_order else None
    never = jnp.uint32(0xFFFFFFFF)
    mask = jnp.uint32((1 << max(1, math.ceil(math.log2(n)))) - 1)  # index bits

    # One flat loop: every step either flips the next unstable neuron of the
    # current sweep or ends the sweep. Under vmap a batch then runs as many
    # steps as its slowest probe's flips plus sweeps (a loop over sweeps with an
    # inner loop over flips would run the worst flip count of every sweep).
    def step(carry):
        s, h, k, next_priority, flipped, _, _ = carry
        r = _priorities(base, k, n)
        new = jnp.where(h - theta >= 0, 1.0, low).astype(s.dtype)
        candidate = (new != s) & (r >= next_priority)
        first = jnp.min(jnp.where(candidate, r, never))
        found = first != never
        j = jnp.where(found, first & mask, 0).astype(jnp.int32)
        delta = jnp.where(found, new[j] - s[j], 0.0)
        end = ~found  # no unstable neuron left in this sweep's order
        return (
            s.at[j].add(delta),
            h + delta * WT[j],
            jnp.where(end, k + 1, k),
            jnp.where(end, jnp.uint32(0), first + 1),
            found,  # a flip in the sweep so far (reset when the sweep ends)
            end & (~flipped | (k + 1 >= max_sweeps)),
            end & ~flipped,
        )

    start = (s0, W @ s0, jnp.int32(0), jnp.uint32(0),
             jnp.bool_(False), jnp.bool_(False), jnp.bool_(False))  # fmt: skip
    s, h, k, *_, converged = jax.lax.while_loop(lambda c: ~c[5], step, start)
    changed = ~converged
    # energy from the maintained fields: O(N) instead of O(N^2)
    return Recall(s, k, ~changed, jnp.int32(0), -0.5 * s @ h + theta @ s)


def _recall_async_trace(W, s0, theta, key, random_order, max_sweeps, low):
    """Neuron-by-neuron async recall that records every update (reference)."""
    n = s0.shape[0]
    buf = _empty_trace(max_sweeps * n, n, ())
    base = jax.random.bits(key, (n,), jnp.uint32) if random_order else None

    def sweep(carry):
        s, k, _, buf = carry
        order = jnp.argsort(_priorities(base, k, n), stable=True)

        def neuron(i, inner):
            s, changed, buf = inner
            j = order[i]
            h = W[j] @ s - theta[j]
            new = jnp.where(h >= 0, 1.0, low).astype(s.dtype)
            changed = changed | (new != s[j])
            s = s.at[j].set(new)
            buf = _write(
                buf,
                k * n + i,
                states=s,
                neurons=j,
                fields=h,
                energies=_energy(W, s, theta),
                sweep=k,
            )
            return s, changed, buf

        s, changed, buf = jax.lax.fori_loop(0, n, neuron, (s, False, buf))
        return s, k + 1, changed, buf

    def running(carry):
        _, k, changed, _ = carry
        return changed & (k < max_sweeps)

    init = (s0, jnp.int32(0), jnp.bool_(True), buf)
    s, k, changed, buf = jax.lax.while_loop(running, sweep, init)
    result = Recall(s, k, ~changed, jnp.int32(0), _energy(W, s, theta))
    return RecallTrace(result, steps=k * n, **buf)


def _recall_sync(W, s0, theta, max_sweeps, low, record):
    n = s0.shape[0]
    buf = _empty_trace(max_sweeps if record else 0, n, (n,))

    def step(carry):
        prev, s, k, _, buf = carry
        h = W @ s - theta
        new = jnp.where(h >= 0, 1.0, low).astype(s.dtype)
        fixed = jnp.all(new == s)
        # a return to the state two updates back, without being fixed: 2-cycle
        cycle = (k > 0) & ~fixed & jnp.all(new == prev)
        status = jnp.where(fixed, 1, jnp.where(cycle, 2, 0)).astype(jnp.int32)
        if record:
            buf = _write(
                buf,
                k,
                states=new,
                fields=h,
                energies=_energy(W, new, theta),
                sweep=k,
            )
        return s, new, k + 1, status, buf

    def running(carry):
        _, _, k, status, _ = carry
        return (status == 0) & (k < max_sweeps)

    init = (s0, s0, jnp.int32(0), jnp.int32(0), buf)
    _, s, k, status, buf = jax.lax.while_loop(running, step, init)
    cycle_length = jnp.where(status == 2, 2, 0).astype(jnp.int32)
    result = Recall(s, k, status == 1, cycle_length, _energy(W, s, theta))
    return RecallTrace(result, steps=k, **buf)
