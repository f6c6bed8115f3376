"""Generation: KV cache = recomputing the prefix; sampling filters; bad input."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.transformer import GPT, filter_logits, generate

V, CONTEXT, LENGTH = 13, 16, 6
TRACES = []


class CountedGPT(GPT):
    """A GPT that counts how often it is traced."""

    def __call__(self, tokens, **kwargs):
        TRACES.append(tokens.shape)
        return super().__call__(tokens, **kwargs)


MODELS = {
    p: CountedGPT(V, CONTEXT, layers=2, heads=2, features=32, positional=p)
    for p in ("learned", "rotary")
}
PROMPT = jnp.array([[3, 1, 4, 1], [5, 9, 2, 6]], jnp.int32)


@functools.cache
def params(positional):
    model = MODELS[positional]
    variables = jax.jit(model.init)(jax.random.key(0), PROMPT)
    # larger embeddings than GPT-2's 0.02: varied, confident greedy tokens
    return jax.tree.map(lambda x: 25 * x, variables["params"])


@pytest.mark.parametrize("positional", sorted(MODELS))
def test_kv_cache_greedy_equals_recomputing_the_prefix(positional):
    model = MODELS[positional]
    tokens, logits = generate(
        model,
        params(positional),
        PROMPT,
        jax.random.key(0),
        LENGTH,
        greedy=True,
        return_logits=True,
    )
    assert tokens.shape == (2, LENGTH) and logits.shape == (2, LENGTH, V)
    full = jax.jit(model.apply)  # every step recomputes the whole prefix
    sequence = np.zeros((2, CONTEXT), np.int32)  # padded at the end (causal model)
    sequence[:, :4] = PROMPT
    for t in range(LENGTH):
        step = full({"params": params(positional)}, jnp.asarray(sequence))[:, 3 + t]
        np.testing.assert_allclose(logits[:, t], step, atol=1e-4)
        sequence[:, 4 + t] = np.argmax(step, axis=-1)
    np.testing.assert_array_equal(tokens, sequence[:, 4 : 4 + LENGTH])
    assert len(set(np.asarray(tokens).ravel().tolist())) > 2


def test_one_trace_per_shape_and_sampling_filters():
    model, p = MODELS["learned"], params("learned")
    first = generate(model, p, PROMPT, jax.random.key(0), LENGTH, top_k=3)
    traces = len(TRACES)
    again = generate(
        model, p, PROMPT[::-1], jax.random.key(1), LENGTH, top_k=3, temperature=0.5
    )
    assert len(TRACES) == traces  # same shapes: the compiled scan is reused
    assert again.shape == (2, LENGTH) and again.dtype == jnp.int32
    assert not np.array_equal(
        first,
        generate(model, p, PROMPT, jax.random.key(5), LENGTH, top_k=3, temperature=5.0),
    )
    # a tiny nucleus is greedy decoding (the greedy scan is the one compiled above)
    greedy = generate(model, p, PROMPT, jax.random.key(1), LENGTH, greedy=True)
    np.testing.assert_array_equal(
        generate(model, p, PROMPT, jax.random.key(3), LENGTH, top_p=1e-6), greedy
    )


def test_filter_logits():
    logits = jnp.log(jnp.array([[0.5, 0.05, 0.3, 0.15]]))
    for k, expected in ((1, [1, 0, 0, 0]), (2, [1, 0, 1, 0]), (4, [1, 1, 1, 1])):
        kept = np.isfinite(np.asarray(filter_logits(logits, top_k=k)))
        np.testing.assert_array_equal(kept[0], np.array(expected, bool), err_msg=str(k))
    # the nucleus: the most likely tokens until their mass reaches p
    for p, expected in (
        (0.5, [1, 0, 0, 0]),
        (0.6, [1, 0, 1, 0]),
        (0.85, [1, 0, 1, 1]),
        (0.99, [1, 1, 1, 1]),
    ):
        kept = np.isfinite(np.asarray(filter_logits(logits, top_p=p)))
        np.testing.assert_array_equal(kept[0], np.array(expected, bool), err_msg=str(p))


def test_bad_inputs_name_the_argument():
    model, p = MODELS["learned"], params("learned")
    key = jax.random.key(0)
    for kwargs, name in (
        ({"top_k": 0}, "top_k"),
        ({"top_k": -2}, "top_k"),
        ({"top_k": V + 1}, "top_k"),
        ({"top_p": 0.0}, "top_p"),
        ({"top_p": 1.5}, "top_p"),
        ({"temperature": 0.0}, "temperature"),
    ):
        with pytest.raises(ValueError, match=name):
            generate(model, p, PROMPT, key, LENGTH, **kwargs)
    with pytest.raises(ValueError, match="prompt"):
        generate(model, p, jnp.zeros((1, CONTEXT + 1), jnp.int32), key, 1)
    with pytest.raises(ValueError, match="prompt"):
        generate(model, p, PROMPT, key, CONTEXT)  # prompt + length > context
    with pytest.raises(ValueError, match="prompt"):
        generate(model, p, jnp.array([1, V]), key, LENGTH)
    with pytest.raises(ValueError, match="length"):
        generate(model, p, PROMPT, key, 0)
    with pytest.raises(TypeError, match="key"):
        generate(model, p, PROMPT, 0, LENGTH)
