r"""A faster CPU path for Elman, LSTM and GRU layers (private; DESIGN.md "Fast paths").

A whole layer runs as one ``lax.scan`` from the parameters of Flax's cells (the
same tree as ``nn.SimpleCell``, ``nn.OptimizedLSTMCell``, ``nn.GRUCell`` and
jnn's dropout cells), time-major, with the gate kernels concatenated once
outside the loop. What makes it faster than ``nn.RNN`` on XLA's CPU backend:

* The first layer of an embedding model (:class:`jnn.rnn.CharRNN`) reads
  token ids: its input projection ``W_i e_{x_t} + b_i`` is a row of the
  projected table ``E W_i + b_i`` (``V`` rows, computed once per step of
  training), gathered inside the scan. This removes three of the nine
  ``(B T) x H x G H`` matmuls of a 2-layer training step (the first layer's
  input projection, its weight gradient and its input gradient).
* Time-major layout inside a stack (one transpose in, one out).

Measured (``benchmarks/rnn.py --profile``): hoisting the other layers' input
projection out of the scan, one ``(T B, I) @ (I, G H)`` matmul as cuDNN does,
is *slower* on one CPU core (the small per-step matmuls already run at the
core's peak, while the big ``(T, B, G H)`` buffers cost copies, transposes and
memsets), so those layers project inside the step like Flax's cells. The
exception (:func:`hoist_inputs`): the Elman cell when XLA has two or more
cores. Its per-step products (``B x H x H``, one gate) are too small for XLA's
CPU backend to split over threads, so on one core or two the step takes the
same time; hoisted, a third of its products become one large product that
is split. Measured on a 2-core Xeon, 2 x ``H`` char-RNN, B = 64, T = 100,
both cores: ``H`` = 128 / 256 / 512 steps 11 / 14 / 3 % faster; one core
6 / 3 % slower at 128 / 256 (so not hoisted there); LSTM and GRU slower or
unchanged hoisted on two cores.

The equations, variational dropout (the input mask multiplies ``x`` before
``W_i``, the state mask ``h`` where it meets ``W_h``; with an input mask the
first layer gathers the embeddings instead), variable lengths (the carry is
frozen after each sequence's last step) and reversed directions (padding kept
at the end, as :func:`flax.linen.recurrent.flip_sequences`) are those of the
reference path; ``tests/rnn/test_fast_path.py`` checks outputs, states and
gradients against it. Plain JAX, so forward and reverse mode both work.
Outputs at padded steps differ from Flax's (which keeps running the cell
there); they never reach a valid output or a state, and
:class:`jnn.rnn.RecurrentStack` sets them to zero.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
from flax.linen.recurrent import flip_sequences
from jax import lax

from jnn.rnn.cells import ELMAN_ACTIVATIONS

#: Cells that have a fast layer.
FAST_CELLS = ("elman", "lstm", "gru")


def _concat(params, names, entry):
    return jnp.concatenate([params[n][entry] for n in names], axis=-1)


def _weights(name: str, params):
    """``(W_i (I, G H), b_i (G H,), W_h (H, G H), b_h or None)`` of a cell."""
    if name == "elman":
        return params["i"]["kernel"], params["i"]["bias"], params["h"]["kernel"], None
    if name == "lstm":
        gates = "ifgo"
        return (
            _concat(params, [f"i{g}" for g in gates], "kernel"),
            _concat(params, [f"h{g}" for g in gates], "bias"),
            _concat(params, [f"h{g}" for g in gates], "kernel"),
            None,
        )
    inputs, hidden = ("ir", "iz", "in"), ("hr", "hz", "hn")
    b_hn = params["hn"]["bias"]
    zeros = jnp.zeros((2 * b_hn.shape[0],), b_hn.dtype)
    return (
        _concat(params, inputs, "kernel"),
        _concat(params, inputs, "bias"),
        _concat(params, hidden, "kernel"),
        jnp.concatenate([zeros, b_hn]),
    )


def _step(name: str, w_h, b_h, state_mask, activation: str = "tanh"):
    """``step(carry, gx_t) -> (carry', h')`` of ``name``, ``gx_t = W_i x_t + b``."""
    f = ELMAN_ACTIVATIONS[activation]

    def recurrent(h):
        h_in = h if state_mask is None else h * state_mask
        out = h_in @ w_h
        return out if b_h is None else out + b_h[None]

    def elman(h, gx):
        h = f(gx + recurrent(h))
        return h, h

    def lstm(carry, gx):
        c, h = carry
        i, f, g, o = jnp.split(gx + recurrent(h), 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (c, h), h

    def gru(h, gx):
        x_r, x_z, x_n = jnp.split(gx, 3, axis=-1)
        h_r, h_z, h_n = jnp.split(recurrent(h), 3, axis=-1)
        r = jax.nn.sigmoid(x_r + h_r)
        z = jax.nn.sigmoid(x_z + h_z)
        n = jnp.tanh(x_n + r * h_n)
        h = (1.0 - z) * n + z * h
        return h, h

    return {"elman": elman, "lstm": lstm, "gru": gru}[name]


def _cores() -> int:
    """CPU cores this process may use (XLA's CPU thread pool has as many)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def hoist_inputs(name: str, backend: str | None = None) -> bool:
    """Project a layer's inputs for all steps before its loop (see the module doc).

    True for the Elman cell on XLA's CPU backend with two or more cores; the
    result equals the in-loop projection to float rounding (tested).
    """
    backend = jax.default_backend() if backend is None else backend
    return name == "elman" and backend == "cpu" and _cores() >= 2


def input_weights(name: str, params):
    """``(W_i (I, G H), b_i (G H,))``: the input projection of a cell."""
    return _weights(name, params)[:2]


def fast_layer(
    name: str,
    params,
    x: jax.Array,
    carry,
    *,
    seq_lengths: jax.Array | None = None,
    reverse: bool = False,
    masks=(None, None),
    table: jax.Array | None = None,
    unroll: int = 1,
    activation: str = "tanh",
    hoist: bool = False,
):
    """One recurrent layer over a whole time-major sequence, from a cell's parameters.

    Args:
      name: ``"elman"``, ``"lstm"`` or ``"gru"``.
      params: the cell's parameters (``layer_l/cell`` of a stack).
      x: ``(T, B, I)`` inputs, or with ``table`` ``(T, B)`` int row ids.
      carry: ``(B, H)`` start state, or ``(c, h)`` for an LSTM.
      seq_lengths: optional ``(B,)`` lengths in ``[1, T]``.
      reverse: read each sequence backwards (within its length); outputs are
        returned in the input's order.
      masks: ``(input_mask (B, I), state_mask (B, H))``, each None or the
        variational dropout mask (no input mask with ``table``).
      table: optional ``(V, G H)`` projected inputs ``W_i e_v + b_i`` (of an
        embedding table's rows); step ``t`` reads rows ``x[t]``.
      unroll: ``lax.scan``'s unroll.
      activation: the Elman cell's ``f``, ``"tanh"`` or ``"relu"``.
      hoist: project ``x`` for all steps before the loop (one ``(T B, I) @
        (I, G H)`` product) instead of step by step (no effect with ``table``).

    Returns:
      ``(carry, outputs)``: the state after each sequence's last valid step
      and the ``(T, B, H)`` outputs (unspecified on padded steps).
    """
    w_i, b_i, w_h, b_h = _weights(name, params)

    def flip(a):
        return flip_sequences(a, seq_lengths, num_batch_dims=1, time_major=True)

    if reverse:
        x = flip(x)
    if table is None:
        if masks[0] is not None:
            x = x * masks[0][None]

        if hoist:  # one product for all steps (see hoist_inputs)
            x = jnp.einsum("tbi,ig->tbg", x, w_i) + b_i[None, None]

            def project(x_t):
                return x_t

        else:

            def project(x_t):
                return x_t @ w_i + b_i[None]

    else:

        def project(tokens_t):
            return table[tokens_t]

    inner = _step(name, w_h, b_h, masks[1], activation)

    def step(carry, x_t):
        return inner(carry, project(x_t))

    if seq_lengths is None:
        body, xs = step, x
    else:
        valid = jnp.arange(x.shape[0])[:, None, None] < seq_lengths[None, :, None]

        def body(carry, inputs):
            x_t, valid_t = inputs
            new, y = step(carry, x_t)
            new = jax.tree.map(lambda a, b: jnp.where(valid_t, a, b), new, carry)
            return new, y

        xs = (x, valid)
    carry, outputs = lax.scan(body, carry, xs, unroll=unroll)
    return carry, flip(outputs) if reverse else outputs
