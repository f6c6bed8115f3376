r"""Position information for attention, which by itself is order-blind.

Three ways to tell a token where it is:

* :func:`sinusoidal_encoding` (Vaswani et al. 2017, sec. 3.5), added to the
  embeddings:

  .. math:: PE_{p, 2i} = \sin(p / 10000^{2i/d}),\qquad
            PE_{p, 2i+1} = \cos(p / 10000^{2i/d});

* :class:`LearnedPositionalEmbedding`: a trained ``(max_length, d)`` table
  (GPT, Radford et al. 2018; BERT);
* :func:`rotary_embedding` (RoPE; Su et al. 2021, "RoFormer"): queries and keys
  are rotated pair by pair by an angle proportional to their position,

  .. math:: f(x, p)_{(2i, 2i+1)} = R(p\,\theta_i)\,(x_{2i}, x_{2i+1}),\qquad
            \theta_i = b^{-2i/D},

  so that :math:`f(q, m) \cdot f(k, n)` depends on ``m - n`` only: attention
  scores become functions of relative position.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_positive_float,
    check_positive_int,
    is_concrete,
)

__all__ = ["LearnedPositionalEmbedding", "rotary_embedding", "sinusoidal_encoding"]


def sinusoidal_encoding(
    length: int, features: int, *, base: float = 10000.0
) -> jnp.ndarray:
    """The ``(L, d)`` float32 sinusoidal position encoding (Vaswani et al. 2017).

    Even columns hold sines and odd columns cosines of ``p / base^(2i/d)``.

    Example:
      >>> pe = sinusoidal_encoding(4, 6)
      >>> pe.shape, pe[0].tolist()
      ((4, 6), [0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    """
    check_positive_int(length, "length")
    check_positive_int(features, "features")
    check_positive_float(base, "base")
    pairs = (features + 1) // 2
    frequencies = base ** (-2.0 * np.arange(pairs) / features)
    angles = np.arange(length)[:, None] * frequencies[None, :]  # (L, d/2)
    table = np.stack([np.sin(angles), np.cos(angles)], axis=-1)  # (L, d/2, 2)
    return jnp.asarray(table.reshape(length, 2 * pairs)[:, :features], jnp.float32)


class LearnedPositionalEmbedding(nn.Module):
    """A learned ``(max_length, features)`` table of position vectors.

    Attributes:
      max_length: positions ``0 .. max_length - 1``.
      features: ``d``, the vector size.
      embedding_init: initialiser of the table (normal, std 0.02, as GPT-2).

    ``__call__(positions)`` maps int positions ``(...)`` to ``(..., d)``.
    """

    max_length: int
    features: int
    embedding_init: Any = nn.initializers.normal(0.02)

    def __post_init__(self):
        check_positive_int(self.max_length, "max_length")
        check_positive_int(self.features, "features")
        super().__post_init__()

    @nn.compact
    def __call__(self, positions: jax.Array) -> jax.Array:
        """Int positions ``(...)`` in ``[0, max_length)`` -> vectors ``(..., d)``."""
        check_array(positions, "positions", kind="i")
        if is_concrete(positions):
            p = np.asarray(positions)
            if p.min() < 0 or p.max() >= self.max_length:
                raise ValueError(
                    f"`positions` must lie in [0, {self.max_length}) "
                    f"(`max_length`); got min {p.min()} and max {p.max()}."
                )
        table = self.param(
            "embedding", self.embedding_init, (self.max_length, self.features)
        )
        return jnp.take(table, positions, axis=0)


def rotary_embedding(
    x: jax.Array, positions: jax.Array, base: float = 10000.0
) -> jax.Array:
    r"""Rotate queries or keys by their positions (RoPE, Su et al. 2021, eq. 34).

    Pair ``(x_{2i}, x_{2i+1})`` of every head is rotated by the angle
    ``p theta_i`` with ``theta_i = base^{-2i/D}``; apply it to both ``q`` and
    ``k`` before their dot product.

    Args:
      x: ``(B, L, H, D)`` queries or keys, ``D`` even.
      positions: ``(L,)`` or ``(B, L)`` int (or float) positions.
      base: ``b`` of the frequencies.

    Returns:
      The rotated array, shape and dtype of ``x``.
    """
    if not hasattr(x, "shape") or len(x.shape) != 4:
        raise ValueError(
            "`x` must have shape (batch, length, heads, head_features); got "
            f"{getattr(x, 'shape', type(x).__name__)}."
        )
    head = x.shape[-1]
    if head % 2:
        raise ValueError(
            f"`x` must have an even head dimension D to rotate pairs; got D={head}."
        )
    check_positive_float(base, "base")
    positions = jnp.asarray(positions)
    if positions.shape not in ((x.shape[1],), (x.shape[0], x.shape[1])):
        raise ValueError(
            f"`positions` must have shape (L,) or (B, L) = ({x.shape[0]}, "
            f"{x.shape[1]}); got {tuple(positions.shape)}."
        )
    dtype = jnp.promote_types(x.dtype, jnp.float32)
    theta = base ** (-jnp.arange(0, head, 2, dtype=dtype) / head)  # (D/2,)
    theta = theta.reshape((1,) * positions.ndim + theta.shape)
    angles = positions.astype(dtype)[..., None] * theta  # (..., L, D/2)
    if angles.ndim == 2:
        angles = angles[None]
    cos = jnp.cos(angles)[:, :, None, :]  # (B|1, L, 1, D/2)
    sin = jnp.sin(angles)[:, :, None, :]
    pairs = x.reshape(*x.shape[:-1], head // 2, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    rotated = jnp.stack([even * cos - odd * sin, even * sin + odd * cos], axis=-1)
    return rotated.reshape(x.shape).astype(x.dtype)
