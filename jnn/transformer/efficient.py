r"""Memory-efficient attention: keys in chunks, an online softmax, no ``n x n`` buffer.

Plain attention materialises the ``(B, H, L_q, L_k)`` scores. Rabe & Staats
(2021, "Self-attention does not need O(n^2) memory") and FlashAttention (Dao et
al. 2022) walk the keys in chunks of ``C`` and keep, for every query, a running
maximum ``m``, normaliser ``l`` and weighted sum ``a`` of the values:

.. math::
   s^{(c)} &= \alpha\, q K_c^\top,\qquad m' = \max(m, \max_j s^{(c)}_j),\\
   l' &= e^{m - m'} l + \textstyle\sum_j e^{s^{(c)}_j - m'},\qquad
   a' = e^{m - m'} a + \textstyle\sum_j e^{s^{(c)}_j - m'} v_j,

and return ``a / l = softmax(alpha q K^T) V`` exactly. The loop over chunks is a
``lax.scan``; its step is wrapped in ``jax.checkpoint`` so the backward pass
recomputes each chunk's scores instead of storing them (otherwise reverse mode
would keep all chunks, the ``n x n`` buffer again). The running maximum only
stabilises the exponentials (the result does not depend on it), so it is held
out of differentiation. Masked scores are set to the same large negative
number as ``jax.nn.dot_product_attention`` (a fully masked row then averages
all values, as there), so the two agree everywhere.

:func:`temp_memory` reads XLA's compiled memory analysis: the scratch bytes a
compiled function needs besides its inputs and outputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_positive_int
from jnn.transformer.masks import check_mask

__all__ = ["chunked_attention", "temp_memory"]


def _large_negative(dtype) -> float:
    """The masked-logit value of ``jax.nn.dot_product_attention``."""
    return float(-0.7 * jnp.finfo(dtype).max)


def _check_qkv(query, key, value) -> None:
    for name, x in (("query", query), ("key", key), ("value", value)):
        if not hasattr(x, "shape") or len(x.shape) != 4:
            raise ValueError(
                f"`{name}` must have shape (batch, length, heads, head_features); "
                f"got {getattr(x, 'shape', type(x).__name__)}."
            )
    if key.shape != value.shape:
        raise ValueError(
            f"`key` and `value` must have the same shape; got {tuple(key.shape)} "
            f"and {tuple(value.shape)}."
        )
    b, _, h, d = query.shape
    if (key.shape[0], key.shape[2], key.shape[3]) != (b, h, d):
        raise ValueError(
            f"`key` must match `query` in batch, heads and head features "
            f"({b}, {h}, {d}); got {tuple(key.shape)}."
        )


def chunked_attention(
    query: jax.Array,
    key: jax.Array,
    value: jax.Array,
    mask: jax.Array | None = None,
    *,
    scale: float | None = None,
    causal: bool = False,
    chunk_size: int = 128,
) -> jax.Array:
    r"""``softmax(scale q K^T + mask) V`` without the ``(L_q, L_k)`` scores.

    Args:
      query: ``(B, L_q, H, D)``.
      key: ``(B, L_k, H, D)``.
      value: ``(B, L_k, H, D)``.
      mask: bool, broadcastable to ``(B, H, L_q, L_k)``, True = may attend.
      scale: ``alpha`` (None: ``1 / sqrt(D)``).
      causal: also hide keys ``j > i`` from query ``i``.
      chunk_size: keys per chunk ``C`` (the last chunk is padded).

    Returns:
      ``(B, L_q, H, D)``, equal to ``jax.nn.dot_product_attention`` (values and
      gradients) up to rounding.
    """
    _check_qkv(query, key, value)
    check_positive_int(chunk_size, "chunk_size")
    b, lq, h, d = query.shape
    lk = key.shape[1]
    check_mask(mask, (b, h, lq, lk))
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    dtype = jnp.promote_types(query.dtype, jnp.float32)
    size = min(chunk_size, lk)
    chunks = -(-lk // size)
    pad = chunks * size - lk

    def split(x):  # (B, L_k, H, D) -> (n, B, C, H, D)
        x = jnp.pad(x, ((0, 0), (0, pad), (0, 0), (0, 0)))
        return jnp.moveaxis(x.reshape(b, chunks, size, h, d), 1, 0)

    mask_chunks = None
    if mask is not None and mask.shape[-1] != 1:  # split along the keys
        m = jnp.pad(mask, ((0, 0),) * 3 + ((0, pad),))
        mask_chunks = jnp.moveaxis(m.reshape(*m.shape[:3], chunks, size), 3, 0)
    starts = jnp.arange(chunks, dtype=jnp.int32) * size
    q = query.astype(dtype) * jnp.asarray(scale, dtype)
    negative = _large_negative(dtype)
    query_positions = jnp.arange(lq, dtype=jnp.int32)[:, None]

    @jax.checkpoint
    def step(carry, chunk):
        top, norm, acc = carry  # (B, H, L_q), (B, H, L_q), (B, H, L_q, D)
        k, v, start, m = chunk
        s = jnp.einsum("bqhd,bkhd->bhqk", q, k.astype(dtype))
        positions = start + jnp.arange(size, dtype=jnp.int32)[None, :]  # (1, C)
        if m is not None:
            s = jnp.where(m, s, negative)
        elif mask is not None:
            s = jnp.where(mask, s, negative)
        if causal:
            s = jnp.where((positions <= query_positions)[None, None], s, negative)
        s = jnp.where((positions < lk)[None, None], s, -jnp.inf)  # padding
        new_top = jax.lax.stop_gradient(jnp.maximum(top, s.max(-1)))
        p = jnp.exp(s - new_top[..., None])
        correction = jnp.exp(top - new_top)
        norm = norm * correction + p.sum(-1)
        acc = acc * correction[..., None] + jnp.einsum(
            "bhqk,bkhd->bhqd", p, v.astype(dtype)
        )
        return (new_top, norm, acc), None

    init = (
        jnp.full((b, h, lq), -jnp.inf, dtype),
        jnp.zeros((b, h, lq), dtype),
        jnp.zeros((b, h, lq, d), dtype),
    )
    xs = (split(key), split(value), starts, mask_chunks)
    (_, norm, acc), _ = jax.lax.scan(step, init, xs)
    out = acc / norm[..., None]
    return jnp.transpose(out, (0, 2, 1, 3)).astype(query.dtype)


def temp_memory(fn: Callable, *args: Any) -> int:
    """Scratch bytes XLA allocates to run ``jax.jit(fn)(*args)``.

    Read from ``jax.jit(fn).lower(*args).compile().memory_analysis()``: the
    temporary buffers besides arguments and outputs, i.e. the working memory of
    the computation (e.g. the ``n x n`` attention scores of plain attention).
    """
    analysis = jax.jit(fn).lower(*args).compile().memory_analysis()
    if analysis is None:  # a backend without the analysis
        raise RuntimeError("this backend reports no compiled memory analysis")
    return int(np.asarray(analysis.temp_size_in_bytes))
