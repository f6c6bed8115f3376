"""Variational dropout for recurrent networks (Gal & Ghahramani 2016).

Standard dropout draws a new mask at every time step; on the recurrent state
that noise accumulates over the sequence and destroys what the network must
remember. Gal & Ghahramani ("A theoretically grounded application of dropout
in recurrent neural networks", NeurIPS 2016) derive dropout as approximate
variational inference over the weights: a weight sampled once per sequence
means that the *same* units are dropped at every step. For a sequence ``b``
they draw one mask per layer input and one per recurrent state,

    m^x_b ~ Bernoulli(1 - p)^I / (1 - p),    m^h_b ~ Bernoulli(1 - p)^H / (1 - p),

and every step ``t`` of that sequence uses ``x_t * m^x_b`` and ``h_{t-1} * m^h_b``
wherever the cell multiplies them by a weight matrix (the gates of an LSTM or a
GRU, the recurrence of an Elman net). The memory paths that carry no weight
(an LSTM's cell ``c``, a GRU's ``z * h`` interpolation) are left unmasked, as in
their implementation. Inverted scaling by ``1 / (1 - p)`` keeps the expected
pre-activations, so evaluation simply uses no mask.

In jnn the masks are drawn from the ``dropout`` RNG stream, which
:func:`jnn.train.apply_model` provides in training steps only, and only when
the module is not ``deterministic``. A cell draws its masks with
``self.make_rng("dropout")`` inside :class:`flax.linen.RNN`'s scan; the scan
must broadcast (not split) that stream over time so that every step sees the
same key and hence the same mask: :func:`jnn.rnn.recurrent_layer` builds such
an ``nn.RNN``. The masks differ across sequences because each row of the batch
gets its own Bernoulli draw.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_fraction

__all__ = ["check_rate", "draw_masks", "keep_mask", "time_constant_dropout"]


def check_rate(rate: Any, name: str) -> None:
    """Raise unless ``rate`` is a dropout probability in ``[0, 1)``."""
    check_fraction(rate, name)


def keep_mask(key: jax.Array, shape: tuple[int, ...], rate: float, dtype) -> jax.Array:
    """An inverted-dropout mask: ``Bernoulli(1 - rate) / (1 - rate)`` of ``shape``.

    Args:
      key: PRNG key of the draw.
      shape: e.g. ``(B, H)``, one mask row per sequence.
      rate: drop probability ``p`` in ``[0, 1)``.
      dtype: dtype of the mask (the activations' dtype).

    Returns:
      ``shape`` array of ``0`` and ``1 / (1 - p)``.
    """
    keep = 1.0 - rate
    return jax.random.bernoulli(key, keep, shape).astype(dtype) / jnp.asarray(
        keep, dtype
    )


def draw_masks(
    module: nn.Module,
    inputs: jax.Array,
    hidden: jax.Array,
    input_rate: float,
    state_rate: float,
    deterministic: bool,
) -> tuple[jax.Array | None, jax.Array | None]:
    """The per-sequence masks of one recurrent cell (None where there is none).

    Called inside a cell's ``__call__``: with the ``dropout`` stream broadcast
    over time by the scan, every step draws the same key, hence the same masks.

    Args:
      module: the (bound) cell; its ``make_rng("dropout")`` gives the key.
      inputs: ``(*batch, I)`` input of the step (fixes the input mask's shape).
      hidden: ``(*batch, H)`` hidden state entering the step.
      input_rate: drop probability of the inputs.
      state_rate: drop probability of the recurrent state.
      deterministic: True in evaluation: no masks.

    Returns:
      ``(input_mask, state_mask)``: ``(*batch, I)`` and ``(*batch, H)`` arrays
      or None.
    """
    if deterministic or (input_rate == 0 and state_rate == 0):
        return None, None
    key_x, key_h = jax.random.split(module.make_rng("dropout"))
    input_mask = state_mask = None
    if input_rate > 0:
        input_mask = keep_mask(key_x, inputs.shape, input_rate, inputs.dtype)
    if state_rate > 0:
        state_mask = keep_mask(key_h, hidden.shape, state_rate, hidden.dtype)
    return input_mask, state_mask


def time_constant_dropout(
    module: nn.Module, outputs: jax.Array, rate: float, deterministic: bool
) -> jax.Array:
    """Drop the same features of a sequence at every step (Gal & Ghahramani 2016).

    Args:
      module: the (bound) module whose ``dropout`` stream gives the key.
      outputs: ``(B, T, F)`` sequence outputs (or ``(B, F)``).
      rate: drop probability ``p``.
      deterministic: True in evaluation: ``outputs`` unchanged.

    Returns:
      ``outputs`` times one ``(B, 1, F)`` (or ``(B, F)``) mask.
    """
    if deterministic or rate == 0:
        return outputs
    key = module.make_rng("dropout")
    if outputs.ndim == 3:
        shape = (outputs.shape[0], 1, outputs.shape[-1])
    else:
        shape = outputs.shape
    return outputs * keep_mask(key, shape, rate, outputs.dtype)
