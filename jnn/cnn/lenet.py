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
paper's MAP criterion (:mod:`jnn.cnn.rbf_output`, :func:`~jnn.cnn.rbf_map_loss`;
predict ``argmin y``).

Parameter counts (``c3="table"``): C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
F6 10,164, linear output 850, total 60,850; with the paper's fixed RBF
output, 60,000 (the paper: "about 60,000"; 156 + 12 + 1,516 + 32 + 48,120 +
10,164). With ``c3="full"`` C3 has 2,416 and the total is 61,750. The modern
variant has no pooling parameters: 60,806 (table) and 61,706 (full).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int
from jnn.cnn._fastconv import (
    PoolPhaseConv,
    PoolPhases,
    chain_pieces,
    conv_matmul_backward,
    conv_pool_phases,
    sum_pool_2x2,
)
from jnn.cnn.layers import (
    _conv2d,
    _max_pool,
    check_block_input,
    check_images,
    check_rank4,
)
from jnn.cnn.rbf_output import EuclideanRBF

#: Squashing function constants of the paper (Appendix A): f(a) = A tanh(S a).
SQUASH_A = 1.7159
SQUASH_S = 2.0 / 3.0

_TABLE_ROWS = (  # Table I of the paper: row = S2 map, column = C3 map, X = used
    "X...XXX..XXXX.XX",
    "XX...XXX..XXXX.X",
    "XXX...XXX..X.XXX",
    ".XXX..XXXX..X.XX",
    "..XXX..XXXX.XX.X",
    "...XXX..XXXX.XXX",
)
#: (6, 16) bool: ``C3_TABLE[i, j]`` says whether C3 map ``j`` reads S2 map ``i``.
#: Maps 0-5 read 3 contiguous S2 maps, 6-11 four contiguous, 12-14 four
#: non-contiguous and map 15 all six (LeCun et al. 1998, Table I).
C3_TABLE = np.array([[c == "X" for c in row] for row in _TABLE_ROWS], dtype=bool)

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


def squash(a: jax.Array) -> jax.Array:
    r"""The paper's sigmoid :math:`f(a) = A \tanh(S a)`, A = 1.7159, S = 2/3.

    Raises:
      TypeError: ``a`` is not a float array.
      ValueError: (when concrete) NaN or infinite entries.
    """
    check_array(a, "a", kind="f")
    return _squash(a)


def _squash(a: jax.Array) -> jax.Array:
    return SQUASH_A * jnp.tanh(SQUASH_S * a)


def fan_in_uniform(scale: float = 2.4):
    """Initialiser ``U(-scale/F, scale/F)``, ``F`` the fan-in (all axes but the last).

    The paper's initialisation (Appendix A): it keeps the total input of a unit
    inside the squashing function's linear range at the start.
    """

    def init(key, shape, dtype=jnp.float32):
        fan_in = int(np.prod(shape[:-1]))
        limit = scale / fan_in
        return jax.random.uniform(key, shape, dtype, -limit, limit)

    return init


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


class Subsampling(nn.Module):
    r"""The paper's trainable subsampling (S2, S4), before the squashing.

    .. math:: s_c(i, j) = w_c \sum_{u, v \in \{0, 1\}} x_c(2i + u, 2j + v) + b_c

    one coefficient ``w_c`` (initialised to 1/4, i.e. average pooling) and one
    bias ``b_c`` per map: ``2 C`` parameters.

    Call:
      ``x: (batch, H, W, C)`` with even ``H, W`` -> ``(batch, H/2, W/2, C)``.
    """

    @nn.compact
    def __call__(self, x: jax.Array | PoolPhases) -> jax.Array:
        """Sum each 2x2 window, scale and shift per map.

        ``x`` is NHWC maps (or the maps of :class:`LeNet5`'s fast CPU path,
        stored by pooling window).
        """
        if not isinstance(x, PoolPhases):
            check_block_input(self, x, "Subsampling")
            if x.shape[1] % 2 or x.shape[2] % 2:
                raise ValueError(
                    "`x` of Subsampling must have an even height and width (2x2 "
                    f"windows, stride 2); got shape {tuple(x.shape)}."
                )
        channels = x.shape[-1]
        coefficient = self.param(
            "coefficient", nn.initializers.constant(0.25), (channels,)
        )
        bias = self.param("bias", nn.initializers.zeros, (channels,))
        window_sum = x.sum_pool() if isinstance(x, PoolPhases) else sum_pool_2x2(x)
        return window_sum * coefficient[None, None, None, :] + bias[None, None, None, :]


