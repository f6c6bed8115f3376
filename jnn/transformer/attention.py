r"""Scaled dot-product and multi-head attention (Vaswani et al. 2017, sec. 3.2).

.. math:: \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\alpha\, Q K^\top
          + M\right) V,\qquad \alpha = 1/\sqrt{d_k},

with ``M`` 0 where the mask allows and ``-inf`` elsewhere, and

.. math:: \mathrm{MultiHead}(x_q, x_{kv}) = \mathrm{Concat}(h_1..h_H) W^O,\quad
          h_i = \mathrm{Attention}(x_q W^Q_i, x_{kv} W^K_i, x_{kv} W^V_i).

One head with ``K = V = X`` (stored patterns), ``Q = xi`` and ``alpha = beta``
is one update of the modern Hopfield network (Ramsauer et al. 2020,
"Hopfield networks is all you need"): ``xi_new = X^T softmax(beta X xi)``.

Arrays use the layout of ``jax.nn.dot_product_attention``: ``(B, L, H, D)``
(batch, length, heads, head features); masks broadcast to ``(B, H, L_q, L_k)``,
True = may attend.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_fraction, check_positive_int
from jnn.nn import flat_dot_general
from jnn.transformer.efficient import _check_qkv, _large_negative, chunked_attention
from jnn.transformer.masks import check_mask, combine_masks
from jnn.transformer.positional import rotary_embedding

__all__ = [
    "IMPLEMENTATIONS",
    "KVCache",
    "MultiHeadAttention",
    "attention_weights",
    "dot_product_attention",
    "init_kv_cache",
    "resolve_implementation",
    "softmax_attention",
]

#: ``"auto"``: ``"softmax"`` on XLA's CPU backend, ``"xla"`` elsewhere;
#: ``"xla"``: ``jax.nn.dot_product_attention`` (the reference); ``"cudnn"``: its
#: cuDNN flash-attention kernel (GPU, float16/bfloat16 only); ``"softmax"``:
#: :func:`softmax_attention`, heads-major products around ``jax.nn.softmax``
#: (its backward 1.7x faster than the reference's on CPU); ``"chunked"``:
#: :func:`jnn.transformer.efficient.chunked_attention` (no ``n x n`` buffer).
IMPLEMENTATIONS = ("auto", "xla", "cudnn", "softmax", "chunked")


class KVCache(NamedTuple):
    """Keys and values of the positions decoded so far (one attention layer).

    Attributes:
      key: ``(B, max_length, H, D)``; rows ``< length`` are filled.
      value: ``(B, max_length, H, D)``.
      length: int32 scalar, the number of filled positions.
    """

    key: jax.Array
    value: jax.Array
    length: jax.Array


def init_kv_cache(
    batch: int, max_length: int, num_heads: int, head_features: int, dtype=jnp.float32
) -> KVCache:
    """An empty :class:`KVCache` of ``max_length`` positions."""
    for name, v in (
        ("batch", batch),
        ("max_length", max_length),
        ("num_heads", num_heads),
        ("head_features", head_features),
    ):
        check_positive_int(v, name)
    zeros = jnp.zeros((batch, max_length, num_heads, head_features), dtype)
    return KVCache(zeros, zeros, jnp.zeros((), jnp.int32))


def attention_weights(
    query: jax.Array,
    key: jax.Array,
    mask: jax.Array | None = None,
    *,
    scale: float | None = None,
) -> jax.Array:
    """The ``(B, H, L_q, L_k)`` attention probabilities ``softmax(alpha q k^T)``.

    Rows sum to 1; masked entries are 0 (a fully masked row is uniform, as in
    ``jax.nn.dot_product_attention``).
    """
    logits = _masked_logits("bqhd,bkhd->bhqk", query, key, mask, scale)
    return jax.nn.softmax(logits, axis=-1)


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

    Args:
      query: ``(B, L_q, H, D)``.
      key: ``(B, L_k, H, D)``.
      value: ``(B, L_k, H, D)``.
      mask: bool, broadcastable to ``(B, H, L_q, L_k)``.
      scale: ``alpha`` (None: ``1 / sqrt(D)``).

    Returns:
      ``(B, L_q, H, D)``.

    Raises:
      ValueError: inputs not ``(B, L, H, D)`` or disagreeing, a mask that does
        not broadcast to ``(B, H, L_q, L_k)`` (as
        :func:`dot_product_attention`).
    """
    _check_qkv(query, key, value)
    check_mask(mask, (query.shape[0], query.shape[2], query.shape[1], key.shape[1]))
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return _softmax_core(scale, query, key, value, mask)


