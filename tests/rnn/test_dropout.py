"""Variational dropout: one mask per sequence, the same at every step."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.rnn import RecurrentNet, RecurrentStack, cell
from jnn.train import Context, apply_model
from tests.rnn import random_params

B, T, F = 16, 6, 8
RATE = 0.5
ELMAN = RecurrentStack("elman", F, dropout=RATE)


def _elman_params(input_kernel, input_bias, recurrent_kernel):
    return {
        "layer_0": {
            "cell": {
                "i": {"kernel": input_kernel, "bias": input_bias},
                "h": {"kernel": recurrent_kernel},
            }
        }
    }


@jax.jit
def _train_outputs(params, key):
    ctx = Context(key, train=True)  # the engine's training call: dropout stream on
    (_, out), _ = apply_model(ELMAN, params, ctx, jnp.ones((B, T, F)))
    return out


def test_input_mask_is_constant_over_time_and_differs_across_sequences():
    # W_x = I, W_h = 0: h_t = tanh(m_x * x_t) shows the input mask itself
    eye, zero = jnp.eye(F), jnp.zeros((F, F))
    out = np.asarray(
        _train_outputs(_elman_params(eye, jnp.zeros(F), zero), jax.random.key(0))
    )
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))
    kept = out[:, 0] != 0
    np.testing.assert_allclose(out[:, 0][kept], np.tanh(1 / (1 - RATE)), rtol=1e-6)
    assert len({tuple(row) for row in kept}) > B // 2  # the sequences differ
    assert 0.3 < kept.mean() < 0.7


def test_state_mask_is_constant_over_time_and_differs_across_sequences():
    # W_x = 0, b = 1, W_h = a I: a dropped unit stays at tanh(1) forever, a
    # kept one follows h_t = tanh(a h_{t-1} / (1 - p) + 1)
    a = 0.5
    params = _elman_params(jnp.zeros((F, F)), jnp.ones(F), a * jnp.eye(F))
    out = np.asarray(_train_outputs(params, jax.random.key(1)), np.float64)
    kept = np.abs(out[:, 1] - np.tanh(1.0)) > 1e-6
    mask = kept / (1 - RATE)
    h = np.zeros((B, F))
    for t in range(T):  # the recurrence with one mask for every step
        h = np.tanh(a * mask * h + 1.0)
        np.testing.assert_allclose(out[:, t], h, rtol=1e-5)
    assert len({tuple(row) for row in kept}) > B // 2
    assert 0.3 < kept.mean() < 0.7
    # another key, other masks
    other = np.asarray(_train_outputs(params, jax.random.key(2)))
    assert not np.array_equal(np.abs(other[:, 1] - np.tanh(1.0)) > 1e-6, kept)


def test_gru_masks_its_gates_but_not_the_memory_it_keeps():
    gru = cell("gru", 3, input_dropout=0.5, state_dropout=0.5, deterministic=False)
    rng = np.random.default_rng(0)
    x, h = rng.normal(size=(2, 4)), rng.normal(size=(2, 3))
    mx = rng.integers(0, 2, size=(2, 4)) * 2.0
    mh = rng.integers(0, 2, size=(2, 3)) * 2.0
    params = random_params(gru, jnp.asarray(h), jnp.asarray(x), (mx, mh))
    new, _ = gru.apply({"params": params}, jnp.asarray(h), jnp.asarray(x), (mx, mh))
    p = jax.tree.map(np.asarray, params)

    def dense(name, v):
        out = v @ p[name]["kernel"]
        return out + p[name]["bias"] if "bias" in p[name] else out

    def sigmoid(v):
        return 1 / (1 + np.exp(-v))

    xm, hm = x * mx, h * mh
    r = sigmoid(dense("ir", xm) + dense("hr", hm))
    z = sigmoid(dense("iz", xm) + dense("hz", hm))
    n = np.tanh(dense("in", xm) + r * dense("hn", hm))
    np.testing.assert_allclose(new, (1 - z) * n + z * h, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["lstm", "ln-gru"])
def test_evaluation_is_deterministic_and_training_is_not(name):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 5, 3)), jnp.float32)
    net = RecurrentNet(name, 6, layers=2, dropout=0.3, out_features=2)
    params = random_params(net, x)
    plain = net.clone(dropout=0.0)

    @jax.jit
    def outputs(params, key, other):
        def run(model, key, train):
            return apply_model(model, params, Context(key, train=train), x)[0]

        return (
            run(net, key, False),
            run(net, other, False),
            run(plain, key, True),
            run(net, key, True),
            run(net, other, True),
        )

    keys = jax.random.key(1), jax.random.key(2)
    evaluation, evaluation_other, plain_train, first, second = outputs(params, *keys)
    np.testing.assert_array_equal(evaluation, evaluation_other)
    np.testing.assert_allclose(evaluation, plain_train, atol=1e-6)
    assert float(jnp.max(jnp.abs(first - evaluation))) > 1e-3
    assert float(jnp.max(jnp.abs(first - second))) > 1e-3
    np.testing.assert_array_equal(first, outputs(params, *keys)[3])
