r"""The epsilon-prediction UNet of DDPM (Ho et al. 2020), sized for 28 x 28.

:math:`\epsilon_\theta(x_t, t)` predicts the noise that made ``x_t`` from
``x_0``. Its shape follows Ho et al.'s PixelCNN++-like UNet (appendix B):

* the step ``t`` enters as a sinusoidal embedding (as a Transformer's
  positions, Vaswani et al. 2017) through a two-layer MLP with SiLU, added
  inside every residual block;
* residual blocks: ``GroupNorm -> SiLU -> conv3x3 -> + time -> GroupNorm ->
  SiLU -> conv3x3``, plus a 1x1 convolution on the skip path when the width
  changes (Wu & He 2018 for GroupNorm);
* an encoder that halves the resolution ``28 -> 14 -> 7`` with stride-2
  convolutions, a middle ``res -> self-attention -> res`` at the lowest
  resolution (7 x 7 = 49 positions, ``jax.nn.dot_product_attention``), and a
  decoder that doubles it back (nearest neighbour + conv3x3), each block
  taking the matching encoder activation through a skip connection
  (concatenated, as in Ronneberger et al. 2015).

:data:`BENCHMARK_UNET` is the ~1.5M-parameter configuration of the benchmark
(``channels=32, multipliers=(1, 2, 2), blocks=2``: 1,539,329 parameters for
one input channel).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn.nn import GroupNorm, conv_fn


def timestep_embedding(t: jax.Array, dim: int, max_period: float = 10_000.0):
    r"""Sinusoidal embedding of (possibly fractional) steps: ``(B,) -> (B, dim)``.

    .. math:: e_{2i} = \sin(t\,\omega_i),\ e_{2i+1} = \cos(t\,\omega_i),\quad
              \omega_i = \text{max\_period}^{-i / (\text{dim}/2)}

    (sines first, then cosines, as in Ho et al.'s code).
    """
    half = dim // 2
    frequencies = jnp.exp(-math.log(max_period) * jnp.arange(half) / half)
    angles = jnp.asarray(t, jnp.float32)[:, None] * frequencies[None, :]
    return jnp.concatenate([jnp.sin(angles), jnp.cos(angles)], axis=-1)


class ResidualBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, the time embedding added in between.

    Attributes:
      features: output channels.
      groups: GroupNorm groups (must divide the channel counts).
      conv_path: how the convolutions are computed (:func:`jnn.nn.conv_fn`).
    """

    features: int
    groups: int = 8
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, time: jax.Array) -> jax.Array:
        """``x`` ``(B, H, W, C)``, ``time`` ``(B, E)`` -> ``(B, H, W, features)``."""
        conv = functools.partial(
            nn.Conv, conv_general_dilated=conv_fn(self.conv_path, "conv_path")
        )
        h = nn.silu(GroupNorm(self.groups)(x))
        h = conv(self.features, (3, 3))(h)
        h = h + nn.Dense(self.features)(nn.silu(time))[:, None, None, :]
        h = nn.silu(GroupNorm(self.groups)(h))
        h = conv(self.features, (3, 3))(h)
        if x.shape[-1] != self.features:
            x = conv(self.features, (1, 1))(x)
        return x + h


