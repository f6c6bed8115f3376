r"""The softmax attention core as XLA's CPU backend runs it well.

:func:`softmax_attention` is ``jax.nn.dot_product_attention``'s function
(the ``"softmax"`` implementation of :mod:`jnn.transformer.attention`, the
default on CPU): heads-major batched products, a derivative written as
FlashAttention's backward, and causal attention by query blocks that skip
most of the masked scores (:func:`causal_blocks`).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int
from jnn.transformer.efficient import _check_qkv, _large_negative
from jnn.transformer.masks import (
    causal_mask,
    check_logits_shape,
    check_mask,
    combine_masks,
)

__all__ = ["causal_blocks", "softmax_attention"]


def _masked_logits(subscripts, query, key, mask, scale):
    """``alpha q k^T`` (None: ``1 / sqrt(D)``); masked entries very negative."""
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    logits = jnp.einsum(subscripts, query, key) * jnp.asarray(scale, query.dtype)
    if mask is not None:
        logits = jnp.where(mask, logits, _large_negative(logits.dtype))
    return logits


def softmax_attention(
    query: jax.Array,
    key: jax.Array,
    value: jax.Array,
    mask: jax.Array | None = None,
    *,
    scale: float | None = None,
    is_causal: bool = False,
    dropout_multiplier: jax.Array | None = None,
) -> jax.Array:
    r"""``softmax(alpha q k^T + M) v`` as heads-major batched products.

    The same function as ``jax.nn.dot_product_attention`` (tested equal, with
    masks and fully masked rows, forward, reverse and forward-mode
    derivatives), written so that XLA's CPU backend runs it well:

    * ``q``, ``k``, ``v`` are moved to ``(B, H, L, D)`` once, so every product
      is a plain batched matrix product;
    * its derivative is given as a ``custom_jvp`` whose tangent is linear in
      the tangents of ``q``, ``k``, ``v`` and written through the output
      ``o = P v``: with ``dS`` the tangent of the logits,

      .. math:: \dot o = (P \odot \dot S)\, v - r \odot o + P\, \dot v,
                \qquad r = \textstyle\sum_k (P \odot \dot S)_{:k},

      which is the plain derivative rearranged. Reverse mode transposes it to
      FlashAttention's backward (Dao et al. 2022): the row sums it needs are
      ``sum_d(g * o)`` over the head features, not ``sum_k`` over the
      ``(L_q, L_k)`` scores, which saves passes over the largest array.

    Measured (jax 0.10.2, one core of a 2-core Xeon; B = 32, L = 128, H = 4,
    D = 32, causal, four cores chained forward then backward, as in a GPT
    step): 17.2 ms per layer against 22.0 ms for ``jax.nn.softmax``
    differentiated by JAX and 35.8 ms for ``jax.nn.dot_product_attention``;
    inside the whole GPT benchmark step the gain is smaller, 4-7 ms of
    ~290 ms.

    With ``is_causal`` and no ``mask`` the queries are split into the blocks
    of :func:`causal_blocks`, and block ``[a, b)`` attends to keys ``< b``
    only: the products and the softmax skip most of the masked upper
    triangle (a fraction ``(n + 1) / 2n`` of the scores is formed with ``n``
    blocks). Every row still sees all the keys it may attend to, so the
    result is the same function (tested). Measured inside ``scan`` (as
    above, forward then backward, one core): 14.2 -> 11.3 ms at ``L = 128``,
    88.6 -> 40.8 ms at ``L = 512``. With a ``mask`` too, the causal mask is
    combined with it and the scores are formed whole (so that fully masked
    rows stay uniform over all keys, as in the reference).

    With ``dropout_multiplier`` ``Z`` the output is ``(P * Z) v``: attention
    dropout as Flax's ``nn.dot_product_attention`` applies it (``Z = keep /
    (1 - rate)``), inside the same blocks and derivative (the row sums of the
    backward are still ``sum_d(g * o)`` with ``o`` the dropped output). Measured
    as above (causal, ``L = 128``, rate 0.1): 16.1 -> 13.5 ms per layer against
    the probabilities formed, dropped and differentiated by JAX; not causal
    13.6 -> 12.0 ms.

    Args:
      query: ``(B, L_q, H, D)``.
      key: ``(B, L_k, H, D)``.
      value: ``(B, L_k, H, D)``.
      mask: bool, broadcastable to ``(B, H, L_q, L_k)``.
      scale: ``alpha`` (None: ``1 / sqrt(D)``).
      is_causal: query ``i`` attends to keys ``j <= i`` only (and to what
        ``mask`` allows); needs ``L_q = L_k``.
      dropout_multiplier: float, broadcastable to ``(B, H, L_q, L_k)``: the
        probabilities are multiplied by it (dropout's ``keep / (1 - rate)``);
        a constant (no derivative is taken with respect to it).

    Returns:
      ``(B, L_q, H, D)``.

    Raises:
      ValueError: inputs not ``(B, L, H, D)`` or disagreeing, a mask or
        multiplier that does not broadcast to ``(B, H, L_q, L_k)`` (as
        :func:`dot_product_attention`), ``is_causal`` with ``L_q != L_k``.
      TypeError: a multiplier that is not a floating-point array.
    """
    _check_qkv(query, key, value)
    shape = (query.shape[0], query.shape[2], query.shape[1], key.shape[1])
    check_mask(mask, shape)
    _check_causal(is_causal, query, key)
    multiplier = _check_multiplier(dropout_multiplier, shape, query.dtype)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    if is_causal and mask is None:
        return _causal_softmax(scale, query, key, value, multiplier)
    if is_causal:
        mask = combine_masks(causal_mask(query.shape[1]), mask)
    return _softmax_core(scale, query, key, value, mask, multiplier)


def _check_multiplier(multiplier, shape, dtype) -> jax.Array | None:
    """``multiplier`` broadcast to ``shape`` (``(B, H, L_q, L_k)``), or None."""
    if multiplier is None:
        return None
    if not hasattr(multiplier, "shape") or not jnp.issubdtype(
        multiplier.dtype, jnp.floating
    ):
        raise TypeError(
            "`dropout_multiplier` must be a floating-point array; got "
            f"{getattr(multiplier, 'dtype', type(multiplier).__name__)}."
        )
    check_logits_shape(multiplier, shape, "dropout_multiplier")
    return jnp.broadcast_to(jnp.asarray(multiplier, dtype), shape)


def _check_causal(is_causal: bool, query: jax.Array, key: jax.Array) -> None:
    if not isinstance(is_causal, bool):
        raise TypeError(f"`is_causal` must be a bool; got {is_causal!r}.")
    if is_causal and query.shape[1] != key.shape[1]:
        raise ValueError(
            "`is_causal` needs as many queries as keys (self-attention); got "
            f"L_q = {query.shape[1]}, L_k = {key.shape[1]}."
        )


def causal_blocks(length: int) -> tuple[int, ...]:
    """Query-block bounds of causal attention: ``n = clip(L // 64, 1, 8)`` blocks.

    Fewer, larger blocks form more masked scores, more, smaller ones cost
    more small products (measured, one core: at ``L = 128`` two blocks are
    fastest, at 256 four, at 512 eight; at 64 a split is slower).

    Example:
      >>> causal_blocks(128), causal_blocks(300)
      ((0, 64, 128), (0, 75, 150, 225, 300))
    """
    check_positive_int(length, "length")
    n = min(max(length // 64, 1), 8)
    return tuple(round(i * length / n) for i in range(n + 1))


def _causal_softmax(scale, query, key, value, multiplier=None):
    """Causal attention by query blocks, each over its key prefix."""
    bounds = causal_blocks(query.shape[1])
    mask = causal_mask(query.shape[1])
    outs = [
        _softmax_core(
            scale,
            query[:, a:b],
            key[:, :b],
            value[:, :b],
            mask[..., a:b, :b],
            None if multiplier is None else multiplier[..., a:b, :b],
        )
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    return outs[0] if len(outs) == 1 else jnp.concatenate(outs, axis=1)


def _heads_major(*arrays: jax.Array) -> tuple[jax.Array, ...]:
    """``(B, L, H, D)`` -> ``(B, H, L, D)``."""
    return tuple(jnp.swapaxes(a, 1, 2) for a in arrays)


def _core_weights(scale, q, k, mask):
    """``(B, H, L_q, L_k)`` probabilities of heads-major ``q``, ``k``."""
    return jax.nn.softmax(_masked_logits("bhqd,bhkd->bhqk", q, k, mask, scale), -1)


def _dropped(weights, multiplier):
    return weights if multiplier is None else weights * multiplier


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _softmax_core(scale, query, key, value, mask, multiplier):
    q, k, v = _heads_major(query, key, value)
    weights = _dropped(_core_weights(scale, q, k, mask), multiplier)
    return jnp.swapaxes(jnp.einsum("bhqk,bhkd->bhqd", weights, v), 1, 2)


@_softmax_core.defjvp
def _softmax_core_jvp(scale, primals, tangents):
    # With a dropout multiplier Z (a constant): o = (P * Z) v, and the
    # softmax's tangent P * dS - P * r gives (P * dS * Z) v - r * o, so the
    # row sums r are the undropped ones and the rest takes Z.
    query, key, value, mask, multiplier = primals
    dquery, dkey, dvalue = tangents[:3]
    q, k, v = _heads_major(query, key, value)
    dq, dk, dv = _heads_major(dquery, dkey, dvalue)
    weights = _core_weights(scale, q, k, mask)
    dropped = _dropped(weights, multiplier)
    out = jnp.einsum("bhqk,bhkd->bhqd", dropped, v)
    # P * dS with dS = alpha (dq k^T + q dk^T), 0 where masked: the logits of
    # a fully masked row are a constant (its weights uniform, its dS zero).
    scores = jnp.einsum("bhqd,bhkd->bhqk", dq, k) + jnp.einsum("bhqd,bhkd->bhqk", q, dk)
    if mask is not None:
        scores = jnp.where(mask, scores, 0.0)
    weighted = weights * (scores * jnp.asarray(scale, scores.dtype))
    rows = jnp.sum(weighted, axis=-1, keepdims=True)
    dout = (
        jnp.einsum("bhqk,bhkd->bhqd", _dropped(weighted, multiplier), v)
        - rows * out
        + jnp.einsum("bhqk,bhkd->bhqd", dropped, dv)
    )
    return jnp.swapaxes(out, 1, 2), jnp.swapaxes(dout, 1, 2)
