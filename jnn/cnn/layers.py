"""Convolution, pooling and the efficient blocks of curriculum C1-C2.

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
  :func:`channel_shuffle` lets information cross the groups (ShuffleNet);
* inverted residual with linear bottleneck (:class:`~jnn.cnn.InvertedResidual`,
  Sandler et al. 2018, MobileNetV2) and the ShuffleNet unit
  (:class:`~jnn.cnn.ShuffleUnit`) are in :mod:`jnn.cnn.blocks`.

All modules take NHWC float images ``(batch, H, W, C)``. Normalisation is
selectable (``norm="batch" | "layer" | "group" | "none"``): the reference
architectures use BatchNorm, whose running statistics live in a
``batch_stats`` collection that :func:`jnn.train.gradient_learner` does not
carry; the nets trained with the engine use ``"none"`` (or a batch-free
norm). Padding is symmetric ``k // 2`` as in PyTorch (``padding=k//2``),
so weights and outputs transfer exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int

NORMS = ("batch", "layer", "group", "none")


def check_images(
    x,
    *,
    height: int | None = None,
    width: int | None = None,
    channels: int | None = None,
    name: str = "images",
) -> None:
    """Check a batch of NHWC images at a public boundary, before tracing.

    Args:
      x: ``(batch, H, W, C)`` float array.
      height: the expected ``H`` (None: any).
      width: the expected ``W`` (None: any).
      channels: the expected ``C`` (None: any).
      name: the argument's name in error messages.

    Raises:
      TypeError: not a floating array.
      ValueError: rank is not 4, a size differs from the expected one, or
        (when concrete) a pixel is NaN or infinite.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string; got {name!r}.")
    for side, value in (("height", height), ("width", width), ("channels", channels)):
        check_positive_int(value, side, allow_none=True)
    check_array(x, name, kind="f")
    if len(x.shape) != 4:
        raise ValueError(
            f"`{name}` must have shape (batch, height, width, channels) (NHWC); "
            f"got shape {tuple(x.shape)}."
        )
    expected = (None, height, width, channels)
    if any(e is not None and e != s for e, s in zip(expected, x.shape, strict=True)):
        want = tuple("batch" if e is None else e for e in expected)
        raise ValueError(
            f"`{name}` must have shape (batch, height, width, channels) = {want}; "
            f"got {tuple(x.shape)}."
        )


def check_rank4(x, name: str, owner: str) -> None:
    """Check that a block's input is an NHWC array (shape only, no values).

    The models check their images' values with :func:`check_images`; their
    inner blocks check only the rank, which costs nothing.

    Raises:
      TypeError: ``x`` is not an array.
      ValueError: its rank is not 4.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(
            f"`{name}` of {owner} must be an array; got {type(x).__name__}."
        )
    if len(x.shape) != 4:
        raise ValueError(
            f"`{name}` of {owner} must have shape (batch, height, width, channels) "
            f"(NHWC); got shape {tuple(x.shape)}."
        )


def check_block_input(module: nn.Module, x, owner: str, name: str = "x") -> None:
    """Check a layer's NHWC input on its static shape and dtype.

    Rank 4 and a floating dtype always (free at trace time); a layer called
    by the user (top level, not inside another module) also checks that the
    batch is non-empty and, when concrete, finite (:func:`check_images`).
    Inside a model only the model checks values, once.

    Raises:
      TypeError: not an array, or not floating.
      ValueError: rank not 4; at top level an empty batch or NaN/inf values.
    """
    check_rank4(x, name, owner)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"`{name}` of {owner} must have a floating dtype; got {x.dtype}."
        )
    if not isinstance(module.parent, nn.Module):
        check_array(x, name, ndim=4, kind="f")


def check_padding(padding, name: str = "padding") -> None:
    """``"VALID"``, ``"SAME"`` or ``((top, bottom), (left, right))`` of ints >= 0."""
    if isinstance(padding, str):
        if padding not in ("VALID", "SAME"):
            raise ValueError(
                f"`{name}` must be 'VALID', 'SAME' or ((top, bottom), (left, "
                f"right)); got {padding!r}."
            )
        return
    if not isinstance(padding, tuple | list):
        raise TypeError(
            f"`{name}` must be 'VALID', 'SAME' or ((top, bottom), (left, right)); "
            f"got {padding!r}."
        )
    if len(padding) != 2 or any(
        not isinstance(p, tuple | list) or len(p) != 2 for p in padding
    ):
        raise ValueError(
            f"`{name}` must be two (low, high) pairs, ((top, bottom), (left, "
            f"right)); got {padding!r}."
        )
    for pair in padding:
        for p in pair:
            if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 0:
                raise ValueError(f"`{name}` must hold ints >= 0; got {padding!r}.")


def _check_fits(x, window, padding, name: str) -> None:
    """A ``window`` that fits in ``x``'s (padded) height and width."""
    if padding == "SAME":
        return
    pads = ((0, 0), (0, 0)) if padding == "VALID" else padding
    for axis, k, (low, high) in zip(("height", "width"), window, pads, strict=True):
        size = x.shape[1 if axis == "height" else 2]
        if k > size + low + high:
            raise ValueError(
                f"`{name}` {tuple(window)} does not fit in the input's {axis} "
                f"{size} (padding {low} + {high}): the output would be empty; "
                f"got input shape {tuple(x.shape)}."
            )


