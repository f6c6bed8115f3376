r"""Training the StyleGAN-style generator: discriminator, R1, mixing regularisation.

The losses are StyleGAN's on FFHQ (Karras et al. 2019, appendix C): the
non-saturating logistic loss of Goodfellow et al. (2014) with the **R1
penalty** of Mescheder, Geiger & Nowozin (2018) on real images,

.. math::
    L_D &= \mathbb{E}_z[\operatorname{softplus}(D(G(z)))]
         + \mathbb{E}_x[\operatorname{softplus}(-D(x))]
         + \tfrac{\gamma}{2}\,\mathbb{E}_x \lVert \nabla_x D(x) \rVert^2, \\
    L_G &= \mathbb{E}_z[\operatorname{softplus}(-D(G(z)))],

(:math:`\gamma = 10` in the paper). **Mixing regularisation**: for a share
``mixing_probability`` of the generated images (0.9 in the paper) two
latents are drawn and the crossover is uniform in ``[1, n_styles)``, so the
network cannot assume adjacent styles are correlated.

:func:`stylegan_learner` is a :func:`jnn.train.players_learner` with the
players ``"discriminator"`` then ``"generator"``; batches are
``{"x": (B, 28, 28, 1)}`` real images in ``[0, 1]``.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn._checks import check_fraction, check_interval
from jnn.generative.gan.stylegan import StyleGenerator, check_generator, mix_styles
from jnn.nn import conv_fn
from jnn.train import Learner, Player, players_learner


class StyleDiscriminator(nn.Module):
    """A small convolutional discriminator, ``(B, 28, 28, 1)`` -> ``(B,)`` logits.

    Two stride-2 4x4 convs (LeakyReLU 0.2, no normalisation: R1 needs a
    per-image gradient), then a dense logit.

    Attributes:
      features: channels of the first conv (doubled at the second).
      conv_path: how the convolutions are computed (:func:`jnn.nn.conv_fn`;
        the fast path's ``custom_jvp`` differentiates twice, as R1 needs).
    """

    features: int = 32
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Logits of images in ``[0, 1]``."""
        conv = functools.partial(
            nn.Conv, conv_general_dilated=conv_fn(self.conv_path, "conv_path")
        )
        h = nn.leaky_relu(conv(self.features, (4, 4), 2, padding=1)(2 * x - 1), 0.2)
        h = nn.leaky_relu(conv(2 * self.features, (4, 4), 2, padding=1)(h), 0.2)
        h = nn.leaky_relu(conv(2 * self.features, (3, 3))(h), 0.2)
        return nn.Dense(1)(h.reshape(h.shape[0], -1))[:, 0]


def r1_penalty(score, images: jax.Array) -> jax.Array:
    r"""Mean of :math:`\lVert \nabla_x D(x) \rVert^2` over the images.

    ``score`` maps ``(B, H, W, 1)`` images to ``(B,)`` logits computed image
    by image (no batch statistics), so the gradient of their sum is each
    image's own gradient.
    """
    grads = jax.grad(lambda x: jnp.sum(score(x)))(images)
    return jnp.mean(jnp.sum(grads**2, axis=(1, 2, 3)))


def mixed_styles(
    model: StyleGenerator, generator_params, key, n: int, mixing_probability: float
) -> jax.Array:
    """Styles ``(n, n_styles, style)`` with mixing regularisation.

    Each image mixes two latents' styles with probability
    ``mixing_probability`` (crossover uniform in ``[1, n_styles)``), else
    uses one style for every layer.
    """
    k1, k2, k3, k4 = jax.random.split(key, 4)
    z = jax.random.normal(k1, (2 * n, model.latent_size))
    w = model.apply({"params": generator_params}, z, method="map")
    cut = jax.random.randint(k2, (n,), 1, model.n_styles)
    mix = jax.random.bernoulli(k3, mixing_probability, (n,))
    cut = jnp.where(mix, cut, model.n_styles)
    return mix_styles(w[:n], w[n:], cut, model.n_styles)


def stylegan_learner(
    model: StyleGenerator,
    *,
    discriminator: nn.Module | None = None,
    r1_weight: float = 10.0,
    mixing_probability: float = 0.9,
    learning_rate: float = 1e-3,
    mapping_learning_rate: float | None = None,
    b1: float = 0.0,
    b2: float = 0.99,
) -> Learner:
    r"""The StyleGAN training round as a :func:`jnn.train.players_learner`.

    Args:
      model: the generator (:func:`~jnn.generative.gan.stylegan.style_generator`).
      discriminator: a module ``(B, 28, 28, 1) -> (B,)`` logits; None for
        :class:`StyleDiscriminator`.
      r1_weight: :math:`\gamma >= 0` of the R1 penalty (10 in the paper).
      mixing_probability: share of mixed-style images in training, in [0, 1].
      learning_rate: Adam step size of both players (the paper's 0.001).
      mapping_learning_rate: step size of the mapping network; None for
        ``learning_rate / 100`` (the paper's multiplier 0.01).
      b1: Adam's first-moment decay (the paper's 0).
      b2: Adam's second-moment decay (the paper's 0.99).

    Returns:
      A learner for :func:`jnn.train.fit` on ``{"x": (n, 28, 28, 1)}``;
      metrics ``discriminator_loss``, ``discriminator_r1``,
      ``discriminator_real``/``_fake`` (mean logits), ``generator_loss``.
    """
    check_generator(model)
    disc = StyleDiscriminator() if discriminator is None else discriminator
    if not isinstance(disc, nn.Module):
        raise TypeError(
            f"`discriminator` must be a flax Module; got {type(disc).__name__}."
        )
    check_interval(r1_weight, "r1_weight", 0.0)
    check_fraction(mixing_probability, "mixing_probability", high=1.0000001)
    check_interval(learning_rate, "learning_rate", 0.0, closed=False)
    if mapping_learning_rate is None:
        mapping_learning_rate = learning_rate / 100
    check_interval(mapping_learning_rate, "mapping_learning_rate", 0.0, closed=False)
    check_interval(b1, "b1", 0.0, 1.0)
    check_interval(b2, "b2", 0.0, 1.0)

    def init(key, batch):
        kg, kd, kn = jax.random.split(key, 3)
        z = jnp.zeros((1, model.latent_size), jnp.float32)
        g = model.init({"params": kg, "noise": kn}, z)["params"]
        d = disc.init(kd, jnp.zeros((1, 28, 28, 1), jnp.float32))["params"]
        return {"discriminator": d, "generator": g}, {}

    def fakes(generator_params, key, n):
        ks, kn = jax.random.split(key)
        styles = mixed_styles(model, generator_params, ks, n, mixing_probability)
        rngs = {"noise": kn} if model.use_noise else {}
        return model.apply(
            {"params": generator_params}, styles, rngs=rngs, method="synthesize"
        )

    def score(params, x):
        return disc.apply({"params": params["discriminator"]}, x)

    def discriminator_loss(params, batch, ctx):
        real = batch["x"]
        fake = jax.lax.stop_gradient(fakes(params["generator"], ctx.key, real.shape[0]))
        real_logits, fake_logits = score(params, real), score(params, fake)
        adversarial = jnp.mean(nn.softplus(fake_logits) + nn.softplus(-real_logits))
        r1 = r1_penalty(lambda x: score(params, x), real)
        metrics = {
            "r1": r1,
            "real": jnp.mean(real_logits),
            "fake": jnp.mean(fake_logits),
        }
        return adversarial + 0.5 * r1_weight * r1, metrics, ctx.model_state

    def generator_loss(params, batch, ctx):
        fake = fakes(params["generator"], ctx.key, batch["x"].shape[0])
        return jnp.mean(nn.softplus(-score(params, fake))), {}, ctx.model_state

    def adam(rate):
        return optax.adam(rate, b1=b1, b2=b2)

    generator_optimizer = optax.multi_transform(
        {"mapping": adam(mapping_learning_rate), "synthesis": adam(learning_rate)},
        lambda params: {k: k for k in params},
    )
    return players_learner(
        init,
        {
            "discriminator": Player(discriminator_loss, adam(learning_rate)),
            "generator": Player(generator_loss, generator_optimizer),
        },
    )
