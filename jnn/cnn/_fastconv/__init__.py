r"""LeNet-5's fast CPU path: convolutions that XLA's CPU backend runs fast.

Private: :class:`~jnn.cnn.LeNet5` uses these when its ``conv_path`` resolves to
``"fast"`` (the default on CPU); the reference path (``nn.Conv``, pooling) is
the default on every other backend and the one these are tested equal to.
Everything here is plain JAX or has a ``custom_jvp`` rule, so forward mode
(``jax.jvp``, ``jax.hessian``) and reverse mode both work.

Two tools, both measured on 2 CPU cores with LeNet-5 (batch 64, a training step
inside the engine's ``lax.scan``):

* :mod:`~jnn.cnn._fastconv.pool_phases` (``conv_pool_phases`` /
  ``PoolPhases``): a VALID convolution followed by 2x2 stride-2 pooling
  (LeNet-5's C1/S2 and C3/S4) as one wide matrix product over stride-2
  sub-images, in a channels-first layout with the outputs grouped by position
  in the pooling window (derivation in that module's section note). Pooling
  becomes a reduction over four contiguous planes and its gradient four
  selects. ``chain_pieces`` cuts a training batch into pieces that a network
  runs through these layers as independent chains, which XLA's CPU runtime
  executes concurrently. XLA's own convolution (NHWC with 6 or 16 channels in
  the lanes) and its gradients, an im2col product and a max-pool by
  ``reduce_window`` all cost several times more here.
* :mod:`~jnn.cnn._fastconv.im2col` (``valid_conv`` /
  ``conv_matmul_backward``): any VALID stride-1 convolution; XLA's
  convolution when no derivative is taken, im2col matrix products under
  differentiation (XLA emits the kernel-gradient convolution of a step
  compiled inside a loop as generic loops, 10-25x slower). When the kernel
  covers the whole input (LeNet-5's C5) the convolution *is* a dense layer,
  ``F = \mathrm{vec}(I) \mathrm{vec}(K)``, and one matrix product.

Outputs agree with ``lax.conv_general_dilated`` and PyTorch to float rounding.
"""