def _heads_major(*arrays: jax.Array) -> tuple[jax.Array, ...]:
    """``(B, L, H, D)`` -> ``(B, H, L, D)``."""
    return tuple(jnp.swapaxes(a, 1, 2) for a in arrays)


def _core_weights(scale, q, k, mask):
    """``(B, H, L_q, L_k)`` probabilities of heads-major ``q``, ``k``."""
    return jax.nn.softmax(_masked_logits("bhqd,bhkd->bhqk", q, k, mask, scale), -1)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def _softmax_core(scale, query, key, value, mask):
    q, k, v = _heads_major(query, key, value)
    weights = _core_weights(scale, q, k, mask)
    return jnp.swapaxes(jnp.einsum("bhqk,bhkd->bhqd", weights, v), 1, 2)


@_softmax_core.defjvp
def _softmax_core_jvp(scale, primals, tangents):
    query, key, value, mask = primals
    dquery, dkey, dvalue, _ = tangents
    q, k, v = _heads_major(query, key, value)
    dq, dk, dv = _heads_major(dquery, dkey, dvalue)
    weights = _core_weights(scale, q, k, mask)
    out = jnp.einsum("bhqk,bhkd->bhqd", weights, v)
    # P * dS with dS = alpha (dq k^T + q dk^T), 0 where masked: the logits of
    # a fully masked row are a constant (its weights uniform, its dS zero).
    scores = jnp.einsum("bhqd,bhkd->bhqk", dq, k) + jnp.einsum("bhqd,bhkd->bhqk", q, dk)
    if mask is not None:
        scores = jnp.where(mask, scores, 0.0)
    weighted = weights * (scores * jnp.asarray(scale, scores.dtype))
    rows = jnp.sum(weighted, axis=-1, keepdims=True)
    dout = (
        jnp.einsum("bhqk,bhkd->bhqd", weighted, v)
        - rows * out
        + jnp.einsum("bhqk,bhkd->bhqd", weights, dv)
    )
    return jnp.swapaxes(out, 1, 2), jnp.swapaxes(dout, 1, 2)


def resolve_implementation(implementation: str) -> str:
    """``"auto"`` -> ``"softmax"`` on XLA's CPU backend, else ``"xla"``.

    Raises:
      ValueError: not one of :data:`IMPLEMENTATIONS`.
    """
    if not isinstance(implementation, str) or implementation not in IMPLEMENTATIONS:
        raise ValueError(
            f"`implementation` must be one of {IMPLEMENTATIONS}; "
            f"got {implementation!r}."
        )
    if implementation == "auto":
        return "softmax" if jax.default_backend() == "cpu" else "xla"
    return implementation


def dot_product_attention(
    query: jax.Array,
    key: jax.Array,
    value: jax.Array,
    mask: jax.Array | None = None,
    *,
    scale: float | None = None,
    implementation: str = "auto",
) -> jax.Array:
    """The attention core: ``softmax(alpha q k^T + M) v``, ``(B, L_q, H, D)``.

    Args:
      query: ``(B, L_q, H, D)``.
      key: ``(B, L_k, H, D)``.
      value: ``(B, L_k, H, D)``.
      mask: bool, broadcastable to ``(B, H, L_q, L_k)``.
      scale: ``alpha`` (None: ``1 / sqrt(D)``).
      implementation: one of :data:`IMPLEMENTATIONS`.
    """
    _check_qkv(query, key, value)
    b, lq, h, _ = query.shape
    check_mask(mask, (b, h, lq, key.shape[1]))
    implementation = resolve_implementation(implementation)
    if implementation == "chunked":
        return chunked_attention(query, key, value, mask, scale=scale)
    if implementation == "softmax":
        return softmax_attention(query, key, value, mask, scale=scale)
    return jax.nn.dot_product_attention(
        query, key, value, mask=mask, scale=scale, implementation=implementation
    )


