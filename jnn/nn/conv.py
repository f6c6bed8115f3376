r"""Convolutions whose kernel gradient is a matrix product (backend-aware fast path).

XLA's CPU backend emits the *kernel gradient* of a convolution inside a loop
body as generic loops. Every training step of :func:`jnn.train.fit` runs in a
``lax.scan`` over mini-batches, so there it is 20-80x slower than the same
gradient in a stand-alone jitted step (measured, jax 0.10.2, one core of a
2-core AMD EPYC, batch 64: a 5 x 5 convolution 32 -> 64 channels on 14 x 14
maps, 18 ms per step outside a loop and 908 ms inside ``scan``); the forward
convolution and its input gradient are not affected that much.

:func:`conv_general_dilated` is ``lax.conv_general_dilated`` with the kernel
gradient computed as a matrix product instead: with the patches of the input
``P(x)`` (``lax.conv_general_dilated_patches``, the ``k_1 \cdots k_d C_in``
values under every output position), the convolution is ``y = P(x) K`` and

.. math::

    \frac{\partial L}{\partial K} = P(x)^\top \frac{\partial L}{\partial y},

one contraction over the batch and output positions. It is a ``custom_jvp``
whose tangent is the im2col linearisation ``dy = P(dx) K + P(x) dK``: reverse
mode transposes it to that product and to slices of ``g K^T`` added back in
place for the input gradient, forward mode (``jax.jvp``, Hessians) works, and
without a derivative the primal is XLA's own convolution. Outputs and both
gradients equal the reference to float rounding (tested for strides, explicit
and ``"SAME"`` padding, input and kernel dilation, 1-3 spatial dimensions).
Measured inside ``scan`` (three 3 x 3 convolutions, 32 -> 64 channels,
28 x 28, batch 64, Adam step): 7.0 s per step on the reference path, 0.20 s
on this one (the same step jitted outside a loop: 0.155 s); compile time
57 s -> 3.3 s.

Unit-stride 2-D convolutions (most of a UNet's) are linearised in a row
form instead (:mod:`jnn.nn.conv_rows`): only the ``k_w`` taps along the
width are laid side by side, ``(N, H_p, W', k_w C)``, and one product with
the kernel as a ``(k_w C, k_h D)`` matrix is followed by ``k_h`` row shifts
that add the taps along the height. The same products, on a matrix ``k_h``
times smaller, which is what the step pays for on XLA's CPU backend:
building the full im2col (nine slices and a concatenation per 3 x 3 layer)
took ~780 of the ~2,240 ms of the DDPM UNet step of
``benchmarks/diffusion.py`` on one core of a 2-core Xeon; with the row form
the step takes ~1,590 ms.

:func:`conv_fn` picks it by backend: the fast form on CPU, the reference
(``lax.conv_general_dilated``, Flax's default) everywhere else, overridable
with ``path="fast" | "reference"``. Plug it into a Flax layer::

    nn.Conv(64, (3, 3), conv_general_dilated=conv_fn("auto"))

The parameters are the layer's own (``nn.Conv``'s ``kernel`` and ``bias``),
so a model trained on one path runs on the other.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from jnn.nn.conv_rows import row_conv, row_kernel, row_patches

PATHS = ("auto", "fast", "reference")
ConvFn = Callable[..., jax.Array]


def resolve_path(path: str, name: str = "path") -> str:
    """``"auto"`` -> ``"fast"`` on XLA's CPU backend, else ``"reference"``.

    Raises:
      ValueError: ``path`` not one of :data:`PATHS` (the message names the
        argument ``name``, e.g. a model's ``conv_path``).
    """
    if not isinstance(path, str) or path not in PATHS:
        raise ValueError(f"`{name}` must be one of {PATHS}; got {path!r}.")
    if path == "auto":
        return "fast" if jax.default_backend() == "cpu" else "reference"
    return path


def conv_fn(path: str = "auto", name: str = "path") -> ConvFn:
    """The convolution for ``path``: :func:`conv_general_dilated` or XLA's.

    Args:
      path: ``"auto"`` (fast on CPU, reference elsewhere), ``"fast"`` or
        ``"reference"``.
      name: the argument named in the error for a bad ``path``.

    Returns:
      A function with ``lax.conv_general_dilated``'s signature, for
      ``nn.Conv(..., conv_general_dilated=...)``.

    Example:
      >>> import flax.linen as nn
      >>> import jax, jax.numpy as jnp
      >>> layer = nn.Conv(4, (3, 3), conv_general_dilated=conv_fn("fast"))
      >>> x = jnp.ones((2, 8, 8, 1))
      >>> params = layer.init(jax.random.key(0), x)
      >>> grads = jax.grad(lambda p: layer.apply(p, x).sum())(params)
      >>> grads["params"]["kernel"].shape
      (3, 3, 1, 4)
    """
    return (
        conv_general_dilated
        if resolve_path(path, name) == "fast"
        else jax.lax.conv_general_dilated
    )


def _pairs(padding: Any) -> Any:
    return padding if isinstance(padding, str) else tuple(tuple(p) for p in padding)


def _tuple(v: Sequence[int] | None, n: int) -> tuple[int, ...]:
    return (1,) * n if v is None else tuple(v)


def _channels_last(lhs_ndim: int, lhs_shape, rhs_shape, dimension_numbers) -> bool:
    """Whether the layout is ``(N, *S, C)`` / ``(*K, C, D)`` / ``(N, *S', D)``."""
    if dimension_numbers is None:
        return False
    n = lhs_ndim - 2
    spatial = tuple(range(1, n + 1))
    want = jax.lax.ConvDimensionNumbers(
        lhs_spec=(0, n + 1, *spatial),
        rhs_spec=(n + 1, n, *range(n)),
        out_spec=(0, n + 1, *spatial),
    )
    return (
        jax.lax.conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) == want
    )


def patches(
    x: jax.Array,
    window: Sequence[int],
    strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int],
    rhs_dilation: Sequence[int],
) -> jax.Array:
    """The im2col matrix of a channels-last convolution, by slices.

    ``x: (N, *S, C) -> (N, *S', k_1 ... k_d C)``, the last axis ordered like
    a ``(*K, C, D)`` kernel reshaped to ``(k_1 ... k_d C, D)``, so that the
    convolution is ``patches(x) @ K.reshape(-1, D)``. Slices (data movement)
    rather than ``lax.conv_general_dilated_patches``, which is a convolution
    with a one-hot kernel and costs ``k_1 ... k_d C`` multiply-adds per value.
    """
    n = x.ndim - 2
    dilated = [
        (s - 1) * d + 1 for s, d in zip(x.shape[1:-1], lhs_dilation, strict=True)
    ]
    extent = [(k - 1) * d + 1 for k, d in zip(window, rhs_dilation, strict=True)]
    pads = (
        jax.lax.padtype_to_pads(dilated, extent, strides, padding)
        if isinstance(padding, str)
        else padding
    )
    out = [
        (size + lo + hi - e) // s + 1
        for size, (lo, hi), e, s in zip(dilated, pads, extent, strides, strict=True)
    ]
    # Pad up to whole stride periods and split every spatial axis into
    # (coarse position, phase): ``xp[s * i + r] = phases[i, r]``. A tap at
    # offset o then reads phase ``o % s`` from coarse ``o // s`` on, a
    # unit-stride slice; its transpose (the input gradient) is an edge pad,
    # where a strided slice transposes to an interior pad (the input gradient
    # of the DCGAN discriminator's 14 x 14 x 64 layer inside ``scan``: 0.23
    # against 0.38 ms; the DCGAN step ~3 % faster).
    coarse = [
        max(-(-(size + lo + hi) // s), (e - 1) // s + m)
        for size, (lo, hi), e, s, m in zip(
            dilated, pads, extent, strides, out, strict=True
        )
    ]
    config = [
        (0, 0, 0),
        *(
            (lo, c * s - size - lo, d - 1)
            for (lo, _), d, c, s, size in zip(
                pads, lhs_dilation, coarse, strides, dilated, strict=True
            )
        ),
        (0, 0, 0),
    ]
    xp = jax.lax.pad(x, jnp.zeros((), x.dtype), config)
    xp = xp.reshape(
        x.shape[0],
        *itertools.chain.from_iterable(zip(coarse, strides, strict=True)),
        x.shape[-1],
    )
    slices = []
    for offset in itertools.product(*(range(k) for k in window)):
        taps = [o * d for o, d in zip(offset, rhs_dilation, strict=True)]
        start = [0]
        limit = [x.shape[0]]
        for t, s, m in zip(taps, strides, out, strict=True):
            start += [t // s, t % s]
            limit += [t // s + m, t % s + 1]
        start.append(0)
        limit.append(x.shape[-1])
        tap = jax.lax.slice(xp, start, limit)
        slices.append(tap.reshape(x.shape[0], *out, x.shape[-1]))
    stacked = jnp.stack(slices, axis=n + 1)  # (N, *S', k_1 ... k_d, C)
    return stacked.reshape(*stacked.shape[: n + 1], -1)


def kernel_product(p: jax.Array, kernel: jax.Array) -> jax.Array:
    """``p @ kernel.reshape(-1, D)``, written so that its transpose is fast on CPU.

    Reverse mode transposes this product to the kernel gradient ``P^T g``, a
    contraction over the long axis (batch x positions). Written plainly, XLA's
    CPU backend computes it with ``g`` laid out as ``(D, M)``: a transposing
    copy of ``g`` that it fuses into the producer of ``g`` (28 ms per call in
    the DCGAN discriminator's first layer, where the producer is the col2im
    of the next layer), and a product at ~75 GFLOP/s. As ``g^T P`` it runs at
    ~170 GFLOP/s (3136 x 1024 by 3136 x 128, one core) with ``g`` read in
    place, but XLA folds a transpose of that product back into the slow form.
    So the tangent is written ``(K^T P^T)^T`` with an optimisation barrier on
    ``K^T``: its transpose is ``g^T P`` behind the barrier, then a transpose
    of the small ``(D, k C_in)`` result. Measured on the DCGAN step (batch
    64, one core of a 2-core Xeon): 280 -> 190 ms.

    Args:
      p: ``(..., k_1 ... k_d C_in)`` patches.
      kernel: ``(*K, C_in, D)``.

    Returns:
      ``(..., D)``.
    """
    rows = p.reshape(-1, p.shape[-1])
    k_t = jax.lax.optimization_barrier(kernel.reshape(-1, kernel.shape[-1]).T)
    out = jnp.einsum("dk,mk->dm", k_t, rows).T
    return out.reshape(*p.shape[:-1], out.shape[-1])


@functools.cache
def _patch_conv(
    strides, padding, lhs_dilation, rhs_dilation, dimension_numbers, precision
):
    """A ``custom_jvp`` convolution for one static configuration."""
    # unit-stride 2-D convolutions take the row form (row_patches)
    rows = len(strides) == 2 and set(strides) | set(lhs_dilation) == {1}

    def conv(x, kernel):
        return jax.lax.conv_general_dilated(
            x,
            kernel,
            strides,
            padding,
            lhs_dilation=lhs_dilation,
            rhs_dilation=rhs_dilation,
            dimension_numbers=dimension_numbers,
            precision=precision,
        )

    @jax.custom_jvp
    def fast(x, kernel):
        return conv(x, kernel)

    @fast.defjvp
    def fast_jvp(primals, tangents):
        # Linearised as im2col, dy = P(dx) K + P(x) dK: reverse mode transposes
        # the second term to the matrix product P(x)^T g and the first to
        # slices of g K^T added back in place (both measured faster inside a
        # loop than XLA's gradient convolutions); the primal stays XLA's.
        x, kernel = primals
        dx, dkernel = tangents
        window = kernel.shape[:-2]
        if rows:
            kh, dh = window[0], rhs_dilation[0]
            p, (out_h, _) = row_patches(x, window, padding, rhs_dilation)
            p_dx, _ = row_patches(dx, window, padding, rhs_dilation)
            tangent = row_conv(
                p_dx @ row_kernel(kernel) + kernel_product(p, row_kernel(dkernel)),
                kh,
                dh,
                out_h,
            )
            return fast(x, kernel), tangent
        p = patches(x, window, strides, padding, lhs_dilation, rhs_dilation)
        p_dx = patches(dx, window, strides, padding, lhs_dilation, rhs_dilation)
        matrix = lambda k: k.reshape(-1, k.shape[-1])  # noqa: E731
        # The primal through ``fast`` itself, not ``conv``: differentiated
        # again (a gradient penalty's second order), it takes this rule too
        # instead of XLA's kernel-gradient convolution (measured in WGAN-GP:
        # 5.7 of 7.4 s per generator step were those two convolutions).
        tangent = p_dx @ matrix(kernel) + kernel_product(p, dkernel)
        return fast(x, kernel), tangent

    return fast


def conv_general_dilated(
    lhs: jax.Array,
    rhs: jax.Array,
    window_strides: Sequence[int],
    padding: str | Sequence[tuple[int, int]],
    lhs_dilation: Sequence[int] | None = None,
    rhs_dilation: Sequence[int] | None = None,
    dimension_numbers: Any = None,
    feature_group_count: int = 1,
    batch_group_count: int = 1,
    precision: Any = None,
    preferred_element_type: Any = None,
) -> jax.Array:
    """``lax.conv_general_dilated`` with a matrix-product kernel gradient.

    Same signature and result as ``lax.conv_general_dilated``; see the module
    docstring. Configurations the fast form does not cover (grouped
    convolutions, layouts other than channels-last ``(N, *S, C)`` with a
    ``(*K, C_in, C_out)`` kernel, a ``preferred_element_type``) are passed to
    ``lax.conv_general_dilated`` unchanged.

    Args:
      lhs: ``(N, *S, C_in)`` input (channels-last).
      rhs: ``(*K, C_in, C_out)`` kernel.
      window_strides: strides per spatial dimension.
      padding: ``"SAME"``, ``"VALID"`` or ``(lo, hi)`` per spatial dimension.
      lhs_dilation: input dilation (a transposed convolution's stride).
      rhs_dilation: kernel dilation (atrous convolution).
      dimension_numbers: the layout, as ``lax.conv_general_dilated``.
      feature_group_count: grouped convolution (reference path if not 1).
      batch_group_count: as ``lax`` (reference path if not 1).
      precision: passed to both convolutions.
      preferred_element_type: as ``lax`` (reference path if given).

    Returns:
      ``(N, *S', C_out)``.
    """
    n = lhs.ndim - 2
    fast = (
        feature_group_count == 1
        and batch_group_count == 1
        and preferred_element_type is None
        and _channels_last(lhs.ndim, lhs.shape, rhs.shape, dimension_numbers)
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
            batch_group_count=batch_group_count,
            precision=precision,
            preferred_element_type=preferred_element_type,
        )
    spec = jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    f = _patch_conv(
        _tuple(window_strides, n),
        _pairs(padding),
        _tuple(lhs_dilation, n),
        _tuple(rhs_dilation, n),
        spec,
        precision,
    )
    return f(lhs, rhs)
