"""The DCGAN discriminator's square convolution on :mod:`jnn.nn`'s conv paths.

Measured on XLA's CPU backend (jax 0.10.2, one core of a 2-core AMD EPYC,
batch 64): the kernel gradient of a convolution inside a ``lax.scan`` body,
which is where :func:`jnn.train.fit` runs every training step, is 40-85x
slower than the same computation outside a loop (stride-2 64->128 4 x 4
conv on 14 x 14 maps: 14.4 ms outside, 572 ms inside). The fast path is
:func:`jnn.nn.conv_general_dilated` (im2col derivatives, a ``custom_jvp``, so
the WGAN-GP penalty's second derivative works too); the reference is XLA's
convolution. The parameters are Flax's ``nn.Conv`` kernel ``(k_h, k_w, C_in,
C_out)`` on both. Measured, DCGAN training through ``fit`` (the benchmark's
networks, batch 64): 152 images/s with this path in the discriminator against
127 with the earlier custom-VJP kernel gradient that kept XLA's input gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn.nn import conv_fn

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


class SquareConv(nn.Module):
    """A square convolution without bias (NHWC), with the CPU fast path.

    Attributes:
      features: output channels.
      kernel_size: side ``k`` of the kernel.
      stride: the stride.
      padding: ``(lo, hi)`` per spatial side.
      kernel_init: initialiser of the ``(k, k, C_in, C_out)`` kernel.
      fast_path: the matrix-product kernel gradient (True), XLA's (False), or
        None: on CPU backends (:func:`jnn.nn.conv_fn` ``"auto"``).
    """

    features: int
    kernel_size: int
    stride: int = 1
    padding: tuple[int, int] = (0, 0)
    kernel_init: Callable = nn.initializers.lecun_normal()
    fast_path: bool | None = None

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """``(N, H, W, C_in) -> (N, H', W', features)``."""
        k = self.kernel_size
        shape = (k, k, x.shape[-1], self.features)
        kernel = self.param("kernel", self.kernel_init, shape, jnp.float32)
        path = {None: "auto", True: "fast", False: "reference"}[self.fast_path]
        padding = tuple(int(p) for p in self.padding)
        conv = conv_fn(path)
        return conv(
            x,
            kernel,
            (self.stride,) * 2,
            (padding, padding),
            dimension_numbers=_DIMENSIONS,
        )
