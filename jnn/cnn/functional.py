"""Functional convolution ops of curriculum C1-C2: ``conv2d`` and ``channel_shuffle``.

:func:`conv2d` is the discrete 2-D convolution ``F = I * K + b`` (with
feature groups), :func:`channel_shuffle` the channel permutation of
ShuffleNet. Both take NHWC arrays and check them before tracing; the
underscored versions skip the checks, for use inside modules. Padding is
symmetric ``k // 2`` as in PyTorch (``padding=k//2``), so weights and outputs
transfer exactly.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from jnn._checks import check_array, check_positive_int
from jnn.cnn.checks import _check_fits, check_padding, check_rank4, check_size

__all__ = ["channel_shuffle", "conv2d"]


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
