"""Generation: greedy against a hand-written argmax loop, temperature, top-k."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.rnn import CharRNN, RecurrentNet, sample
from tests.rnn import random_params

V, LENGTH = 11, 6
TRACES = []


class CountedCharRNN(CharRNN):
    """A CharRNN that counts how often it is traced."""

    def __call__(self, tokens, **kwargs):
        TRACES.append(tokens.shape)
        return super().__call__(tokens, **kwargs)


MODEL = CountedCharRNN(V, features=16, layers=2, cell="gru")
PROMPT = jnp.array([3, 1, 4], jnp.int32)


@functools.cache
def params():
    return random_params(MODEL, PROMPT[None], scale=0.8)


@jax.jit
def logits_of(params, tokens):
    """Logits of a (1, T) sequence from a zero state (the model is causal)."""
    return MODEL.apply({"params": params}, tokens, use_carry=False)


def test_greedy_equals_a_manual_argmax_loop():
    tokens = np.asarray(
        sample(MODEL, params(), PROMPT, jax.random.key(0), length=LENGTH, greedy=True)
    )
    sequence = np.zeros((1, len(PROMPT) + LENGTH), np.int32)  # padded at the end
    sequence[0, : len(PROMPT)] = PROMPT
    for t in range(len(PROMPT), len(PROMPT) + LENGTH):
        logits = logits_of(params(), jnp.asarray(sequence))[0, t - 1]
        sequence[0, t] = int(jnp.argmax(logits))
    np.testing.assert_array_equal(tokens, sequence[0, len(PROMPT) :])
    assert tokens.dtype == np.int32 and len(set(tokens.tolist())) > 1
    # another prompt and key of the same shapes: no new trace
    traces = len(TRACES)
    sample(MODEL, params(), PROMPT[::-1], jax.random.key(9), length=LENGTH, greedy=True)
    assert len(TRACES) == traces

    # the temperature -> 0 limit of sampling is greedy decoding
    def draw(key, temperature):
        return np.asarray(
            sample(MODEL, params(), PROMPT, key, length=LENGTH, temperature=temperature)
        )

    np.testing.assert_array_equal(draw(jax.random.key(5), 1e-4), tokens)
    # a key fixes a sample; another key gives another one
    hot = draw(jax.random.key(1), 3.0)
    np.testing.assert_array_equal(hot, draw(jax.random.key(1), 3.0))
    assert not np.array_equal(hot, draw(jax.random.key(2), 3.0))


def test_top_k_sampling_draws_softmax_over_the_k_best():
    n, k, temperature = 4000, 3, 0.7
    prompts = jnp.tile(PROMPT, (n, 1))
    first = np.asarray(
        sample(
            MODEL,
            {"params": params()},  # whole variables are accepted too
            prompts,
            jax.random.key(3),
            length=1,
            temperature=temperature,
            top_k=k,
        )
    )
    assert first.shape == (n, 1)
    logits = np.asarray(logits_of(params(), PROMPT[None])[0, -1], np.float64)
    best = np.argsort(logits)[-k:]
    p = np.exp((logits[best] - logits[best].max()) / temperature)
    p /= p.sum()
    counts = np.bincount(first[:, 0], minlength=V)
    assert counts.sum() == counts[best].sum()  # nothing outside the top k
    np.testing.assert_allclose(counts[best] / n, p, atol=0.03)


def test_bad_generation_arguments_are_named():
    key = jax.random.key(0)
    p = params()
    with pytest.raises(ValueError, match="`temperature`"):
        sample(MODEL, p, PROMPT, key, length=3, temperature=0.0)
    with pytest.raises(ValueError, match="`temperature`"):
        sample(MODEL, p, PROMPT, key, length=3, temperature=-1.0)
    with pytest.raises(ValueError, match="`top_k`"):
        sample(MODEL, p, PROMPT, key, length=3, top_k=0)
    with pytest.raises(ValueError, match=r"`top_k` must lie in \[1, 11\]"):
        sample(MODEL, p, PROMPT, key, length=3, top_k=V + 1)
    with pytest.raises(ValueError, match="`length`"):
        sample(MODEL, p, PROMPT, key, length=0)
    with pytest.raises(ValueError, match=r"`prompt` must hold token ids in \[0, 11\)"):
        sample(MODEL, p, jnp.array([1, V]), key, length=3)
    with pytest.raises(ValueError, match="`prompt` must have rank 1 or 2"):
        sample(MODEL, p, jnp.zeros((1, 2, 3), jnp.int32), key, length=3)
    with pytest.raises(TypeError, match="`prompt`"):
        sample(MODEL, p, jnp.array([1.0, 2.0]), key, length=3)
    with pytest.raises(TypeError, match="`key`"):
        sample(MODEL, p, PROMPT, 0, length=3)
    with pytest.raises(TypeError, match="`model`"):
        sample(RecurrentNet(), p, PROMPT, key, length=3)
