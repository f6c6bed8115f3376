"""Convolution + 2x2 pooling as one matrix product by pooling phase (fast CPU path).

Private, part of LeNet-5's fast CPU path (:mod:`jnn.cnn._fastconv`).
:func:`conv_pool_phases` computes a VALID convolution followed by 2x2 stride-2
pooling (LeNet-5's C1/S2 and C3/S4) as one wide matrix product over stride-2
sub-images, its outputs stored by position in the pooling window
(:class:`PoolPhases`, derivation in the section note below), so pooling is a
reduction over four contiguous planes and its gradient four selects
(:func:`phase_max`). :class:`PoolPhaseConv` is the Flax layer built on it,
:func:`chain_pieces` cuts a training batch into independent chains that XLA's
CPU runtime runs concurrently, and :func:`sum_pool_2x2` is the NHWC 2x2 sum
pool of the subsampling layers. Plain JAX or ``custom_jvp`` rules: forward and
reverse mode both work. Outputs agree with ``lax.conv_general_dilated`` and
PyTorch to float rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct


def sum_pool_2x2(x: jax.Array) -> jax.Array:
    """``(B, H, W, C) -> (B, H/2, W/2, C)``: sum of each 2x2 window (stride 2)."""
    b, h, w, c = x.shape
    return x.reshape(b, h // 2, 2, w // 2, 2, c).sum(axis=(2, 4))


# --- Convolution followed by 2x2 pooling, computed by pooling phase ----------
#
# A 5x5 VALID convolution followed by a 2x2 stride-2 pool (LeNet-5's C1/S2 and
# C3/S4) is computed here as ONE wide matrix product per chunk of images, in a
# channels-first layout, with its outputs grouped by position in the pooling
# window ("phase" (u, v), u, v in {0, 1}):
#
#   y[u, v, d, n, i, j] = sum_{s, t, c} W'[(u, v, d), (s, t, c)] S[(s, t, c), (n, i, j)]
#   S[(s, t, c), (n, i, j)] = x[n, 2i + s, 2j + t, c]        (s, t in 0..k)
#   W'[(u, v, d), (s, t, c)] = K[s - u, t - v, c, d]  (0 outside the kernel)
#
# S holds (k+1)^2 C stride-2 sub-images (36 for C1 instead of the 100 shifted
# windows of an im2col by phase) and W' has 4 D rows, so the product has a
# shape the CPU matrix kernels like (C1: 24 x 36 x 12,544 per 64 images) at
# (k+1)^2/k^2 = 1.44x the multiply-adds of the convolution. Pooling is then a
# reduction over 4 contiguous planes. Measured for LeNet-5 (batch 64, one
# training step in the engine's scan, 1 CPU core): 2.0 ms against 4.5 ms for
# XLA's convolution with an im2col gradient and 4.5 ms for PyTorch.

#: Images per matrix product. Training batches of up to this size are one
#: product (LeNet-5, batch 64, 2 cores: splitting it into independent products
#: of 16 images was 15% slower).
POOL_CHUNK = 64
#: Images per block of a large batch: the chunks of a block are independent
#: products that XLA's CPU runtime runs concurrently; blocks run one after
#: another (``lax.map``). LeNet-5 inference, batch 1000, 2 cores: 56k images/s
#: with blocks of 1,024 against 33k with blocks of 64 or 256.
POOL_BLOCK = 1024


#: Batches of ``CHAIN_MIN_BATCH``-``CHAIN_MAX_BATCH`` images (training steps)
#: are cut into ``CHAINS`` pieces that a network runs through its
#: convolution + pooling layers independently (:func:`chain_pieces`): XLA's
#: CPU runtime runs independent chains concurrently. LeNet-5, batch 64, 2 cores:
#: 1.27x faster training than one chain (8% slower on 1 core) on the machine
#: it was tuned on, 1.04x on a 2-core Xeon (modern, full C3). Batches of 32
#: are one chain: there, 4 chains trained 15-35% slower and doubled the
#: compile time (7.6 s against 14 s, 2-core Xeon).
CHAINS = 4
CHAIN_MIN_BATCH = 64
CHAIN_MAX_BATCH = 256


def chain_pieces(batch: int) -> list[slice]:
    """Contiguous pieces of a batch to compute as independent chains.

    ``CHAINS`` near-equal pieces for ``CHAIN_MIN_BATCH <= batch <=
    CHAIN_MAX_BATCH``, else the whole batch (small batches gain nothing;
    larger ones are cut into concurrent chunks inside
    :func:`conv_pool_phases`).
    """
    if not CHAIN_MIN_BATCH <= batch <= CHAIN_MAX_BATCH:
        return [slice(0, batch)]
    size = -(-batch // CHAINS)
    return [slice(i, min(i + size, batch)) for i in range(0, batch, size)]


def _sub_images(xc: jax.Array, k: int, hp: int, wp: int, strided: bool) -> jax.Array:
    """``xc: (C, B, H, W) -> ((k+1)^2 C, B hp wp)``: rows ``x[c, :, s::2, t::2]``.

    ``strided``: build the rows with 2 (k + 1) strided slices, else with
    (k + 1)^2 contiguous slices of the four parity planes of ``x``. The
    contiguous form trains faster (its gradient is cheaper); the strided form
    has 3x fewer operations, which matters when a batch is cut into many
    chunks (LeNet-5 inference, batch 1000: compiled in 1.7 s instead of 9.8 s,
    and 15% faster).
    """
    c, b = xc.shape[:2]
    if strided:
        rows = jnp.stack([xc[:, :, s : s + 2 * hp - 1 : 2] for s in range(k + 1)])
        sub = jnp.stack(
            [rows[..., t : t + 2 * wp - 1 : 2] for t in range(k + 1)], axis=1
        )
        return sub.reshape((k + 1) ** 2 * c, b * hp * wp)
    planes = [[xc[:, :, a::2, e::2] for e in range(2)] for a in range(2)]
    rows = [
        planes[s % 2][t % 2][:, :, s // 2 : s // 2 + hp, t // 2 : t // 2 + wp]
        for s in range(k + 1)
        for t in range(k + 1)
    ]
    return jnp.stack(rows).reshape((k + 1) ** 2 * c, b * hp * wp)


def _phase_kernel(kernel: jax.Array) -> jax.Array:
    """``(k, k, C, D) -> (4 D, (k+1)^2 C)``: ``W'[(u,v,d), (s,t,c)]``.

    ``W'[(u,v,d), (s,t,c)] = K[s-u, t-v, c, d]``, zero where ``s - u`` or
    ``t - v`` falls outside ``0..k-1``.
    """
    k, _, c, d = kernel.shape
    kt = jnp.transpose(kernel, (3, 0, 1, 2))  # (D, k, k, C)
    shifted = [
        jnp.pad(kt, ((0, 0), (u, 1 - u), (v, 1 - v), (0, 0)))
        for u in range(2)
        for v in range(2)
    ]
    return jnp.stack(shifted).reshape(4 * d, (k + 1) ** 2 * c)


def _conv_phases_block(
    x: jax.Array, weights: jax.Array, k: int, strided: bool
) -> jax.Array:
    """NHWC ``x: (b, H, W, C)`` -> ``(4, D, b, hp, wp)`` (see the section note)."""
    b, h, w, _ = x.shape
    hp, wp = (h - k + 1) // 2, (w - k + 1) // 2
    y = weights @ _sub_images(jnp.transpose(x, (3, 0, 1, 2)), k, hp, wp, strided)
    return y.reshape(4, -1, b, hp, wp)


def _split(x: jax.Array, size: int) -> list[jax.Array]:
    """Split axis 0 into contiguous pieces of ``size`` (the last may be shorter)."""
    return [x[i : i + size] for i in range(0, x.shape[0], size)]


def conv_pool_phases(
    x: jax.Array,
    kernel: jax.Array,
    *,
    chunk: int = POOL_CHUNK,
    block: int = POOL_BLOCK,
) -> PoolPhases:
    """VALID stride-1 convolution ``x * K``, outputs grouped by 2x2 pooling window.

    Equals ``lax.conv_general_dilated(x, kernel, (1, 1), "VALID")`` (NHWC,
    HWIO, cross-correlation as in PyTorch) rearranged so that 2x2 stride-2
    pooling and its gradient are cheap: see :class:`PoolPhases` and the note
    above. Differentiable (plain JAX; no custom rule).

    Args:
      x: ``(B, H, W, C)`` float images.
      kernel: ``(k, k, C, D)`` float kernel with ``H - k + 1`` and
        ``W - k + 1`` even and positive.
      chunk: images per matrix product.
      block: images per block of a larger batch (a multiple of ``chunk``):
        blocks run one after another, the chunks of a block concurrently.

    Returns:
      A :class:`PoolPhases` of logical shape ``(B, H - k + 1, W - k + 1, D)``.

    Raises:
      ValueError: wrong ranks, non-square kernel, channel mismatch, an odd
        or empty output size, or a bad ``chunk`` / ``block``.
    """
    if getattr(x, "ndim", None) != 4 or getattr(kernel, "ndim", None) != 4:
        raise ValueError(
            "`x` must be (B, H, W, C) and `kernel` (k, k, C, D); got shapes "
            f"{getattr(x, 'shape', None)} and {getattr(kernel, 'shape', None)}."
        )
    kh, kw, c, _ = kernel.shape
    b, h, w, cx = x.shape
    if kh != kw or c != cx:
        raise ValueError(
            f"`kernel` must be square with {cx} input channels (those of `x`); "
            f"got {tuple(kernel.shape)}."
        )
    ho, wo = h - kh + 1, w - kw + 1
    if ho <= 0 or wo <= 0 or ho % 2 or wo % 2:
        raise ValueError(
            f"the {ho}x{wo} output of a {kh}x{kw} VALID convolution of a {h}x{w} "
            "image must be non-empty with even sides for 2x2 pooling."
        )
    for name, value in (("chunk", chunk), ("block", block)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
    if block % chunk:
        raise ValueError(f"`block` ({block}) must be a multiple of `chunk` ({chunk}).")
    weights = _phase_kernel(kernel)
    strided = b > chunk  # several chunks: fewer operations to compile

    def one_block(xb: jax.Array) -> tuple[jax.Array, ...]:
        return tuple(
            _conv_phases_block(part, weights, kh, strided) for part in _split(xb, chunk)
        )

    if b <= block:
        return PoolPhases(tuple(v[None] for v in one_block(x)), b)
    blocks = -(-b // block)
    padded = jnp.pad(x, ((0, blocks * block - b), (0, 0), (0, 0), (0, 0)))
    values = jax.lax.map(one_block, padded.reshape(blocks, block, h, w, c))
    return PoolPhases(values, b)


@jax.custom_jvp
def phase_max(values: jax.Array) -> jax.Array:
    """Maximum over axis 1 (the 4 pooling phases); derivative of the first maximum.

    Ties (frequent: a constant image background gives equal conv outputs) take
    the derivative of the first maximal phase in ``(0,0), (0,1), (1,0), (1,1)``
    order, so the gradient goes wholly to it, as PyTorch's ``MaxPool2d`` (and
    XLA's ``reduce_window`` max pooling) send it to the first maximum of the
    row-major window; ``jax.grad`` of ``jnp.max`` would split it equally
    instead. A ``custom_jvp`` (not ``custom_vjp``): reverse mode transposes the
    rule, and forward mode (``jax.jvp``, ``jax.hessian``) works too.
    """
    return jnp.max(values, axis=1)


@phase_max.defjvp
def _phase_max_jvp(primals, tangents):
    (values,), (dvalues,) = primals, tangents
    m = jnp.max(values, axis=1)
    # The tangent of the first maximal phase, as nested selects: its transpose
    # (the gradient) is four selects of the cotangent, as fast as a hand-written
    # VJP; a one-hot mask summed over the phases trains LeNet-5 1.5x slower.
    first0, first1, first2 = (values[:, q] == m for q in range(3))
    tangent = jnp.where(
        first0,
        dvalues[:, 0],
        jnp.where(
            first1, dvalues[:, 1], jnp.where(first2, dvalues[:, 2], dvalues[:, 3])
        ),
    )
    return m, tangent


@struct.dataclass
class PoolPhases:
    """Feature maps stored by 2x2 pooling window, for fast convolution + pooling.

    The batch is cut into blocks of ``block`` images (the last one padded with
    zero images) and each block into chunks; ``values[q][n, 2u + v, d, b, i, j]``
    is map ``d`` of image ``b`` of chunk ``q`` of block ``n`` at position
    ``(2i + u, 2j + v)``. Each pooling window's four inputs are four contiguous
    planes, so pooling is an element-wise reduction, and the chunks are
    independent computations.

    Attributes:
      values: one ``(blocks, 4, D, chunk size, H/2, W/2)`` array per chunk.
      batch: the number of images ``B``.
    """

    values: tuple[jax.Array, ...]
    batch: int = struct.field(pytree_node=False)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        """The logical NHWC shape ``(B, H, W, D)`` of the maps."""
        _, _, d, _, hp, wp = self.values[0].shape
        return (self.batch, 2 * hp, 2 * wp, d)

    def map(self, fn) -> PoolPhases:
        """Apply an element-wise function (e.g. an activation) to every value."""
        return PoolPhases(tuple(fn(v) for v in self.values), self.batch)

    def add_bias(self, bias: jax.Array) -> PoolPhases:
        """Add ``bias: (D,)`` to every map."""
        return self.map(lambda v: v + bias[None, None, :, None, None, None])

    def _images(self, parts: list[jax.Array]) -> jax.Array:
        """Per-chunk ``(blocks, chunk, ...)`` arrays -> ``(B, ...)`` in batch order."""
        out = jnp.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
        out = out.reshape(-1, *out.shape[2:])
        return out if out.shape[0] == self.batch else out[: self.batch]

    def max_pool(self) -> jax.Array:
        """2x2 stride-2 max-pooling: NHWC ``(B, H/2, W/2, D)``.

        Gradient to the first maximum of each window (:func:`phase_max`).
        """
        pooled = [phase_max(v) for v in self.values]
        return self._images([jnp.transpose(p, (0, 2, 3, 4, 1)) for p in pooled])

    def sum_pool(self) -> jax.Array:
        """Sum of each 2x2 window (stride 2): NHWC ``(B, H/2, W/2, D)``."""
        pooled = [jnp.sum(v, axis=1) for v in self.values]
        return self._images([jnp.transpose(p, (0, 2, 3, 4, 1)) for p in pooled])

    def maps(self) -> jax.Array:
        """The feature maps in NHWC: ``(B, H, W, D)``."""
        parts = []
        for v in self.values:
            n, _, d, size, hp, wp = v.shape
            v = v.reshape(n, 2, 2, d, size, hp, wp)
            v = jnp.transpose(v, (0, 4, 5, 1, 6, 2, 3))
            parts.append(v.reshape(n, size, 2 * hp, 2 * wp, d))
        return self._images(parts)


class PoolPhaseConv(nn.Module):
    """A VALID stride-1 convolution whose maps come out ready for 2x2 pooling.

    Same parameters as ``nn.Conv(features, (k, k), padding="VALID")``
    (``kernel: (k, k, C, D)``, ``bias: (D,)``, same initial values for the same
    key and name) and the same maps, returned as a :class:`PoolPhases`
    (computed by :func:`conv_pool_phases`).

    Attributes:
      features: output maps ``D``.
      kernel_size: ``k``.
      kernel_init: initialiser of the kernel.

    Call:
      ``x: (batch, H, W, C)`` -> PoolPhases of shape ``(batch, H-k+1, W-k+1, D)``.
    """

    features: int
    kernel_size: int = 5
    kernel_init: Callable = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x: jax.Array) -> PoolPhases:
        """Convolve ``x`` and add the bias."""
        k = self.kernel_size
        kernel = self.param(
            "kernel", self.kernel_init, (k, k, x.shape[-1], self.features)
        )
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        return conv_pool_phases(x, kernel).add_bias(bias)
