"""The fast path's layers: one time-major scan per layer (private).

:class:`jnn.rnn.RecurrentStack` uses these when its ``path`` resolves to
``"fast"`` (see :func:`jnn.rnn.sequence.resolve_path`); :mod:`jnn.rnn._fast`
holds the scan itself. They take the Flax cells' own parameters and draw the
same dropout masks, so both paths give the same results to float rounding.
"""

from __future__ import annotations

from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn.rnn._fast import fast_layer, hoist_inputs, input_weights
from jnn.rnn.cells import _CELL_TYPES, ELMAN_ACTIVATIONS, hidden_state
from jnn.rnn.dropout import draw_masks


class _Embedded(NamedTuple):
    """Layer inputs ``table[tokens]``, kept apart for the fast path.

    It projects the ``(V, F)`` table once (``V`` rows instead of ``B T``) and
    gathers the projected rows step by step.
    """

    table: jax.Array
    tokens: jax.Array  # (T, B) int


def _scanned_masks(cell: nn.Module, carry, x_t: jax.Array, rate: float):
    """The cell's dropout masks, drawn as :func:`recurrent_layer`'s scan draws them.

    Flax's lifted scan hands the cell an RNG stream of its own; a one-step scan
    configured as ``nn.RNN``'s gives the very masks of the reference path.
    """

    def draw(module, carry, x_t):
        masks = draw_masks(module, x_t, hidden_state(carry), rate, rate, False)
        return carry, masks

    scan = nn.transforms.scan(
        draw,
        variable_broadcast="params",
        split_rngs={"params": False, "dropout": False},
    )
    _, (input_mask, state_mask) = scan(cell, carry, x_t[None])
    return input_mask[0], state_mask[0]


class _FastDirection(nn.Module):
    """One direction of a fast-path layer (time-major); parameters at ``cell/...``.

    The parameters are created by the Flax cell itself (one step at init), so
    the tree, the initialisers and the dropout masks (drawn by the cell's own
    RNG stream) are those of the reference path.
    """

    cell: str
    features: int
    dropout: float
    train: bool
    reverse: bool = False
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x, initial_carry, seq_lengths):
        extra = {}
        if self.activation != "tanh":  # the Elman cell's f (checked by the stack)
            extra["activation_fn"] = ELMAN_ACTIVATIONS[self.activation]
        cell = _CELL_TYPES[self.cell](
            self.features,
            input_dropout=self.dropout,
            state_dropout=self.dropout,
            deterministic=not self.train,
            name="cell",
            **extra,
        )
        embedded = isinstance(x, _Embedded)
        x_0 = x.table[x.tokens[0]] if embedded else x[0]
        carry = initial_carry
        if carry is None:
            carry = cell.initialize_carry(jax.random.key(0), x_0.shape)
        if self.is_initializing():
            cell(carry, x_0)
        masks = (None, None)
        if self.train and self.dropout > 0:
            masks = _scanned_masks(cell, carry, x_0, self.dropout)
        params = cell.variables["params"]
        table = None
        if embedded and masks[0] is None:
            w_i, b_i = input_weights(self.cell, params)
            table, x = x.table @ w_i + b_i[None], x.tokens
        elif embedded:
            x = x.table[x.tokens]
        return fast_layer(
            self.cell,
            params,
            x,
            carry,
            seq_lengths=seq_lengths,
            reverse=self.reverse,
            masks=masks,
            table=table,
            activation=self.activation,
            hoist=hoist_inputs(self.cell),
        )


class _FastBidirectional(nn.Module):
    """Both directions on the fast path, as ``nn.Bidirectional`` lays them out."""

    cell: str
    features: int
    dropout: float
    train: bool
    activation: str = "tanh"

    @nn.compact
    def __call__(self, x, initial_carry, seq_lengths):
        start = (None, None) if initial_carry is None else initial_carry
        kw = {"cell": self.cell, "features": self.features, "dropout": self.dropout}
        kw["activation"] = self.activation
        forward = _FastDirection(**kw, train=self.train, name="forward_rnn")
        backward = _FastDirection(
            **kw, train=self.train, reverse=True, name="backward_rnn"
        )
        carry_f, out_f = forward(x, start[0], seq_lengths)
        carry_b, out_b = backward(x, start[1], seq_lengths)
        return (carry_f, carry_b), jnp.concatenate([out_f, out_b], axis=-1)
