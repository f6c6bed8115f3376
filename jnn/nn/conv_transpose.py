"""Transposed convolutions on a chosen path (:func:`jnn.nn.conv.conv_fn`).

A transposed convolution is a convolution of the input dilated by the
strides; on the fast path it is differentiated through
:func:`jnn.nn.conv.conv_general_dilated` (kernel gradient as a matrix
product), elsewhere it is ``lax.conv_transpose``'s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax

from jnn.nn.conv import conv_fn, resolve_path


def _transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
    """``lax.conv_transpose``'s padding of the dilated input for a padding name."""
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else math.ceil(total / 2)
    else:  # "VALID"
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    return lo, total - lo


def conv_transpose(
    x: jax.Array,
    kernel: jax.Array,
    strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]] = "SAME",
    path: str = "auto",
) -> jax.Array:
    """``lax.conv_transpose`` (channels-last, kernel not flipped) on ``path``.

    A transposed convolution is the convolution of the input dilated by the
    strides, with the padding ``lax.conv_transpose`` derives from ``padding``
    (Keras ``Conv2DTranspose``'s conventions); the fast path differentiates it
    through :func:`conv_general_dilated`.

    Args:
      x: ``(N, *S, C_in)``.
      kernel: ``(*K, C_in, C_out)``.
      strides: per spatial dimension.
      padding: ``"SAME"``, ``"VALID"`` or ``(lo, hi)`` per spatial dimension
        (explicit pairs pad the dilated input, as ``lax.conv_transpose``).
      path: as :func:`conv_fn`.

    Returns:
      ``(N, *S', C_out)`` (``S' = S * strides`` for ``"SAME"``).
    """
    n = x.ndim - 2
    if isinstance(padding, str):
        pads = tuple(
            _transpose_padding(k, s, padding)
            for k, s in zip(kernel.shape[:n], strides, strict=True)
        )
    else:  # explicit pairs pad the dilated input, as in lax.conv_transpose
        pads = tuple(tuple(p) for p in padding)
    spatial = "DHW"[3 - n :]
    dimensions = (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")
    return conv_fn(path)(
        x,
        kernel,
        (1,) * n,
        pads,
        lhs_dilation=tuple(strides),
        dimension_numbers=dimensions,
    )


class ConvTranspose(nn.Module):
    """``nn.ConvTranspose`` (its parameters and defaults) on a chosen conv path.

    Flax's ``nn.ConvTranspose`` calls ``lax.conv_transpose`` directly, so it
    cannot take :func:`conv_general_dilated`; this layer has the same
    ``kernel`` ``(*K, C_in, C_out)`` and ``bias`` ``(C_out,)`` parameters and
    initialisers and computes :func:`conv_transpose` (tested equal to
    ``nn.ConvTranspose`` for copied parameters). No ``transpose_kernel``,
    ``kernel_dilation`` or circular padding.

    Attributes:
      features: output channels.
      kernel_size: window per spatial dimension.
      strides: per spatial dimension (None: 1).
      padding: ``"SAME"``, ``"VALID"`` or ``(lo, hi)`` pairs.
      use_bias: add a bias.
      kernel_init, bias_init: as ``nn.ConvTranspose``.
      conv_path: ``"auto"``, ``"fast"`` or ``"reference"`` (:func:`conv_fn`).
    """

    features: int
    kernel_size: Sequence[int]
    strides: Sequence[int] | None = None
    padding: str | Sequence[tuple[int, int]] = "SAME"
    use_bias: bool = True
    kernel_init: Callable = nn.linear.default_kernel_init
    bias_init: Callable = nn.initializers.zeros_init()
    conv_path: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``(N, *S, C_in) -> (N, *S', features)``."""
        window = tuple(self.kernel_size)
        kernel = self.param(
            "kernel", self.kernel_init, (*window, x.shape[-1], self.features)
        )
        strides = (1,) * len(window) if self.strides is None else tuple(self.strides)
        path = resolve_path(self.conv_path, "conv_path")
        y = conv_transpose(x, kernel, strides, self.padding, path)
        if self.use_bias:
            bias = self.param("bias", self.bias_init, (self.features,))
            y = y + bias.reshape((1,) * (y.ndim - 1) + (-1,))
        return y
