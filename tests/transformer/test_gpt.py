"""GPT: shapes, weight tying, causality, bad input, learning on Tiny Shakespeare."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn.transformer import GPT, gpt_loss, init_cache, next_token_blocks

V, CONTEXT = 11, 16
MODEL = GPT(vocab_size=V, context=CONTEXT, layers=2, heads=2, features=32)
TOKENS = jax.random.randint(jax.random.key(0), (2, 8), 0, V)


@functools.cache
def params():
    return jax.jit(MODEL.init)(jax.random.key(1), TOKENS)["params"]


def test_shapes_tying_and_causality():
    apply = jax.jit(MODEL.apply)
    logits = apply({"params": params()}, TOKENS)
    assert logits.shape == (2, 8, V)
    assert "head" not in params() and params()["embed"]["embedding"].shape == (V, 32)
    untied = GPT(V, CONTEXT, 1, 2, 32, tie_weights=False, positional="sinusoidal")
    shapes = jax.eval_shape(untied.init, jax.random.key(0), TOKENS)["params"]
    assert shapes["head"]["kernel"].shape == (32, V) and "position" not in shapes
    changed = TOKENS.at[:, 5:].set((TOKENS[:, 5:] + 1) % V)
    other = apply({"params": params()}, changed)
    np.testing.assert_allclose(other[:, :5], logits[:, :5], atol=1e-5)
    assert float(jnp.abs(other[:, 5:] - logits[:, 5:]).max()) > 1e-4
    # The activation reaches every block: GPT-2's tanh GELU changes the logits
    # a little (same parameters), not a lot.
    tanh = GPT(V, CONTEXT, 2, 2, 32, activation="gelu_tanh").apply(
        {"params": params()}, TOKENS
    )
    assert 1e-7 < float(jnp.abs(tanh - logits).max()) < 1e-2


def test_bad_inputs_name_the_argument():
    variables = {"params": params()}
    with pytest.raises(ValueError, match="context"):
        MODEL.apply(variables, jnp.zeros((1, CONTEXT + 1), jnp.int32))
    with pytest.raises(ValueError, match="tokens"):
        MODEL.apply(variables, jnp.full((1, 4), V, jnp.int32))
    with pytest.raises(ValueError, match="tokens"):
        MODEL.apply(variables, jnp.full((1, 4), -1, jnp.int32))
    with pytest.raises(TypeError, match="tokens"):
        MODEL.apply(variables, jnp.zeros((1, 4)))
    with pytest.raises(ValueError, match="heads"):
        GPT(V, CONTEXT, 1, heads=3, features=32)
    with pytest.raises(ValueError, match="positional"):
        GPT(V, CONTEXT, 1, 2, 32, positional="alibi")
    with pytest.raises(ValueError, match="activation"):
        GPT(V, CONTEXT, 1, 2, 32, activation="swish")
    with pytest.raises(ValueError, match="max_length"):
        init_cache(MODEL, 1, CONTEXT + 1)
    loss = gpt_loss(MODEL)
    with pytest.raises(ValueError, match="'y'"):
        loss.check({"x": np.zeros((3, 4), np.int32)}, "train")
    with pytest.raises(ValueError, match=r"train\['y'\]"):
        loss.check(
            {"x": np.zeros((3, 4), np.int32), "y": np.full((3, 4), V, np.int32)},
            "train",
        )
    with pytest.raises(ValueError, match="context"):
        next_token_blocks(np.arange(5), 0)


def test_a_tiny_gpt_learns_tiny_shakespeare():
    """~100 Adam steps bring the validation loss well below the unigram entropy.

    Unigram entropy of the slice: 3.30 nats. Measured validation loss after
    one epoch (101 steps of 30 blocks of 32 tokens), seeds 0-4: 2.80-2.87.
    """
    corpus = jnn.data.load_text("tinyshakespeare")
    context = 32
    train = next_token_blocks(corpus.train[:100_000], context)
    val = next_token_blocks(corpus.val[:20_000], context)
    counts = np.bincount(corpus.train[:100_000], minlength=corpus.vocab.size)
    p = counts[counts > 0] / counts.sum()
    unigram = float(-(p * np.log(p)).sum())
    model = GPT(corpus.vocab.size, context, layers=2, heads=2, features=32)
    learner = jnn.train.gradient_learner(model, gpt_loss(model), optax.adam(1e-2))
    result = jnn.train.fit(
        learner,
        train,
        key=jax.random.key(0),
        epochs=1,
        batch_size=30,
        val=val,
        progress=False,
    )
    val_loss = float(result.history["val_loss"][-1])
    assert 3.2 < unigram < 3.4
    assert val_loss < 2.95 < unigram - 0.3
