"""Chunked attention: same values and gradients as plain attention, no n x n buffer."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.transformer import (
    MultiHeadAttention,
    causal_mask,
    chunked_attention,
    combine_masks,
    padding_mask,
    temp_memory,
)

B, L, H, D = 2, 13, 2, 8  # 13 keys in chunks of 4: the last chunk is padded


def qkv(seed=0, shape=(B, L, H, D)):
    keys = jax.random.split(jax.random.key(seed), 4)
    return [jax.random.normal(k, shape) for k in keys]


MASKS = {
    "causal": (None, True),
    # causal and padded keys; sequence 0 is empty, so its rows are fully masked
    "mask": (combine_masks(causal_mask(L), padding_mask(jnp.array([0, 9]), L)), False),
}


@functools.partial(jax.jit, static_argnames=("causal", "chunked"))
def value_and_grads(q, k, v, w, mask, causal, chunked):
    def f(q, k, v):
        if chunked:
            out = chunked_attention(q, k, v, mask, causal=causal, chunk_size=4)
        else:
            out = jax.nn.dot_product_attention(q, k, v, mask=mask, is_causal=causal)
        return jnp.sum(out * w), out

    (_, out), grads = jax.value_and_grad(f, argnums=(0, 1, 2), has_aux=True)(q, k, v)
    return out, grads


@pytest.mark.parametrize("case", sorted(MASKS))
def test_chunked_equals_plain_attention_values_and_gradients(case):
    mask, causal = MASKS[case]
    q, k, v, w = qkv()
    out, grads = value_and_grads(q, k, v, w, mask, causal, True)
    ref, ref_grads = value_and_grads(q, k, v, w, mask, causal, False)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, atol=1e-5)


def test_multi_head_attention_chunked_implementation():
    x = jax.random.normal(jax.random.key(0), (B, L, 32))
    mask = causal_mask(L)
    chunked = MultiHeadAttention(num_heads=2, implementation="chunked")
    plain = MultiHeadAttention(num_heads=2)
    variables = jax.jit(plain.init)(jax.random.key(1), x)
    np.testing.assert_allclose(
        jax.jit(chunked.apply)(variables, x, mask=mask),
        jax.jit(plain.apply)(variables, x, mask=mask),
        atol=1e-5,
    )


def test_chunked_memory_has_no_quadratic_buffer():
    """XLA's compiled scratch memory at L = 2048: the n x n scores are gone."""
    length, heads = 2048, 2
    q = jax.ShapeDtypeStruct((1, length, heads, 16), jnp.float32)
    scores = length * length * 4 * heads  # bytes of one (H, L, L) float32 buffer

    def plain(q):
        return jax.nn.dot_product_attention(q, q, q, is_causal=True)

    def chunked(q):
        return chunked_attention(q, q, q, causal=True, chunk_size=128)

    assert temp_memory(plain, q) >= scores
    assert temp_memory(chunked, q) < scores / 4

    # reverse mode too: the checkpointed chunk step recomputes its scores
    def grad(f):
        return jax.grad(lambda q: jnp.sum(f(q)))

    assert temp_memory(grad(plain), q) >= scores
    assert temp_memory(grad(chunked), q) < scores / 2


def test_bad_inputs_name_the_argument():
    q, k, v, _ = qkv()
    with pytest.raises(ValueError, match="key"):
        chunked_attention(q, k[:, :, :1], v)
    with pytest.raises(ValueError, match="mask"):
        chunked_attention(q, k, v, jnp.ones((B, H, L), bool))
    with pytest.raises(ValueError, match="chunk_size"):
        chunked_attention(q, k, v, chunk_size=0)
