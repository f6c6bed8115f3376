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

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn._checks import check_fraction, check_positive_int
from jnn.nn import flat_dot_general
from jnn.transformer.cache import KVCache, init_kv_cache, write_cache
from jnn.transformer.efficient import _check_qkv, chunked_attention
from jnn.transformer.masks import causal_mask, check_mask, combine_masks
from jnn.transformer.positional import rotary_embedding
from jnn.transformer.softmax import (
    _check_causal,
    _masked_logits,
    causal_blocks,
    softmax_attention,
)

__all__ = [
    "IMPLEMENTATIONS",
    "KVCache",
    "MultiHeadAttention",
    "attention_weights",
    "causal_blocks",
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
    is_causal: bool = False,
    implementation: str = "auto",
) -> jax.Array:
    """The attention core: ``softmax(alpha q k^T + M) v``, ``(B, L_q, H, D)``.

    Args:
      query: ``(B, L_q, H, D)``.
      key: ``(B, L_k, H, D)``.
      value: ``(B, L_k, H, D)``.
      mask: bool, broadcastable to ``(B, H, L_q, L_k)``.
      scale: ``alpha`` (None: ``1 / sqrt(D)``).
      is_causal: query ``i`` attends to keys ``j <= i`` only, on top of
        ``mask`` (as ``jax.nn.dot_product_attention``'s); the ``"softmax"``
        path then skips most of the masked scores (:func:`softmax_attention`).
      implementation: one of :data:`IMPLEMENTATIONS`.
    """
    _check_qkv(query, key, value)
    b, lq, h, _ = query.shape
    check_mask(mask, (b, h, lq, key.shape[1]))
    _check_causal(is_causal, query, key)
    implementation = resolve_implementation(implementation)
    if implementation == "softmax":
        return softmax_attention(
            query, key, value, mask, scale=scale, is_causal=is_causal
        )
    if implementation == "chunked":
        return chunked_attention(query, key, value, mask, scale=scale, causal=is_causal)
    return jax.nn.dot_product_attention(
        query,
        key,
        value,
        mask=mask,
        scale=scale,
        is_causal=is_causal,
        implementation=implementation,
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
        collection), or dropped out on a path other than ``"softmax"`` (which
        takes dropout's multiplier, the same mask, inside its blocks).
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
        is_causal: bool = False,
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
          is_causal: query ``i`` attends to keys ``j <= i`` only, on top of
            ``mask`` (the ``"softmax"`` path then skips most masked scores);
            needs ``L_q = L_k``. With a cache the attention is causal anyway.

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

        if inputs_kv is None:  # self-attention: one product for q, k, v
            query, key, value = _fused_projections(
                [project(n) for n in ("query", "key", "value")], inputs_q
            )
        else:
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
            key, value, mask, cache = write_cache(cache, key, value, mask)
            is_causal = False  # the cache's mask is the causal one
        check_mask(mask, (b, heads, lq, key.shape[1]))
        _check_causal(is_causal, query, key)

        dropout = self.dropout_rate > 0 and not deterministic
        implementation = resolve_implementation(self.implementation)
        explicit = (
            return_weights
            or self.is_mutable_collection("intermediates")
            or (dropout and implementation != "softmax")
        )
        weights = None
        if explicit:
            if is_causal:
                mask = combine_masks(causal_mask(lq), mask)
            weights = attention_weights(query, key, mask)
            self.sow("intermediates", "attention_weights", weights)
            dropped = nn.Dropout(self.dropout_rate)(weights, deterministic=not dropout)
            out = jnp.einsum("bhqk,bkhd->bqhd", dropped, value)
        elif dropout:
            # The same Dropout module (and so the same mask) as above, applied
            # to ones: its keep / (1 - rate) multiplies the probabilities
            # inside the softmax path's blocks and derivative.
            ones = jnp.ones((b, heads, lq, key.shape[1]), query.dtype)
            multiplier = nn.Dropout(self.dropout_rate)(ones, deterministic=False)
            out = softmax_attention(
                query,
                key,
                value,
                mask,
                is_causal=is_causal,
                dropout_multiplier=multiplier,
            )
        else:
            out = dot_product_attention(
                query,
                key,
                value,
                mask,
                is_causal=is_causal,
                implementation=self.implementation,
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


def _fused_projections(layers, x):
    """Self-attention's ``q, k, v`` as one ``(B L, F) @ (F, 3 H D)`` product.

    ``layers`` are the three ``DenseGeneral`` projections: each is called on
    one zero row so that its parameters exist (created or read; the unused
    outputs are removed by the compiler), then their kernels and biases are
    concatenated and applied at once (one product, one kernel gradient and
    one input gradient instead of three each). The parameters are the
    three layers' own, as with separate calls. Measured (GPT step, one core
    of a 2-core Xeon): attention 30.4 -> 29.1 ms per layer.
    """
    b, length, features = x.shape
    kernels, biases = [], []
    for layer in layers:
        layer(jnp.zeros((1, features), x.dtype))
        params = layer.variables["params"]
        kernels.append(params["kernel"].reshape(features, -1))
        if "bias" in params:
            biases.append(params["bias"].reshape(-1))
    out = x.reshape(b * length, features) @ jnp.concatenate(kernels, axis=1)
    if biases:
        out = out + jnp.concatenate(biases)[None]
    heads, head = layers[0].features
    # unstacked, not indexed: the transpose is one stack, not three padded adds
    return tuple(jnp.unstack(out.reshape(b, length, 3, heads, head), axis=2))
