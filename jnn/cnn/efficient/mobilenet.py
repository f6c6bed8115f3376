"""MobileNetV2 (Sandler et al. 2018): inverted residuals with linear bottlenecks.

:class:`MobileNetV2` with its defaults is the ImageNet architecture of the
paper's Table 2, exactly as the reference implementations build it
(torchvision ``mobilenet_v2``: 3,504,872 parameters for width 1.0 and 1000
classes, BatchNorm scale and bias counted, running statistics not).
:func:`mobilenet_v2_mnist` is a small configuration for 28x28 digits, trained
with :func:`jnn.train.gradient_learner`.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from jnn._checks import check_fraction, check_positive_float, check_positive_int
from jnn.cnn.checks import check_images, check_input_size
from jnn.cnn.efficient.blocks import InvertedResidual
from jnn.cnn.efficient.convs import NORMS, GroupConv, make_divisible, normalization
from jnn.cnn.pooling import GlobalAvgPool

#: ``(t, c, n, s)`` rows of the paper's Table 2: expansion, output channels,
#: repeats, stride of the first repeat.
IMAGENET_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _check_settings(settings) -> None:
    if not isinstance(settings, tuple | list) or not settings:
        raise TypeError(
            "`settings` must be a non-empty tuple of (t, c, n, s) rows; "
            f"got {settings!r}."
        )


class MobileNetV2(nn.Module):
    """MobileNetV2: stem conv, inverted-residual stages, 1x1 conv, GAP, linear.

    Attributes:
      num_classes: outputs (logits).
      width_multiplier: ``alpha``; every width is ``make_divisible(alpha c, 8)``,
        the last conv's ``make_divisible(last_features * max(1, alpha), 8)``.
      settings: ``(t, c, n, s)`` rows (default: the paper's Table 2).
      stem_features: channels of the first 3x3 conv (32).
      stem_strides: its stride (2 at 224x224; 1 for small images).
      last_features: channels of the final 1x1 conv (1280; 0 removes it).
      dropout: rate before the classifier (0.2 in torchvision); active only
        when a ``"dropout"`` PRNG stream is given (training in the engine).
      norm: ``"batch"`` (the paper) or ``"layer" | "group" | "none"``.
      train: BatchNorm in training mode (needs ``mutable=["batch_stats"]``).
      in_channels: expected image channels ``C``.
      input_size: expected ``(H, W)``, or None for any size.
      head: ``"gap"`` (global average pooling, the paper) or ``"flatten"``
        (keeps the positions of the last small feature map; better for tiny
        widths, where GAP would leave the classifier only a few features).

    Call:
      ``images: (N, H, W, C)`` float -> ``(N, num_classes)`` logits.
    """

    num_classes: int = 1000
    width_multiplier: float = 1.0
    settings: Sequence[tuple[int, int, int, int]] = IMAGENET_SETTINGS
    stem_features: int = 32
    stem_strides: int = 2
    last_features: int = 1280
    dropout: float = 0.2
    norm: str = "batch"
    train: bool = False
    in_channels: int = 3
    input_size: tuple[int, int] | None = None
    head: str = "gap"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"`norm` must be one of {NORMS}; got {self.norm!r}.")
        check_positive_float(self.width_multiplier, "width_multiplier")
        if self.head not in ("gap", "flatten"):
            raise ValueError(f"`head` must be 'gap' or 'flatten'; got {self.head!r}.")
        check_positive_int(self.num_classes, "num_classes")
        _check_settings(self.settings)
        for i, row in enumerate(self.settings):
            if not isinstance(row, tuple | list) or len(row) != 4:
                raise ValueError(
                    "`settings` rows must be (t, c, n, s): expansion, channels, "
                    f"repeats, stride; got {row!r}."
                )
            t, c, n, stride = row
            check_positive_float(t, f"settings[{i}] expansion t")
            check_positive_int(c, f"settings[{i}] channels c")
            check_positive_int(n, f"settings[{i}] repeats n")
            check_positive_int(stride, f"settings[{i}] stride s")
        check_positive_int(self.stem_features, "stem_features")
        check_positive_int(self.stem_strides, "stem_strides")
        if self.last_features != 0:
            check_positive_int(self.last_features, "last_features")
        check_fraction(self.dropout, "dropout")
        check_positive_int(self.in_channels, "in_channels")
        check_input_size(self.input_size)
        super().__post_init__()

    @nn.compact
    def __call__(self, images: jax.Array, train: bool | None = None) -> jax.Array:
        """Logits ``(N, num_classes)`` of ``images: (N, H, W, C)``.

        ``train`` (given by :func:`jnn.train.gradient_learner`: True in training
        steps, False in evaluation) overrides the ``train`` attribute, so that
        ``norm="batch"`` trains with batch statistics and evaluates with the
        running ones.
        """
        train = self.train if train is None else train
        h, w = self.input_size or (None, None)
        check_images(images, height=h, width=w, channels=self.in_channels)
        alpha, bias = self.width_multiplier, self.norm == "none"
        x = GroupConv(
            make_divisible(self.stem_features * alpha),
            3,
            strides=self.stem_strides,
            use_bias=bias,
            name="stem",
        )(images)
        x = nn.relu6(normalization(self.norm, train, "stem_norm")(x))
        for i, (t, c, n, s) in enumerate(self.settings):
            for j in range(n):
                x = InvertedResidual(
                    make_divisible(c * alpha),
                    t,
                    s if j == 0 else 1,
                    self.norm,
                    train,
                    name=f"block_{i}_{j}",
                )(x)
        if self.last_features:
            last = make_divisible(self.last_features * max(1.0, alpha))
            x = GroupConv(last, 1, use_bias=bias, name="last")(x)
            x = nn.relu6(normalization(self.norm, train, "last_norm")(x))
        x = GlobalAvgPool()(x) if self.head == "gap" else x.reshape(x.shape[0], -1)
        if self.dropout:
            x = nn.Dropout(self.dropout, deterministic=not self.has_rng("dropout"))(x)
        return nn.Dense(self.num_classes, name="classifier")(x)


#: The small MNIST configuration: 28 -> 14 (stem) -> 7 -> 4; one expanding
#: block (t = 3) and a residual block at 4x4.
MNIST_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 8, 1, 2),
    (3, 24, 1, 2),
    (1, 24, 1, 1),
)


def mobilenet_v2_mnist(
    num_classes: int = 10,
    *,
    width_multiplier: float = 1.0,
    settings: Sequence[tuple[int, int, int, int]] = MNIST_SETTINGS,
    stem_features: int = 8,
    image_size: int = 28,
    norm: str = "none",
    head: str = "flatten",
) -> MobileNetV2:
    """A MobileNetV2-style net for small grey images (MNIST 28x28, digits 8x8).

    Stride-2 stem and stride-2 first blocks bring 28x28 down to 4x4 before
    the expensive 1x1 convs; no final 1280-wide conv; a linear classifier on
    the flattened 4x4x24 map; no BatchNorm by default (so that it trains with
    :func:`jnn.train.gradient_learner`). 59,368 MACs per 28x28 image, under
    a fifth of LeNet-5's 326,520.

    Args:
      num_classes: outputs.
      width_multiplier: scales every width (rounded to multiples of 8).
      settings: ``(t, c, n, s)`` rows.
      stem_features: channels of the stem conv.
      image_size: expected height = width of the input images.
      norm: normalisation of the blocks.
      head: ``"flatten"`` (linear classifier on the last small map) or
        ``"gap"``.

    Returns:
      A :class:`MobileNetV2` expecting ``(N, image_size, image_size, 1)``.
    """
    check_positive_int(image_size, "image_size")
    _check_settings(settings)
    return MobileNetV2(
        num_classes=num_classes,
        width_multiplier=width_multiplier,
        settings=tuple(settings),
        stem_features=stem_features,
        stem_strides=2,
        last_features=0,
        dropout=0.0,
        norm=norm,
        in_channels=1,
        input_size=(image_size, image_size),
        head=head,
    )


#: Depthwise-separable only (every block ``t = 1``): MobileNet v1-style.
SEPARABLE_SETTINGS: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 2),
    (1, 32, 1, 2),
    (1, 32, 1, 1),
)


def separable_mnist(num_classes: int = 10, *, image_size: int = 28) -> MobileNetV2:
    """A depthwise-separable net (Howard et al. 2017's idea) for small images.

    The :func:`mobilenet_v2_mnist` skeleton with expansion ``t = 1`` in every
    block: each block is a depthwise 3x3 conv, ReLU6 and a pointwise 1x1 conv.

    Args:
      num_classes: outputs.
      image_size: expected height = width of the ``(N, H, W, 1)`` images.
    """
    check_positive_int(image_size, "image_size")
    return mobilenet_v2_mnist(
        num_classes, settings=SEPARABLE_SETTINGS, image_size=image_size
    )
