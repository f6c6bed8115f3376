r"""Sparse node features as padded rows: the first layer as a sparse product.

Bag-of-words features are mostly zeros (Cora: 49,216 non-zeros in a
2708 x 1433 matrix, 98.7% zeros). Kipf & Welling (2017) keep them sparse: the
first layer's :math:`XW` costs one row of :math:`W` per non-zero, and their
dropout acts on the stored values only. Here a sparse matrix is stored as
**padded rows** so that a data set stays a dict of arrays sharing the node
axis ``N`` (what :func:`jnn.train.fit` batches):

* ``index (N, K)`` int32: the columns of row ``n``'s non-zeros, then ``-1``
  padding (``K`` = the most non-zeros of a row);
* ``values (N, K)`` float32: their values, 0 at the padding.

.. math:: (XW)_n = \sum_k \mathrm{values}_{nk}\, W_{\mathrm{index}_{nk}}, \qquad
          \frac{\partial E}{\partial W_f} = \sum_{(n, k):\ \mathrm{index}_{nk} = f}
          \mathrm{values}_{nk}\, \frac{\partial E}{\partial (XW)_n}

(a gather and a sum forward, a scatter-add backward: ``O(N K F')`` instead of
``O(N F F')``). :func:`sparse_input` feeds such rows to any graph layer that
starts with ``nn.Dense`` (GCN, GAT, GraphSAGE): inside it, a ``Dense`` called
on the :class:`SparseRows` computes the sparse product with its own kernel,
so the layer's parameters, and its results, are those of the dense path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from jnn._checks import check_array, check_fraction, check_positive_int


def padded_rows(x: Any) -> tuple[np.ndarray, np.ndarray]:
    """Padded-row form of a feature matrix (on the host, once).

    Args:
      x: ``(N, F)`` features: a NumPy array or a SciPy sparse matrix.

    Returns:
      ``(index, values)``: ``(N, K)`` int32 columns of each row's non-zeros
      (ascending, ``-1`` after them) and ``(N, K)`` float32 values (0 at the
      padding); ``K`` = the most non-zeros of a row (at least 1).

    Raises:
      TypeError: ``x`` not a numeric matrix.
      ValueError: ``x`` not 2-D, or not finite.

    Example:
      >>> index, values = padded_rows(np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 0.0]]))
      >>> index.tolist(), values.tolist()
      ([[1, 2], [0, -1]], [[2.0, 3.0], [1.0, 0.0]])
    """
    import scipy.sparse

    if scipy.sparse.issparse(x):
        csr = scipy.sparse.csr_array(x)
        csr.sum_duplicates()
        csr.eliminate_zeros()
        if not np.isfinite(csr.data).all():
            raise ValueError("`x` must be finite.")
    else:
        check_array(x, "x", ndim=2, kind="n")
        csr = scipy.sparse.csr_array(np.asarray(x, np.float32))
    n = csr.shape[0]
    counts = np.diff(csr.indptr)
    k = max(int(counts.max(initial=0)), 1)
    index = np.full((n, k), -1, np.int32)
    values = np.zeros((n, k), np.float32)
    slot = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], counts)
    row = np.repeat(np.arange(n), counts)
    index[row, slot] = csr.indices
    values[row, slot] = csr.data
    return index, values


def _gather_sum(index: jax.Array, values: jax.Array, kernel: jax.Array) -> jax.Array:
    """``sum_k values[:, k] * kernel[index[:, k]]`` (``index`` already in range).

    A loop over the ``K`` slots, one ``(N, F')`` gather-and-add each. The loop
    also keeps XLA from fusing the gathers into the consumers of the result
    (a GAT layer's per-edge gather would recompute the K-term sum per edge,
    20x slower); a ``(N, K, F')`` gather and reduction is 7x slower on CPU.
    """

    def add_slot(j, out):
        return out + kernel[index[:, j]] * values[:, j, None]

    zero = jnp.zeros((index.shape[0], kernel.shape[1]), kernel.dtype)
    return jax.lax.fori_loop(0, index.shape[1], add_slot, zero)


@jax.custom_jvp
def _product(index: jax.Array, values: jax.Array, kernel: jax.Array) -> jax.Array:
    return _gather_sum(index, values, kernel)


def _product_jvp(primals, tangents):
    # The kernel's tangent map is written as one gather of (N, K) rows so that
    # its transpose, the kernel's gradient, is a single scatter-add (the
    # transpose of the slot loop would be K scatters, 4x slower).
    index, values, kernel = primals
    _, d_values, d_kernel = tangents
    out = _gather_sum(index, values, kernel)
    tangent = jnp.zeros_like(out)
    if not isinstance(d_kernel, SymbolicZero):
        rows = jnp.take(d_kernel, index, axis=0)  # (N, K, F')
        tangent = tangent + jnp.sum(rows * values[..., None].astype(rows.dtype), 1)
    if not isinstance(d_values, SymbolicZero):
        tangent = tangent + _gather_sum(index, d_values, kernel)
    return out, tangent


_product.defjvp(_product_jvp, symbolic_zeros=True)


def sparse_matmul(index: jax.Array, values: jax.Array, kernel: jax.Array) -> jax.Array:
    r"""``X W`` for ``X`` in padded rows ``(N, K)``, ``W (F, F')``: ``(N, F')``.

    :math:`(XW)_n = \sum_k v_{nk} W_{i_{nk}}`; padding (``index < 0``) adds 0.
    Differentiable (forward and reverse mode) in ``values`` and ``kernel``;
    the kernel's gradient is one scatter-add of ``v_{nk} g_n`` into the rows
    ``i_{nk}``.
    """
    valid = index >= 0
    index = jnp.where(valid, index, 0)
    values = jnp.where(valid, values, 0.0).astype(kernel.dtype)
    return _product(index, values, kernel)


def sparse_dropout(values: jax.Array, rate: float, key: jax.Array) -> jax.Array:
    """Dropout of stored entries: kept with ``1 - rate``, scaled by its inverse.

    The sparse dropout of Kipf & Welling (2017): only non-zeros are dropped
    (the zeros stay zero), which equals ordinary dropout on the dense matrix.
    """
    check_fraction(rate, "rate")
    if rate == 0.0:
        return values
    if rate >= 1.0:
        return jnp.zeros_like(values)
    keep = jax.random.bernoulli(key, 1.0 - rate, values.shape)
    return jnp.where(keep, values / (1.0 - rate), 0.0).astype(values.dtype)


class SparseRows:
    """A sparse ``(N, F)`` feature matrix in padded rows, passed where ``x`` goes.

    Not an array: it carries ``shape``, ``ndim`` and ``dtype`` so that a
    layer's shape checks pass, and it may only reach ``nn.Dense`` layers inside
    :func:`sparse_input`.

    Attributes:
      index: ``(N, K)`` int columns, ``-1`` padding.
      values: ``(N, K)`` float values.
      n_features: ``F``.
    """

    def __init__(self, index: jax.Array, values: jax.Array, n_features: int):
        check_positive_int(n_features, "n_features")
        for name, a in (("index", index), ("values", values)):
            if not hasattr(a, "shape") or len(a.shape) != 2:
                raise ValueError(
                    f"`{name}` must be an (N, K) array; got "
                    f"{getattr(a, 'shape', type(a).__name__)}."
                )
        if tuple(index.shape) != tuple(values.shape):
            raise ValueError(
                f"`index` and `values` must have one shape (N, K); got "
                f"{tuple(index.shape)} and {tuple(values.shape)}."
            )
        if not jnp.issubdtype(index.dtype, jnp.integer):
            raise TypeError(f"`index` must be an int array; got {index.dtype}.")
        if not jnp.issubdtype(values.dtype, jnp.floating):
            raise TypeError(f"`values` must be a float array; got {values.dtype}.")
        self.index, self.values, self.n_features = index, values, n_features
        self.shape = (int(index.shape[0]), n_features)
        self.ndim = 2
        self.dtype = values.dtype

    def __repr__(self) -> str:
        return f"SparseRows(shape={self.shape}, K={self.index.shape[1]})"

    def _refuse(self, *args, **kwargs):
        raise TypeError(
            "a SparseRows input may only be passed to nn.Dense layers inside "
            "sparse_input(rows); this layer reads its input otherwise (e.g. "
            "GraphSAGE's 'max' aggregator on raw features): give it dense (N, F) "
            "features."
        )

    __getitem__ = __array__ = __jax_array__ = _refuse


def _dense_on_rows(dense: nn.Dense, rows: SparseRows) -> jax.Array:
    """What ``dense(x)`` computes, for ``x`` in padded rows (same parameters)."""
    kernel = dense.param(
        "kernel",
        dense.kernel_init,
        (rows.n_features, dense.features),
        dense.param_dtype,
    )
    out = sparse_matmul(rows.index, rows.values, kernel)
    if dense.use_bias:
        bias = dense.param(
            "bias", dense.bias_init, (dense.features,), dense.param_dtype
        )
        out = out + bias[None, :]
    return out


@contextlib.contextmanager
def sparse_input(rows: SparseRows) -> Iterator[SparseRows]:
    """Let ``nn.Dense`` layers called on ``rows`` compute the sparse product.

    Within the block, a ``flax.linen.Dense`` whose input is ``rows`` (this
    object) creates its usual ``kernel (F, F')`` (and ``bias``) and returns
    :func:`sparse_matmul`; every other call runs unchanged. A layer that does
    anything else with ``x`` than pass it to ``Dense`` and read its shape
    fails loudly (a ``SparseRows`` is not an array).

    Example:
      >>> with sparse_input(rows):                           # doctest: +SKIP
      ...     h = GATConv(8, heads=8)(rows, graph)  # == GATConv on the dense x
    """
    if not isinstance(rows, SparseRows):
        raise TypeError(f"`rows` must be a SparseRows; got {type(rows).__name__}.")

    def interceptor(next_fun, args, kwargs, context):
        if (
            isinstance(context.module, nn.Dense)
            and context.method_name == "__call__"
            and args
            and args[0] is rows
        ):
            return _dense_on_rows(context.module, rows)
        return next_fun(*args, **kwargs)

    with nn.intercept_methods(interceptor):
        yield rows
