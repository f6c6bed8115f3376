r"""Stride-2 transposed convolution with a fast kernel gradient on XLA's CPU backend.

The reference is ``lax.conv_transpose`` (Flax's ``nn.ConvTranspose``): a
convolution of the input dilated by the stride. On CPU, XLA computes the
*kernel gradient* of that dilated convolution on a slow generic path: for the
28 x 28 DCGAN generator at batch 64 (one core of a 2-core AMD EPYC, CPU
milliseconds), the 256->128 layer takes 12.5 ms forward and 15.6 ms for its
input gradient but 228 ms for its kernel gradient, the 128->64 layer 10.7,
12.2 and 296 ms; the generator's whole parameter gradient 623 ms, against
71 ms for the discriminator's.

The fast path keeps XLA's forward and computes both gradients differently
(each tested equal to the reference). The *kernel gradient* by the sub-pixel
decomposition (Shi et al. 2016; Odena, Dumoulin & Olah 2016): with stride 2
and a 4 x 4 kernel, each output phase ``(y[2q + a, 2r + b])`` is a stride-1
2 x 2 convolution of the input padded by one, with the taps ``K[1 - a + 2i,
1 - b + 2j]``, so the kernel gradient is one matrix product, patches of ``x``
(4 shifted slices, ``(M, 4 C_in)``) against the output gradient arranged by
phase (``(M, 4 C_out)``). The *input gradient* as a stride-2 convolution
with the flipped kernel, its channel axes swapped in memory: XLA's own
transpose rule convolves with an ``01oi`` kernel layout, 18-20 ms per layer
inside the loop for the demo's small generator. Measured (one core, ``fit``
epochs, batch 64): the demo's DCGAN 64-32-16 / 16-32-64 step 79 -> 39-41 ms
(a col2im forward was tried too: slower, 44-66 ms); the benchmark's DCGAN
152 -> 170 images/s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

KERNEL, STRIDE = 4, 2
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def use_fast_path() -> bool:
    """Whether the fast kernel gradient is the default here (CPU backends)."""
    return jax.default_backend() == "cpu"


def conv_transpose_reference(
    x: jax.Array, kernel: jax.Array, padding: tuple[int, int]
) -> jax.Array:
    """``lax.conv_transpose`` with stride 2 and the same explicit padding per side."""
    return jax.lax.conv_transpose(
        x, kernel, (STRIDE, STRIDE), (padding, padding), dimension_numbers=_DIMENSIONS
    )


_TAPS = np.array([[1, 3], [0, 2]])  # phase a uses kernel rows (1 - a, 3 - a)


def kernel_gradient_subpixel(
    x: jax.Array, dy: jax.Array, padding: tuple[int, int]
) -> jax.Array:
    """The gradient of :func:`conv_transpose_reference` with respect to the kernel.

    With full padding ``(3, 3)`` the output has side ``2n + 2`` and, along
    each axis, ``y[2q + a] = x[q - 1] K[1 - a] + x[q] K[3 - a]``; the
    requested padding ``(lo, hi)`` crops ``3 - lo`` before and ``3 - hi``
    after, so ``dy`` is padded back with zeros.

    Args:
      x: ``(N, H, W, C_in)`` the layer's input.
      dy: ``(N, H', W', C_out)`` the gradient of its output.
      padding: the layer's ``(lo, hi)``.

    Returns:
      ``(4, 4, C_in, C_out)``.
    """
    n, h, w, c_in = x.shape
    c_out = dy.shape[-1]
    lo, hi = padding
    full = KERNEL - 1
    dy = jnp.pad(dy, ((0, 0), (full - lo, full - hi), (full - lo, full - hi), (0, 0)))
    dy = dy.reshape(n, h + 1, 2, w + 1, 2, c_out).transpose(0, 1, 3, 2, 4, 5)
    xp = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    patches = jnp.concatenate(
        [xp[:, i : i + h + 1, j : j + w + 1] for i in (0, 1) for j in (0, 1)], axis=-1
    )
    # (dy^T P)^T: on XLA's CPU backend a product whose output has the long
    # side first (``P^T dy``) runs at ~75 GFLOP/s, the other orientation at
    # ~170; the barrier keeps XLA from folding the transpose back into it.
    dk_t = dy.reshape(-1, 4 * c_out).T @ patches.reshape(-1, 4 * c_in)
    dk = jax.lax.optimization_barrier(dk_t).T
    dk = dk.reshape(2, 2, c_in, 2, 2, c_out).transpose(3, 0, 4, 1, 2, 5)
    rows = np.broadcast_to(_TAPS[:, :, None, None], (2, 2, 2, 2))
    cols = np.broadcast_to(_TAPS[None, None], (2, 2, 2, 2))
    return jnp.zeros((KERNEL, KERNEL, c_in, c_out), dy.dtype).at[rows, cols].set(dk)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def conv_transpose_fast(
    x: jax.Array, kernel: jax.Array, padding: tuple[int, int]
) -> jax.Array:
    """:func:`conv_transpose_reference` with the gradients of the module docstring."""
    return conv_transpose_reference(x, kernel, padding)


def _fast_forward(x, kernel, padding):
    return conv_transpose_reference(x, kernel, padding), (x, kernel)


def input_gradient(dy: jax.Array, kernel: jax.Array, x_shape, padding) -> jax.Array:
    """The gradient of :func:`conv_transpose_reference` with respect to its input.

    ``dx[i] = sum_o dy[o] K[2 i + lo - o]^T``: a stride-2 correlation of
    ``dy`` with the flipped kernel, its channel axes swapped and laid out as
    ``(k, k, C_out, C_in)`` in memory (XLA's own transpose rule convolves
    with a ``01oi`` kernel layout, 10x slower inside a loop on CPU).
    """
    lo, _ = padding
    h, w = x_shape[1:3]
    before = KERNEL - 1 - lo
    after_h = 2 * (h - 1) + KERNEL - (dy.shape[1] + before)
    after_w = 2 * (w - 1) + KERNEL - (dy.shape[2] + before)
    flipped = jnp.flip(kernel, (0, 1)).swapaxes(2, 3)
    return jax.lax.conv_general_dilated(
        dy,
        flipped,
        (STRIDE, STRIDE),
        ((before, after_h), (before, after_w)),
        dimension_numbers=_DIMENSIONS,
    )


def _fast_backward(padding, residuals, dy):
    x, kernel = residuals
    dx = input_gradient(dy, kernel, x.shape, padding)
    return dx, kernel_gradient_subpixel(x, dy, padding)


conv_transpose_fast.defvjp(_fast_forward, _fast_backward)


class StridedConvTranspose(nn.Module):
    """A 4 x 4, stride-2 transposed convolution without bias (NHWC).

    Attributes:
      features: output channels.
      padding: ``(lo, hi)`` padding of the dilated input on each spatial
        side (lax convention; PyTorch's ``padding=p, output_padding=op`` is
        ``(3 - p, 3 - p + op)``).
      kernel_init: initialiser of the ``(4, 4, C_in, C_out)`` kernel.
      fast_path: the fast forward and gradients (True), XLA's own (False),
        or None for the default: on CPU (:func:`use_fast_path`).
    """

    features: int
    padding: tuple[int, int]
    kernel_init: Callable = nn.initializers.lecun_normal()
    fast_path: bool | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        shape = (KERNEL, KERNEL, x.shape[-1], self.features)
        kernel = self.param("kernel", self.kernel_init, shape, jnp.float32)
        fast = self.fast_path
        if fast is None:
            fast = use_fast_path()
        padding = tuple(int(p) for p in self.padding)
        if fast and all(0 <= p <= KERNEL - 1 for p in padding):
            return conv_transpose_fast(x, kernel, padding)
        return conv_transpose_reference(x, kernel, padding)


class LatentProjection(nn.Module):
    """``z -> (s, s, C)``: a transposed convolution of kernel ``s`` on a 1 x 1 map.

    On a 1 x 1 input it is a matrix product with the spatially flipped kernel,
    ``y[h, w] = z K[s-1-h, s-1-w]``, computed as one; the kernel has the
    layout of Flax's ``ConvTranspose`` (``(s, s, latent, C)``).

    Attributes:
      features: output channels ``C``.
      size: output side ``s``.
      kernel_init: initialiser of the kernel.
    """

    features: int
    size: int
    kernel_init: Callable = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        s = self.size
        shape = (s, s, z.shape[-1], self.features)
        kernel = self.param("kernel", self.kernel_init, shape, jnp.float32)
        return jnp.einsum("nl,hwlc->nhwc", z, kernel[::-1, ::-1])
