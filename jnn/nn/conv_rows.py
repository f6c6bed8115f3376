"""The row form of a unit-stride 2-D convolution's linearisation (CPU fast path).

:func:`jnn.nn.conv.conv_general_dilated` differentiates unit-stride 2-D
convolutions through these pieces instead of a full im2col: the ``k_w`` taps
along the width side by side (:func:`row_patches`), one product with the
kernel as a ``(k_w C, k_h D)`` matrix (:func:`row_kernel`), and ``k_h`` row
shifts added (:func:`row_conv`), so that the matrix saved for the kernel
gradient is ``k_h`` times smaller. Equal to ``lax.conv_general_dilated`` in
values and derivatives (``tests/nn/test_conv.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp


def _explicit_pads(
    shape: Sequence[int],
    window: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    rhs_dilation: Sequence[int],
) -> tuple[tuple[int, int], ...]:
    """``(lo, hi)`` per spatial axis of a unit-stride convolution's padding."""
    if not isinstance(padding, str):
        return tuple(padding)
    extent = [(k - 1) * d + 1 for k, d in zip(window, rhs_dilation, strict=True)]
    return tuple(jax.lax.padtype_to_pads(shape, extent, (1,) * len(shape), padding))


def row_patches(
    x: jax.Array,
    window: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    rhs_dilation: Sequence[int],
) -> tuple[jax.Array, tuple[int, int]]:
    """Half an im2col for a unit-stride 2-D convolution: the taps along the width.

    ``x: (N, H, W, C) -> (N, H_p, W', k_w C)`` with ``H_p`` the padded height
    and ``W'`` the output width: row ``h`` of the padded input, the ``k_w``
    kernel columns side by side. The ``k_h`` taps along the height are then
    row shifts of one product (:func:`row_conv`), so the matrix the kernel
    gradient reads is ``k_h`` times smaller than :func:`jnn.nn.conv.patches`' (for a
    3 x 3 kernel: 62 against 173 MB at 64 x 28 x 28 x 96). Returns the
    patches and ``(H', H_p)``.
    """
    (kh, kw), (dh, dw) = window, rhs_dilation
    (lo_h, hi_h), (lo_w, hi_w) = _explicit_pads(
        x.shape[1:3], window, padding, rhs_dilation
    )
    # Column j is the input padded by (lo_w - j d_w, hi_w - (k_w - 1 - j) d_w)
    # (negative pads crop); stacked on a new axis, XLA fuses the pads and the
    # stack into one loop (23 -> 15 ms at 64 x 28 x 28 x 96, one core).
    zero = jnp.zeros((), x.dtype)
    cols = [
        jax.lax.pad(
            x,
            zero,
            [
                (0, 0, 0),
                (lo_h, hi_h, 0),
                (lo_w - j * dw, hi_w - (kw - 1 - j) * dw, 0),
                (0, 0, 0),
            ],
        )
        for j in range(kw)
    ]
    p = jnp.stack(cols, axis=-2)
    padded_h = p.shape[1]
    return p.reshape(*p.shape[:3], -1), (padded_h - (kh - 1) * dh, padded_h)


def row_kernel(kernel: jax.Array) -> jax.Array:
    """``(k_h, k_w, C, D) -> (k_w C, k_h D)``, the matrix of :func:`row_conv`."""
    kh, kw, c, d = kernel.shape
    return kernel.transpose(1, 2, 0, 3).reshape(kw * c, kh * d)


def row_conv(z: jax.Array, kh: int, dh: int, out_h: int) -> jax.Array:
    """``(N, H_p, W', k_h D)`` row products -> ``(N, H', W', D)``: shift and add.

    Output row ``h`` sums block ``i`` of product row ``h + i d_h``; reverse
    mode transposes this to ``k_h`` shifted copies of the output gradient
    side by side (pads, fused into one loop).
    """
    # unstacked, not indexed: the transpose is then one stack of pads (a
    # fused loop) rather than k_h padded copies added (7.5 -> 5.2 ms)
    parts = jnp.unstack(z.reshape(*z.shape[:-1], kh, z.shape[-1] // kh), axis=3)
    return sum(part[:, i * dh : i * dh + out_h] for i, part in enumerate(parts))
