"""MobileNetV2 and ShuffleNet v1 blocks, built from :mod:`jnn.cnn.efficient.convs`.

* :class:`InvertedResidual` (Sandler et al. 2018): expand ``1x1`` to ``t C``
  channels, depthwise ``3x3``, *linear* ``1x1`` projection, residual when the
  shapes match;
* :class:`ShuffleUnit` (Zhang et al. 2018): ``1x1`` group conv, channel
  shuffle, depthwise ``3x3``, ``1x1`` group conv; add (stride 1) or
  concatenate with an average-pooled input (stride 2).

Convolutions carry biases only when ``norm="none"`` (a normalisation's shift
makes them redundant), so the BatchNorm versions have the reference counts.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_positive_float, check_positive_int
from jnn.cnn.checks import check_block_input
from jnn.cnn.efficient.convs import NORMS, GroupConv, normalization
from jnn.cnn.functional import _channel_shuffle
from jnn.cnn.pooling import _avg_pool


def _check_norm(norm: str) -> None:
    if norm not in NORMS:
        raise ValueError(f"`norm` must be one of {NORMS}; got {norm!r}.")


class InvertedResidual(nn.Module):
    """MobileNetV2 block: expand 1x1, depthwise 3x3, linear 1x1 projection.

    ``x -> ReLU6(N(W_e x)) -> ReLU6(N(dw_3x3)) -> N(W_p .)`` (no activation
    after the projection: the "linear bottleneck"), plus ``x`` when
    ``strides == 1`` and ``C == features`` (Sandler et al. 2018, Table 1).
    With ``expansion == 1`` the expand conv is omitted, as in the paper.

    Attributes:
      features: output channels.
      expansion: ``t``; hidden width ``round(t C)``.
      strides: stride of the depthwise conv.
      norm: ``"batch" | "layer" | "group" | "none"``; convs have biases only
        with ``"none"``.
      train: BatchNorm uses batch statistics (needs ``mutable=["batch_stats"]``).
      activation: the nonlinearity (ReLU6 in the paper).
    """

    features: int
    expansion: float = 6
    strides: int = 1
    norm: str = "batch"
    train: bool = False
    activation: Callable[[jax.Array], jax.Array] = nn.relu6

    def __post_init__(self) -> None:
        check_positive_int(self.features, "features")
        check_positive_float(self.expansion, "expansion")
        check_positive_int(self.strides, "strides")
        _check_norm(self.norm)
        if not callable(self.activation):
            raise TypeError(
                f"`activation` must be a function such as nn.relu6; "
                f"got {self.activation!r}."
            )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map ``x: (N, H, W, C)`` to ``(N, H/s, W/s, features)``."""
        check_block_input(self, x, "InvertedResidual")
        c = x.shape[-1]
        hidden = max(1, int(round(c * self.expansion)))
        bias = self.norm == "none"
        h = x
        if self.expansion != 1:
            h = GroupConv(hidden, 1, use_bias=bias, name="expand")(h)
            h = self.activation(normalization(self.norm, self.train, "expand_norm")(h))
        h = GroupConv(hidden, 3, hidden, self.strides, bias, name="depthwise")(h)
        h = self.activation(normalization(self.norm, self.train, "depthwise_norm")(h))
        h = GroupConv(self.features, 1, use_bias=bias, name="project")(h)
        h = normalization(self.norm, self.train, "project_norm")(h)
        return x + h if self.strides == 1 and c == self.features else h


class ShuffleUnit(nn.Module):
    """ShuffleNet v1 unit (Zhang et al. 2018, Fig. 2b/c).

    ``1x1 GConv -> N -> ReLU -> channel shuffle -> 3x3 depthwise (stride s)
    -> N -> 1x1 GConv -> N``; with stride 1 the input is added
    (``ReLU(x + branch)``), with stride 2 a 3x3 average pool (stride 2) of the
    input is concatenated (``ReLU(concat)``), so the branch makes
    ``features - C`` channels. Bottleneck width ``features / 4``.

    Attributes:
      features: output channels.
      groups: ``G`` of the 1x1 group convs.
      strides: 1 or 2.
      first_group: use an ungrouped first 1x1 conv (the paper does so in the
        first unit of Stage 2, whose input has few channels).
      norm, train: as in :class:`InvertedResidual`.
    """

    features: int
    groups: int = 3
    strides: int = 1
    first_group: bool = False
    norm: str = "batch"
    train: bool = False

    def __post_init__(self) -> None:
        check_positive_int(self.features, "features")
        if self.features < 4:
            raise ValueError(
                "`features` must be >= 4 (the bottleneck has features // 4 "
                f"channels); got {self.features}."
            )
        check_positive_int(self.groups, "groups")
        if self.strides not in (1, 2):
            raise ValueError(f"`strides` must be 1 or 2; got {self.strides!r}.")
        _check_norm(self.norm)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map ``x: (N, H, W, C)`` to ``(N, H/s, W/s, features)``."""
        check_block_input(self, x, "ShuffleUnit")
        c = x.shape[-1]
        check_shuffle_unit(
            self.features, self.groups, self.strides, self.first_group, c
        )
        out = self.features - c if self.strides == 2 else self.features
        mid, bias = self.features // 4, self.norm == "none"
        g1 = 1 if self.first_group else self.groups
        h = GroupConv(mid, 1, g1, use_bias=bias, name="compress")(x)
        h = nn.relu(normalization(self.norm, self.train, "compress_norm")(h))
        h = _channel_shuffle(h, self.groups) if g1 > 1 else h
        h = GroupConv(mid, 3, mid, self.strides, bias, name="depthwise")(h)
        h = normalization(self.norm, self.train, "depthwise_norm")(h)
        h = GroupConv(out, 1, self.groups, use_bias=bias, name="expand")(h)
        h = normalization(self.norm, self.train, "expand_norm")(h)
        if self.strides == 1:
            return nn.relu(x + h)
        pooled = _avg_pool(x, 3, 2, padding=((1, 1), (1, 1)))
        return nn.relu(jnp.concatenate([pooled, h], axis=-1))


def check_shuffle_unit(
    features: int,
    groups: int,
    strides: int,
    first_group: bool,
    channels: int,
    where: str = "",
) -> None:
    """Refuse a :class:`ShuffleUnit` that cannot map ``channels`` inputs.

    A stride-1 unit adds its input (``features == channels``); a stride-2
    unit concatenates it (``features > channels``); ``groups`` must divide the
    widths its group convs split. Static shapes only, so a network can check
    all its units when it is built (``where`` prefixes the message).
    """
    g, f = groups, features
    if strides == 1 and channels != f:
        raise ValueError(
            f"{where}a stride-1 ShuffleUnit adds its input: `features` must equal "
            f"the input channels {channels}; got {f}."
        )
    out = f - channels if strides == 2 else f
    if out <= 0:
        raise ValueError(
            f"{where}a stride-2 ShuffleUnit needs `features` > input channels "
            f"{channels}; got {f}."
        )
    mid = f // 4
    widths = [(f"the bottleneck width features // 4 = {mid}", mid)]
    if strides == 2:
        widths.append((f"the branch width features - input channels = {out}", out))
    else:
        widths.append((f"features = {f}", f))
    if not first_group:
        widths.append((f"the input channels {channels}", channels))
    bad = [what for what, n in widths if n % g]
    if bad:
        raise ValueError(
            f"{where}ShuffleUnit(features={f}, groups={g}): `groups` must divide "
            + " and ".join(bad)
            + "."
        )
