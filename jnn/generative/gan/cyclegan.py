r"""CycleGAN (Zhu, Park, Isola & Efros 2017): unpaired image-to-image translation.

Two generators, :math:`G: A \to B` and :math:`F: B \to A`, and two
discriminators, :math:`D_B` (real B vs :math:`G(a)`) and :math:`D_A`, trained
with the least-squares adversarial loss (Mao et al. 2017) plus
cycle-consistency and identity terms:

.. math::
    L_D &= \tfrac12 \mathbb{E}[(D_B(b) - 1)^2 + D_B(G(a))^2]
         + \tfrac12 \mathbb{E}[(D_A(a) - 1)^2 + D_A(F(b))^2], \\
    L_{G,F} &= \mathbb{E}[(D_B(G(a)) - 1)^2] + \mathbb{E}[(D_A(F(b)) - 1)^2]
         + \lambda\,(\lVert F(G(a)) - a\rVert_1 + \lVert G(F(b)) - b\rVert_1)
         + \lambda_{id}\,(\lVert G(b) - b\rVert_1 + \lVert F(a) - a\rVert_1),

with :math:`\lambda = 10` and :math:`\lambda_{id} = 0.5\lambda` as in the
paper (L1 norms are means over pixels). The architectures are the paper's at
28 x 28: a ResNet generator (7x7 conv, two stride-2 downsamplings, residual
blocks, two transposed-conv upsamplings, 7x7 conv; instance norm, ReLU,
reflection padding; tanh output mapped to ``[0, 1]``) and a PatchGAN
discriminator (4x4 stride-2 convs with LeakyReLU 0.2 and instance norm, a
score per overlapping 22 x 22 patch). The paper's history pool of 50 past
fakes is omitted: each discriminator step sees the current generators'
translations.

:func:`cyclegan_learner` is a :func:`jnn.train.players_learner` with two
players, ``"discriminators"`` (both, jointly) then ``"generators"`` (both,
jointly): one compiled update is one round of each. Batches are
``{"a": (B, 28, 28, 1), "b": (B, 28, 28, 1)}`` of unrelated images in
``[0, 1]`` (see :func:`jnn.generative.gan.domains.unpaired_domains`).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn._checks import check_array, check_interval, check_positive_int, is_concrete
from jnn.nn import ConvTranspose, conv_fn
from jnn.train import Learner, Player, players_learner

DIRECTIONS = ("a_to_b", "b_to_a")


def _reflect(x: jax.Array, pad: int) -> jax.Array:
    return jnp.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="reflect")


class ResidualBlock(nn.Module):
    """``x + IN(conv(ReLU(IN(conv(x)))))`` with 3x3 reflection-padded convs."""

    features: int
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        conv = functools.partial(
            nn.Conv, conv_general_dilated=conv_fn(self.conv_path, "conv_path")
        )
        h = conv(self.features, (3, 3), padding="VALID")(_reflect(x, 1))
        h = nn.relu(nn.InstanceNorm(epsilon=1e-5)(h))
        h = conv(self.features, (3, 3), padding="VALID")(_reflect(h, 1))
        return x + nn.InstanceNorm(epsilon=1e-5)(h)


class CycleGenerator(nn.Module):
    """The ResNet generator of CycleGAN, ``(B, H, W, 1)`` -> ``(B, H, W, 1)``.

    Attributes:
      features: channels of the first layer (doubled at each downsampling).
      residual_blocks: residual blocks at the lowest resolution.
      downsamplings: stride-2 convolutions (``H`` and ``W`` must be multiples
        of ``2 ** downsamplings``).
      conv_path: how the convolutions are computed (:func:`jnn.nn.conv_fn`:
        ``"auto"`` is the fast kernel gradient on CPU); same parameters.
    """

    features: int = 16
    residual_blocks: int = 3
    downsamplings: int = 2
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Translate images in ``[0, 1]`` to images in ``[0, 1]``."""
        conv = functools.partial(
            nn.Conv, conv_general_dilated=conv_fn(self.conv_path, "conv_path")
        )
        h = conv(self.features, (7, 7), padding="VALID")(_reflect(2 * x - 1, 3))
        h = nn.relu(nn.InstanceNorm(epsilon=1e-5)(h))
        for i in range(1, self.downsamplings + 1):
            h = conv(self.features * 2**i, (3, 3), strides=2, padding=1)(h)
            h = nn.relu(nn.InstanceNorm(epsilon=1e-5)(h))
        width = self.features * 2**self.downsamplings
        for _ in range(self.residual_blocks):
            h = ResidualBlock(width, self.conv_path)(h)
        for i in reversed(range(self.downsamplings)):
            up = ConvTranspose(
                self.features * 2**i, (3, 3), (2, 2), conv_path=self.conv_path
            )
            h = up(h)
            h = nn.relu(nn.InstanceNorm(epsilon=1e-5)(h))
        h = conv(1, (7, 7), padding="VALID")(_reflect(h, 3))
        return 0.5 * (jnp.tanh(h) + 1.0)


