"""Pooling of curriculum C1-C2: average, max and global average pooling.

:func:`avg_pool` (LeNet's subsampling without its coefficient) and
:func:`max_pool` over square windows of NHWC images, and the module
:class:`GlobalAvgPool` ``(N, H, W, C) -> (N, C)`` that ends the efficient nets.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_array
from jnn.cnn.checks import (
    _check_fits,
    check_block_input,
    check_padding,
    check_rank4,
    check_size,
)
from jnn.cnn.functional import _pair

__all__ = ["GlobalAvgPool", "avg_pool", "max_pool"]


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


class GlobalAvgPool(nn.Module):
    """Global average pooling ``(N, H, W, C) -> (N, C)`` (Lin et al. 2014)."""

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Mean over the spatial axes."""
        check_block_input(self, x, "GlobalAvgPool")
        return jnp.mean(x, axis=(1, 2))
