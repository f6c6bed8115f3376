r"""Vision Transformer (Dosovitskiy et al. 2021): an image as a sequence of patches.

An ``H x W x C`` image is cut into ``N = (H / p)(W / p)`` non-overlapping
``p x p`` patches, row by row; each flattened patch is projected to the model
width ``d`` (the same as a ``p x p`` convolution with stride ``p``), a learned
``[CLS]`` vector is put in front, learned position embeddings are added, and
pre-norm encoder layers (:class:`~jnn.transformer.layers.EncoderLayer`,
``norm_first``) mix the ``N + 1`` tokens:

.. math:: z_0 = [x_\text{cls};\, x^1_p E;\, \dots;\, x^N_p E] + E_\text{pos},\qquad
          z_\ell = \mathrm{Encoder}_\ell(z_{\ell-1}),\qquad
          y = \mathrm{LN}(z_L^0)\, W_\text{head} + b.

(eq. 1-4 of the paper). ``pool="mean"`` reads the mean of the patch tokens
instead of the ``[CLS]`` token (no ``[CLS]`` token is added then). The
classifier head is one linear layer, as the paper's fine-tuning head.

Shapes: ``images`` ``(B, H, W, C)`` (or ``(B, H, W)`` for one channel) ->
logits ``(B, n_classes)``. Train it with
``jnn.train.classification_loss(model)`` (dropout is on while training).
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_fraction, check_positive_float, check_positive_int
from jnn.nn import LayerNorm, flat_dot_general
from jnn.transformer.attention import resolve_implementation
from jnn.transformer.layers import EncoderLayer, _activation, check_heads

__all__ = ["POOLINGS", "ViT", "patchify"]

#: How the encoder's tokens become one vector: the ``[CLS]`` token or the mean.
POOLINGS = ("cls", "mean")


def _check_images(images: Any, patch_size: int) -> None:
    shape = getattr(images, "shape", None)
    if shape is None or len(shape) not in (3, 4):
        raise ValueError(
            "`images` must be an array of shape (batch, height, width, channels) or "
            f"(batch, height, width); got shape {shape}."
        )
    if not jnp.issubdtype(images.dtype, jnp.floating):
        raise TypeError(f"`images` must be a float array; got dtype {images.dtype}.")
    height, width = shape[1], shape[2]
    if height % patch_size or width % patch_size:
        raise ValueError(
            f"`images` height and width ({height}, {width}) must be multiples of "
            f"`patch_size` ({patch_size})."
        )


def patchify(images: jax.Array, patch_size: int) -> jax.Array:
    """Non-overlapping patches, flattened: ``(B, H, W, C) -> (B, N, p p C)``.

    Patches run row by row (``N = (H / p)(W / p)``); each is flattened in
    ``(row, column, channel)`` order, the order of a ``(p, p, C, d)``
    convolution kernel, so ``patchify(x, p) @ K.reshape(p * p * C, d)`` is
    ``nn.Conv(d, (p, p), strides=p, padding="VALID")`` with kernel ``K``.

    Example:
      >>> import jax.numpy as jnp
      >>> patchify(jnp.zeros((2, 28, 28, 1)), 7).shape
      (2, 16, 49)
    """
    check_positive_int(patch_size, "patch_size")
    if getattr(images, "ndim", None) == 3:
        images = images[..., None]
    _check_images(images, patch_size)
    b, h, w, c = images.shape
    p = patch_size
    x = images.reshape(b, h // p, p, w // p, p, c)
    x = jnp.transpose(x, (0, 1, 3, 2, 4, 5))
    return x.reshape(b, (h // p) * (w // p), p * p * c)


class ViT(nn.Module):
    """A Vision Transformer classifier (module docstring for the equations).

    Attributes:
      n_classes: number of classes (logits per image).
      patch_size: ``p``, the side of the square patches (it must divide the
        image's height and width).
      features: ``d``, the model width.
      layers: encoder layers (pre-norm).
      heads: attention heads (must divide ``features``).
      ffn_features: inner width of each feed-forward net (None: ``4 d``, the
        paper's ratio).
      dropout_rate: dropout on the embeddings, attention probabilities and
        sub-layer outputs (training only).
      pool: ``"cls"`` (the paper's ``[CLS]`` token) or ``"mean"`` (mean of the
        patch tokens).
      activation: of the feed-forward nets (``"gelu"``, the paper's).
      epsilon: of the layer norms (``1e-6``, the paper's code).
      implementation: the attention core's path (``jnn.transformer.IMPLEMENTATIONS``).

    Parameters: ``embedding`` (patch projection, ``nn.Dense``), ``cls`` (``(1,
    1, d)``, with ``pool="cls"``), ``position`` (``(1, N [+1], d)``, normal with
    deviation 0.02; its length fixes the image size the model reads),
    ``layer_0`` ... (:class:`EncoderLayer`), ``norm`` and ``head``.
    """

    n_classes: int
    patch_size: int = 4
    features: int = 64
    layers: int = 4
    heads: int = 4
    ffn_features: int | None = None
    dropout_rate: float = 0.0
    pool: str = "cls"
    activation: Any = "gelu"
    epsilon: float = 1e-6
    implementation: str = "auto"

    def __post_init__(self):
        for name in ("n_classes", "patch_size", "features", "layers", "heads"):
            check_positive_int(getattr(self, name), name)
        check_positive_int(self.ffn_features, "ffn_features", allow_none=True)
        check_heads(self.features, self.heads)
        check_fraction(self.dropout_rate, "dropout_rate")
        if self.pool not in POOLINGS:
            raise ValueError(f"`pool` must be one of {POOLINGS}; got {self.pool!r}.")
        _activation(self.activation)
        check_positive_float(self.epsilon, "epsilon")
        resolve_implementation(self.implementation)  # raises for unknown names
        super().__post_init__()

    @nn.compact
    def __call__(self, images: jax.Array, deterministic: bool = True) -> jax.Array:
        """Logits ``(B, n_classes)`` of ``images`` ``(B, H, W, C)`` or ``(B, H, W)``."""
        tokens = patchify(images, self.patch_size)
        x = nn.Dense(self.features, dot_general=flat_dot_general, name="embedding")(
            tokens
        )
        if self.pool == "cls":
            cls = self.param("cls", nn.initializers.zeros, (1, 1, self.features))
            x = jnp.concatenate(
                [jnp.broadcast_to(cls, (len(x), 1, self.features)), x], 1
            )
        length = x.shape[1]
        if self.has_variable("params", "position"):
            stored = self.get_variable("params", "position").shape[1]
            if stored != length:
                raise ValueError(
                    f"`images` of shape {tuple(images.shape)} give {length} tokens; "
                    f"the model was initialised for {stored} (its position "
                    "embeddings fix the image size)."
                )
        position = self.param(
            "position", nn.initializers.normal(0.02), (1, length, self.features)
        )
        x = nn.Dropout(self.dropout_rate)(x + position, deterministic=deterministic)
        for i in range(self.layers):
            x = EncoderLayer(
                self.heads,
                self.features,
                self.ffn_features or 4 * self.features,
                dropout_rate=self.dropout_rate,
                norm_first=True,
                activation=self.activation,
                epsilon=self.epsilon,
                implementation=self.implementation,
                name=f"layer_{i}",
            )(x, deterministic=deterministic)
        x = LayerNorm(self.epsilon, name="norm")(x)
        pooled = x[:, 0] if self.pool == "cls" else jnp.mean(x, axis=1)
        return nn.Dense(self.n_classes, name="head")(pooled)
