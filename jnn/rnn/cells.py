r"""Recurrent cells: Elman, LSTM, GRU (Flax's own), their variational dropout.

A cell maps ``(carry, x_t) -> (carry', y_t)`` for one time step; batch axes
lead, features trail: ``x_t: (*batch, I)``, ``h: (*batch, H)``.
:class:`flax.linen.RNN` scans it over time (:func:`jnn.rnn.recurrent_layer`).
The three classic cells are Flax's, subclassed only to add per-sequence
(variational) dropout masks (:mod:`jnn.rnn.dropout`); with no dropout they are
Flax's cells exactly, with Flax's parameter names and initialisers:

* Elman (1990), ``nn.SimpleCell``:
  :math:`h' = f(W_i x + b_i + W_h h)` with ``f = tanh`` (the default) or
  ``f = relu`` (``activation="relu"``: the ReLU recurrence of Le, Jaitly &
  Hinton 2015, PyTorch's ``nn.RNN(nonlinearity="relu")``).
* LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
  2000), ``nn.OptimizedLSTMCell`` (the four gates in one matmul):
  :math:`(i, f, g, o) = (\sigma, \sigma, \tanh, \sigma)(W_i x + W_h h + b)`,
  :math:`c' = f c + i g`, :math:`h' = o \tanh(c')`; the carry is ``(c, h)``.
* GRU (Cho et al. 2014), ``nn.GRUCell``:
  :math:`r = \sigma(W_{ir} x + b_{ir} + W_{hr} h)`,
  :math:`z = \sigma(W_{iz} x + b_{iz} + W_{hz} h)`,
  :math:`n = \tanh(W_{in} x + b_{in} + r (W_{hn} h + b_{hn}))`,
  :math:`h' = (1 - z) n + z h`.

These are PyTorch's ``nn.RNN`` / ``nn.LSTM`` / ``nn.GRU`` equations with the
same gate order. PyTorch gives every gate two biases, ``b_ih + b_hh``; where the
two are simply summed Flax keeps one, so a PyTorch state dict copies exactly
(:func:`jnn.rnn.params_from_torch` folds the pairs). The GRU's ``b_hn`` sits
inside ``r * (...)`` and cannot be folded: both frameworks keep it.

Parameter counts for input size ``I`` and hidden size ``H``
(:func:`parameter_count`):

===========  =====================  =====================
cell         Flax / jnn             PyTorch
===========  =====================  =====================
elman        ``H(I + H) + H``       ``H(I + H) + 2H``
lstm         ``4H(I + H) + 4H``     ``4H(I + H) + 8H``
gru          ``3H(I + H) + 4H``     ``3H(I + H) + 6H``
ln-elman     ``H(I + H) + 2H``      --
ln-lstm      ``4H(I + H) + 10H``    --
ln-gru       ``3H(I + H) + 6H``     --
===========  =====================  =====================

With PyTorch's layout (two biases per gate) a GRU has exactly 3/4 of the
parameters of an LSTM of the same sizes; with Flax's folded biases the GRU has
``H`` more than 3/4 (its extra ``b_hn``).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int
from jnn.rnn.dropout import check_rate, draw_masks
from jnn.rnn.layernorm import LNElmanCell, LNGRUCell, LNLSTMCell

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "ElmanCell",
    "GRUCell",
    "LSTMCell",
    "cell",
    "hidden_state",
    "parameter_count",
]

Masks = tuple[jax.Array | None, jax.Array | None]


def _masked(x, mask):
    return x if mask is None else x * mask


class ElmanCell(nn.SimpleCell):
    """Flax's Elman cell (``nn.SimpleCell``) with variational dropout.

    The state mask multiplies ``h`` entering ``W_h`` (with Flax's
    ``residual=True`` it would scale the residual ``h`` too; keep the default).

    Attributes:
      input_dropout: drop probability of the inputs ``x`` (one mask per sequence).
      state_dropout: drop probability of ``h`` entering ``W_h`` (one mask per
        sequence).
      deterministic: True: no dropout (evaluation).
    """

    input_dropout: float = 0.0
    state_dropout: float = 0.0
    deterministic: bool = True

    def __call__(self, carry: jax.Array, inputs: jax.Array, masks: Masks | None = None):
        """One step: ``carry (*batch, H)``, ``inputs (*batch, I)`` -> ``(h', h')``.

        ``masks`` (``(input_mask, state_mask)``, each None or an array that
        multiplies ``inputs`` / ``carry``) replaces the drawn masks.
        """
        if masks is None:
            masks = draw_masks(
                self,
                inputs,
                carry,
                self.input_dropout,
                self.state_dropout,
                self.deterministic,
            )
        return super().__call__(_masked(carry, masks[1]), _masked(inputs, masks[0]))


class LSTMCell(nn.OptimizedLSTMCell):
    """Flax's fused LSTM cell (``nn.OptimizedLSTMCell``) with variational dropout.

    The state mask multiplies ``h`` where it enters the gates; the memory ``c``
    is never masked. Parameters are those of ``nn.LSTMCell``.

    Attributes:
      input_dropout: drop probability of the inputs ``x`` (one mask per sequence).
      state_dropout: drop probability of ``h`` entering the gates.
      deterministic: True: no dropout (evaluation).
    """

    input_dropout: float = 0.0
    state_dropout: float = 0.0
    deterministic: bool = True

    def __call__(self, carry, inputs: jax.Array, masks: Masks | None = None):
        """One step: ``carry = (c, h)``, each ``(*batch, H)`` -> ``((c', h'), h')``."""
        c, h = carry
        if masks is None:
            masks = draw_masks(
                self,
                inputs,
                h,
                self.input_dropout,
                self.state_dropout,
                self.deterministic,
            )
        return super().__call__((c, _masked(h, masks[1])), _masked(inputs, masks[0]))


class GRUCell(nn.GRUCell):
    """Flax's GRU cell (``nn.GRUCell``) with variational dropout.

    Same parameters and equations as ``nn.GRUCell`` (module docstring); the
    state mask multiplies ``h`` where it meets ``W_hr, W_hz, W_hn`` while the
    interpolation ``z h`` uses the unmasked ``h`` (so dropout never erases the
    memory the update gate keeps), which is why this cell restates Flax's
    ``__call__`` rather than masking the carry.

    Attributes:
      input_dropout: drop probability of the inputs ``x`` (one mask per sequence).
      state_dropout: drop probability of ``h`` entering the gates.
      deterministic: True: no dropout (evaluation).
    """

    input_dropout: float = 0.0
    state_dropout: float = 0.0
    deterministic: bool = True

    @nn.compact
    def __call__(self, carry: jax.Array, inputs: jax.Array, masks: Masks | None = None):
        """One step: ``carry (*batch, H)``, ``inputs (*batch, I)`` -> ``(h', h')``."""
        h = carry
        if masks is None:
            masks = draw_masks(
                self,
                inputs,
                h,
                self.input_dropout,
                self.state_dropout,
                self.deterministic,
            )
        x, h_in = _masked(inputs, masks[0]), _masked(h, masks[1])
        common = {"dtype": self.dtype, "param_dtype": self.param_dtype}
        dense_h = functools.partial(
            nn.Dense,
            features=h.shape[-1],
            use_bias=False,
            kernel_init=self.recurrent_kernel_init,
            bias_init=self.bias_init,
            **common,
        )
        dense_i = functools.partial(
            nn.Dense,
            features=h.shape[-1],
            use_bias=True,
            kernel_init=self.kernel_init,
            bias_init=self.bias_init,
            **common,
        )
        r = self.gate_fn(dense_i(name="ir")(x) + dense_h(name="hr")(h_in))
        z = self.gate_fn(dense_i(name="iz")(x) + dense_h(name="hz")(h_in))
        recurrent_n = dense_h(name="hn", use_bias=True)(h_in)
        n = self.activation_fn(dense_i(name="in")(x) + r * recurrent_n)
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h


_CELL_TYPES = {
    "elman": ElmanCell,
    "lstm": LSTMCell,
    "gru": GRUCell,
    "ln-elman": LNElmanCell,
    "ln-lstm": LNLSTMCell,
    "ln-gru": LNGRUCell,
}
#: Names accepted by :func:`cell`.
CELLS = tuple(_CELL_TYPES)
#: The Elman cell's activations ``f`` in ``h' = f(W_i x + b_i + W_h h)``.
ELMAN_ACTIVATIONS = {"tanh": jnp.tanh, "relu": jax.nn.relu}
#: Names accepted by ``activation`` (:func:`cell`, :class:`RecurrentStack`, ...).
ACTIVATIONS = tuple(ELMAN_ACTIVATIONS)


def check_cell_name(name: Any, argument: str = "name") -> None:
    """Raise a ``ValueError`` naming ``argument`` unless ``name`` is a cell."""
    if not isinstance(name, str) or name not in _CELL_TYPES:
        raise ValueError(f"`{argument}` must be one of {CELLS}; got {name!r}.")


def check_activation(activation: Any, cell_name: str) -> None:
    """Raise a ``ValueError`` naming ``activation`` unless it fits ``cell_name``.

    Every cell accepts ``"tanh"`` (its own equations); only ``"elman"`` has
    another, ``"relu"``.
    """
    if not isinstance(activation, str) or activation not in ELMAN_ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {ACTIVATIONS}; got {activation!r}."
        )
    if activation != "tanh" and cell_name != "elman":
        raise ValueError(
            f"`activation` {activation!r} exists for the 'elman' cell only; the "
            f"{cell_name!r} cell takes 'tanh' (its gates fix their own "
            "nonlinearities)."
        )


