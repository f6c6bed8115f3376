"""Sequence models: stacked, bidirectional, variable-length recurrent networks.

Shapes are batch-first: ``x: (B, T, F)`` float sequences, ``seq_lengths: (B,)``
int (sequence ``b`` is ``x[b, :seq_lengths[b]]``, the rest padding) or a prefix
``mask: (B, T)`` bool. A layer is Flax's :class:`flax.linen.RNN` scanning a
cell of :func:`jnn.rnn.cell`; a bidirectional layer is Flax's
:class:`flax.linen.Bidirectional` (forward and backward outputs concatenated,
``2H`` features), whose backward pass reverses each sequence within its own
length, so padding stays at the end in both directions. Hence padded steps
never change a valid output nor the final state (the state is read at each
sequence's last valid step); padded outputs are set to zero.

* :class:`RecurrentStack` -- ``layers`` recurrent layers, each reading the
  previous one's outputs (Graves et al. 2013's deep (bidirectional) RNN), with
  variational dropout (:mod:`jnn.rnn.dropout`) on every layer's inputs and
  recurrent state. Returns the final states and the top layer's outputs.
* :class:`RecurrentNet` -- a stack plus a head: ``"many-to-one"`` reads the
  last valid step (forward direction at ``t = len - 1``, backward direction
  at ``t = 0``: the state of each direction after the whole sequence) and
  maps it to ``(B, out_features)``; ``"many-to-many"`` maps every step to
  ``(B, T, out_features)``.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int, is_concrete
from jnn.nn import flat_dot_general
from jnn.rnn._fast import FAST_CELLS
from jnn.rnn._fast_layers import _Embedded, _FastBidirectional, _FastDirection
from jnn.rnn.cells import cell as make_cell
from jnn.rnn.cells import check_activation, check_cell_name, recurrent_layer
from jnn.rnn.dropout import check_rate, time_constant_dropout

__all__ = [
    "HEADS",
    "RecurrentNet",
    "RecurrentStack",
    "check_lengths",
    "check_sequences",
    "last_valid_step",
    "lengths_from_mask",
    "recurrent_layer",
]

#: Heads of :class:`RecurrentNet`.
HEADS = ("many-to-one", "many-to-many")
#: Values of ``RecurrentStack.path``: ``"flax"`` (Flax's cells scanned by
#: ``nn.RNN``, the reference), ``"fast"`` (:mod:`jnn.rnn._fast`: one time-major
#: scan per layer with the gate kernels fused once, and for a token model the
#: first layer's input projection gathered from the projected embedding table;
#: elman, lstm and gru only), ``"auto"`` (``"fast"`` on CPU for those cells
#: with token inputs, ``"flax"`` otherwise).
PATHS = ("auto", "flax", "fast")


def resolve_path(path: str, cell: str, backend: str | None = None) -> str:
    """``"flax"`` or ``"fast"``: what ``path`` means for ``cell`` on ``backend``.

    Args:
      path: one of :data:`PATHS`.
      cell: a cell name; the layer-normalised cells have no fast path.
      backend: a JAX backend name; None: ``jax.default_backend()``.
    """
    if path not in PATHS:
        raise ValueError(f"`path` must be one of {PATHS}; got {path!r}.")
    if cell not in FAST_CELLS:
        if path == "fast":
            raise ValueError(
                f"`path` 'fast' has no {cell!r} cell (it has {FAST_CELLS}); use "
                "'auto' or 'flax'."
            )
        return "flax"
    if path != "auto":
        return path
    backend = jax.default_backend() if backend is None else backend
    return "fast" if backend == "cpu" else "flax"


def check_sequences(x: Any, name: str = "x") -> None:
    """Raise unless ``x`` is a ``(B, T, F)`` float array with ``T >= 1``."""
    check_array(x, name, ndim=3, kind="f")
    if x.shape[1] == 0 or x.shape[2] == 0:
        raise ValueError(
            f"`{name}` must have shape (batch, time, features) with time and "
            f"features >= 1; got {tuple(x.shape)}."
        )


def check_lengths(
    seq_lengths: Any, batch: int, steps: int, name: str = "seq_lengths"
) -> None:
    """Raise unless ``seq_lengths`` is ``(batch,)`` int in ``[1, steps]`` (concrete)."""
    check_array(seq_lengths, name, ndim=1, kind="i")
    if seq_lengths.shape[0] != batch:
        raise ValueError(
            f"`{name}` must have one length per sequence, shape ({batch},); got "
            f"{tuple(seq_lengths.shape)}."
        )
    if is_concrete(seq_lengths):
        lengths = np.asarray(seq_lengths)
        if lengths.min() < 1 or lengths.max() > steps:
            raise ValueError(
                f"`{name}` must lie in [1, {steps}] (the time axis has {steps} "
                f"steps); got min {lengths.min()} and max {lengths.max()}."
            )


def lengths_from_mask(mask: Any, name: str = "mask") -> jax.Array:
    """``(B,)`` int32 lengths of a ``(B, T)`` prefix mask (True on valid steps).

    A concrete mask must be a prefix (valid steps first, then padding) with at
    least one valid step per sequence; otherwise a ``ValueError`` names ``name``.

    Example:
      >>> lengths_from_mask(jnp.array([[1, 1, 0], [1, 1, 1]], bool))
      Array([2, 3], dtype=int32)
    """
    check_array(mask, name, ndim=2)
    if is_concrete(mask):
        m = np.asarray(mask).astype(bool)
        prefix = np.arange(m.shape[1])[None, :] < m.sum(axis=1, keepdims=True)
        if not np.array_equal(m, prefix) or not m[:, 0].all():
            raise ValueError(
                f"`{name}` must mark a non-empty prefix of every sequence (valid "
                "steps first, then padding)."
            )
    return jnp.sum(jnp.asarray(mask).astype(jnp.int32), axis=1)


def last_valid_step(
    outputs: jax.Array, seq_lengths: jax.Array | None, backward_features: int = 0
) -> jax.Array:
    """Outputs ``(B, T, F)`` -> ``(B, F)`` read at each sequence's end.

    The last ``backward_features`` features come from a backward direction,
    whose sequence ends at ``t = 0``; the others are read at ``t = len - 1``.
    """
    steps = outputs.shape[1]
    if seq_lengths is None:
        last = outputs[:, steps - 1]
    else:
        index = (seq_lengths - 1).astype(jnp.int32)[:, None, None]
        last = jnp.take_along_axis(outputs, index, axis=1)[:, 0]
    if backward_features:
        split = outputs.shape[-1] - backward_features
        last = jnp.concatenate([last[:, :split], outputs[:, 0, split:]], axis=-1)
    return last


def _zero_padding(outputs: jax.Array, seq_lengths: jax.Array | None) -> jax.Array:
    if seq_lengths is None:
        return outputs
    valid = jnp.arange(outputs.shape[1])[None, :] < seq_lengths[:, None]
    return outputs * valid[:, :, None].astype(outputs.dtype)


def _check_config(module: Any) -> None:
    check_cell_name(module.cell, "cell")
    check_activation(module.activation, module.cell)
    check_positive_int(module.features, "features")
    check_positive_int(module.layers, "layers")
    check_rate(module.dropout, "dropout")
    resolve_path(module.path, module.cell, backend="cpu")  # checks the name


class RecurrentStack(nn.Module):
    """``layers`` recurrent layers of one cell type (bidirectional or not).

    Attributes:
      cell: a name of :data:`jnn.rnn.CELLS` (``"elman"``, ``"lstm"``, ``"gru"``,
        ``"ln-lstm"``, ...).
      features: ``H``, the state size of every layer (and direction).
      layers: number of stacked layers.
      bidirectional: each layer also reads the sequence backwards; its outputs
        are ``[forward, backward]``, ``2H`` features.
      dropout: variational dropout rate of every layer's inputs and recurrent
        state (one mask per sequence; training only).
      path: ``"auto"`` (default: the fast path on CPU for elman, lstm and gru
        token inputs, i.e. inside :class:`jnn.rnn.CharRNN`, where it measured
        1.3x; Flax's ``nn.RNN`` otherwise), ``"flax"`` (always ``nn.RNN``, the
        reference) or ``"fast"`` (:mod:`jnn.rnn._fast`; same parameters, same
        results to float rounding). See :data:`PATHS`.
      activation: the Elman cell's ``f`` in ``h' = f(W_i x + b_i + W_h h)``:
        ``"tanh"`` (default) or ``"relu"`` (Le, Jaitly & Hinton 2015's IRNN
        with an identity ``W_h``; PyTorch's ``nonlinearity="relu"``); the
        other cells take ``"tanh"`` only.

    Parameters: ``layer_{l}/cell/...`` (one direction) or
    ``layer_{l}/forward_rnn/cell/...`` and ``layer_{l}/backward_rnn/cell/...``,
    on either path.
    """

    cell: str = "lstm"
    features: int = 128
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    path: str = "auto"
    activation: str = "tanh"

    def __post_init__(self):
        _check_config(self)
        super().__post_init__()

    def _layer(self, index: int, train: bool, fast: bool) -> nn.Module:
        if fast:
            kw = {"cell": self.cell, "features": self.features, "dropout": self.dropout}
            kw["activation"] = self.activation
            if self.bidirectional:
                return _FastBidirectional(**kw, train=train, name=f"layer_{index}")
            return _FastDirection(**kw, train=train, name=f"layer_{index}")

        def rnn(**kwargs):
            cell = make_cell(
                self.cell,
                self.features,
                activation=self.activation,
                input_dropout=self.dropout,
                state_dropout=self.dropout,
                deterministic=not train,
                parent=None,  # adopted by its nn.RNN, not by the stack
            )
            return recurrent_layer(cell, **kwargs)

        if not self.bidirectional:
            return rnn(name=f"layer_{index}")
        return nn.Bidirectional(
            rnn(parent=None), rnn(parent=None), name=f"layer_{index}"
        )

    @nn.nowrap
    def zero_state(self, batch_size: int) -> tuple:
        """The initial state: per layer a zero carry of ``batch_size`` sequences.

        Returns:
          A tuple of ``layers`` carries: ``(B, H)`` arrays (``(c, h)`` pairs for
          LSTMs), or ``(forward, backward)`` pairs of them when bidirectional.
        """
        check_positive_int(batch_size, "batch_size")
        one = make_cell(self.cell, self.features)
        key, shape = jax.random.key(0), (batch_size, 1)

        def carry():
            return one.initialize_carry(key, shape)

        if self.bidirectional:
            return tuple((carry(), carry()) for _ in range(self.layers))
        return tuple(carry() for _ in range(self.layers))

    def __call__(
        self,
        x: jax.Array,
        *,
        seq_lengths: jax.Array | None = None,
        initial_state: tuple | None = None,
        train: bool = False,
    ) -> tuple[tuple, jax.Array]:
        """Run the stack over ``x``.

        Args:
          x: ``(B, T, F)`` float sequences.
          seq_lengths: optional ``(B,)`` int lengths in ``[1, T]``.
          initial_state: optional state as :meth:`zero_state` returns it
            (zeros when None).
          train: training mode (dropout on when ``dropout > 0``).

        Returns:
          ``(state, outputs)``: the state after each sequence's last valid step
          (as :meth:`zero_state`) and the top layer's ``(B, T, H)`` or
          ``(B, T, 2H)`` outputs, zero on padded steps.
        """
        check_sequences(x)
        if seq_lengths is not None:
            check_lengths(seq_lengths, x.shape[0], x.shape[1])
        if initial_state is not None and len(initial_state) != self.layers:
            raise ValueError(
                f"`initial_state` must hold one carry per layer ({self.layers}); "
                f"got {len(initial_state)}."
            )
        return self._run(x, None, seq_lengths, initial_state, train)

    @nn.compact
    def _run(self, x, tokens, seq_lengths, initial_state, train):
        """The layers over ``x``, or over ``x[tokens]`` when ``tokens`` (B, T) is given.

        With ``tokens``, ``x`` is a ``(V, F)`` embedding table (for
        :class:`jnn.rnn.CharRNN`): the fast path then projects the table rows
        through the first layer's input weights once and gathers (exact up to
        float rounding; not with input dropout in training).
        """
        # "auto" takes the fast path only where a profile shows it wins: token
        # inputs (the embedding table projected once through the first layer's
        # input weights, 1.3x on one CPU core); for float sequences both paths
        # measured the same (LSTM 496 vs 495 ms/step), so the reference is kept.
        resolved = resolve_path(self.path, self.cell) == "fast"
        fast = resolved and (tokens is not None or self.path == "fast")
        if fast:  # time-major inside the stack: one transpose in, one out
            if tokens is None:
                x = jnp.swapaxes(x, 0, 1)
            else:
                x = _Embedded(x, jnp.swapaxes(tokens, 0, 1))
        elif tokens is not None:
            x = jnp.take(x, tokens, axis=0)
        states = []
        for index in range(self.layers):
            start = None if initial_state is None else initial_state[index]
            layer = self._layer(index, train, fast)
            if fast:
                state, x = layer(x, start, seq_lengths)
            else:
                state, x = layer(
                    x, initial_carry=start, seq_lengths=seq_lengths, return_carry=True
                )
            states.append(state)
        if fast:
            x = jnp.swapaxes(x, 0, 1)
        return tuple(states), _zero_padding(x, seq_lengths)


class RecurrentNet(nn.Module):
    """A recurrent stack with a many-to-one or many-to-many dense head.

    Attributes:
      cell, features, layers, bidirectional, dropout: of the
        :class:`RecurrentStack` (``dropout`` also drops the stack's outputs
        with one mask per sequence before the head).
      head: ``"many-to-one"`` (one output per sequence, from its last valid
        step) or ``"many-to-many"`` (one output per step).
      out_features: size of the dense head's output; None returns the stack's
        features without a head.
      path: the stack's implementation (:data:`PATHS`; ``"auto"``: the fast
        path on CPU).
      activation: the Elman cell's ``"tanh"`` (default) or ``"relu"``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> net = RecurrentNet(cell="gru", features=8, layers=2, out_features=3)
      >>> x = jnp.ones((4, 5, 2))                     # (B, T, F)
      >>> params = net.init(jax.random.key(0), x)
      >>> net.apply(params, x, jnp.array([5, 3, 1, 2])).shape
      (4, 3)
    """

    cell: str = "lstm"
    features: int = 128
    layers: int = 1
    bidirectional: bool = False
    dropout: float = 0.0
    head: str = "many-to-one"
    out_features: int | None = None
    path: str = "auto"
    activation: str = "tanh"

    def __post_init__(self):
        _check_config(self)
        if self.head not in HEADS:
            raise ValueError(f"`head` must be one of {HEADS}; got {self.head!r}.")
        check_positive_int(self.out_features, "out_features", allow_none=True)
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        x: jax.Array,
        seq_lengths: jax.Array | None = None,
        *,
        mask: jax.Array | None = None,
        train: bool = False,
    ) -> jax.Array:
        """Outputs of ``x``: ``(B, out)`` (many-to-one) or ``(B, T, out)``.

        Args:
          x: ``(B, T, F)`` float sequences.
          seq_lengths: optional ``(B,)`` int lengths in ``[1, T]``.
          mask: optional ``(B, T)`` prefix mask instead of ``seq_lengths``.
          train: training mode (dropout on when ``dropout > 0``).

        Returns:
          ``out = out_features`` (or the stack's ``H`` / ``2H`` without a head);
          many-to-many outputs are zero on padded steps.
        """
        check_sequences(x)
        if mask is not None:
            if seq_lengths is not None:
                raise ValueError("pass either `seq_lengths` or `mask`, not both.")
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise ValueError(
                    f"`mask` must have shape {tuple(x.shape[:2])} (batch, time); "
                    f"got {tuple(mask.shape)}."
                )
            seq_lengths = lengths_from_mask(mask)
        stack = RecurrentStack(
            self.cell,
            self.features,
            self.layers,
            self.bidirectional,
            self.dropout,
            path=self.path,
            activation=self.activation,
            name="stack",
        )
        _, outputs = stack(x, seq_lengths=seq_lengths, train=train)
        if self.head == "many-to-one":
            backward = self.features if self.bidirectional else 0
            outputs = last_valid_step(outputs, seq_lengths, backward)
        outputs = time_constant_dropout(self, outputs, self.dropout, not train)
        if self.out_features is None:
            return outputs
        outputs = nn.Dense(
            self.out_features, dot_general=flat_dot_general, name="head"
        )(outputs)
        if self.head == "many-to-many":
            outputs = _zero_padding(outputs, seq_lengths)
        return outputs
