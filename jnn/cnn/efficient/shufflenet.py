"""ShuffleNet v1 (Zhang et al. 2018): group convolutions and channel shuffle.

:class:`ShuffleNetV1` with its defaults is the ImageNet network of the paper's
Table 1 (``g = 3``, ``1.0x``): a 3x3 stride-2 conv (24 channels), 3x3 max
pool, three stages of :class:`ShuffleUnit` (4, 8, 4 units; channels 240, 480,
960 for ``g = 3``), global average pool and a fully connected layer. It has
1,865,728 parameters with BatchNorm scale and bias counted (1,864,728 weights
plus the classifier's 1,000 biases; the official Megvii implementation, whose
classifier has no bias, has 1,864,728). The paper reports complexity (MFLOPs),
not parameters; "1.9 M" is the rounded count usually quoted.
:func:`shufflenet_v1_mnist` is a small configuration for 28x28 digits.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax

from jnn._checks import check_positive_float, check_positive_int
from jnn.cnn.checks import check_images, check_input_size
from jnn.cnn.efficient.blocks import ShuffleUnit, check_shuffle_unit
from jnn.cnn.efficient.convs import NORMS, GroupConv, normalization
from jnn.cnn.pooling import GlobalAvgPool, _max_pool

#: Output channels of Stages 2-4 for each group count at 1.0x (Table 1).
STAGE_CHANNELS: dict[int, tuple[int, int, int]] = {
    1: (144, 288, 576),
    2: (200, 400, 800),
    3: (240, 480, 960),
    4: (272, 544, 1088),
    8: (384, 768, 1536),
}


class ShuffleNetV1(nn.Module):
    """ShuffleNet v1: stem conv + max pool, ShuffleUnit stages, GAP, linear.

    Attributes:
      groups: ``g`` of the 1x1 group convs (1, 2, 3, 4 or 8 for the paper's
        widths; any ``g`` when ``stage_channels`` is given).
      width_multiplier: ``s`` of "ShuffleNet s x": stage widths ``s c``
        (rounded to a multiple of ``4 g`` so bottlenecks split into groups).
      num_classes: outputs (logits).
      stage_channels: output channels of each stage (default: Table 1 for
        ``groups``).
      stage_repeats: units per stage (first one has stride 2).
      stem_features: channels of the 3x3 stem conv (24).
      stem_strides: stride of the stem conv (2).
      stem_pool: 3x3 stride-2 max pool after the stem (True in the paper).
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

    groups: int = 3
    width_multiplier: float = 1.0
    num_classes: int = 1000
    stage_channels: Sequence[int] | None = None
    stage_repeats: Sequence[int] = (4, 8, 4)
    stem_features: int = 24
    stem_strides: int = 2
    stem_pool: bool = True
    norm: str = "batch"
    train: bool = False
    in_channels: int = 3
    input_size: tuple[int, int] | None = None
    head: str = "gap"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"`norm` must be one of {NORMS}; got {self.norm!r}.")
        check_positive_int(self.groups, "groups")
        check_positive_float(self.width_multiplier, "width_multiplier")
        check_positive_int(self.num_classes, "num_classes")
        for name in ("stage_channels", "stage_repeats"):
            value = getattr(self, name)
            if value is None and name == "stage_channels":
                continue
            if not isinstance(value, tuple | list):
                raise TypeError(
                    f"`{name}` must be a tuple of positive ints; got {value!r}."
                )
            for c in value:
                check_positive_int(c, name)
        check_positive_int(self.stem_features, "stem_features")
        check_positive_int(self.stem_strides, "stem_strides")
        check_positive_int(self.in_channels, "in_channels")
        check_input_size(self.input_size)
        if self.stage_channels is None and self.groups not in STAGE_CHANNELS:
            raise ValueError(
                f"`groups` must be one of {sorted(STAGE_CHANNELS)} unless "
                f"`stage_channels` is given; got {self.groups}."
            )
        if len(self.stage_repeats) != len(self.widths()):
            raise ValueError(
                f"`stage_repeats` {tuple(self.stage_repeats)} and `stage_channels` "
                f"{self.widths()} must have the same length."
            )
        if self.head not in ("gap", "flatten"):
            raise ValueError(f"`head` must be 'gap' or 'flatten'; got {self.head!r}.")
        channels = self.stem_features  # every unit checked now, not at init
        for i, (width, n) in enumerate(
            zip(self.widths(), self.stage_repeats, strict=True)
        ):
            for j in range(n):
                check_shuffle_unit(
                    width,
                    self.groups,
                    2 if j == 0 else 1,
                    i == 0 and j == 0,
                    channels,
                    where=f"ShuffleNetV1 stage {i + 2}, unit {j}: ",
                )
                channels = width
        super().__post_init__()

    def widths(self) -> tuple[int, ...]:
        """The stage widths after the width multiplier."""
        base = self.stage_channels or STAGE_CHANNELS.get(self.groups, ())
        step = 4 * self.groups
        return tuple(
            max(step, int(round(c * self.width_multiplier / step)) * step) for c in base
        )

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
        x = GroupConv(
            self.stem_features,
            3,
            strides=self.stem_strides,
            use_bias=self.norm == "none",
            name="stem",
        )(images)
        x = nn.relu(normalization(self.norm, train, "stem_norm")(x))
        if self.stem_pool:
            x = _max_pool(x, 3, 2, padding=((1, 1), (1, 1)))
        for i, (c, n) in enumerate(zip(self.widths(), self.stage_repeats, strict=True)):
            for j in range(n):
                x = ShuffleUnit(
                    c,
                    self.groups,
                    2 if j == 0 else 1,
                    first_group=i == 0 and j == 0,
                    norm=self.norm,
                    train=train,
                    name=f"stage{i + 2}_{j}",
                )(x)
        x = GlobalAvgPool()(x) if self.head == "gap" else x.reshape(x.shape[0], -1)
        return nn.Dense(self.num_classes, name="classifier")(x)