def cell(
    name: str,
    features: int,
    *,
    activation: str = "tanh",
    input_dropout: float = 0.0,
    state_dropout: float = 0.0,
    deterministic: bool = True,
    **kwargs: Any,
) -> nn.RNNCellBase:
    """A recurrent cell by name.

    Args:
      name: one of :data:`CELLS`: ``"elman"``, ``"lstm"``, ``"gru"`` (Flax's
        cells) or ``"ln-elman"``, ``"ln-lstm"``, ``"ln-gru"`` (layer-normalised,
        :mod:`jnn.rnn.layernorm`).
      features: ``H``, the size of the hidden state.
      activation: the Elman cell's ``f``: ``"tanh"`` (default) or ``"relu"``
        (:data:`ACTIVATIONS`); other cells take ``"tanh"`` only.
      input_dropout: variational dropout rate of the inputs, in ``[0, 1)``.
      state_dropout: variational dropout rate of the recurrent state.
      deterministic: True disables dropout (evaluation).
      **kwargs: other fields of the cell (``kernel_init``, ``dtype``, ...).

    Returns:
      An unbound Flax cell; scan it with :func:`jnn.rnn.recurrent_layer`.

    Raises:
      ValueError: unknown ``name`` or ``activation``, ``features <= 0`` or a
        rate outside ``[0, 1)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> lstm = cell("lstm", 8)
      >>> x = jnp.ones((2, 3))                       # (batch, I)
      >>> carry = lstm.initialize_carry(jax.random.key(0), x.shape)
      >>> params = lstm.init(jax.random.key(1), carry, x)
      >>> (c, h), y = lstm.apply(params, carry, x)
      >>> h.shape, parameter_count("lstm", 3, 8)
      ((2, 8), 384)
    """
    check_cell_name(name)
    check_activation(activation, name)
    check_positive_int(features, "features")
    check_rate(input_dropout, "input_dropout")
    check_rate(state_dropout, "state_dropout")
    if activation != "tanh":
        if "activation_fn" in kwargs:
            raise ValueError("pass either `activation` or `activation_fn`, not both.")
        kwargs["activation_fn"] = ELMAN_ACTIVATIONS[activation]
    return _CELL_TYPES[name](
        int(features),
        input_dropout=float(input_dropout),
        state_dropout=float(state_dropout),
        deterministic=bool(deterministic),
        **kwargs,
    )


