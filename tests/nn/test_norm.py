"""``jnn.nn.LayerNorm`` / ``GroupNorm``: Flax's norms in fewer CPU passes."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from jnn.nn import GroupNorm, LayerNorm, group_norm, layer_norm


def _inputs(shape=(3, 5, 8), seed=0):
    kx, ks, kb, kg = jax.random.split(jax.random.key(seed), 4)
    x = 2.0 * jax.random.normal(kx, shape) + 0.5
    scale = 1.0 + 0.3 * jax.random.normal(ks, shape[-1:])
    bias = 0.1 * jax.random.normal(kb, shape[-1:])
    return x, scale, bias, jax.random.normal(kg, shape)


def _derivatives(f, args, g, outer=lambda y: y):
    """``f(x, scale, bias)``, the gradient of ``sum(outer(f) * g)``, a JVP and
    Hessian-vector products, along tangents ``(g, scale / 2, -bias)``."""
    _, scale, bias = args
    loss = lambda *a: jnp.sum(outer(f(*a)) * g)  # noqa: E731
    tangents = (g, 0.5 * scale, -bias)
    _, tangent = jax.jvp(f, args, tangents)
    _, hvp = jax.jvp(jax.grad(loss, (0, 1, 2)), args, tangents)
    return f(*args), *jax.grad(loss, (0, 1, 2))(*args), tangent, *hvp


@pytest.mark.parametrize("epsilon", [1e-5, 0.3])
def test_layer_norm_equals_flax_values_gradients_and_higher_orders(epsilon):
    x, scale, bias, g = _inputs()
    params = {"params": {"scale": scale, "bias": bias}}
    flax_norm = nn.LayerNorm(epsilon)

    def reference(x, scale, bias):
        p = {"params": {"scale": scale, "bias": bias}}
        return flax_norm.apply(p, x)

    def fast(x, scale, bias):
        return layer_norm(x, scale, bias, epsilon)

    args = (x, scale, bias)
    expected, got = _derivatives(reference, args, g), _derivatives(fast, args, g)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(b, a, atol=2e-5, rtol=1e-5)
    # the module: Flax's parameters, Flax's output, on either path
    x2 = x.reshape(-1, 8)
    for path in ("auto", "fast", "reference"):
        module = LayerNorm(epsilon, path=path)
        assert jax.tree.map(jnp.shape, module.init(jax.random.key(1), x2)) == {
            "params": {"scale": (8,), "bias": (8,)}
        }
        np.testing.assert_allclose(
            module.apply(params, x2), flax_norm.apply(params, x2), atol=2e-6
        )


def test_layer_norm_output_is_normalised_and_the_fast_path_is_taken_on_cpu():
    x, _, _, _ = _inputs((4, 16), seed=2)
    y = layer_norm(x, jnp.ones(16), jnp.zeros(16), 1e-6)
    np.testing.assert_allclose(jnp.mean(y, -1), 0.0, atol=1e-6)
    np.testing.assert_allclose(jnp.var(y, -1), 1.0, atol=1e-4)
    # "auto" on CPU traces the custom_jvp; "reference" and non-plain inputs
    # (a mask, bfloat16) run Flax's code
    module = LayerNorm()
    params = module.init(jax.random.key(0), x)

    def primitives(path, *args, **kwargs):
        f = lambda x: LayerNorm(path=path).apply(params, x, **kwargs)  # noqa: E731
        return {e.primitive.name for e in jax.make_jaxpr(f)(*args).eqns}

    assert "custom_jvp_call" in primitives("auto", x)
    assert "custom_jvp_call" not in primitives("reference", x)
    assert "custom_jvp_call" not in primitives("auto", x, mask=x > 0)
    assert "custom_jvp_call" not in primitives("auto", x.astype(jnp.bfloat16))
    with pytest.raises(ValueError, match="path"):
        LayerNorm(path="flash").init(jax.random.key(0), x)


GROUP_CASES = [  # (shape, num_groups, group_size, epsilon)
    ((3, 5, 4, 8), 2, None, 1e-6),
    ((3, 5, 4, 8), None, 4, 1e-6),
    ((2, 7, 12), 3, None, 0.3),
    ((4, 6), 6, None, 1e-5),
]


@pytest.mark.parametrize(("shape", "groups", "size", "epsilon"), GROUP_CASES)
def test_group_norm_equals_flax_values_gradients_and_higher_orders(
    shape, groups, size, epsilon
):
    x, scale, bias, g = _inputs(shape, seed=3)
    x = x + 3.0  # a mean far from zero: the variance's cancellation, as Flax's
    flax_norm = nn.GroupNorm(groups, group_size=size, epsilon=epsilon)
    n_groups = groups or shape[-1] // size

    def reference(x, scale, bias):
        return flax_norm.apply({"params": {"scale": scale, "bias": bias}}, x)

    def fast(x, scale, bias):
        return group_norm(x, scale, bias, n_groups, epsilon)

    args = (x, scale, bias)
    expected = _derivatives(reference, args, g, jnp.tanh)
    got = _derivatives(fast, args, g, jnp.tanh)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_allclose(b, a, atol=5e-5, rtol=1e-4)
    # the module: Flax's parameters and output on every path
    params = {"params": {"scale": scale, "bias": bias}}
    for path in ("auto", "fast", "reference"):
        module = GroupNorm(groups, group_size=size, epsilon=epsilon, path=path)
        assert jax.tree.map(jnp.shape, module.init(jax.random.key(1), x)) == {
            "params": {"scale": shape[-1:], "bias": shape[-1:]}
        }
        np.testing.assert_allclose(
            module.apply(params, x), reference(x, scale, bias), atol=5e-6
        )


def test_group_norm_equals_pytorch_and_takes_per_channel_sums_on_cpu():
    x, scale, bias, _ = _inputs((2, 6, 5, 12), seed=4)
    ours = group_norm(x, scale, bias, 4, 1e-5)
    peer = torch.nn.GroupNorm(4, 12, eps=1e-5)
    with torch.no_grad():
        peer.weight.copy_(torch.from_numpy(np.array(scale)))
        peer.bias.copy_(torch.from_numpy(np.array(bias)))
        out = peer(torch.from_numpy(np.array(x)).permute(0, 3, 1, 2))
    np.testing.assert_allclose(
        ours, out.permute(0, 2, 3, 1).numpy(), atol=2e-6, rtol=1e-5
    )
    # "auto" on CPU sums (N, H W, C) rows per channel (3-D reductions);
    # "reference" and non-plain configurations run Flax's 5-D group reduction
    module = GroupNorm(4)
    params = module.init(jax.random.key(0), x)

    def reduced_ranks(path, x, **kwargs):
        f = lambda x: GroupNorm(4, path=path, **kwargs).apply(params, x)  # noqa: E731
        eqns = jax.make_jaxpr(f)(x).eqns
        return {e.invars[0].aval.ndim for e in eqns if e.primitive.name == "reduce_sum"}

    assert reduced_ranks("auto", x) == {3}
    assert 5 in reduced_ranks("reference", x)
    assert 5 in reduced_ranks("auto", x, use_fast_variance=False)
    assert 5 in reduced_ranks("auto", x.astype(jnp.bfloat16))
    with pytest.raises(ValueError, match="path"):
        GroupNorm(4, path="flash").init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="Number of groups"):
        GroupNorm(5).init(jax.random.key(0), x)  # Flax's own check
