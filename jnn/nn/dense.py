r"""Dense layers on sequences as one 2-D matrix product (XLA's CPU fast path).

Flax's ``nn.Dense`` and ``nn.DenseGeneral`` contract the last axes of a
``(B, T, ..., F)`` input with the first axes of the kernel through one
``lax.dot_general``. Reverse mode turns that into a kernel gradient that
contracts *two or more* axes (batch and time), and XLA's CPU backend lays the
output gradient out transposed for it, fuses that transposing copy into the
gradient's producer (an activation's derivative) and runs the product on its
slow generic path. Measured (jax 0.10.2, one core of a 2-core Xeon): the
gradients of a GELU MLP ``128 -> 512 -> 128`` on ``(32, 128, 128)`` tokens
take 45.7 ms as ``(B, T, F)`` products and 19.0 ms as ``(B T, F)`` products.

:func:`flat_dot_general` is ``lax.dot_general`` with the input reshaped to a
matrix first (a bitcast, no copy) when the contraction has that form, so the
layer, its input gradient and its kernel gradient are plain 2-D products.
Plug it into Flax's layers; the parameters are the layer's own::

    nn.Dense(512, dot_general=flat_dot_general)
    nn.DenseGeneral((heads, head), dot_general=flat_dot_general)

Other contractions (batch dimensions, axes not at the ends) go to
``lax.dot_general`` unchanged. The result is the same to float rounding on
every backend (tested against ``lax.dot_general``).

A layer that narrows (``K >= 2N`` input to output features, such as a
Transformer's FFN output ``4d -> d``) also gets its kernel gradient in the
orientation XLA's CPU backend runs fast: reverse mode writes ``X^T G`` as a
``(K, N)`` product, which runs at ~100 GFLOP/s when ``N`` is the narrow side,
so :func:`narrowing_product` computes ``(G^T X)^T`` instead, ``(N, K)`` behind
an optimisation barrier (XLA would fold the transpose back) and a transpose of
the small result. Measured inside ``scan`` (one core of a 2-core Xeon): the
FFN output ``512 -> 128`` on 4,096 tokens 5.2 -> 3.4 ms, ``1024 -> 256`` on
6,400 rows 38 -> 21 ms; a widening layer keeps XLA's form (which is then the
fast one). Other backends keep ``lax.dot_general``'s derivative.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero


def flat_dot_general(
    lhs: jax.Array,
    rhs: jax.Array,
    dimension_numbers: Any,
    precision: Any = None,
    preferred_element_type: Any = None,
    **kwargs: Any,
) -> jax.Array:
    """``lax.dot_general`` as one matrix product when the contraction allows it.

    The form taken: no batch dimensions, ``lhs``'s *last* ``n`` axes
    contracted with ``rhs``'s *first* ``n`` axes in order (what ``nn.Dense``
    and ``nn.DenseGeneral`` with trailing ``axis`` do). Then ``lhs (..., K)``
    and ``rhs (K, ...)`` are reshaped to matrices, multiplied, and the result
    reshaped to ``lhs``'s leading shape + ``rhs``'s trailing shape.

    Args:
      lhs: the layer input.
      rhs: the kernel.
      dimension_numbers: ``((lhs_contracting, rhs_contracting), (lhs_batch,
        rhs_batch))`` as ``lax.dot_general``.
      precision: passed on.
      preferred_element_type: passed on.
      **kwargs: other ``lax.dot_general`` keywords, passed on (the general
        path only).

    Returns:
      The same array as ``lax.dot_general(lhs, rhs, dimension_numbers, ...)``.
    """
    (lhs_c, rhs_c), (lhs_b, rhs_b) = dimension_numbers
    lhs_c = tuple(d % lhs.ndim for d in lhs_c)
    rhs_c = tuple(d % rhs.ndim for d in rhs_c)
    n = len(lhs_c)
    flat = (
        not lhs_b
        and not rhs_b
        and not kwargs
        and n > 0
        and lhs.ndim > n + 1
        and lhs_c == tuple(range(lhs.ndim - n, lhs.ndim))
        and rhs_c == tuple(range(n))
    )
    if not flat:
        return jax.lax.dot_general(
            lhs,
            rhs,
            dimension_numbers,
            precision=precision,
            preferred_element_type=preferred_element_type,
            **kwargs,
        )
    lead, rest = lhs.shape[: lhs.ndim - n], rhs.shape[n:]
    k, width = math.prod(lhs.shape[lhs.ndim - n :]), math.prod(rest)
    x, w = lhs.reshape(math.prod(lead), k), rhs.reshape(k, width)
    narrowing = k >= 2 * width and preferred_element_type is None
    if narrowing and jax.default_backend() == "cpu":  # see the module docstring
        out = narrowing_product(x, w, precision)
    else:
        out = _matmul(x, w, precision, preferred_element_type)
    return out.reshape(*lead, *rest)


def _matmul(x, w, precision=None, preferred_element_type=None):
    return jax.lax.dot_general(
        x,
        w,
        (((1,), (0,)), ((), ())),
        precision=precision,
        preferred_element_type=preferred_element_type,
    )


@functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
def narrowing_product(x: jax.Array, w: jax.Array, precision: Any = None) -> jax.Array:
    """``x @ w`` (``(M, K) @ (K, N)``) whose kernel gradient is ``(G^T X)^T``.

    The same product and derivatives as ``x @ w``; only the orientation of
    the kernel gradient in reverse mode differs (see the module docstring).
    """
    return _matmul(x, w, precision)


def _narrowing_product_jvp(precision, primals, tangents):
    (x, w), (dx, dw) = primals, tangents
    out = narrowing_product(x, w, precision)
    terms = []
    if not isinstance(dx, SymbolicZero):
        terms.append(_matmul(dx, w, precision))
    if not isinstance(dw, SymbolicZero):
        # x dw as (dw^T x^T)^T, dw^T behind a barrier: reverse mode transposes
        # it to the (N, K) product G^T X and one transpose of the small result
        w_t = jax.lax.optimization_barrier(dw.T)
        terms.append(jnp.einsum("nk,mk->nm", w_t, x, precision=precision).T)
    tangent = sum(terms[1:], terms[0]) if terms else jnp.zeros_like(out)
    return out, tangent


narrowing_product.defjvp(_narrowing_product_jvp, symbolic_zeros=True)