class ConnectionTableConv(nn.Module):
    r"""A convolution in which output map ``j`` reads only the inputs ``table[:, j]``.

    .. math:: F_j = \sum_{i:\ \mathrm{table}[i, j]} I_i * K_{ij} + b_j

    The kernels of the used pairs are stored as one ``(k, k, n_used)`` array
    (``params["kernel"]``, pairs in row-major order of ``table``) and scattered
    into a zero ``(k, k, C_in, C_out)`` kernel before a standard VALID
    convolution, so the parameter count is ``k^2 n_used + C_out`` and the cost
    ``k^2 n_used H_out W_out`` multiply-adds (LeCun et al. 1998's C3: 1,516
    parameters, 151,600 connections).

    Attributes:
      table: ``(C_in, C_out)`` bool connection table, e.g. :data:`C3_TABLE`.
      kernel_size: ``k``.
      paper_init: the paper's ``U(+-2.4/F)`` with ``F = k^2 x`` (inputs of
        that output map); else He normal with that fan-in.

    Call:
      ``x: (batch, H, W, C_in)`` -> ``(batch, H-k+1, W-k+1, C_out)``.
    """

    table: np.ndarray
    kernel_size: int = 5
    paper_init: bool = True

    def __post_init__(self) -> None:
        table = self.table
        if table is None or not hasattr(table, "shape") or not hasattr(table, "dtype"):
            raise TypeError(
                f"`table` must be a (C_in, C_out) bool array; got {table!r}."
            )
        if np.asarray(table).dtype.kind not in "biu":
            raise TypeError(f"`table` must hold bools (or 0/1); got {table.dtype}.")
        t = np.asarray(table)
        if t.ndim != 2 or t.size == 0 or not np.all((t == 0) | (t == 1)):
            raise ValueError(
                f"`table` must be a non-empty (C_in, C_out) 0/1 matrix; got shape "
                f"{t.shape}."
            )
        if not np.all(t.any(axis=0)):
            raise ValueError(
                "`table` must connect every output map to at least one input map; "
                f"columns {np.flatnonzero(~t.any(axis=0)).tolist()} are empty."
            )
        check_positive_int(self.kernel_size, "kernel_size")
        super().__post_init__()

    def kernel_init(self, key, shape, dtype=jnp.float32):
        """Per-connection init with the fan-in of the output map it feeds."""
        rows, cols = np.nonzero(np.asarray(self.table))
        fan_in = self.kernel_size**2 * np.asarray(self.table).sum(axis=0)[cols]
        if self.paper_init:
            limit = jnp.asarray(2.4 / fan_in, dtype)
            u = jax.random.uniform(key, shape, dtype, -1.0, 1.0)
            return u * limit[None, None, :]
        std = jnp.asarray(np.sqrt(2.0 / fan_in), dtype)
        return jax.random.normal(key, shape, dtype) * std[None, None, :]

    def _full_kernel(self, channels: int) -> tuple[jax.Array, jax.Array]:
        """The ``(k, k, C_in, C_out)`` kernel (zero off the table) and the bias."""
        table = np.asarray(self.table, bool)
        if table.ndim != 2 or channels != table.shape[0]:
            raise ValueError(
                f"input has {channels} channels but `table` has shape "
                f"{table.shape} (expected ({channels}, C_out))."
            )
        rows, cols = np.nonzero(table)
        k = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (k, k, len(rows)))
        bias = self.param("bias", nn.initializers.zeros, (table.shape[1],))
        full = (
            jnp.zeros((k, k, *table.shape), kernel.dtype)
            .at[:, :, rows, cols]
            .set(kernel)
        )
        return full, bias

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Scatter the used kernels into a full kernel and convolve."""
        check_block_input(self, x, type(self).__name__)
        k = self.kernel_size
        if k > x.shape[1] or k > x.shape[2]:
            raise ValueError(
                f"`kernel_size` {k} does not fit in the input's {x.shape[1]}x"
                f"{x.shape[2]} maps (a VALID convolution)."
            )
        full, bias = self._full_kernel(x.shape[-1])
        return _conv2d(x, full, bias)


class _TablePhaseConv(ConnectionTableConv):
    """:class:`ConnectionTableConv` with its maps stored by pooling window.

    Same parameters; the fast CPU path of :class:`LeNet5` (a PoolPhases out).
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> PoolPhases:
        """Convolve as one product per chunk, outputs grouped by pooling window."""
        check_rank4(x, "x", "ConnectionTableConv")
        full, bias = self._full_kernel(x.shape[-1])
        return conv_pool_phases(x, full).add_bias(bias)


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
