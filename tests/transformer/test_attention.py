"""Multi-head attention: probabilities, masks, PyTorch equality, KV cache, Hopfield."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import jnn.hopfield
from jnn.transformer import (
    KVCache,
    MultiHeadAttention,
    attention_weights,
    causal_blocks,
    causal_mask,
    dot_product_attention,
    init_kv_cache,
    padding_mask,
    resolve_implementation,
    softmax_attention,
)
from tests.transformer import (
    attention_grads_from_torch,
    attention_params_from_torch,
    max_tree_diff,
    t2n,
)

B, L, F, H = 2, 7, 32, 2
MHA = MultiHeadAttention(num_heads=H)


def inputs(seed=0, shape=(B, L, F)):
    return jax.random.normal(jax.random.key(seed), shape)


@functools.cache
def params():
    return jax.jit(MHA.init)(jax.random.key(0), inputs())["params"]


@jax.jit
def attend(params, x, mask):
    return MHA.apply({"params": params}, x, mask=mask, return_weights=True)


@jax.jit
def output_and_grads(params, x, w, mask):
    """MHA(x) and the gradients of sum(MHA(x) * w) wrt params and x."""

    def objective(params, x):
        y = MHA.apply({"params": params}, x, mask=mask)
        return jnp.sum(y * w), y

    (_, y), grads = jax.value_and_grad(objective, argnums=(0, 1), has_aux=True)(
        params, x
    )
    return y, grads


def test_rows_sum_to_one_and_masked_entries_are_zero():
    mask = causal_mask(L) & padding_mask(jnp.array([5, 7]), L)
    y, weights = attend(params(), inputs(), mask)
    assert y.shape == (B, L, F) and weights.shape == (B, H, L, L)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert (
        float(
            jnp.abs(jnp.where(jnp.broadcast_to(mask, weights.shape), 0, weights)).max()
        )
        == 0
    )
    # the explicit path (weights asked for) equals jax.nn.dot_product_attention
    plain, _ = output_and_grads(params(), inputs(), inputs(), mask)
    np.testing.assert_allclose(y, plain, atol=1e-6)


def test_causal_outputs_ignore_the_future():
    x = inputs()
    changed = x.at[:, 4:].set(inputs(1)[:, 4:])
    mask = causal_mask(L)
    y1, _ = attend(params(), x, mask)
    y2, _ = attend(params(), changed, mask)
    np.testing.assert_allclose(y1[:, :4], y2[:, :4], atol=1e-6)
    assert float(jnp.abs(y1[:, 4:] - y2[:, 4:]).max()) > 1e-2


def test_padded_positions_never_influence_the_others():
    lengths = jnp.array([4, 6])
    valid = jnp.arange(L)[None, :] < lengths[:, None]
    x = inputs()
    changed = jnp.where(valid[..., None], x, 100.0 * inputs(2))
    for mask in (padding_mask(lengths, L), padding_mask(valid, query=True)):
        y1, w = attend(params(), x, mask)
        y2, _ = attend(params(), changed, mask)
        np.testing.assert_allclose(
            jnp.where(valid[..., None], y1 - y2, 0.0), 0.0, atol=1e-5
        )
        # real queries give padded keys no weight (a fully masked padded
        # query averages every value, as jax.nn.dot_product_attention does)
        padded_keys = ~valid[:, None, None, :] & valid[:, None, :, None]
        assert float(jnp.where(padded_keys, w, 0).max()) == 0.0


@pytest.mark.parametrize("masked", [False, True])
def test_equals_torch_multihead_attention_outputs_and_gradients(masked):
    torch.manual_seed(0)
    mha = torch.nn.MultiheadAttention(F, H, batch_first=True)
    with torch.no_grad():  # non-zero biases, so they are compared too
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    p = attention_params_from_torch(mha)
    x = np.asarray(inputs())
    w = np.asarray(inputs(3))
    lengths = np.array([5, 7])
    key_padding = np.arange(L)[None, :] >= lengths[:, None]  # torch: True = ignore
    xt = torch.tensor(x, requires_grad=True)
    yt, _ = mha(
        xt,
        xt,
        xt,
        key_padding_mask=torch.tensor(key_padding) if masked else None,
        need_weights=False,
    )
    (yt * torch.tensor(w)).sum().backward()
    lengths = lengths if masked else np.full(B, L)
    mask = padding_mask(jnp.asarray(lengths), L)  # all True when unmasked
    y, (gp, gx) = output_and_grads(p, x, w, mask)
    assert np.abs(np.asarray(y) - t2n(yt)).max() < 1e-5
    assert np.abs(np.asarray(gx) - t2n(xt.grad)).max() < 1e-5
    assert (
        max_tree_diff(jax.tree.map(np.asarray, gp), attention_grads_from_torch(mha))
        < 1e-5
    )


def test_modern_hopfield_update_is_one_attention_head():
    """xi_new = X^T softmax(beta X xi) (Ramsauer et al. 2020): q = xi, K = V = X."""
    rng = np.random.default_rng(0)
    patterns = rng.normal(size=(6, 8)).astype(np.float32)
    state = rng.normal(size=8).astype(np.float32)
    beta = 0.7
    hopfield = jax.jit(functools.partial(jnn.hopfield.modern_update, beta=beta))(
        patterns, state
    )
    kv = jnp.asarray(patterns)[None, :, None, :]  # (B=1, M, H=1, d)
    q = jnp.asarray(state)[None, None, None, :]

    @jax.jit
    def heads(q, kv):
        return [
            dot_product_attention(q, kv, kv, scale=beta, implementation="xla"),
            dot_product_attention(q, kv, kv, scale=beta, implementation="chunked"),
            jnp.einsum("bhqk,bkhd->bqhd", attention_weights(q, kv, scale=beta), kv),
        ]

    for head in heads(q, kv):
        np.testing.assert_allclose(head[0, 0, 0], hopfield, atol=1e-5)


@pytest.mark.parametrize("masking", ["none", "causal", "padded rows"])
def test_softmax_path_equals_the_reference_outputs_and_gradients(masking):
    # the CPU path (heads-major products, its own custom_jvp) against
    # jax.nn.dot_product_attention, including a fully masked row (uniform):
    # outputs, gradients, forward-mode tangents and Hessian-vector products
    rng = np.random.default_rng(3)
    q, k, v, g = (
        jnp.asarray(rng.normal(size=(2, 5, 3, 4)).astype(np.float32)) for _ in range(4)
    )
    mask = {
        "none": None,
        "causal": causal_mask(5),
        "padded rows": jnp.asarray(rng.random((2, 1, 5, 5)) < 0.6)
        .at[0, 0, 2]
        .set(False),
    }[masking]

    def run(implementation):
        def f(q, k, v):
            out = dot_product_attention(
                q, k, v, mask, scale=0.7, implementation=implementation
            )
            return jnp.sum(out * g), out

        (_, out), grads = jax.jit(jax.value_and_grad(f, (0, 1, 2), has_aux=True))(
            q, k, v
        )
        # forward mode (the custom_jvp's tangent) and forward-over-reverse
        tangents = (g, 0.5 * q, -v)
        _, tangent = jax.jvp(lambda *a: f(*a)[1], (q, k, v), tangents)
        grad = jax.grad(lambda *a: f(*a)[0], (0, 1, 2))
        _, hvp = jax.jvp(grad, (q, k, v), tangents)
        return out, *grads, tangent, *hvp

    for a, b in zip(run("xla"), run("softmax"), strict=True):
        np.testing.assert_allclose(b, a, atol=4e-6)
    assert resolve_implementation("auto") == "softmax"  # the tests run on CPU
    with pytest.raises(ValueError, match="value"):
        softmax_attention(q, k, v[:, :4])
    with pytest.raises(ValueError, match="mask"):
        softmax_attention(q, k, v, jnp.ones((2, 1, 5, 4), bool))
    with pytest.raises(ValueError, match="implementation"):
        resolve_implementation("flash")


@pytest.mark.parametrize("length", [130, 300])
def test_is_causal_equals_the_causal_mask_on_every_path(length):
    # lengths of 2 and 4 query blocks (300: uneven), so the softmax path's
    # blocks over key prefixes are exercised; the reference is the plain
    # jax.nn.dot_product_attention with the causal mask as an array
    rng = np.random.default_rng(5)
    q, k, v, g = (
        jnp.asarray(rng.normal(size=(1, length, 2, 8)).astype(np.float32))
        for _ in range(4)
    )
    assert len(causal_blocks(length)) - 1 == {130: 2, 300: 4}[length]
    pad = jnp.asarray(rng.random((1, 1, length, length)) < 0.9).at[0, 0, 7].set(False)

    def run(implementation, mask, is_causal):
        def f(q, k, v):
            out = dot_product_attention(
                q, k, v, mask, is_causal=is_causal, implementation=implementation
            )
            return jnp.sum(out * g), out

        (_, out), grads = jax.jit(jax.value_and_grad(f, (0, 1, 2), has_aux=True))(
            q, k, v
        )
        _, tangent = jax.jvp(lambda *a: f(*a)[1], (q, k, v), (g, q, -v))
        return out, *grads, tangent

    causal = causal_mask(length)
    for mask in (None, pad):
        ref = run("xla", causal if mask is None else causal & mask, False)
        for implementation in ("softmax", "chunked", "xla"):
            got = run(implementation, mask, True)
            for a, b in zip(ref, got, strict=True):
                np.testing.assert_allclose(b, a, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("masking", ["none", "causal", "padded rows"])
def test_dropout_multiplier_inside_the_softmax_path(masking):
    # (P * Z) v with the softmax path's blocks and derivative against the
    # probabilities formed, dropped and differentiated by JAX: outputs,
    # gradients, tangents, Hessian-vector products. Causal at L = 130 (two
    # query blocks); the padded case has a fully masked row and a multiplier
    # broadcast over the batch.
    length = 130 if masking == "causal" else 9
    rng = np.random.default_rng(4)
    q, k, v, g = (
        jnp.asarray(rng.normal(size=(2, length, 2, 4)).astype(np.float32))
        for _ in range(4)
    )
    z_shape = (
        (1, 2, length, length) if masking == "padded rows" else (2, 2, length, length)
    )
    z = jnp.asarray((rng.random(z_shape) < 0.7) / 0.7, jnp.float32)
    pad = jnp.asarray(rng.random((2, 1, length, length)) < 0.6).at[0, 0, 2].set(False)
    mask = pad if masking == "padded rows" else None
    reference_mask = causal_mask(length) if masking == "causal" else mask

    def fast(q, k, v):
        causal = masking == "causal"
        return softmax_attention(q, k, v, mask, is_causal=causal, dropout_multiplier=z)

    def reference(q, k, v):
        weights = attention_weights(q, k, reference_mask) * z
        return jnp.einsum("bhqk,bkhd->bqhd", weights, v)

    def run(f):
        out, grads = jax.jit(
            jax.value_and_grad(lambda *a: jnp.sum(f(*a) * g), (0, 1, 2))
        )(q, k, v)
        tangents = (g, 0.5 * q, -v)
        _, tangent = jax.jvp(f, (q, k, v), tangents)
        grad = jax.grad(lambda *a: jnp.sum(f(*a) * g), (0, 1, 2))
        _, hvp = jax.jvp(grad, (q, k, v), tangents)
        return out, *grads, tangent, *hvp

    for a, b in zip(run(reference), run(fast), strict=True):
        np.testing.assert_allclose(b, a, atol=2e-5, rtol=1e-5)
    with pytest.raises(TypeError, match="dropout_multiplier"):
        softmax_attention(q, k, v, dropout_multiplier=z > 0)
    with pytest.raises(ValueError, match="dropout_multiplier"):
        softmax_attention(q, k, v, dropout_multiplier=z[..., :-1])


def test_attention_dropout_takes_the_same_mask_on_every_path():
    # training mode: the softmax path (the multiplier inside its blocks), the
    # explicit probabilities (return_weights) and the "xla" implementation
    # draw the same Dropout mask and give the same outputs and gradients
    x = inputs(2, (B, 130, F))

    def run(implementation, return_weights):
        model = MultiHeadAttention(
            num_heads=H, dropout_rate=0.3, implementation=implementation
        )

        def f(p, x):
            out = model.apply(
                {"params": p},
                x,
                is_causal=True,
                deterministic=False,
                return_weights=return_weights,
                rngs={"dropout": jax.random.key(5)},
            )
            return jnp.sum(jnp.sin(out[0] if return_weights else out))

        return jax.jit(jax.value_and_grad(f, (0, 1)))(params(), x)

    fast = run("softmax", False)
    kept = MHA.apply({"params": params()}, x, is_causal=True)
    assert abs(float(fast[0]) - float(jnp.sum(jnp.sin(kept)))) > 1e-2  # dropped
    for other in (run("softmax", True), run("xla", False)):
        for a, b in zip(jax.tree.leaves(other), jax.tree.leaves(fast), strict=True):
            np.testing.assert_allclose(b, a, atol=2e-5, rtol=1e-5)


def test_multi_head_attention_is_causal_flag():
    x = inputs()
    ref = MHA.apply({"params": params()}, x, mask=causal_mask(L))
    got = MHA.apply({"params": params()}, x, is_causal=True)
    np.testing.assert_allclose(got, ref, atol=1e-6)
    (_, weights) = MHA.apply(
        {"params": params()}, x, is_causal=True, return_weights=True
    )
    np.testing.assert_allclose(jnp.triu(weights[0, 0], 1), 0.0)
    with pytest.raises(ValueError, match="is_causal"):
        MHA.apply({"params": params()}, x, inputs(1, (B, L + 1, F)), is_causal=True)
    with pytest.raises(TypeError, match="is_causal"):
        dot_product_attention(x[..., None], x[..., None], x[..., None], is_causal=1)
    with pytest.raises(ValueError, match="length"):
        causal_blocks(0)


def test_kv_cache_decoding_equals_causal_attention():
    model = MultiHeadAttention(num_heads=H, rotary=True)
    x = inputs()
    p = jax.jit(model.init)(jax.random.key(1), x)["params"]
    apply = jax.jit(model.apply)
    full = apply({"params": p}, x, mask=causal_mask(L))
    cache = init_kv_cache(B, L + 2, H, F // H)
    y0, cache = apply({"params": p}, x[:, :3], cache=cache)  # prefill
    steps = [y0]
    for t in range(3, L):
        y, cache = apply({"params": p}, x[:, t : t + 1], cache=cache)
        steps.append(y)
    assert isinstance(cache, KVCache) and int(cache.length) == L
    np.testing.assert_allclose(jnp.concatenate(steps, 1), full, atol=1e-5)


def test_sown_weights_for_plots():
    apply = jax.jit(functools.partial(MHA.apply, mutable=["intermediates"]))
    _, variables = apply({"params": params()}, inputs(), mask=causal_mask(L))
    (weights,) = variables["intermediates"]["attention_weights"]
    assert weights.shape == (B, H, L, L)
    np.testing.assert_allclose(jnp.triu(weights[0, 0], 1), 0.0)


def test_bad_inputs_name_the_argument():
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(num_heads=3).init(jax.random.key(0), inputs())
    with pytest.raises(ValueError, match="num_heads"):
        MultiHeadAttention(num_heads=3, qkv_features=32)
    with pytest.raises(ValueError, match="mask"):
        MHA.apply({"params": params()}, inputs(), mask=jnp.ones((B, 1, L, L + 1), bool))
    with pytest.raises(ValueError, match="mask"):
        MHA.apply({"params": params()}, inputs(), mask=jnp.ones((L, L), bool))
    with pytest.raises(TypeError, match="mask"):
        MHA.apply({"params": params()}, inputs(), mask=jnp.ones((1, 1, L, L)))
    with pytest.raises(ValueError, match="implementation"):
        MultiHeadAttention(num_heads=2, implementation="flash")
    with pytest.raises(ValueError, match="inputs_q"):
        MHA.apply({"params": params()}, inputs()[0])
