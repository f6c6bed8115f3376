"""The efficient convolutions of curriculum C2: group and depthwise-separable.

A convolutional layer computes ``F = g(I * K + b)``: every output channel ``d``
at position ``(i, j)`` is a weighted sum over a ``k x k`` window of all (or,
with groups, some) input channels. The efficient blocks cut the cost of that
sum, measured in multiply-accumulates (MACs) per image with output ``H x W``:

* standard conv: ``k^2 C D H W`` MACs, ``k^2 C D`` weights;
* depthwise-separable (:class:`SeparableConv`, Howard et al. 2017): a
  depthwise ``k x k`` conv (one filter per channel, ``k^2 C H W``) then a
  pointwise ``1 x 1`` conv (``C D H W``); ratio to standard
  ``1/D + 1/k^2``;
* group conv (:class:`GroupConv`, Krizhevsky et al. 2012; Zhang et al. 2018):
  ``G`` independent convs on ``C/G`` channels, ``k^2 C D H W / G``;
  :func:`~jnn.cnn.channel_shuffle` (:mod:`jnn.cnn.functional`) lets
  information cross the groups (ShuffleNet);
* inverted residual with linear bottleneck (:class:`~jnn.cnn.InvertedResidual`,
  Sandler et al. 2018, MobileNetV2) and the ShuffleNet unit
  (:class:`~jnn.cnn.ShuffleUnit`) are in :mod:`jnn.cnn.efficient.blocks`.

All modules take NHWC float images ``(batch, H, W, C)``. Normalisation is
selectable (``norm="batch" | "layer" | "group" | "none"``): the reference
architectures use BatchNorm, whose running statistics live in a
``batch_stats`` collection that :func:`jnn.train.gradient_learner` does not
carry; the nets trained with the engine use ``"none"`` (or a batch-free
norm). Padding is symmetric ``k // 2`` as in PyTorch (``padding=k//2``),
so weights and outputs transfer exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_positive_int
from jnn.cnn.checks import check_block_input, check_size
from jnn.cnn.functional import _pair, _same
from jnn.nn import GroupNorm

NORMS = ("batch", "layer", "group", "none")

__all__ = [
    "NORMS",
    "GroupConv",
    "SeparableConv",
    "make_divisible",
    "normalization",
]


def normalization(norm: str, train: bool = False, name: str | None = None):
    """The normalisation layer named by ``norm`` (identity for ``"none"``).

    ``"batch"``: BatchNorm (Ioffe & Szegedy 2015), batch statistics when
    ``train`` else running averages (momentum 0.9, eps 1e-5 as PyTorch);
    ``"layer"``: LayerNorm over ``(H, W, C)``; ``"group"``: GroupNorm with
    groups of 4 channels (Wu & He 2018).
    """
    if norm == "batch":
        return nn.BatchNorm(
            use_running_average=not train, momentum=0.9, epsilon=1e-5, name=name
        )
    if norm == "layer":
        return nn.LayerNorm(reduction_axes=(-3, -2, -1), name=name)
    if norm == "group":
        return GroupNorm(num_groups=None, group_size=4, name=name)
    if norm == "none":
        return lambda x: x
    raise ValueError(f"`norm` must be one of {NORMS}; got {norm!r}.")


def _check_groups(channels: int, features: int, groups: int) -> None:
    check_positive_int(groups, "groups")
    if channels % groups or features % groups:
        raise ValueError(
            f"`groups`={groups} must divide the input channels ({channels}) and "
            f"the output features ({features})."
        )


def _depthwise(x: jax.Array, kernel: jax.Array, strides: tuple[int, int]):
    """Depthwise conv as a sum of ``k_h k_w`` shifted, per-channel scaled copies.

    Same result as ``conv2d(..., groups=C)`` with ``k // 2`` padding, but
    XLA's CPU backend runs grouped convolutions (and their gradients) some
    50x slower than these element-wise products.
    """
    (kh, kw), (sh, sw) = kernel.shape[:2], strides
    n, h, w, c = x.shape
    x = jnp.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    ho, wo = (h + 2 * (kh // 2) - kh) // sh + 1, (w + 2 * (kw // 2) - kw) // sw + 1
    out = jnp.zeros((n, ho, wo, c), x.dtype)
    for u in range(kh):
        for v in range(kw):
            window = x[
                :, u : u + sh * (ho - 1) + 1 : sh, v : v + sw * (wo - 1) + 1 : sw
            ]
            out = out + window * kernel[u, v, 0][None, None, None, :]
    return out


def _pointwise(x: jax.Array, kernel: jax.Array, groups: int, strides):
    """1x1 (group) conv as one einsum per group (fast on CPU, exact)."""
    x = x[:, :: strides[0], :: strides[1], :]
    n, h, w, c = x.shape
    d = kernel.shape[-1]
    xg = x.reshape(n, h, w, groups, c // groups)
    # HWIO kernel (1, 1, C/G, D): output channel j belongs to group j // (D/G)
    kg = jnp.swapaxes(kernel.reshape(c // groups, groups, d // groups), 0, 1)
    return jnp.einsum("nhwgc,gcd->nhwgd", xg, kg).reshape(n, h, w, d)


class GroupConv(nn.Module):
    """``G`` parallel convolutions on ``C/G`` channels each (``k^2 C D / G`` weights).

    Same parameters (``kernel: (k, k, C/G, D)`` HWIO, ``bias: (D,)``) and
    outputs as ``nn.Conv(feature_group_count=G)`` with ``k // 2`` padding, as
    PyTorch's ``Conv2d(groups=G, padding=k//2)``. Depthwise and 1x1 cases are
    computed with element-wise products / einsums, which XLA runs far faster
    on CPU than grouped convolutions.

    Attributes:
      features: output channels ``D``.
      kernel_size: ``k``.
      groups: ``G``; must divide ``C`` and ``D`` (ValueError otherwise).
      strides: stride.
      use_bias: add a bias per output channel.
      kernel_init: initialiser of the kernel (default LeCun normal, fan-in
        ``k^2 C/G``, as ``nn.Conv``).

    Call: ``(N, H, W, C) -> (N, H_out, W_out, D)``, ``H_out = ceil(H / s)``
    for odd ``k``.
    """

    features: int
    kernel_size: int = 1
    groups: int = 1
    strides: int = 1
    use_bias: bool = True
    kernel_init: Callable = nn.initializers.lecun_normal()

    def __post_init__(self) -> None:
        check_positive_int(self.features, "features")
        check_size(self.kernel_size, "kernel_size")
        check_positive_int(self.groups, "groups")
        check_size(self.strides, "strides")
        if not callable(self.kernel_init):
            raise TypeError(
                "`kernel_init` must be an initialiser such as "
                f"nn.initializers.lecun_normal(); got {self.kernel_init!r}."
            )
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply the group convolution to ``x: (N, H, W, C)``."""
        check_block_input(self, x, "GroupConv")
        c, g = x.shape[-1], self.groups
        _check_groups(c, self.features, g)
        k, s = _pair(self.kernel_size), _pair(self.strides)
        kernel = self.param("kernel", self.kernel_init, (*k, c // g, self.features))
        if g == c == self.features:
            y = _depthwise(x, kernel, s)
        elif k == (1, 1):
            y = _pointwise(x, kernel, g, s)
        else:
            y = jax.lax.conv_general_dilated(
                x,
                kernel,
                s,
                _same(k),
                dimension_numbers=("NHWC", "HWIO", "NHWC"),
                feature_group_count=g,
            )
        if self.use_bias:
            bias = self.param("bias", nn.initializers.zeros, (self.features,))
            y = y + bias[None, None, None, :]
        return y


class SeparableConv(nn.Module):
    """Depthwise ``k x k`` conv then pointwise ``1 x 1`` conv (Howard et al. 2017).

    MACs ``k^2 C H W + C D H W`` instead of ``k^2 C D H W``: a fraction
    ``1/D + 1/k^2`` of a standard conv.

    Attributes:
      features: output channels ``D``.
      kernel_size: ``k`` of the depthwise filter.
      strides: stride of the depthwise conv.
      use_bias: biases on both convs (off under a normalisation).

    Call: ``(N, H, W, C) -> (N, H/s, W/s, D)``.
    """

    features: int
    kernel_size: int = 3
    strides: int = 1
    use_bias: bool = True

    def __post_init__(self) -> None:
        check_positive_int(self.features, "features")
        check_size(self.kernel_size, "kernel_size")
        check_size(self.strides, "strides")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Apply depthwise then pointwise convolution to ``x: (N, H, W, C)``."""
        check_block_input(self, x, "SeparableConv")
        c = x.shape[-1]
        depthwise = GroupConv(
            c, self.kernel_size, c, self.strides, self.use_bias, name="depthwise"
        )
        pointwise = GroupConv(
            self.features, 1, use_bias=self.use_bias, name="pointwise"
        )
        return pointwise(depthwise(x))


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a width to a multiple of ``divisor``, losing at most 10%.

    The rule of the reference MobileNet implementations (TensorFlow and
    torchvision ``_make_divisible``), needed to reproduce their counts.

    Raises:
      TypeError: ``value`` is not a number.
      ValueError: ``value`` is not a finite number > 0, or ``divisor`` not a
        positive int.
    """
    check_positive_int(divisor, "divisor")
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(f"`value` must be a number > 0; got {value!r}.")
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"`value` must be a finite number > 0; got {value}.")
    new = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return int(new + divisor if new < 0.9 * value else new)
