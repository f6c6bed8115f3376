r"""The layers of the LeNet-5 paper (LeCun, Bottou, Bengio & Haffner 1998), C1.

* :func:`squash`, ``f(a) = A tanh(S a)`` with ``A = 1.7159``, ``S = 2/3``, and
  :func:`fan_in_uniform`, the paper's ``U(+-2.4/F)`` initialisation
  (Appendix A);
* :class:`Subsampling`: S2/S4, the sum of each 2x2 window times a trainable
  coefficient plus a trainable bias, per map;
* :data:`C3_TABLE` (Table I) and :class:`ConnectionTableConv`, a convolution
  in which each output map reads only the input maps the table gives, storing
  only the used kernels (C3: 60 of 96 map pairs, 1,516 parameters).

:class:`~jnn.cnn.LeNet5` (:mod:`jnn.cnn.lenet.model`) assembles them; on its
fast CPU path the maps come stored by pooling window
(:class:`~jnn.cnn._fastconv.pool_phases.PoolPhases`).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int
from jnn.cnn._fastconv.pool_phases import PoolPhases, conv_pool_phases, sum_pool_2x2
from jnn.cnn.checks import check_block_input, check_rank4
from jnn.cnn.functional import _conv2d

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

        ``x`` is NHWC maps (or the maps of :class:`~jnn.cnn.LeNet5`'s fast CPU path,
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

    Same parameters; the fast CPU path of :class:`~jnn.cnn.LeNet5` (a PoolPhases out).
    """

    @nn.compact
    def __call__(self, x: jax.Array) -> PoolPhases:
        """Convolve as one product per chunk, outputs grouped by pooling window."""
        check_rank4(x, "x", "ConnectionTableConv")
        full, bias = self._full_kernel(x.shape[-1])
        return conv_pool_phases(x, full).add_bias(bias)