def check_size(value, name: str) -> None:
    """Raise unless ``value`` is a positive int or a pair of positive ints."""
    if isinstance(value, tuple | list) and len(value) == 2:
        for v in value:
            check_positive_int(v, name)
        return
    if isinstance(value, tuple | list):
        raise ValueError(
            f"`{name}` must be a positive int or a pair of them; got {value!r}."
        )
    check_positive_int(value, name)


def check_input_size(size) -> None:
    """``input_size``: None or a pair of positive ints ``(H, W)``."""
    if size is None:
        return
    if not isinstance(size, tuple | list) or len(size) != 2:
        raise ValueError(
            f"`input_size` must be None or a pair (height, width); got {size!r}."
        )
    for side in size:
        check_positive_int(side, "input_size")


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    return (v, v) if isinstance(v, int) else tuple(v)


def _same(k: int | Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Symmetric ``k // 2`` padding (PyTorch's ``padding=k//2``)."""
    return tuple((ki // 2, ki // 2) for ki in _pair(k))


def conv2d(x, kernel, bias=None, *, strides=1, padding="VALID", groups: int = 1):
    r"""Discrete 2-D convolution (cross-correlation) ``F = I * K + b``.

    .. math:: F_{n,i,j,d} = b_d + \sum_{u,v} \sum_{c \in \text{group}(d)}
              I_{n, s i + u, s j + v, c}\, K_{u,v,c,d}

    Args:
      x: ``(N, H, W, C)`` images.
      kernel: ``(k_h, k_w, C / groups, D)`` filters (HWIO).
      bias: optional ``(D,)``.
      strides: int or pair.
      padding: ``"VALID"``, ``"SAME"`` or ``((top, bottom), (left, right))``.
      groups: feature groups; ``groups == C`` is depthwise.

    Returns:
      ``(N, H_out, W_out, D)`` with ``H_out = (H + pad - k_h) // s + 1``.
    """
    check_rank4(x, "x", "conv2d")
    check_array(x, "x", kind="f")
    check_size(strides, "strides")
    check_padding(padding)
    check_positive_int(groups, "groups")
    channels = x.shape[-1]
    if channels % groups:
        raise ValueError(f"`groups`={groups} must divide the channels C={channels}.")
    check_array(kernel, "kernel", ndim=4, kind="f")
    kh, kw, per_group, features = kernel.shape
    if per_group * groups != channels or features % groups:
        raise ValueError(
            f"`kernel` must have shape (k_h, k_w, C / groups, D) = (k_h, k_w, "
            f"{channels // groups}, D) with `groups`={groups} dividing D; got "
            f"{tuple(kernel.shape)}."
        )
    _check_fits(x, (kh, kw), padding, "kernel")
    if bias is not None:
        check_array(bias, "bias", ndim=1, kind="f")
        if bias.shape != (features,):
            raise ValueError(
                f"`bias` must have shape ({features},) (one per output channel); "
                f"got {tuple(bias.shape)}."
            )
    return _conv2d(x, kernel, bias, strides=strides, padding=padding, groups=groups)


def _conv2d(x, kernel, bias=None, *, strides=1, padding="VALID", groups: int = 1):
    """:func:`conv2d` without the checks (inside modules)."""
    out = jax.lax.conv_general_dilated(
        x,
        kernel,
        window_strides=_pair(strides),
        padding=padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )
    return out if bias is None else out + bias[None, None, None, :]


def avg_pool(x, window: int = 2, strides: int | None = None, padding="VALID"):
    """Average pooling (LeNet's subsampling without its coefficient).

    Args:
      x: ``(N, H, W, C)``.
      window: side of the square window.
      strides: step between windows (default: ``window``).
      padding: as in :func:`conv2d` (padded zeros count, as PyTorch's default).

    Returns:
      ``(N, H_out, W_out, C)`` means over each window.
    """
    s = window if strides is None else strides
    _check_pool(x, window, s, padding, "avg_pool")
    return _avg_pool(x, window, s, padding)


def _avg_pool(x, window, strides, padding="VALID"):
    return nn.avg_pool(x, _pair(window), _pair(strides), padding)


def max_pool(x, window: int = 2, strides: int | None = None, padding="VALID"):
    """Max pooling over ``window x window`` (same arguments as :func:`avg_pool`)."""
    s = window if strides is None else strides
    _check_pool(x, window, s, padding, "max_pool")
    return _max_pool(x, window, s, padding)


def _max_pool(x, window, strides, padding="VALID"):
    return nn.max_pool(x, _pair(window), _pair(strides), padding)


def _check_pool(x, window, strides, padding, owner: str) -> None:
    check_rank4(x, "x", owner)
    check_array(x, "x", kind="f")
    check_size(window, "window")
    check_size(strides, "strides")
    check_padding(padding)
    _check_fits(x, _pair(window), padding, "window")


def channel_shuffle(x: jax.Array, groups: int) -> jax.Array:
    """Shuffle channels across groups (Zhang et al. 2018, ShuffleNet, Fig. 1).

    Channels ``(g, c')`` are reordered to ``(c', g)``: after it each group of
    the next group conv sees one channel from every group of the previous one.
    Equal to PyTorch's ``view(n, g, c/g, h, w).transpose(1, 2)``.

    Args:
      x: ``(N, H, W, C)`` with ``C`` divisible by ``groups``.
      groups: the number of groups ``G``.

    Raises:
      ValueError: ``x`` is not NHWC, or ``groups`` does not divide ``C``.
    """
    check_rank4(x, "x", "channel_shuffle")
    check_array(x, "x", kind="n")
    check_positive_int(groups, "groups")
    if x.shape[-1] % groups:
        raise ValueError(f"`groups`={groups} must divide the channels C={x.shape[-1]}.")
    return _channel_shuffle(x, groups)


def _channel_shuffle(x: jax.Array, groups: int) -> jax.Array:
    n, h, w, c = x.shape
    x = x.reshape(n, h, w, groups, c // groups)
    return jnp.swapaxes(x, 3, 4).reshape(n, h, w, c)


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
        return nn.GroupNorm(num_groups=None, group_size=4, name=name)
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


class GlobalAvgPool(nn.Module):
    """Global average pooling ``(N, H, W, C) -> (N, C)`` (Lin et al. 2014)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Mean over the spatial axes."""
        check_block_input(self, x, "GlobalAvgPool")
        return jnp.mean(x, axis=(1, 2))


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


__all__ = [
    "NORMS",
    "GlobalAvgPool",
    "GroupConv",
    "SeparableConv",
    "avg_pool",
    "channel_shuffle",
    "check_images",
    "conv2d",
    "make_divisible",
    "max_pool",
    "normalization",
]