class SelfAttention(nn.Module):
    """Multi-head self-attention over the pixels of a feature map, residual.

    Attributes:
      heads: attention heads (must divide the channels).
      groups: GroupNorm groups.
    """

    heads: int = 1
    groups: int = 8

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``(B, H, W, C) -> (B, H, W, C)``: ``x + proj(attention(norm(x)))``."""
        b, height, width, c = x.shape
        h = GroupNorm(self.groups)(x).reshape(b, height * width, c)
        qkv = nn.Dense(3 * c)(h).reshape(b, height * width, 3, self.heads, -1)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        out = jax.nn.dot_product_attention(q, k, v).reshape(b, height * width, c)
        return x + nn.Dense(c)(out).reshape(b, height, width, c)


class UNet(nn.Module):
    r"""Epsilon-prediction UNet: :math:`\epsilon_\theta(x_t, t)`.

    Attributes:
      channels: width of the first level.
      multipliers: width of each level as a multiple of ``channels``; every
        level after the first halves the resolution (``(1, 2, 2)``:
        28 -> 14 -> 7).
      blocks: residual blocks per level in the encoder (the decoder has one
        more per level, Ho et al.'s layout).
      attention_levels: levels (indices into ``multipliers``) whose blocks
        are followed by self-attention; the middle always has it.
      heads: attention heads.
      groups: GroupNorm groups.
      out_channels: channels of the prediction (None: those of the input).
      conv_path: how the convolutions are computed: ``"auto"`` (the fast
        kernel gradient of :mod:`jnn.nn.conv` on CPU, where XLA's is slow
        inside the training loop; ``nn.Conv``'s reference elsewhere),
        ``"fast"`` or ``"reference"``. Same parameters on every path.
    """

    channels: int = 32
    multipliers: Sequence[int] = (1, 2, 2)
    blocks: int = 2
    attention_levels: Sequence[int] = ()
    heads: int = 1
    groups: int = 8
    out_channels: int | None = None
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array, t: jax.Array | None = None) -> jax.Array:
        """Predict the noise.

        Args:
          x: ``(B, H, W, C)`` noisy images (H, W divisible by
            ``2 ** (len(multipliers) - 1)``).
          t: ``(B,)`` steps in ``[0, T)``, integer or fractional (the
            probability-flow ODE evaluates between steps); None means step 0
            (what ``model.init(key, x)`` uses).

        Returns:
          ``(B, H, W, out_channels)``, the predicted ``epsilon``.
        """
        if t is None:
            t = jnp.zeros(x.shape[:1], jnp.float32)
        embed = 4 * self.channels
        time = timestep_embedding(t, self.channels)
        time = nn.Dense(embed)(nn.silu(nn.Dense(embed)(time)))
        conv = functools.partial(
            nn.Conv, conv_general_dilated=conv_fn(self.conv_path, "conv_path")
        )
        block = functools.partial(
            ResidualBlock, groups=self.groups, conv_path=self.conv_path
        )
        h = conv(self.channels, (3, 3))(x)
        skips = [h]
        levels = len(self.multipliers)
        for level, mult in enumerate(self.multipliers):
            for _ in range(self.blocks):
                h = block(self.channels * mult)(h, time)
                if level in self.attention_levels:
                    h = SelfAttention(self.heads, self.groups)(h)
                skips.append(h)
            if level < levels - 1:
                h = conv(h.shape[-1], (3, 3), strides=(2, 2))(h)
                skips.append(h)
        width = h.shape[-1]
        h = block(width)(h, time)
        h = SelfAttention(self.heads, self.groups)(h)
        h = block(width)(h, time)
        for level, mult in reversed(list(enumerate(self.multipliers))):
            for _ in range(self.blocks + 1):
                h = jnp.concatenate([h, skips.pop()], axis=-1)
                h = block(self.channels * mult)(h, time)
                if level in self.attention_levels:
                    h = SelfAttention(self.heads, self.groups)(h)
            if level > 0:
                b, height, w, c = h.shape
                h = jax.image.resize(h, (b, 2 * height, 2 * w, c), "nearest")
                h = conv(c, (3, 3))(h)
        h = nn.silu(GroupNorm(self.groups)(h))
        out = self.out_channels or x.shape[-1]
        return conv(out, (3, 3))(h)


#: The benchmark's ~1.5M-parameter UNet for 28 x 28 x 1 (1,539,329 parameters).
BENCHMARK_UNET = {"channels": 32, "multipliers": (1, 2, 2), "blocks": 2}


def parameter_count(params) -> int:
    """Number of scalars in a parameter pytree."""
    return sum(int(p.size) for p in jax.tree.leaves(params))
