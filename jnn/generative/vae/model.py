r"""The variational auto-encoder of Kingma & Welling (2014) as Flax Linen modules.

An encoder (recognition model) maps ``x`` to a diagonal Gaussian
``q(z | x) = N(mu(x), diag sigma^2(x))``; a decoder (generative model) maps a
latent ``z`` to a likelihood ``p(x | z)`` (:mod:`.decoders`); the prior is
``p(z) = N(0, I)``. Latents are drawn by reparameterisation,

.. math:: z = \mu(x) + \sigma(x) \odot \varepsilon, \quad
          \varepsilon \sim N(0, I),

so that ``z`` is a differentiable function of the encoder's outputs and the
gradient of a Monte Carlo estimate of the ELBO flows into the encoder
(Kingma & Welling 2014, section 2.4).

The default :func:`mlp_vae` is the paper's MNIST model: a 784-400-20 MLP encoder
with ReLU hidden units, a 20-400-784 decoder with Bernoulli outputs.

``VAE.__call__(x, eps)`` takes the draws ``eps`` explicitly (the loss
:func:`jnn.generative.vae.negative_elbo` draws them from the step's key,
``ctx.key`` of the :class:`jnn.train.Context`); without ``eps`` it draws them
from the ``"latent"`` RNG stream (``model.apply(..., rngs={"latent": key})``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int
from jnn.generative.vae.decoders import (
    Bernoulli,
    BernoulliDecoder,
    Gaussian,
    GaussianDecoder,
    _check_sizes,
)

#: The RNG stream the encoder's reparameterisation draws from.
LATENT_STREAM = "latent"


def reparameterize(
    mean: jax.Array, log_variance: jax.Array, eps: jax.Array
) -> jax.Array:
    r"""``z = mean + exp(log_variance / 2) * eps`` (shapes broadcast explicitly).

    Args:
      mean: ``(B, L)`` posterior means.
      log_variance: ``(B, L)`` posterior log-variances.
      eps: ``(B, L)`` or ``(K, B, L)`` standard normal draws.

    Returns:
      ``z`` of ``eps``'s shape.
    """
    extra = eps.ndim - mean.ndim
    shape = (1,) * extra + mean.shape
    std = jnp.exp(0.5 * log_variance)
    return mean.reshape(shape) + std.reshape(shape) * eps


class GaussianEncoder(nn.Module):
    """MLP ``x -> (mean, log_variance)`` of ``q(z | x)``: ``D -> hidden -> 2 L``.

    Attributes:
      latents: latent dimensions ``L`` (> 0).
      hidden: widths of the hidden ReLU layers.
    """

    latents: int = 20
    hidden: Sequence[int] = (400,)

    def __post_init__(self):
        check_positive_int(self.latents, "latents")
        object.__setattr__(
            self, "hidden", _check_sizes(self.latents, self.hidden, "encoder")
        )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``x: (B, D)`` -> ``mean, log_variance``, each ``(B, L)``."""
        for i, width in enumerate(self.hidden):
            x = nn.relu(nn.Dense(width, name=f"hidden_{i}")(x))
        mean = nn.Dense(self.latents, name="mean")(x)
        log_variance = nn.Dense(self.latents, name="log_variance")(x)
        return mean, log_variance


class VAEOutput(NamedTuple):
    """One pass of a VAE on a batch.

    Attributes:
      mean: ``(B, L)`` posterior means ``mu(x)``.
      log_variance: ``(B, L)`` posterior log-variances ``log sigma^2(x)``.
      z: ``(B, L)`` (or ``(K, B, L)``) reparameterised latents.
      likelihood: the decoder's :class:`Bernoulli` or :class:`Gaussian` at
        ``z``.
    """

    mean: jax.Array
    log_variance: jax.Array
    z: jax.Array
    likelihood: Bernoulli | Gaussian


class VAE(nn.Module):
    """Encoder + decoder; ``__call__(x, eps=None) -> VAEOutput``.

    Attributes:
      encoder: a :class:`GaussianEncoder`.
      decoder: a :class:`BernoulliDecoder` or :class:`GaussianDecoder` (any
        module ``z -> likelihood`` with ``log_prob``, ``mean_image`` and
        ``sample``, and a ``data_range``).
    """

    encoder: nn.Module
    decoder: nn.Module

    @property
    def latents(self) -> int:
        """Latent dimensions ``L``."""
        return self.encoder.latents

    def __call__(self, x: jax.Array, eps: jax.Array | None = None) -> VAEOutput:
        """Encode ``x: (B, D)``, reparameterise, decode.

        Args:
          x: ``(B, D)`` data.
          eps: ``(B, L)`` or ``(K, B, L)`` standard normal draws; None draws
            ``(B, L)`` from the ``"latent"`` RNG stream.
        """
        mean, log_variance = self.encoder(x)
        if eps is None:
            eps = jax.random.normal(self.make_rng(LATENT_STREAM), mean.shape)
        z = reparameterize(mean, log_variance, eps)
        return VAEOutput(mean, log_variance, z, self.decoder(z))

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``x: (B, D)`` -> ``mean, log_variance`` of ``q(z | x)``, ``(B, L)``."""
        return self.encoder(x)

    def decode(self, z: jax.Array) -> Bernoulli | Gaussian:
        """``z: (..., L)`` -> the likelihood ``p(x | z)``."""
        return self.decoder(z)


def mlp_vae(
    latents: int = 20,
    hidden: int | Sequence[int] = 400,
    features: int = 784,
    *,
    likelihood: str = "bernoulli",
    learned_variance: bool = True,
    variance: float = 1.0,
) -> VAE:
    """A VAE with mirrored MLPs (default: Kingma & Welling's 784-400-20 on MNIST).

    Args:
      latents: latent dimensions ``L`` (> 0).
      hidden: hidden width(s) of the encoder; the decoder mirrors them.
      features: data dimensions ``D``.
      likelihood: ``"bernoulli"`` (data in [0, 1]) or ``"gaussian"``.
      learned_variance: Gaussian only: learn ``log sigma^2`` (else fixed).
      variance: Gaussian only: the fixed variance.

    Returns:
      A :class:`VAE` module.

    Raises:
      ValueError: ``latents``, ``hidden`` or ``features`` not positive,
        unknown ``likelihood``.

    Example:
      >>> model = mlp_vae()
      >>> model.latents
      20
    """
    check_positive_int(latents, "latents")
    hidden = _check_sizes(features, hidden, "vae")
    if likelihood == "bernoulli":
        decoder = BernoulliDecoder(features, hidden[::-1])
    elif likelihood == "gaussian":
        decoder = GaussianDecoder(features, hidden[::-1], learned_variance, variance)
    else:
        raise ValueError(
            f"`likelihood` must be 'bernoulli' or 'gaussian'; got {likelihood!r}."
        )
    return VAE(GaussianEncoder(latents, hidden), decoder)
