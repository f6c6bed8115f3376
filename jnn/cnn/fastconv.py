r"""Stride-1 convolutions that are fast on XLA's CPU backend, with or without grad.

A VALID convolution ``F = I * K`` (NHWC images, HWIO kernels) equals the im2col
matrix product ``F = P(I) K``, where ``P`` stacks the ``k_h k_w`` shifted
windows of ``I`` along the channel axis. Measured on 2 CPU cores (LeNet-5,
batch 64, a training step inside the engine's ``lax.scan``):

* no gradient (inference): XLA's own convolution is the fastest form (some
  2.5x faster than im2col at batch 1000);
* under differentiation: XLA emits the kernel-gradient convolution (and the
  input gradient) of a step compiled inside a loop as generic loops, 10-25x
  slower per layer than the im2col products ``dK = P(I)^T dF`` (one matrix product) and
  ``dI`` (shifted sums of ``dF K^T``).

:func:`valid_conv` therefore is a ``jax.custom_vjp`` whose primal is XLA's
convolution (used whenever no gradient is taken) and whose forward/backward
rules are the im2col products (used by ``jax.grad``). When the kernel covers
the whole input (LeNet-5's C5: 5x5 maps, 5x5 kernels) the convolution *is* a
dense layer, ``F = \mathrm{vec}(I) \mathrm{vec}(K)``, and both paths use one
matrix product. Outputs agree to float rounding (< 1e-6 here).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

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


@jax.custom_vjp
def _conv_im2col_grad(x: jax.Array, kernel: jax.Array) -> jax.Array:
    return _xla_conv(x, kernel)


def _forward(x, kernel):
    # Under differentiation the forward is im2col too; its patches are the
    # residual that dK = P^T dF reuses.
    kh, kw, c, d = kernel.shape
    p = patches(x, kh, kw)
    return p @ kernel.reshape(kh * kw * c, d), (x, p, kernel)


def _backward(residuals, cotangent):
    x, p, kernel = residuals
    kh, kw, c, d = kernel.shape
    g = cotangent.reshape(-1, d)
    # dK^T = dF^T P. The barrier stops XLA from folding the final transpose
    # into the product, which would give a transposed-operand dot that its
    # CPU backend runs ~1.5x slower (measured for LeNet-5's C1 and C3).
    dk = jax.lax.optimization_barrier(g.T @ p.reshape(-1, kh * kw * c)).T
    dp = cotangent @ kernel.reshape(kh * kw * c, d).T  # dP = dF K^T
    _, patches_vjp = jax.vjp(lambda a: patches(a, kh, kw), x)
    return patches_vjp(dp)[0], dk.reshape(kernel.shape)


_conv_im2col_grad.defvjp(_forward, _backward)


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

    Supported (else plain ``lax.conv_general_dilated``): NHWC/HWIO, stride 1,
    no dilation, one group, ``"VALID"`` or explicit padding. Signature as
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
    if not fast:
        return jax.lax.conv_general_dilated(
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


def _reshape_max_pool(x: jax.Array) -> jax.Array:
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


@jax.custom_vjp
def max_pool_2x2(x: jax.Array) -> jax.Array:
    """``(B, H, W, C) -> (B, H/2, W/2, C)``: max of each 2x2 window (stride 2).

    ``H, W`` even. Without a gradient: the maximum of four strided slices
    (the fastest form for inference on CPU). Differentiated: a reshape and a
    reduction, whose gradient XLA fuses into elementwise selects, instead of
    ``reduce_window`` whose gradient is a slow ``select_and_scatter`` on CPU.
    Both give the same values.
    """
    top = jnp.maximum(x[:, 0::2, 0::2], x[:, 0::2, 1::2])
    return jnp.maximum(top, jnp.maximum(x[:, 1::2, 0::2], x[:, 1::2, 1::2]))


def _max_pool_forward(x):
    out, pullback = jax.vjp(_reshape_max_pool, x)
    return out, pullback


def _max_pool_backward(pullback, cotangent):
    return pullback(cotangent)


max_pool_2x2.defvjp(_max_pool_forward, _max_pool_backward)


def sum_pool_2x2(x: jax.Array) -> jax.Array:
    """``(B, H, W, C) -> (B, H/2, W/2, C)``: sum of each 2x2 window (stride 2)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).sum(axis=(2, 4))