class MultiHeadAttention(nn.Module):
    """Multi-head attention with optional rotary positions and a KV cache.

    Attributes:
      num_heads: ``H``; must divide the projection width.
      features: output width (None: the width of ``inputs_q``).
      qkv_features: width of the query/key/value projections (None: the width
        of ``inputs_q``); the head size is ``qkv_features / H``.
      dropout_rate: dropout on the attention probabilities (training only).
      use_bias: biases in the four projections.
      rotary: rotate queries and keys by their positions (RoPE).
      implementation: the core's path, one of :data:`IMPLEMENTATIONS`. The
        probabilities are formed explicitly instead (a softmax path) when they
        are asked for (``return_weights`` or a mutable ``"intermediates"``
        collection) or dropped out.
      kernel_init: initialiser of the projection kernels.

    Parameters: ``query``, ``key``, ``value`` (``DenseGeneral`` to ``(H, D)``)
    and ``out`` (``DenseGeneral`` from ``(H, D)``). With ``"intermediates"``
    mutable the probabilities are sown as ``attention_weights`` (for plots).
    """

    num_heads: int
    features: int | None = None
    qkv_features: int | None = None
    dropout_rate: float = 0.0
    use_bias: bool = True
    rotary: bool = False
    implementation: str = "auto"
    kernel_init: Any = nn.initializers.lecun_normal()
    rotary_base: float = 10000.0

    def __post_init__(self):
        check_positive_int(self.num_heads, "num_heads")
        check_positive_int(self.features, "features", allow_none=True)
        check_positive_int(self.qkv_features, "qkv_features", allow_none=True)
        check_fraction(self.dropout_rate, "dropout_rate")
        if self.implementation not in IMPLEMENTATIONS:
            raise ValueError(
                f"`implementation` must be one of {IMPLEMENTATIONS}; got "
                f"{self.implementation!r}."
            )
        if self.qkv_features is not None and self.qkv_features % self.num_heads:
            raise ValueError(
                f"`num_heads` ({self.num_heads}) must divide `qkv_features` "
                f"({self.qkv_features})."
            )
        super().__post_init__()

    @nn.compact
    def __call__(
        self,
        inputs_q: jax.Array,
        inputs_kv: jax.Array | None = None,
        *,
        mask: jax.Array | None = None,
        deterministic: bool = True,
        positions: jax.Array | None = None,
        cache: KVCache | None = None,
        return_weights: bool = False,
    ):
        """Attend from ``inputs_q`` to ``inputs_kv`` (self-attention if None).

        Args:
          inputs_q: ``(B, L_q, F)``.
          inputs_kv: ``(B, L_k, F_kv)``, or None for self-attention.
          mask: bool, broadcastable to ``(B, H, L_q, L_k)`` (with a cache:
            ``L_k = max_length``), True = may attend.
          deterministic: no dropout (evaluation).
          positions: ``(L_q,)`` or ``(B, L_q)`` positions of the queries for
            rotary embeddings (None: ``0..L_q-1``, after the cache's prefix).
          cache: a :class:`KVCache` (self-attention only): the new keys and
            values are written at ``cache.length`` and the queries attend
            causally over the filled prefix.
          return_weights: also return the ``(B, H, L_q, L_k)`` probabilities.

        Returns:
          ``y: (B, L_q, features)``; ``(y, new_cache)`` with a cache; the
          weights appended last with ``return_weights``.
        """
        if len(inputs_q.shape) != 3:
            raise ValueError(
                "`inputs_q` must have shape (batch, length, features); got "
                f"{tuple(inputs_q.shape)}."
            )
        if inputs_kv is not None and cache is not None:
            raise ValueError("`cache` is for self-attention: pass no `inputs_kv`.")
        kv = inputs_q if inputs_kv is None else inputs_kv
        if len(kv.shape) != 3 or kv.shape[0] != inputs_q.shape[0]:
            raise ValueError(
                "`inputs_kv` must have shape (batch, length, features) with the "
                f"batch of `inputs_q` ({inputs_q.shape[0]}); got {tuple(kv.shape)}."
            )
        width = self.qkv_features or inputs_q.shape[-1]
        if width % self.num_heads:
            raise ValueError(
                f"`num_heads` ({self.num_heads}) must divide the projection width "
                f"({width})."
            )
        heads, head = self.num_heads, width // self.num_heads
        if self.rotary and head % 2:
            raise ValueError(
                f"rotary embeddings need an even head size; width {width} / "
                f"`num_heads` {heads} = {head}."
            )
        b, lq = inputs_q.shape[:2]

        def project(name):
            return nn.DenseGeneral(
                (heads, head),
                use_bias=self.use_bias,
                kernel_init=self.kernel_init,
                dot_general=flat_dot_general,
                name=name,
            )

        query = project("query")(inputs_q)
        key = project("key")(kv)
        value = project("value")(kv)

        offset = 0 if cache is None else cache.length
        if self.rotary:
            if positions is None:
                positions = offset + jnp.arange(lq, dtype=jnp.int32)
            query = rotary_embedding(query, positions, self.rotary_base)
            key_positions = positions if inputs_kv is None else jnp.arange(kv.shape[1])
            key = rotary_embedding(key, key_positions, self.rotary_base)

        if cache is not None:
            key, value, mask, cache = _write_cache(cache, key, value, mask)
        check_mask(mask, (b, heads, lq, key.shape[1]))

        dropout = self.dropout_rate > 0 and not deterministic
        explicit = (
            return_weights or dropout or self.is_mutable_collection("intermediates")
        )
        weights = None
        if explicit:
            weights = attention_weights(query, key, mask)
            self.sow("intermediates", "attention_weights", weights)
            dropped = nn.Dropout(self.dropout_rate)(weights, deterministic=not dropout)
            out = jnp.einsum("bhqk,bkhd->bqhd", dropped, value)
        else:
            out = dot_product_attention(
                query, key, value, mask, implementation=self.implementation
            )
        y = nn.DenseGeneral(
            self.features or inputs_q.shape[-1],
            axis=(-2, -1),
            use_bias=self.use_bias,
            kernel_init=self.kernel_init,
            dot_general=flat_dot_general,
            name="out",
        )(out)
        result = (y,) if cache is None else (y, cache)
        if return_weights:
            result = (*result, weights)
        return result[0] if len(result) == 1 else result


