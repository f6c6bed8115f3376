r"""DCGAN: the deep convolutional generator and discriminator (Radford et al. 2016).

The architecture guidelines of Radford, Metz & Chintala (2016, section 3):
strided convolutions in the discriminator and transposed ("fractionally
strided") convolutions in the generator instead of pooling; batch
normalisation in both, except the generator's output and the
discriminator's input layer; ReLU in the generator with a ``tanh`` output;
LeakyReLU (slope 0.2) in the discriminator; no fully connected hidden
layers; weights drawn from :math:`\mathcal N(0, 0.02^2)`. Kernels are 4 x 4
with stride 2 and padding 1, as in the authors' and PyTorch's reference code,
so each layer doubles (generator) or halves (discriminator) the image side.

Sizes: the side is halved ``len(features)`` times (rounding up) from
``image_size`` down to a start size ``s0``, which must lie in ``[4, 8]``; the
generator projects ``z`` to an ``s0 x s0`` map with a transposed convolution
of kernel ``s0`` and the discriminator reduces the last map to one logit
with a convolution of kernel ``s0``. A side ``2a - 1`` (7 from 4 in the 28 x
28 networks) is reached by a 4 x 4 transposed convolution with PyTorch's
``padding=2, output_padding=1`` in the generator and left by a 3 x 3 stride-2
convolution (padding 1) in the discriminator. Images are NHWC.

Parameter counts (no biases before batch normalisation, as the reference
code; latent size 100): the 28 x 28 generator with ``features=(256, 128,
64)`` has 1,066,880 parameters (sides 1-4-7-14-28), the discriminator with
``features=(64, 128, 256)`` 431,872 (28-14-7-4-1); these are the networks of
``benchmarks/gan.py``.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int
from jnn.generative.gan._conv import SquareConv
from jnn.generative.gan._conv_transpose import LatentProjection, StridedConvTranspose

KERNEL = 4
#: Radford et al. (2016): every weight from N(0, 0.02^2).
INIT_STD = 0.02
NORMALIZATIONS = ("batch", "layer", None)


def dcgan_sizes(image_size: int, layers: int) -> tuple[int, ...]:
    """Image sides from the start map to the image: ``(s0, ..., image_size)``.

    Args:
      image_size: side of the square images.
      layers: stride-2 layers (``len(features)``).

    Raises:
      ValueError: a size the architecture cannot produce (start side outside
        ``[4, 8]``), with the number of layers that would fit.
    """
    check_positive_int(image_size, "image_size")
    check_positive_int(layers, "features (its length)")
    sizes = [image_size]
    for _ in range(layers):
        sizes.append(-(-sizes[-1] // 2))
    start = sizes[-1]
    if not 4 <= start <= 8:
        fits = [n for n in range(1, 12) if 4 <= -(-image_size // 2**n) <= 8]
        hint = f"; {fits[0]} widths would fit" if fits else ""
        raise ValueError(
            f"`image_size` {image_size} cannot be produced by a DCGAN with "
            f"{layers} stride-2 layers (`features` of length {layers}): halving "
            f"gives a start map of side {start}, outside [4, 8]{hint}."
        )
    return tuple(reversed(sizes))


def _check_features(features, name: str) -> tuple[int, ...]:
    if not isinstance(features, Sequence) or not features:
        raise ValueError(f"`{name}` must be a non-empty tuple of channel counts.")
    for f in features:
        check_positive_int(f, f"{name} entries")
    return tuple(features)


def _batch_norm(train: bool) -> nn.BatchNorm:
    def scale_init(key, shape, dtype=jnp.float32):
        return 1.0 + INIT_STD * jax.random.normal(key, shape, dtype)

    return nn.BatchNorm(
        use_running_average=not train,
        momentum=0.9,  # PyTorch's momentum 0.1
        epsilon=1e-5,
        scale_init=scale_init,
    )


class DCGANGenerator(nn.Module):
    r"""``G(z)``: transposed convolutions from a latent vector to an image.

    Layers: project ``z`` to ``s0 x s0 x features[0]`` (transposed
    convolution of kernel ``s0``), then for each next width a 4 x 4 stride-2
    transposed convolution, each followed by batch normalisation and ReLU;
    the last one maps to ``channels`` with ``tanh`` and no normalisation.

    Attributes:
      image_size: side of the square images (28, 32, 64, ...; see the module
        docstring for which sizes exist).
      channels: image channels (1 for MNIST).
      features: channel counts of the hidden maps, coarsest first.
      fast_path: compute the kernel gradients of the transposed convolutions
        by output phases (True), by XLA (False), or None: by phases on CPU,
        where XLA's kernel gradient of a dilated convolution is 10-20x slower
        (see ``_conv_transpose.py``). Same parameters and results either way.

    Call: ``z`` of shape ``(n, latent_size)`` -> ``(n, image_size,
    image_size, channels)`` in ``[-1, 1]``; ``train`` selects batch
    statistics (True) or running averages (False) in the normalisation.

    Raises:
      ValueError: at construction, an image size the architecture cannot
        produce, or bad ``channels``/``features``.
    """

    image_size: int = 28
    channels: int = 1
    features: Sequence[int] = (256, 128, 64)
    fast_path: bool | None = None

    def __post_init__(self):
        check_positive_int(self.channels, "channels")
        dcgan_sizes(self.image_size, len(_check_features(self.features, "features")))
        super().__post_init__()

    @nn.compact
    def __call__(self, z: jax.Array, train: bool = False) -> jax.Array:
        """Images ``(n, H, W, C)`` from latent vectors ``z`` ``(n, latent)``."""
        sizes = dcgan_sizes(self.image_size, len(self.features))
        init = nn.initializers.normal(INIT_STD)
        s0 = sizes[0]
        h = LatentProjection(self.features[0], s0, init, name="ConvTranspose_0")(z)
        h = nn.relu(_batch_norm(train)(h))
        widths = (*self.features[1:], self.channels)
        for i, width in enumerate(widths):
            # PyTorch ConvTranspose2d(k=4, s=2, p=1) doubles the side; p=2 with
            # output_padding=1 gives 2a - 1. In lax terms: pad (k-1-p, k-1-p+op).
            odd = sizes[i + 1] == 2 * sizes[i] - 1
            pad = (KERNEL - 3, KERNEL - 2) if odd else (KERNEL - 2, KERNEL - 2)
            h = StridedConvTranspose(
                width, pad, init, self.fast_path, name=f"ConvTranspose_{i + 1}"
            )(h)
            if i < len(widths) - 1:
                h = nn.relu(_batch_norm(train)(h))
        return jnp.tanh(h)


class DCGANDiscriminator(nn.Module):
    r"""``D(x)``: strided convolutions from an image to one logit.

    Layers: for each width a 4 x 4 stride-2 convolution (3 x 3 where the side
    is odd) with LeakyReLU(0.2), normalised except the first; then a
    convolution of kernel ``s0`` to one logit (no sigmoid: the losses take
    logits; a Wasserstein critic reads it as its score).

    Attributes:
      image_size: side of the square images.
      features: channel counts, finest first (the generator's reversed).
      normalization: ``"batch"`` (DCGAN), ``"layer"`` (per-sample layer
        normalisation over height, width and channels: a WGAN-GP critic,
        whose gradient penalty needs samples treated independently) or None.
      fast_path: kernel gradients by matrix product (True), by XLA (False),
        or None: on CPU, where XLA's convolution kernel gradient inside a
        ``lax.scan`` (every ``fit`` step) is 40-85x slower (:mod:`jnn.nn.conv`).

    Call: ``x`` of shape ``(n, image_size, image_size, C)`` -> ``(n,)``
    logits.
    """

    image_size: int = 28
    features: Sequence[int] = (64, 128, 256)
    normalization: str | None = "batch"
    fast_path: bool | None = None

    def __post_init__(self):
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"`normalization` must be one of {NORMALIZATIONS}; got "
                f"{self.normalization!r}."
            )
        dcgan_sizes(self.image_size, len(_check_features(self.features, "features")))
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits ``(n,)`` of images ``x`` ``(n, H, W, C)``."""
        sizes = dcgan_sizes(self.image_size, len(self.features))[::-1]
        if x.shape[1:3] != (self.image_size, self.image_size):
            raise ValueError(
                f"`x` must hold {self.image_size} x {self.image_size} images "
                f"(n, H, W, C); got shape {x.shape}."
            )
        init = nn.initializers.normal(INIT_STD)
        h = x
        for i, width in enumerate(self.features):
            k = KERNEL - 1 if sizes[i] % 2 else KERNEL
            h = SquareConv(width, k, 2, (1, 1), init, self.fast_path, name=f"Conv_{i}")(
                h
            )
            if i > 0 and self.normalization == "batch":
                h = _batch_norm(train)(h)
            elif i > 0 and self.normalization == "layer":
                h = nn.LayerNorm(reduction_axes=(-3, -2, -1), epsilon=1e-5)(h)
            h = nn.leaky_relu(h, 0.2)
        s0 = sizes[-1]
        logit = SquareConv(1, s0, 1, (0, 0), init, self.fast_path, name=f"Conv_{i + 1}")
        return logit(h).reshape(x.shape[0])
