r"""LeNet-5 (LeCun, Bottou, Bengio & Haffner 1998), curriculum C1.

A convolutional layer computes feature maps ``F = g(I * K + b)``: every unit
sees a ``k x k`` window of the previous maps (local receptive field), all units
of a map share the kernel ``K`` and bias ``b`` (weight sharing), and a
subsampling layer halves the resolution (2x2 windows, stride 2). LeNet-5 is::

    input 32x32x1 -> C1 6@28x28 (5x5) -> S2 6@14x14 -> C3 16@10x10 (5x5)
      -> S4 16@5x5 -> C5 120@1x1 (5x5) -> F6 84 -> output 10

Two variants:

* ``"paper"``: as in the paper. Every layer up to F6 is squashed by
  ``f(a) = A tanh(S a)`` with ``A = 1.7159`` and ``S = 2/3`` (so ``f(1) = 1``,
  ``f(-1) = -1``); S2/S4 add the four inputs of each 2x2 window, multiply by
  a trainable coefficient and add a trainable bias, per map (12 and 32
  parameters); weights start uniform in ``[-2.4/F, 2.4/F]``, ``F`` the fan-in
  of the unit (biases zero).
* ``"modern"``: ReLU after C1, C3, C5, F6; parameter-free 2x2 max-pooling; He
  initialisation. (Computed as ``relu(max_pool(a))``, equal to
  ``max_pool(relu(a))`` since both are monotone, on 4x fewer values.)

Two computations of the same network, with the same parameters
(``conv_path``): the reference, ``nn.Conv`` and pooling (``"xla"``, the
default on GPU and TPU), and a path tuned for XLA's CPU backend (``"fast"``,
the default on CPU), in which C1/S2 and C3/S4 are one wide matrix product per
chunk of images with the outputs grouped by pooling window, and C5, which
covers its whole 5x5 input, a single matrix product. On 2 Xeon cores (modern
variant, full C3) the fast path trains 11x faster than the reference (20,000
against 1,800 images/s, batch 64, Adam) and infers 1.6x faster (40,000
against 25,000 images/s, batch 1,000). Both paths support reverse- and
forward-mode differentiation (``jax.grad``, ``jax.jvp``, ``jax.hessian``) and
agree to float rounding.

C3 either uses the paper's partial connection table (:data:`C3_TABLE`, Table I:
60 of the 96 map pairs, 1,516 parameters) or connects every S2 map to every C3
map (2,416 parameters). The table is stored compactly: the ``params``
collection holds exactly the 60 used 5x5 kernels, so its size is the trainable
parameter count.

Output (``output``): ``"linear"``, a linear layer of ``num_classes`` logits
(84 x 10 + 10 = 850 parameters) trained with softmax cross-entropy
(:func:`jnn.train.classification_loss`), the usual modern substitute; or
``"rbf"``, the paper's: 10 Euclidean RBF units ``y_i = sum_j (x_j - w_ij)^2``
with fixed +-1 centres drawing the digits on 7x12 bitmaps, trained with the
paper's MAP criterion (:mod:`jnn.cnn.lenet.rbf_output`,
:func:`~jnn.cnn.rbf_map_loss`; predict ``argmin y``).

Parameter counts (``c3="table"``): C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
F6 10,164, linear output 850, total 60,850; with the paper's fixed RBF
output, 60,000 (the paper: "about 60,000"; 156 + 12 + 1,516 + 32 + 48,120 +
10,164). With ``c3="full"`` C3 has 2,416 and the total is 61,750. The modern
variant has no pooling parameters: 60,806 (table) and 61,706 (full).

This module holds the model, :func:`pad_mnist` and :func:`parameter_counts`;
the paper's own layers (squashing, trainable subsampling, the C3 table) are in
:mod:`jnn.cnn.lenet.layers`, the fast CPU path in :mod:`jnn.cnn._fastconv`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array
from jnn.cnn._fastconv.im2col import conv_matmul_backward
from jnn.cnn._fastconv.pool_phases import PoolPhaseConv, PoolPhases, chain_pieces
from jnn.cnn.checks import check_images
from jnn.cnn.lenet.layers import (
    C3_TABLE,
    ConnectionTableConv,
    Subsampling,
    _squash,
    _TablePhaseConv,
    fan_in_uniform,
)
from jnn.cnn.lenet.rbf_output import EuclideanRBF
from jnn.cnn.pooling import _max_pool

INPUT_SHAPE = (32, 32, 1)
VARIANTS = ("paper", "modern")
C3_OPTIONS = ("table", "full")
OUTPUTS = ("linear", "rbf")
#: ``"auto"``: ``"fast"`` on CPU, ``"xla"`` (the reference) on other backends.
CONV_PATHS = ("auto", "xla", "fast")


def resolve_conv_path(conv_path: str, backend: str | None = None) -> str:
    """``"xla"`` or ``"fast"``: what ``conv_path`` means on ``backend``.

    ``"auto"`` picks the fast path on CPU only, where it was profiled (see
    :mod:`jnn.cnn._fastconv`); elsewhere the reference path.

    Args:
      conv_path: one of :data:`CONV_PATHS`.
      backend: a JAX backend name; None: ``jax.default_backend()``.
    """
    if conv_path not in CONV_PATHS:
        raise ValueError(f"`conv_path` must be one of {CONV_PATHS}; got {conv_path!r}.")
    if conv_path != "auto":
        return conv_path
    backend = jax.default_backend() if backend is None else backend
    return "fast" if backend == "cpu" else "xla"


def pad_mnist(x, *, fill: float | None = None) -> jax.Array:
    """Pad 28x28 MNIST images by 2 pixels on every side to LeNet-5's 32x32.

    The paper (Section II-B) pads so that stroke end points can reach the
    centre of the receptive fields of the highest feature detectors.

    Args:
      x: ``(n, 28, 28, 1)``, ``(n, 28, 28)`` or ``(n, 784)`` float images.
      fill: value of the new border; None: the minimum of ``x`` (the
        background, also for standardised MNIST where it is below zero).

    Returns:
      ``(n, 32, 32, 1)`` float32 images.

    Raises:
      ValueError: another shape, or non-finite pixels.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"`x` must be an array; got {type(x).__name__}.")
    n = x.shape[0] if x.ndim >= 1 else 0
    if tuple(x.shape[1:]) not in ((28, 28, 1), (28, 28), (784,)) or n == 0:
        raise ValueError(
            "`x` must be MNIST images of shape (n, 28, 28, 1), (n, 28, 28) or "
            f"(n, 784) with n > 0; got {tuple(x.shape)}."
        )
    check_array(x, "x", kind="n")
    if fill is not None:
        if isinstance(fill, bool) or not isinstance(fill, int | float | np.number):
            raise TypeError(f"`fill` must be a number or None; got {fill!r}.")
        if not np.isfinite(fill):
            raise ValueError(f"`fill` must be finite; got {fill}.")
    x = jnp.asarray(x, jnp.float32).reshape(n, 28, 28, 1)
    value = jnp.min(x) if fill is None else jnp.float32(fill)
    return jnp.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=value)