class PatchDiscriminator(nn.Module):
    """PatchGAN discriminator: one real/fake score per image patch.

    ``(B, 28, 28, 1)`` -> ``(B, 7, 7, 1)`` scores (no sigmoid: the
    least-squares loss reads them directly); each score sees a 22 x 22 patch.

    Attributes:
      features: channels of the first conv (doubled at the second).
      conv_path: as :class:`CycleGenerator`.
    """

    features: int = 32
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Patch scores of images in ``[0, 1]``."""
        conv = functools.partial(
            nn.Conv, conv_general_dilated=conv_fn(self.conv_path, "conv_path")
        )
        h = conv(self.features, (4, 4), strides=2, padding=1)(2 * x - 1)
        h = nn.leaky_relu(h, 0.2)
        h = conv(2 * self.features, (4, 4), strides=2, padding=1)(h)
        h = nn.leaky_relu(nn.InstanceNorm(epsilon=1e-5)(h), 0.2)
        return conv(1, (4, 4), padding="SAME")(h)


class CycleGAN(NamedTuple):
    r"""A CycleGAN's modules and loss weights (build with :func:`cyclegan`).

    Attributes:
      generator: the module used for both ``G`` and ``F`` (separate params).
      discriminator: the module used for both ``D_A`` and ``D_B``.
      cycle_weight: :math:`\lambda`.
      identity_weight: :math:`\lambda_{id}`.
      image_size: height and width of the images.
    """

    generator: CycleGenerator
    discriminator: PatchDiscriminator
    cycle_weight: float
    identity_weight: float
    image_size: int


def cyclegan(
    *,
    features: int = 16,
    residual_blocks: int = 3,
    downsamplings: int = 2,
    discriminator_features: int = 32,
    cycle_weight: float = 10.0,
    identity_weight: float | None = None,
    image_size: int = 28,
) -> CycleGAN:
    r"""Build a :class:`CycleGAN` (checks every argument).

    Args:
      features: generator width (first layer).
      residual_blocks: generator residual blocks.
      downsamplings: generator stride-2 convolutions (1 or more).
      discriminator_features: discriminator width.
      cycle_weight: :math:`\lambda >= 0` (10 in the paper).
      identity_weight: :math:`\lambda_{id} >= 0`; None for ``0.5 *
        cycle_weight`` (the paper's).
      image_size: images are ``image_size`` squared; a multiple of
        ``2 ** downsamplings`` (and of 4 for the discriminator).

    Raises:
      TypeError, ValueError: naming the offending argument.
    """
    for value, name in (
        (features, "features"),
        (residual_blocks, "residual_blocks"),
        (downsamplings, "downsamplings"),
        (discriminator_features, "discriminator_features"),
        (image_size, "image_size"),
    ):
        check_positive_int(value, name)
    check_interval(cycle_weight, "cycle_weight", 0.0)
    if identity_weight is None:
        identity_weight = 0.5 * cycle_weight
    check_interval(identity_weight, "identity_weight", 0.0)
    multiple = max(2**downsamplings, 4)
    if image_size % multiple:
        raise ValueError(
            f"`image_size` must be a multiple of {multiple} (2 ** downsamplings "
            f"= {2**downsamplings}, and 4 for the discriminator); got {image_size}."
        )
    return CycleGAN(
        CycleGenerator(features, residual_blocks, downsamplings),
        PatchDiscriminator(discriminator_features),
        float(cycle_weight),
        float(identity_weight),
        image_size,
    )


def check_cycle_images(model: CycleGAN, images, name: str = "images") -> None:
    """Raise unless ``images`` is ``(n, S, S, 1)`` float with ``S`` the model's."""
    check_array(images, name, ndim=4, kind="f")
    size = model.image_size
    if tuple(images.shape[1:]) != (size, size, 1):
        raise ValueError(
            f"`{name}` must have shape (n, {size}, {size}, 1) for this CycleGAN; "
            f"got {tuple(images.shape)}."
        )


def least_squares_discriminator_loss(real_scores, fake_scores) -> jax.Array:
    """LSGAN: ``0.5 * (mean((D(real) - 1)^2) + mean(D(fake)^2))``."""
    return 0.5 * (jnp.mean((real_scores - 1) ** 2) + jnp.mean(fake_scores**2))


def least_squares_generator_loss(fake_scores) -> jax.Array:
    """LSGAN generator loss ``mean((D(fake) - 1)^2)``."""
    return jnp.mean((fake_scores - 1) ** 2)


def cycle_consistency_loss(real, reconstructed) -> jax.Array:
    """Mean absolute error ``mean|x - F(G(x))|`` (the paper's L1 cycle loss)."""
    return jnp.mean(jnp.abs(real - reconstructed))


def generator_objective(
    generate_ab, generate_ba, score_a, score_b, a, b, cycle_weight, identity_weight
):
    r"""The generators' loss :math:`L_{G,F}` from four functions.

    Args:
      generate_ab: ``G``, A images -> B images.
      generate_ba: ``F``, B images -> A images.
      score_a: ``D_A``, images -> scores.
      score_b: ``D_B``, images -> scores.
      a: ``(B, H, W, 1)`` batch of domain A.
      b: ``(B, H, W, 1)`` batch of domain B.
      cycle_weight: :math:`\lambda`.
      identity_weight: :math:`\lambda_{id}` (0 skips the identity images).

    Returns:
      ``(loss, parts)`` with ``parts`` the ``adversarial``, ``cycle`` and
      ``identity`` terms (unweighted).
    """
    n_a, n_b = a.shape[0], b.shape[0]
    fake_b, fake_a = generate_ab(a), generate_ba(b)
    # one call per generator for its cycle and identity images (instance norm
    # is per image, so batching them changes nothing)
    if identity_weight:
        from_b = generate_ab(jnp.concatenate([fake_a, b]))
        from_a = generate_ba(jnp.concatenate([fake_b, a]))
        identity = cycle_consistency_loss(b, from_b[n_b:]) + cycle_consistency_loss(
            a, from_a[n_a:]
        )
    else:
        from_b, from_a = generate_ab(fake_a), generate_ba(fake_b)
        identity = jnp.zeros(())
    adversarial = least_squares_generator_loss(
        score_b(fake_b)
    ) + least_squares_generator_loss(score_a(fake_a))
    cycle = cycle_consistency_loss(a, from_a[:n_a]) + cycle_consistency_loss(
        b, from_b[:n_b]
    )
    loss = adversarial + cycle_weight * cycle + identity_weight * identity
    return loss, {"adversarial": adversarial, "cycle": cycle, "identity": identity}


def _functions(model: CycleGAN, params: dict):
    gen, disc = params["generators"], params["discriminators"]
    apply_g, apply_d = model.generator.apply, model.discriminator.apply
    return (
        lambda x: apply_g({"params": gen["a_to_b"]}, x),
        lambda x: apply_g({"params": gen["b_to_a"]}, x),
        lambda x: apply_d({"params": disc["a"]}, x),
        lambda x: apply_d({"params": disc["b"]}, x),
    )


def cyclegan_learner(
    model: CycleGAN, *, learning_rate: float = 2e-4, b1: float = 0.5
) -> Learner:
    """The CycleGAN training round as a :func:`jnn.train.players_learner`.

    Players ``"discriminators"`` (``{"a": D_A, "b": D_B}``) then
    ``"generators"`` (``{"a_to_b": G, "b_to_a": F}``), each with
    Adam(``learning_rate``, ``b1``, 0.999) as in the paper.

    Args:
      model: from :func:`cyclegan`.
      learning_rate: Adam step size (2e-4 in the paper).
      b1: Adam's first-moment decay (0.5 in the paper).

    Returns:
      A learner for :func:`jnn.train.fit` on ``{"a": ..., "b": ...}``; metrics
      ``discriminators_loss``, ``generators_loss``,
      ``generators_{adversarial,cycle,identity}``.
    """
    if not isinstance(model, CycleGAN):
        raise TypeError(f"`model` must be a CycleGAN; got {type(model).__name__}.")
    check_interval(learning_rate, "learning_rate", 0.0, closed=False)
    check_interval(b1, "b1", 0.0, 1.0)
    size = model.image_size

    def init(key, batch):
        x = jnp.zeros((1, size, size, 1), jnp.float32)
        keys = jax.random.split(key, 4)
        g = [model.generator.init(k, x)["params"] for k in keys[:2]]
        d = [model.discriminator.init(k, x)["params"] for k in keys[2:]]
        params = {
            "discriminators": {"a": d[0], "b": d[1]},
            "generators": {"a_to_b": g[0], "b_to_a": g[1]},
        }
        return params, {}

    def discriminator_loss(params, batch, ctx):
        g, f, score_a, score_b = _functions(model, params)
        a, b = batch["a"], batch["b"]
        fake_b = jax.lax.stop_gradient(g(a))
        fake_a = jax.lax.stop_gradient(f(b))
        # real and fake in one call per discriminator (no batch statistics)
        scores_b = score_b(jnp.concatenate([b, fake_b]))
        scores_a = score_a(jnp.concatenate([a, fake_a]))
        n_a, n_b = a.shape[0], b.shape[0]
        loss_b = least_squares_discriminator_loss(scores_b[:n_b], scores_b[n_b:])
        loss_a = least_squares_discriminator_loss(scores_a[:n_a], scores_a[n_a:])
        return loss_a + loss_b, {"a": loss_a, "b": loss_b}, ctx.model_state

    def generator_loss(params, batch, ctx):
        loss, parts = generator_objective(
            *_functions(model, params),
            batch["a"],
            batch["b"],
            model.cycle_weight,
            model.identity_weight,
        )
        return loss, parts, ctx.model_state

    adam = optax.adam(learning_rate, b1=b1, b2=0.999)
    return players_learner(
        init,
        {
            "discriminators": Player(discriminator_loss, adam),
            "generators": Player(generator_loss, adam),
        },
    )


def _check_params(params) -> None:
    if not isinstance(params, dict) or "generators" not in params:
        raise TypeError(
            "`params` must be the CycleGAN parameters {'generators': ..., "
            "'discriminators': ...} (a PlayersState's .params)."
        )


def translate(model: CycleGAN, params: dict, images, direction: str = "a_to_b"):
    """Translate ``images`` with ``G`` (``"a_to_b"``) or ``F`` (``"b_to_a"``).

    Args:
      model: the :class:`CycleGAN`.
      params: the learner state's ``params`` (``state.params``).
      images: ``(n, S, S, 1)`` float images in ``[0, 1]`` of the source domain.
      direction: ``"a_to_b"`` or ``"b_to_a"``.

    Returns:
      ``(n, S, S, 1)`` images in ``[0, 1]``.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"`direction` must be one of {DIRECTIONS}; got {direction!r}.")
    _check_params(params)
    check_cycle_images(model, images)
    return _translate(model.generator, params["generators"][direction], images)


def _translate(generator, generator_params, images, chunk: int = 1000):
    """``generator`` applied in jitted chunks (bounded memory on test sets)."""
    if not is_concrete(images):
        return generator.apply({"params": generator_params}, images)
    apply = _jitted_apply(generator)
    parts = [
        apply(generator_params, images[i : i + chunk])
        for i in range(0, images.shape[0], chunk)
    ]
    return jnp.concatenate(parts)


@functools.lru_cache(maxsize=16)
def _jitted_apply(generator: CycleGenerator):
    return jax.jit(lambda p, x: generator.apply({"params": p}, x))


class CycleErrors(NamedTuple):
    """Cycle reconstruction errors on held-out images.

    Attributes:
      a_mae: ``mean|F(G(a)) - a|``.
      a_mse: ``mean (F(G(a)) - a)^2``.
      b_mae: the same as ``a_mae`` for ``G(F(b))``.
      b_mse: the same as ``a_mse`` for ``G(F(b))``.
    """

    a_mae: float
    a_mse: float
    b_mae: float
    b_mse: float


def cycle_errors(model: CycleGAN, params: dict, a, b) -> CycleErrors:
    """Reconstruction errors of the two cycles ``a -> B -> A``, ``b -> A -> B``."""
    _check_params(params)
    check_cycle_images(model, a, "a")
    check_cycle_images(model, b, "b")
    rec_a = translate(model, params, translate(model, params, a, "a_to_b"), "b_to_a")
    rec_b = translate(model, params, translate(model, params, b, "b_to_a"), "a_to_b")
    da, db = rec_a - jnp.asarray(a), rec_b - jnp.asarray(b)
    return CycleErrors(
        float(jnp.mean(jnp.abs(da))),
        float(jnp.mean(da**2)),
        float(jnp.mean(jnp.abs(db))),
        float(jnp.mean(db**2)),
    )
