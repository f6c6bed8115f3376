r"""VALID convolutions whose derivatives are im2col matrix products (fast CPU path).

Private, part of LeNet-5's fast CPU path (:mod:`jnn.cnn._fastconv`).
:func:`valid_conv` is any VALID stride-1 convolution: XLA's convolution when
no derivative is taken, im2col matrix products ``F = P(I) K`` under
differentiation (a ``custom_jvp``, so forward and reverse mode both work);
XLA's CPU backend emits the kernel-gradient convolution of a step compiled
inside a loop as generic loops, 10-25x slower. When the kernel covers the
whole input (LeNet-5's C5) the convolution *is* a dense layer,
``F = \mathrm{vec}(I) \mathrm{vec}(K)``, and one matrix product.
:func:`conv_matmul_backward` plugs it into ``nn.Conv``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnn.nn import conv_general_dilated as nn_conv_general_dilated

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def patches(x: jax.Array, kh: int, kw: int) -> jax.Array:
    """``x: (B, H, W, C) -> (B, H', W', kh kw C)``: the im2col matrix of a VALID conv.

    The last axis is ordered ``(i, j, c)`` like a HWIO kernel reshaped to
    ``(kh kw C, D)``.
    """
    b, h, w, c = x.shape
    ho, wo = h - kh + 1, w - kw + 1
    windows = [x[:, i : i + ho, j : j + wo, :] for i in range(kh) for j in range(kw)]
    return jnp.stack(windows, axis=3).reshape(b, ho, wo, kh * kw * c)


def im2col_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """VALID conv ``(B, H, W, C) * (kh, kw, C, D) -> (B, H', W', D)`` as ``P(x) K``."""
    kh, kw, c, d = kernel.shape
    return patches(x, kh, kw) @ kernel.reshape(kh * kw * c, d)


def _xla_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return jax.lax.conv_general_dilated(
        x, kernel, (1, 1), "VALID", dimension_numbers=_DIMENSIONS
    )


@jax.custom_jvp
def _conv_im2col_grad(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return _xla_conv(x, kernel)


@_conv_im2col_grad.defjvp
def _conv_im2col_jvp(primals, tangents):
    # Under differentiation the convolution is im2col, F = P(x) K, and so is its
    # tangent dF = P(dx) K + P(x) dK. Reverse mode transposes this linear map:
    # dK = P(x)^T g (one matrix product) and dx = P^T(g K^T) (shifted sums),
    # the patches P(x) being the residual shared by the primal and dK.
    x, kernel = primals
    dx, dkernel = tangents
    kh, kw, c, d = kernel.shape
    p = patches(x, kh, kw)
    flat = kernel.reshape(kh * kw * c, d)
    tangent = patches(dx, kh, kw) @ flat + p @ dkernel.reshape(kh * kw * c, d)
    return p @ flat, tangent


def valid_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """VALID stride-1 convolution, fast on CPU in inference and training.

    Args:
      x: ``(B, H, W, C)`` float images (NHWC).
      kernel: ``(kh, kw, C, D)`` float kernel (HWIO), cross-correlation as in
        ``lax.conv_general_dilated`` and PyTorch.

    Returns:
      ``(B, H - kh + 1, W - kw + 1, D)``.
    """
    kh, kw, c, d = kernel.shape
    b, h, w, _ = x.shape
    if (h, w) == (kh, kw):  # one output position: a dense layer
        out = x.reshape(b, kh * kw * c) @ kernel.reshape(kh * kw * c, d)
        return out.reshape(b, 1, 1, d)
    return _conv_im2col_grad(x, kernel)


def _is_nhwc(lhs, rhs, dimension_numbers) -> bool:
    if dimension_numbers is None or lhs.ndim != 4:
        return False
    spec = jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    return spec == jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, _DIMENSIONS)


def conv_matmul_backward(
    lhs,
    rhs,
    window_strides,
    padding,
    lhs_dilation=None,
    rhs_dilation=None,
    dimension_numbers=None,
    feature_group_count=1,
    precision=None,
):
    r"""``lax.conv_general_dilated`` whose gradient is computed by im2col matmuls.

    Without a gradient this is XLA's convolution, ``F = I * K`` (a single
    matrix product when the kernel covers the input). Differentiated, it is
    the im2col form ``F = P(I) K`` (``P`` stacks the ``k_h k_w`` shifted
    windows): ``dK = P(I)^T dF`` is one matrix product and ``dI`` a sum of
    shifted copies of ``dF K^T``. Why: XLA's CPU backend emits the
    convolution gradients of a training step compiled inside a loop (the
    engine's ``lax.scan`` over mini-batches) as naive loops, some 10x slower
    than these matrix products; outputs and gradients are the same (to float
    rounding). See :func:`valid_conv`.

    Supported here: NHWC/HWIO, stride 1, no dilation, one group, ``"VALID"``
    or explicit padding; anything else goes to
    :func:`jnn.nn.conv_general_dilated`, the general form of the same idea
    (which hands grouped convolutions to ``lax.conv_general_dilated``). Signature as
    ``lax.conv_general_dilated``, so it plugs into ``nn.Conv(...,
    conv_general_dilated=conv_matmul_backward)``.
    """
    fast = (
        tuple(window_strides) == (1, 1)
        and all(d is None or tuple(d) == (1, 1) for d in (lhs_dilation, rhs_dilation))
        and feature_group_count == 1
        and _is_nhwc(lhs, rhs, dimension_numbers)
        and (padding == "VALID" or not isinstance(padding, str))
    )
    if not fast:  # the general im2col-derivative form (itself lax where it must)
        return nn_conv_general_dilated(
            lhs,
            rhs,
            window_strides,
            padding,
            lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers,
            feature_group_count=feature_group_count,
            precision=precision,
        )
    if not isinstance(padding, str):
        lhs = jnp.pad(lhs, ((0, 0), *map(tuple, padding), (0, 0)))
    return valid_conv(lhs, rhs)