class LeNet5(nn.Module):
    """LeNet-5 of LeCun et al. (1998), see the module docstring.

    Attributes:
      variant: ``"paper"`` (scaled tanh, trainable subsampling, paper init) or
        ``"modern"`` (ReLU, max-pooling, He init).
      c3: ``"table"`` (the paper's partial connections, :data:`C3_TABLE`) or
        ``"full"`` (every S2 map feeds every C3 map).
      num_classes: outputs (10 with ``output="rbf"``).
      output: ``"linear"`` (logits) or ``"rbf"`` (the paper's Euclidean RBF
        units with fixed digit bitmaps: penalties, the prediction is their
        ``argmin``; train with :func:`~jnn.cnn.rbf_map_loss`; needs
        ``variant="paper"``, whose F6 ranges over +-1.7159 around the +-1
        targets).
      conv_path: ``"auto"`` (the fast path on CPU, the reference elsewhere),
        ``"xla"`` (the reference: ``nn.Conv`` and pooling) or ``"fast"``
        (tuned for XLA's CPU backend). The parameters are the same on both
        paths, so trained weights move between them.

    Call:
      ``x: (batch, 32, 32, 1)`` float NHWC images -> ``(batch, num_classes)``
      logits (``output="linear"``) or RBF penalties (``"rbf"``). Layers are
      named ``C1, S2, C3, S4, C5, F6, output`` (S2/S4 hold parameters in the
      paper variant only, the RBF output none). The C1 and C3 feature maps
      (after the activation) are sown into the ``"intermediates"`` collection
      as ``C1_maps`` and ``C3_maps`` (``apply(..., mutable=["intermediates"])``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> model = LeNet5()
      >>> params = model.init(jax.random.key(0), jnp.zeros((1, 32, 32, 1)))
      >>> model.apply(params, jnp.zeros((2, 32, 32, 1))).shape
      (2, 10)
    """

    variant: str = "paper"
    c3: str = "table"
    num_classes: int = 10
    output: str = "linear"
    conv_path: str = "auto"

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise ValueError(
                f"`variant` must be one of {VARIANTS}; got {self.variant!r}."
            )
        if self.c3 not in C3_OPTIONS:
            raise ValueError(f"`c3` must be one of {C3_OPTIONS}; got {self.c3!r}.")
        n = self.num_classes
        if isinstance(n, bool) or not isinstance(n, int | np.integer):
            raise TypeError(f"`num_classes` must be an int >= 2; got {n!r}.")
        if n < 2:
            raise ValueError(f"`num_classes` must be an int >= 2; got {n!r}.")
        if self.output not in OUTPUTS:
            raise ValueError(f"`output` must be one of {OUTPUTS}; got {self.output!r}.")
        if self.output == "rbf" and (self.variant != "paper" or n != 10):
            raise ValueError(
                "`output='rbf'` (fixed bitmaps of the 10 digits on F6's "
                "+-1.7159 range) needs variant='paper' and num_classes=10; got "
                f"variant={self.variant!r}, num_classes={n}."
            )
        resolve_conv_path(self.conv_path, backend="cpu")  # checks the name
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Map ``(batch, 32, 32, 1)`` images to ``(batch, num_classes)`` outputs."""
        check_images(x, height=32, width=32, channels=1, name="x")
        paper = self.variant == "paper"
        act = _squash if paper else nn.relu
        init = fan_in_uniform() if paper else nn.initializers.he_normal()
        fast = resolve_conv_path(self.conv_path) == "fast"
        features = self._fast_c1_to_s4 if fast else self._reference_c1_to_s4
        h = features(x, act, init)  # (B, 5, 5, 16) after S4
        # On the fast path C5, which covers its whole input, is one matmul.
        conv = {"conv_general_dilated": conv_matmul_backward} if fast else {}
        c5 = nn.Conv(120, (5, 5), padding="VALID", kernel_init=init, name="C5", **conv)
        h = act(c5(h))  # (B, 1, 1, 120)
        h = h.reshape(h.shape[0], 120)
        h = act(nn.Dense(84, kernel_init=init, name="F6")(h))
        if self.output == "rbf":
            return EuclideanRBF(name="output")(h)
        return nn.Dense(self.num_classes, kernel_init=init, name="output")(h)

    def _pooling(self):
        """S2 and S4: trainable subsampling (paper) or none (max-pooling)."""
        if self.variant == "paper":
            return Subsampling(name="S2"), Subsampling(name="S4")
        return None, None

    def _reference_c1_to_s4(self, x, act, init) -> jax.Array:
        """C1-S4 with ``nn.Conv`` and pooling: the reference path."""
        paper, s2, s4 = self.variant == "paper", *self._pooling()
        c1 = nn.Conv(6, (5, 5), padding="VALID", kernel_init=init, name="C1")
        if self.c3 == "table":
            c3 = ConnectionTableConv(C3_TABLE, 5, paper_init=paper, name="C3")
        else:
            c3 = nn.Conv(16, (5, 5), padding="VALID", kernel_init=init, name="C3")

        def act_pool(a: jax.Array, maps: str, subsampling) -> jax.Array:
            if self.is_mutable_collection("intermediates"):
                self.sow("intermediates", maps, act(a))  # F = g(a)
            if paper:
                return act(subsampling(act(a)))
            return act(_max_pool(a, 2, 2))  # relu(max(a)) == max(relu(a))

        return act_pool(c3(act_pool(c1(x), "C1_maps", s2)), "C3_maps", s4)

    def _fast_c1_to_s4(self, x, act, init) -> jax.Array:
        """C1-S4 as pooling-phase products in independent chains (fast on CPU)."""
        paper, s2, s4 = self.variant == "paper", *self._pooling()
        sow = self.is_mutable_collection("intermediates")
        c1 = PoolPhaseConv(6, 5, kernel_init=init, name="C1")
        if self.c3 == "table":
            c3 = _TablePhaseConv(C3_TABLE, 5, paper_init=paper, name="C3")
        else:
            c3 = PoolPhaseConv(16, 5, kernel_init=init, name="C3")

        def act_pool(a: PoolPhases, maps: str, subsampling) -> jax.Array:
            if sow:
                self.sow("intermediates", maps, act(a.maps()))  # F = g(a)
            if paper:
                return act(subsampling(a.map(act)))
            return act(a.max_pool())  # relu(max(a)) == max(relu(a))

        # The pieces of a training batch run as independent chains, which XLA's
        # CPU runtime executes concurrently (chain_pieces).
        parts = [slice(0, x.shape[0])] if sow else chain_pieces(x.shape[0])
        pieces = [
            act_pool(c3(act_pool(c1(x[part]), "C1_maps", s2)), "C3_maps", s4)
            for part in parts
        ]
        return jnp.concatenate(pieces) if len(pieces) > 1 else pieces[0]


def parameter_counts(params) -> dict[str, int]:
    """Parameters per top-level layer of a ``params`` collection, plus ``"total"``.

    Args:
      params: e.g. ``LeNet5().init(key, x)["params"]``, or its shapes from
        ``jax.eval_shape`` (no computation).

    Returns:
      ``{"C1": 156, "S2": 12, ..., "total": 60850}``.

    Raises:
      TypeError: ``params`` is not a dict of layers holding arrays.
      ValueError: ``params`` is empty.
    """
    if not isinstance(params, Mapping):
        raise TypeError(
            "`params` must be a dict {layer: parameters}, e.g. "
            f"model.init(key, x)['params']; got {type(params).__name__}."
        )
    if not params:
        raise ValueError("`params` must hold at least one layer; got {}.")
    for name, sub in params.items():
        if not all(hasattr(leaf, "shape") for leaf in jax.tree.leaves(sub)):
            raise TypeError(
                f"`params[{name!r}]` must hold arrays (or their shapes); got {sub!r}."
            )
    counts = {
        name: int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(sub)))
        for name, sub in params.items()
    }
    counts["total"] = sum(counts.values())
    return counts
