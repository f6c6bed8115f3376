"""Encoder layer against torch.nn.TransformerEncoderLayer; FFN; the GPT block."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jnn.transformer import DecoderBlock, EncoderLayer, FeedForward, init_kv_cache
from tests.transformer import encoder_params_from_torch, max_tree_diff, t2n

B, L, F, H, FFN = 2, 6, 32, 2, 48


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_equals_torch(norm_first):
    """Outputs and gradients (inputs and every parameter) of post- and pre-norm."""
    torch.manual_seed(1)
    layer = torch.nn.TransformerEncoderLayer(
        F,
        H,
        FFN,
        dropout=0.0,
        activation="relu",
        batch_first=True,
        norm_first=norm_first,
    )
    with torch.no_grad():  # non-trivial norms and biases
        for norm in (layer.norm1, layer.norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.normal_()
        layer.self_attn.in_proj_bias.normal_()
    layer.eval()  # dropout off; torch's fused fast path is not used under autograd
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, L, F)).astype(np.float32)
    w = rng.normal(size=(B, L, F)).astype(np.float32)
    lengths = np.array([4, 6])
    padded = np.arange(L)[None, :] >= lengths[:, None]
    xt = torch.tensor(x, requires_grad=True)
    yt = layer(xt, src_key_padding_mask=torch.tensor(padded))
    (yt * torch.tensor(w)).sum().backward()

    module = EncoderLayer(H, F, FFN, dropout_rate=0.0, norm_first=norm_first)
    params = encoder_params_from_torch(layer)
    mask = jnp.asarray(~padded)[:, None, None, :]

    def objective(params, x):
        y = module.apply({"params": params}, x, mask)
        return jnp.sum(y * w), y

    grad = jax.jit(jax.value_and_grad(objective, argnums=(0, 1), has_aux=True))
    (_, y), (gp, gx) = grad(params, x)
    assert np.abs(np.asarray(y) - t2n(yt)).max() < 1e-5
    assert np.abs(np.asarray(gx) - t2n(xt.grad)).max() < 1e-5
    grads = encoder_params_from_torch(layer, grad=True)
    assert max_tree_diff(jax.tree.map(np.asarray, gp), grads) < 1e-5


def test_feed_forward_acts_per_position_and_dropout_trains_only():
    ffn = FeedForward(hidden=16, dropout_rate=0.5, activation="relu")
    x = jax.random.normal(jax.random.key(0), (2, 5, 8))
    variables = jax.jit(ffn.init)(jax.random.key(1), x)

    @jax.jit
    def evaluate_and_train(variables, x, key):
        train = ffn.apply(variables, x, False, rngs={"dropout": key})
        return ffn.apply(variables, x), train

    y, dropped = evaluate_and_train(variables, x, jax.random.key(2))
    p = jax.tree.map(np.asarray, variables["params"])
    hidden = np.maximum(np.asarray(x) @ p["hidden"]["kernel"] + p["hidden"]["bias"], 0)
    expected = (
        hidden @ p["output"]["kernel"] + p["output"]["bias"]
    )  # position by position
    np.testing.assert_allclose(y, expected, atol=1e-5)
    assert float(jnp.abs(dropped - y).max()) > 1e-3
    with pytest.raises(ValueError, match="activation"):
        FeedForward(hidden=16, activation="swish!")


def test_decoder_block_is_causal_and_caches():
    block = DecoderBlock(num_heads=H, features=F, rotary=True)
    x = jax.random.normal(jax.random.key(0), (B, L, F))
    variables = jax.jit(block.init)(jax.random.key(1), x)
    apply = jax.jit(block.apply)
    y = apply(variables, x)
    changed = x.at[:, 3:].add(1.0)
    np.testing.assert_allclose(apply(variables, changed)[:, :3], y[:, :3], atol=1e-5)
    cache = init_kv_cache(B, L, H, F // H)
    first, cache = apply(variables, x[:, :3], cache=cache)  # the same program twice
    rest, cache = apply(variables, x[:, 3:], cache=cache)
    np.testing.assert_allclose(jnp.concatenate([first, rest], 1), y, atol=1e-5)
    with pytest.raises(ValueError, match="features"):
        block.apply(variables, x[..., :16])
    with pytest.raises(ValueError, match="num_heads"):
        EncoderLayer(num_heads=3, features=F, ffn_features=FFN)