def _write_cache(cache: KVCache, key, value, mask):
    """Store the new keys/values at ``cache.length``; the causal prefix mask."""
    if not isinstance(cache, KVCache):
        raise TypeError(f"`cache` must be a KVCache; got {type(cache).__name__}.")
    if cache.key.shape[0] != key.shape[0] or cache.key.shape[2:] != key.shape[2:]:
        raise ValueError(
            f"`cache` holds keys of shape {tuple(cache.key.shape)}, which does not "
            f"match the new keys {tuple(key.shape)} in batch, heads or head size."
        )
    lq, max_length = key.shape[1], cache.key.shape[1]
    if lq > max_length:
        raise ValueError(
            f"{lq} new positions do not fit a cache of `max_length` {max_length}."
        )
    start = (0, cache.length, 0, 0)
    keys = jax.lax.dynamic_update_slice(cache.key, key.astype(cache.key.dtype), start)
    values = jax.lax.dynamic_update_slice(
        cache.value, value.astype(cache.value.dtype), start
    )
    query_positions = cache.length + jnp.arange(lq)[:, None]
    causal = (jnp.arange(max_length)[None, :] <= query_positions)[None, None]
    mask = combine_masks(causal, mask)
    return keys, values, mask, KVCache(keys, values, cache.length + lq)
