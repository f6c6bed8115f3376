"""Positions and masks: sinusoids, a learned table, rotary embeddings, mask algebra."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.transformer import (
    LearnedPositionalEmbedding,
    causal_mask,
    combine_masks,
    padding_mask,
    rotary_embedding,
    sinusoidal_encoding,
)


def test_sinusoidal_encoding_follows_the_formula():
    pe = np.asarray(sinusoidal_encoding(10, 6))
    p, i = 7, 2  # PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(...)
    angle = p / 10000 ** (2 * i / 6)
    np.testing.assert_allclose(
        pe[p, 2 * i : 2 * i + 2], [np.sin(angle), np.cos(angle)], rtol=1e-6
    )
    assert sinusoidal_encoding(5, 7).shape == (5, 7)  # odd width: last sine kept
    with pytest.raises(ValueError, match="features"):
        sinusoidal_encoding(5, 0)


def test_learned_positional_embedding():
    module = LearnedPositionalEmbedding(max_length=8, features=4)
    positions = jnp.arange(5)
    variables = module.init(jax.random.key(0), positions)
    out = module.apply(variables, positions)
    np.testing.assert_array_equal(out, variables["params"]["embedding"][:5])
    with pytest.raises(ValueError, match="positions"):
        module.apply(variables, jnp.arange(9))
    with pytest.raises(ValueError, match="max_length"):
        LearnedPositionalEmbedding(max_length=0, features=4)


def test_rotary_scores_depend_only_on_relative_position():
    """f(q, m) . f(k, n) depends on m - n only (Su et al. 2021)."""
    rng = np.random.default_rng(0)
    q = jnp.asarray(rng.normal(size=(1, 1, 2, 8)), jnp.float32)
    k = jnp.asarray(rng.normal(size=(1, 1, 2, 8)), jnp.float32)

    @jax.jit
    def score(m, n):
        qm = rotary_embedding(q, jnp.array([m]))
        kn = rotary_embedding(k, jnp.array([n]))
        return jnp.sum(qm * kn, axis=-1)[0, 0]  # per head

    base = score(5, 2)
    for shift in (1, 7, 40):
        np.testing.assert_allclose(
            score(5 + shift, 2 + shift), base, rtol=1e-4, atol=1e-4
        )
    assert float(jnp.abs(score(5, 2) - score(5, 4)).max()) > 1e-3
    # a rotation: norms are kept, position 0 is the identity
    x = jnp.asarray(rng.normal(size=(2, 1, 2, 8)), jnp.float32)
    rotated = rotary_embedding(x, jnp.array([3]))
    np.testing.assert_allclose(
        np.linalg.norm(rotated, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5
    )
    np.testing.assert_allclose(rotary_embedding(x, jnp.array([0])), x)
    # (B, L) positions equal the broadcast (L,) ones
    np.testing.assert_allclose(rotary_embedding(x, jnp.array([[3], [3]])), rotated)
    with pytest.raises(ValueError, match="even"):
        rotary_embedding(jnp.zeros((1, 2, 1, 5)), jnp.arange(2))
    with pytest.raises(ValueError, match="positions"):
        rotary_embedding(x, jnp.arange(3))


def test_masks():
    np.testing.assert_array_equal(causal_mask(3)[0, 0], np.tril(np.ones((3, 3), bool)))
    by_length = padding_mask(jnp.array([1, 3]), 3)
    valid = jnp.array([[True, False, False], [True, True, True]])
    np.testing.assert_array_equal(by_length, padding_mask(valid))
    assert by_length.shape == (2, 1, 1, 3)
    both = padding_mask(valid, query=True)
    assert both.shape == (2, 1, 3, 3) and not bool(both[0, 0, 1, 0])
    combined = combine_masks(None, causal_mask(3), by_length)
    assert combined.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(combined[0, 0], [[1, 0, 0], [1, 0, 0], [1, 0, 0]])
    assert combine_masks(None, None) is None
    with pytest.raises(ValueError, match="masks"):
        combine_masks(causal_mask(3), causal_mask(4))
    with pytest.raises(TypeError, match="masks"):
        combine_masks(jnp.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="lengths_or_valid"):
        padding_mask(jnp.array([1, 4]), 3)
    with pytest.raises(ValueError, match="length"):
        padding_mask(valid, 4)
    with pytest.raises(ValueError, match="length"):
        causal_mask(0)
