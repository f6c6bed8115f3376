r"""A StyleGAN-style generator at 28 x 28 (Karras, Laine & Aila 2019).

The latent code does not enter the image path: a **mapping network** (an MLP
on the pixel-normalised latent, 8 layers in the paper, ``mapping_layers``
here) turns :math:`z` into a style :math:`w`, and the **synthesis network**
starts from a learned constant ``7 x 7 x C`` tensor. Each of its layers ends
with **AdaIN** driven by a learned affine map of :math:`w`,

.. math:: \mathrm{AdaIN}(x_i, y) = y_{s,i}\,\frac{x_i - \mu(x_i)}{\sigma(x_i)}
          + y_{b,i}, \qquad (y_s, y_b) = (1 + A_s w,\; A_b w),

(:math:`x_i` channel :math:`i` of one image, mean and deviation over its
pixels: instance normalisation, Ulyanov et al. 2016), and before it adds
**per-pixel noise** :math:`N(0, 1)` (one image, broadcast over channels)
scaled by learned per-channel factors (zero at initialisation). Resolutions
``7 -> 14 -> 28`` (nearest-neighbour upsampling, 3x3 convs, LeakyReLU 0.2),
two style layers each: ``2 * 3 = 6`` styles, coarse (7 x 7) to fine
(28 x 28). A 1x1 conv and ``(tanh + 1) / 2`` give images in ``[0, 1]``.

**Style mixing**: the styles of two latents, :math:`w_A` for layers
``< crossover`` and :math:`w_B` from ``crossover`` on (:func:`mix_styles`);
crossover 0 is pure B, ``n_styles`` pure A. **Truncation**:
:math:`w' = \bar w + \psi (w - \bar w)` (:func:`truncate`, with
:math:`\bar w` from :func:`mean_style`).

Training (discriminator, losses, mixing regularisation) is in
:mod:`jnn.generative.gan.stylegan_training`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_array, check_interval, check_key, check_positive_int
from jnn.nn import conv_fn, resolve_path

#: Resolutions of the synthesis network (two style layers each).
RESOLUTIONS = (7, 14, 28)


def instance_norm(x: jax.Array, epsilon: float = 1e-5) -> jax.Array:
    r"""Instance normalisation of ``(B, H, W, C)`` features.

    .. math:: \hat x_{bhwc} = (x_{bhwc} - \mu_{bc}) / \sqrt{\sigma^2_{bc} + \epsilon}

    with mean and (biased) variance over ``H, W`` of each image and channel
    (``torch.nn.InstanceNorm2d`` without affine parameters).
    """
    mean = jnp.mean(x, axis=(1, 2), keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=(1, 2), keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + epsilon)


def adain(
    x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float = 1e-5
) -> jax.Array:
    """Adaptive instance normalisation (Huang & Belongie 2017).

    Args:
      x: ``(B, H, W, C)`` features.
      scale: ``(B, C)`` per-image, per-channel style scale ``y_s``.
      bias: ``(B, C)`` style bias ``y_b``.
      epsilon: variance floor.

    Returns:
      ``scale * instance_norm(x) + bias``, ``(B, H, W, C)``.
    """
    b, _, _, c = x.shape
    return scale.reshape(b, 1, 1, c) * instance_norm(x, epsilon) + bias.reshape(
        b, 1, 1, c
    )


class MappingNetwork(nn.Module):
    """``z (B, latent) -> w (B, style)``: pixel norm, then a LeakyReLU MLP.

    Attributes:
      style_size: width of every layer and of ``w``.
      layers: number of dense layers (8 in the paper).
    """

    style_size: int = 64
    layers: int = 4

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        """Map latents to styles."""
        h = z * jax.lax.rsqrt(jnp.mean(z**2, axis=-1, keepdims=True) + 1e-8)
        for _ in range(self.layers):
            h = nn.leaky_relu(nn.Dense(self.style_size)(h), 0.2)
        return h


class StyleLayer(nn.Module):
    """Noise, LeakyReLU (after a conv) and AdaIN from one style ``w``.

    Attributes:
      features: channels.
      use_noise: add scaled per-pixel noise (from the ``"noise"`` RNG stream).
      activate: apply LeakyReLU 0.2 (False for the constant input).
    """

    features: int
    use_noise: bool = True
    activate: bool = True

    @nn.compact
    def __call__(self, x: jax.Array, w: jax.Array) -> jax.Array:
        """``x (B, H, W, C)``, ``w (B, D)`` -> ``(B, H, W, C)``."""
        b, h, wd, c = x.shape
        if self.use_noise:
            strength = self.param("noise_strength", nn.initializers.zeros, (c,))
            noise = jax.random.normal(self.make_rng("noise"), (b, h, wd, 1))
            x = x + noise * strength.reshape(1, 1, 1, c)
        if self.activate:
            x = nn.leaky_relu(x, 0.2)
        style = nn.Dense(2 * c, name="affine")(w)
        return adain(x, 1.0 + style[:, :c], style[:, c:])


class SynthesisNetwork(nn.Module):
    """Styles ``(B, 6, D)`` -> images ``(B, 28, 28, 1)`` in ``[0, 1]``.

    Attributes:
      channels: features at 7, 14 and 28 pixels.
      use_noise: noise inputs on (they need a ``"noise"`` RNG).
      conv_path: how the convolutions are computed (:func:`jnn.nn.conv_fn`:
        ``"auto"`` is the fast kernel gradient on CPU); same parameters.
    """

    channels: Sequence[int] = (64, 32, 16)
    use_noise: bool = True
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, styles: jax.Array) -> jax.Array:
        """Synthesise images from per-layer styles."""
        conv = functools.partial(
            nn.Conv, conv_general_dilated=conv_fn(self.conv_path, "conv_path")
        )
        b = styles.shape[0]
        c0 = self.channels[0]
        const = self.param(
            "constant", nn.initializers.ones, (1, RESOLUTIONS[0], RESOLUTIONS[0], c0)
        )
        x = jnp.broadcast_to(const, (b, *const.shape[1:]))
        x = StyleLayer(c0, self.use_noise, activate=False)(x, styles[:, 0])
        layer = 1
        for i, c in enumerate(self.channels):
            if i > 0:
                x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
                x = conv(c, (3, 3))(x)
                x = StyleLayer(c, self.use_noise)(x, styles[:, layer])
                layer += 1
            x = conv(c, (3, 3))(x)
            x = StyleLayer(c, self.use_noise)(x, styles[:, layer])
            layer += 1
        return 0.5 * (jnp.tanh(conv(1, (1, 1))(x)) + 1.0)


class StyleGenerator(nn.Module):
    """Mapping and synthesis networks (build with :func:`style_generator`).

    ``apply(vars, z)`` maps and synthesises with one style; ``method="map"``
    gives ``w``; ``method="synthesize"`` takes per-layer styles ``(B, 6, D)``.

    Attributes:
      latent_size: size of ``z``.
      style_size: size of ``w``.
      mapping_layers: depth of the mapping network.
      channels: synthesis features at 7, 14 and 28 pixels.
      use_noise: noise inputs on.
      conv_path: the synthesis network's conv path (:func:`jnn.nn.conv_fn`).
    """

    latent_size: int = 64
    style_size: int = 64
    mapping_layers: int = 4
    channels: Sequence[int] = (64, 32, 16)
    use_noise: bool = True
    conv_path: str = "auto"

    def setup(self):
        """Create the two networks."""
        self.mapping = MappingNetwork(self.style_size, self.mapping_layers)
        self.synthesis = SynthesisNetwork(
            tuple(self.channels), self.use_noise, self.conv_path
        )

    @property
    def n_styles(self) -> int:
        """Style layers: two per resolution."""
        return 2 * len(RESOLUTIONS)

    def map(self, z: jax.Array) -> jax.Array:
        """``z (B, latent)`` -> ``w (B, style)``."""
        return self.mapping(z)

    def synthesize(self, styles: jax.Array) -> jax.Array:
        """``(B, n_styles, style)`` -> ``(B, 28, 28, 1)``."""
        return self.synthesis(styles)

    def __call__(self, z: jax.Array) -> jax.Array:
        """Images from latents, one style for every layer."""
        w = self.map(z)
        return self.synthesize(jnp.repeat(w[:, None], self.n_styles, axis=1))


def style_generator(
    *,
    latent_size: int = 64,
    style_size: int = 64,
    mapping_layers: int = 4,
    channels: Sequence[int] = (64, 32, 16),
    use_noise: bool = True,
    image_size: int = 28,
    conv_path: str = "auto",
) -> StyleGenerator:
    """A checked :class:`StyleGenerator`.

    Raises:
      ValueError: a size <= 0, not three channel counts, or an ``image_size``
        other than 28 (the synthesis network makes 7 -> 14 -> 28).
    """
    check_positive_int(latent_size, "latent_size")
    check_positive_int(style_size, "style_size")
    check_positive_int(mapping_layers, "mapping_layers")
    channels = tuple(channels)
    if len(channels) != len(RESOLUTIONS):
        raise ValueError(
            f"`channels` must give {len(RESOLUTIONS)} widths (at {RESOLUTIONS} "
            f"pixels); got {channels}."
        )
    for c in channels:
        check_positive_int(c, "channels")
    if image_size != RESOLUTIONS[-1]:
        raise ValueError(
            f"`image_size` must be {RESOLUTIONS[-1]} (the synthesis network "
            f"upsamples {' -> '.join(map(str, RESOLUTIONS))}); got {image_size}."
        )
    resolve_path(conv_path, "conv_path")  # a ValueError naming it, before any tracing
    return StyleGenerator(
        latent_size, style_size, mapping_layers, channels, use_noise, conv_path
    )


def check_crossover(crossover, n_styles: int) -> None:
    """Raise unless ``crossover`` is an int in ``[0, n_styles]`` (concrete)."""
    if isinstance(crossover, bool) or not isinstance(crossover, int):
        if hasattr(crossover, "shape") and hasattr(crossover, "dtype"):
            return  # a per-image array, checked by the caller's shape logic
        raise TypeError(f"`crossover` must be an int; got {crossover!r}.")
    if not 0 <= crossover <= n_styles:
        raise ValueError(
            f"`crossover` must be in [0, {n_styles}] (layers before it take "
            f"style A, the rest style B); got {crossover}."
        )


def mix_styles(w_a: jax.Array, w_b: jax.Array, crossover, n_styles: int):
    """Per-layer styles: ``w_a`` for layers ``< crossover``, ``w_b`` after.

    Args:
      w_a: ``(B, D)`` styles of source A.
      w_b: ``(B, D)`` styles of source B.
      crossover: an int in ``[0, n_styles]`` or a ``(B,)`` int array (one
        crossover per image, as in mixing regularisation).
      n_styles: number of style layers.

    Returns:
      ``(B, n_styles, D)``.
    """
    check_crossover(crossover, n_styles)
    b = w_a.shape[0]
    layer = jnp.arange(n_styles).reshape(1, n_styles)
    cut = jnp.broadcast_to(jnp.asarray(crossover).reshape(-1, 1), (b, 1))
    take_a = (layer < cut)[..., None]
    return jnp.where(take_a, w_a[:, None], w_b[:, None])


def truncate(w: jax.Array, w_mean: jax.Array, psi: float) -> jax.Array:
    r"""The truncation trick :math:`\bar w + \psi (w - \bar w)`.

    ``w`` ``(..., D)``, ``w_mean`` ``(D,)``; ``psi = 1`` leaves ``w``
    unchanged, ``psi = 0`` gives the mean style.
    """
    check_interval(psi, "psi", 0.0, 1.0)
    if psi == 1.0:
        return w
    shape = (1,) * (w.ndim - 1) + (w.shape[-1],)
    w_mean = w_mean.reshape(shape)
    return w_mean + psi * (w - w_mean)


def check_generator(model) -> None:
    """Raise a ``TypeError`` unless ``model`` is a :class:`StyleGenerator`."""
    if not isinstance(model, StyleGenerator):
        raise TypeError(
            f"`model` must be a StyleGenerator; got {type(model).__name__}."
        )


def map_latents(model: StyleGenerator, params, z) -> jax.Array:
    """``w = mapping(z)``: ``(n, latent)`` -> ``(n, style)``."""
    check_generator(model)
    check_array(z, "z", ndim=2, kind="f")
    if z.shape[1] != model.latent_size:
        raise ValueError(
            f"`z` must have shape (n, {model.latent_size}); got {tuple(z.shape)}."
        )
    return _compiled(model, "map")(params, z, None)


@functools.lru_cache(maxsize=32)
def _compiled(model: StyleGenerator, method: str):
    """``model.apply`` of ``method`` under ``jit`` (one per model and method)."""

    def apply(params, inputs, noise_key):
        rngs = {} if noise_key is None else {"noise": noise_key}
        return model.apply({"params": params}, inputs, rngs=rngs, method=method)

    return jax.jit(apply)


def mean_style(model: StyleGenerator, params, key, n: int = 4096) -> jax.Array:
    r""":math:`\bar w`: the mean style of ``n`` latents ``z ~ N(0, I)``."""
    check_key(key)
    check_positive_int(n, "n")
    z = jax.random.normal(key, (n, model.latent_size))
    return jnp.mean(map_latents(model, params, z), axis=0)


def synthesize(model: StyleGenerator, params, styles, noise_key=None) -> jax.Array:
    """Images ``(n, 28, 28, 1)`` from per-layer styles ``(n, n_styles, style)``.

    ``noise_key`` draws the noise inputs (required when ``model.use_noise``;
    the same key gives the same noise).
    """
    check_generator(model)
    check_array(styles, "styles", ndim=3, kind="f")
    want = (model.n_styles, model.style_size)
    if tuple(styles.shape[1:]) != want:
        raise ValueError(
            f"`styles` must have shape (n, {want[0]}, {want[1]}); got "
            f"{tuple(styles.shape)}."
        )
    if model.use_noise:
        if noise_key is None:
            raise ValueError("`noise_key` is required: the generator uses noise.")
        check_key(noise_key, "noise_key")
    else:
        noise_key = None
    return _compiled(model, "synthesize")(params, styles, noise_key)


def stylegan_generate(
    model: StyleGenerator,
    params,
    z,
    *,
    noise_key=None,
    z_mix=None,
    crossover: int | None = None,
    psi: float = 1.0,
    w_mean=None,
) -> jax.Array:
    """Images from latents, optionally style-mixed and truncated.

    Args:
      model: the generator.
      params: its ``params``.
      z: ``(n, latent)`` latents (source A).
      noise_key: key of the noise inputs (required with noise on).
      z_mix: optional ``(n, latent)`` second latents (source B).
      crossover: with ``z_mix``, layers ``< crossover`` take A's style, the
        rest B's (``[0, n_styles]``).
      psi: truncation ``psi`` in ``[0, 1]`` (1: none); needs ``w_mean``.
      w_mean: ``(style,)`` mean style (:func:`mean_style`).

    Returns:
      ``(n, 28, 28, 1)`` images in ``[0, 1]``.
    """
    w_a = map_latents(model, params, z)
    w_b = w_a if z_mix is None else map_latents(model, params, z_mix)
    if z_mix is not None and z_mix.shape[0] != z.shape[0]:
        raise ValueError(
            f"`z_mix` must hold as many latents as `z` ({z.shape[0]}); got "
            f"{z_mix.shape[0]}."
        )
    if (z_mix is None) != (crossover is None):
        raise ValueError("`z_mix` and `crossover` go together (both or neither).")
    check_interval(psi, "psi", 0.0, 1.0)
    if psi != 1.0:
        if w_mean is None:
            raise ValueError("`w_mean` is required for truncation (psi < 1).")
        w_a, w_b = truncate(w_a, w_mean, psi), truncate(w_b, w_mean, psi)
    cut = model.n_styles if crossover is None else crossover
    styles = mix_styles(w_a, w_b, cut, model.n_styles)
    return synthesize(model, params, styles, noise_key)