def hidden_state(carry: Any) -> jax.Array:
    """The hidden state ``h`` of a carry: itself, or ``h`` of an LSTM's ``(c, h)``."""
    return carry[1] if isinstance(carry, tuple) else carry


def parameter_count(
    name: str, input_features: int, features: int, *, convention: str = "flax"
) -> int:
    """Parameters of one cell with ``I = input_features`` and ``H = features``.

    Args:
      name: a cell of :data:`CELLS`.
      input_features: ``I``.
      features: ``H``.
      convention: ``"flax"`` (jnn's cells: one bias per gate where two would
        only be summed) or ``"torch"`` (PyTorch's ``b_ih`` and ``b_hh``; only for
        the cells PyTorch has: elman, lstm, gru).

    Returns:
      The count (see the table of the module docstring).
    """
    check_cell_name(name)
    check_positive_int(input_features, "input_features")
    check_positive_int(features, "features")
    if convention not in ("flax", "torch"):
        raise ValueError(f"`convention` must be 'flax' or 'torch'; got {convention!r}.")
    gates = {"elman": 1, "lstm": 4, "gru": 3}[name.removeprefix("ln-")]
    i, h = input_features, features
    weights = gates * h * (i + h)
    if convention == "torch":
        if name.startswith("ln-"):
            raise ValueError(
                f"`convention` 'torch' has no {name!r} cell (PyTorch ships no "
                "layer-normalised RNN); use convention='flax'."
            )
        return weights + 2 * gates * h
    biases = {
        "elman": h,
        "lstm": 4 * h,
        "gru": 4 * h,  # b_ir, b_iz, b_in and the unfoldable b_hn
        "ln-elman": 2 * h,  # LayerNorm gain and bias
        "ln-lstm": 2 * 4 * h + 2 * h,  # per gate, and of the cell state
        "ln-gru": 2 * 2 * h + 2 * h,  # of r and z, and of the candidate
    }[name]
    return weights + biases


def recurrent_layer(cell: nn.RNNCellBase, **kwargs: Any) -> nn.RNN:
    """``nn.RNN(cell)`` whose ``dropout`` stream is the same at every step.

    Flax's scan splits or drops RNG streams per step; variational dropout needs
    one key per sequence, so the ``dropout`` stream is broadcast over time
    (``split_rngs={"params": False, "dropout": False}``).

    Args:
      cell: e.g. ``jnn.rnn.cell("gru", 64, state_dropout=0.25)``.
      **kwargs: other fields of ``nn.RNN`` (``name``, ``reverse``, ...).
    """
    return nn.RNN(cell, split_rngs={"params": False, "dropout": False}, **kwargs)