def shufflenet_v1_mnist(
    num_classes: int = 10,
    *,
    groups: int = 2,
    stage_channels: Sequence[int] = (24, 48),
    stage_repeats: Sequence[int] = (1, 2),
    stem_features: int = 10,
    stem_pool: bool = False,
    image_size: int = 28,
    norm: str = "none",
    head: str = "flatten",
) -> ShuffleNetV1:
    """A ShuffleNet-style net for small grey images (MNIST 28x28, digits 8x8).

    A 3x3 stride-2 stem conv (10 channels, 28 -> 14) without the paper's max
    pool, a stride-2 unit to 24 channels (14 -> 7), a stride-2 unit to 48
    channels (7 -> 4) and a stride-1 unit, 1x1 convs in 2 groups (bottlenecks
    6 and 12), and a linear classifier on the flattened 4x4x48 map: 63,816
    MACs per 28x28 image, under a fifth of LeNet-5's 326,520. The strided
    units learn the downsampling that the stem's max pool would do blindly
    (with the paper's pooled stem, one 48-channel stage of 4 units at 64,896
    MACs reached 98.75%; this net 99.07%, same training). No BatchNorm by
    default, so it trains with :func:`jnn.train.gradient_learner`.

    Args:
      num_classes: outputs.
      groups: ``g`` of the 1x1 group convs.
      stage_channels: output channels per stage (multiples of ``4 g``).
      stage_repeats: units per stage.
      stem_features: channels of the stem conv.
      stem_pool: the 3x3 stride-2 max pool after the stem (off for 8x8).
      image_size: expected height = width of the input images.
      norm: normalisation of the units.
      head: ``"flatten"`` or ``"gap"``.

    Returns:
      A :class:`ShuffleNetV1` expecting ``(N, image_size, image_size, 1)``.
    """
    check_positive_int(image_size, "image_size")
    for name, value in (
        ("stage_channels", stage_channels),
        ("stage_repeats", stage_repeats),
    ):
        if not isinstance(value, tuple | list):
            raise TypeError(
                f"`{name}` must be a tuple of positive ints; got {value!r}."
            )
    return ShuffleNetV1(
        groups=groups,
        num_classes=num_classes,
        stage_channels=tuple(stage_channels),
        stage_repeats=tuple(stage_repeats),
        stem_features=stem_features,
        stem_strides=2,
        stem_pool=stem_pool,
        norm=norm,
        in_channels=1,
        input_size=(image_size, image_size),
        head=head,
    )
