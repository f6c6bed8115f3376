"""Multi-layer perceptron generator and discriminator (Goodfellow et al. 2014).

The original GAN's players are MLPs: the generator maps a latent vector
``z`` to a sample, the discriminator a sample to one logit. These are the
models of the 8-Gaussian ring (Metz et al. 2017: two ReLU layers of 128
units in each player) and of small vector data.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLPGenerator(nn.Module):
    r"""``G(z)``: ReLU layers, then a linear (or ``tanh``) output layer.

    .. math:: G(z) = W_L\,\mathrm{relu}(\dots\mathrm{relu}(W_1 z + b_1)\dots)
              + b_L

    Attributes:
      output_size: dimension of a sample (2 for the ring; 784 for MNIST).
      features: widths of the hidden ReLU layers.
      output_activation: None (linear output, for unbounded data) or
        ``"tanh"`` (data scaled to ``[-1, 1]``).

    Call: ``z`` of shape ``(n, latent_size)`` -> ``(n, output_size)``.
    """

    output_size: int
    features: Sequence[int] = (128, 128)
    output_activation: str | None = None

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        """Samples ``(n, output_size)`` from ``z`` ``(n, latent)``."""
        h = z
        for width in self.features:
            h = nn.relu(nn.Dense(width)(h))
        x = nn.Dense(self.output_size)(h)
        return jnp.tanh(x) if self.output_activation == "tanh" else x


class MLPDiscriminator(nn.Module):
    r"""``D(x)``: ReLU (or LeakyReLU) layers, then one logit per sample.

    Returns logits ``l`` with :math:`D(x) = \sigma(l)`; a Wasserstein critic
    uses the same output as its score ``f(x)``.

    Attributes:
      features: widths of the hidden layers.
      negative_slope: 0 for ReLU, e.g. 0.2 for LeakyReLU.

    Call: ``x`` of shape ``(n, d)`` (or ``(n, ...)``, flattened) -> ``(n,)``.
    """

    features: Sequence[int] = (128, 128)
    negative_slope: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits ``(n,)`` of samples ``x`` ``(n, d)``."""
        h = x.reshape(x.shape[0], -1)
        for width in self.features:
            h = nn.Dense(width)(h)
            h = jnp.where(h > 0, h, self.negative_slope * h)
        return nn.Dense(1)(h)[:, 0]
