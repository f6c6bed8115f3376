r"""Layer-normalised recurrent cells (Ba, Kiros & Hinton 2016, "Layer normalization").

Layer normalisation rescales a vector of pre-activations ``a`` (``H`` units of
one example at one step) by its own statistics,

.. math:: \mathrm{LN}(a; \gamma, \beta) = \gamma \odot \frac{a - \mu}{\sqrt{\sigma^2
          + \epsilon}} + \beta,\quad \mu = \tfrac{1}{H}\sum_j a_j,\quad
          \sigma^2 = \tfrac{1}{H}\sum_j (a_j - \mu)^2,

so, unlike batch normalisation, it needs no batch and behaves the same at every
time step, in training and in evaluation. Ba et al. apply it to the summed
inputs of a recurrent layer at every step (their eq. 4 for the Elman net,
section 6 / appendix for the LSTM). Here every gate's summed pre-activation is
normalised separately, with its own gain ``gamma`` and bias ``beta`` (the bias
replaces the gate's ``b``), and the LSTM also normalises its cell state before
the output ``tanh`` (the layout of TensorFlow's ``LayerNormBasicLSTMCell``):

* ln-elman: :math:`h' = \tanh(\mathrm{LN}(W_x x + W_h h))`.
* ln-lstm: :math:`(i, f, g, o) = (\sigma, \sigma, \tanh, \sigma)(\mathrm{LN}_k(W_{x,k}
  x + W_{h,k} h))` for each gate ``k``, :math:`c' = f c + i g`,
  :math:`h' = o \tanh(\mathrm{LN}_c(c'))`.
* ln-gru: :math:`r, z = \sigma(\mathrm{LN}_k(W_{x,k} x + W_{h,k} h))`,
  :math:`n = \tanh(\mathrm{LN}_n(W_{xn} x + r (W_{hn} h)))`,
  :math:`h' = (1 - z) n + z h`.

Each gate's output is invariant to a rescaling of its weights (section 5.1 of
the paper): multiplying every kernel by ``s > 0`` leaves every cell unchanged
up to ``epsilon``. The weights of all gates are fused into one ``input``
kernel ``(I, G H)`` and one ``recurrent`` kernel ``(H, G H)`` (orthogonal per
gate), the two matmuls of a step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen import initializers

from jnn.rnn.dropout import draw_masks

__all__ = ["LNElmanCell", "LNGRUCell", "LNLSTMCell"]

Masks = tuple[jax.Array | None, jax.Array | None]
Initializer = Callable[..., jax.Array]


def blockwise_orthogonal(gates: int) -> Initializer:
    """An initialiser of an ``(H, G H)`` kernel: ``G`` orthogonal ``(H, H)`` blocks."""
    orthogonal = initializers.orthogonal()

    def init(key: jax.Array, shape: tuple[int, ...], dtype: Any = jnp.float32):
        rows, cols = shape
        keys = jax.random.split(key, gates)
        blocks = [orthogonal(k, (rows, cols // gates), dtype) for k in keys]
        return jnp.concatenate(blocks, axis=-1)

    return init


class _LayerNormCell(nn.RNNCellBase):
    """Fields and helpers shared by the layer-normalised cells."""

    features: int
    kernel_init: Initializer = initializers.lecun_normal()
    epsilon: float = 1e-5
    input_dropout: float = 0.0
    state_dropout: float = 0.0
    deterministic: bool = True
    dtype: Any = None
    param_dtype: Any = jnp.float32
    carry_init: Initializer = initializers.zeros_init()

    def _gates(self, x: jax.Array, h: jax.Array, gates: int):
        """``W_x x`` and ``W_h h`` as ``(*batch, G, H)`` arrays."""
        size = gates * self.features
        kw = {"use_bias": False, "dtype": self.dtype, "param_dtype": self.param_dtype}
        wx = nn.Dense(size, kernel_init=self.kernel_init, name="input", **kw)(x)
        wh = nn.Dense(
            size, kernel_init=blockwise_orthogonal(gates), name="recurrent", **kw
        )(h)
        shape = (gates, self.features)
        return wx.reshape(wx.shape[:-1] + shape), wh.reshape(wh.shape[:-1] + shape)

    def _norm(self, name: str, per_gate: bool) -> nn.LayerNorm:
        """LayerNorm over the last axis; per gate: gains and biases ``(G, H)``."""
        axes = (-2, -1) if per_gate else -1
        return nn.LayerNorm(
            epsilon=self.epsilon,
            reduction_axes=-1,
            feature_axes=axes,
            dtype=self.dtype,
            param_dtype=self.param_dtype,
            name=name,
        )

    def _masks(self, inputs, h, masks: Masks | None) -> tuple[jax.Array, jax.Array]:
        if masks is None:
            masks = draw_masks(
                self,
                inputs,
                h,
                self.input_dropout,
                self.state_dropout,
                self.deterministic,
            )
        x = inputs if masks[0] is None else inputs * masks[0]
        return x, (h if masks[1] is None else h * masks[1])

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]):
        """Zero state ``(*batch, H)`` for inputs ``(*batch, I)``."""
        return self.carry_init(
            rng, input_shape[:-1] + (self.features,), self.param_dtype
        )

    @property
    def num_feature_axes(self) -> int:
        return 1


class LNElmanCell(_LayerNormCell):
    """Layer-normalised Elman cell: ``h' = tanh(LN(W_x x + W_h h))``.

    Attributes:
      features: ``H``.
      kernel_init: initialiser of the input kernel (recurrent: orthogonal).
      epsilon: the ``epsilon`` of layer normalisation.
      input_dropout, state_dropout, deterministic: variational dropout
        (:mod:`jnn.rnn.dropout`).

    Parameters: ``input/kernel (I, H)``, ``recurrent/kernel (H, H)``,
    ``norm/scale, norm/bias (H,)``.
    """

    @nn.compact
    def __call__(self, carry: jax.Array, inputs: jax.Array, masks: Masks | None = None):
        """One step: ``carry (*batch, H)``, ``inputs (*batch, I)`` -> ``(h', h')``."""
        x, h_in = self._masks(inputs, carry, masks)
        wx, wh = self._gates(x, h_in, 1)
        h = jnp.tanh(self._norm("norm", per_gate=False)(wx[..., 0, :] + wh[..., 0, :]))
        return h, h


class LNLSTMCell(_LayerNormCell):
    """Layer-normalised LSTM cell; the carry is ``(c, h)`` like Flax's LSTM.

    Attributes:
      features: ``H``.
      kernel_init: initialiser of the input kernel (recurrent: orthogonal).
      epsilon: the ``epsilon`` of layer normalisation.
      input_dropout, state_dropout, deterministic: variational dropout
        (the state mask multiplies ``h`` entering the gates, never ``c``).

    Parameters: ``input/kernel (I, 4H)`` and ``recurrent/kernel (H, 4H)`` (gates
    ``i, f, g, o``), ``gate_norm/scale, gate_norm/bias (4, H)``,
    ``cell_norm/scale, cell_norm/bias (H,)``.
    """

    @nn.compact
    def __call__(self, carry, inputs: jax.Array, masks: Masks | None = None):
        """One step: ``carry = (c, h)``, each ``(*batch, H)`` -> ``((c', h'), h')``."""
        c, h = carry
        x, h_in = self._masks(inputs, h, masks)
        wx, wh = self._gates(x, h_in, 4)
        a = self._norm("gate_norm", per_gate=True)(wx + wh)
        i, f, o = (jax.nn.sigmoid(a[..., k, :]) for k in (0, 1, 3))
        g = jnp.tanh(a[..., 2, :])
        new_c = f * c + i * g
        new_h = o * jnp.tanh(self._norm("cell_norm", per_gate=False)(new_c))
        return (new_c, new_h), new_h

    @nn.nowrap
    def initialize_carry(self, rng: jax.Array, input_shape: tuple[int, ...]):
        """Zero state ``(c, h)``, each ``(*batch, H)``."""
        key_c, key_h = jax.random.split(rng)
        return (
            super().initialize_carry(key_c, input_shape),
            super().initialize_carry(key_h, input_shape),
        )


class LNGRUCell(_LayerNormCell):
    """Layer-normalised GRU cell.

    Attributes:
      features: ``H``.
      kernel_init: initialiser of the input kernel (recurrent: orthogonal).
      epsilon: the ``epsilon`` of layer normalisation.
      input_dropout, state_dropout, deterministic: variational dropout
        (the state mask multiplies ``h`` entering the gates, not ``z h``).

    Parameters: ``input/kernel (I, 3H)`` and ``recurrent/kernel (H, 3H)`` (gates
    ``r, z, n``), ``gate_norm/scale, gate_norm/bias (2, H)`` of ``r, z``,
    ``candidate_norm/scale, candidate_norm/bias (H,)`` of ``n``.
    """

    @nn.compact
    def __call__(self, carry: jax.Array, inputs: jax.Array, masks: Masks | None = None):
        """One step: ``carry (*batch, H)``, ``inputs (*batch, I)`` -> ``(h', h')``."""
        h = carry
        x, h_in = self._masks(inputs, h, masks)
        wx, wh = self._gates(x, h_in, 3)
        rz = self._norm("gate_norm", per_gate=True)(wx[..., :2, :] + wh[..., :2, :])
        r, z = jax.nn.sigmoid(rz[..., 0, :]), jax.nn.sigmoid(rz[..., 1, :])
        candidate = wx[..., 2, :] + r * wh[..., 2, :]
        n = jnp.tanh(self._norm("candidate_norm", per_gate=False)(candidate))
        new_h = (1.0 - z) * n + z * h
        return new_h, new_h
