"""The key/value cache of autoregressive decoding (one attention layer).

:class:`MultiHeadAttention` with a ``cache`` writes the new keys and values at
``cache.length`` and attends causally over the filled prefix, so generation
reads each past position's projections instead of recomputing them.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_positive_int
from jnn.transformer.masks import combine_masks

__all__ = ["KVCache", "init_kv_cache", "write_cache"]


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


def write_cache(cache: KVCache, key, value, mask):
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
