"""``jnn.nn`` convolutions: the fast path equals XLA's (``lax``, Flax) and is used."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.nn import (
    ConvTranspose,
    conv_fn,
    conv_general_dilated,
    conv_transpose,
    resolve_path,
)

# (input shape, kernel shape, strides, padding, lhs_dilation, rhs_dilation)
CASES = [
    ((2, 9, 9, 3), (3, 3, 3, 4), (1, 1), "SAME", None, None),
    ((2, 9, 9, 3), (3, 3, 3, 4), (2, 2), "SAME", None, None),
    ((2, 10, 9, 3), (4, 4, 3, 5), (2, 2), ((1, 1), (1, 1)), None, None),
    ((2, 9, 9, 3), (3, 2, 3, 4), (1, 2), "VALID", None, (2, 1)),
    ((2, 7, 7, 3), (4, 4, 3, 4), (1, 1), ((2, -1), (2, 2)), (2, 2), None),
    ((2, 11, 3), (3, 3, 4), (2,), "SAME", None, None),
    ((1, 5, 6, 7, 2), (2, 3, 2, 2, 3), (1, 2, 1), "SAME", None, None),
    # unit stride in 2-D: the row form (row_patches), every padding kind
    ((2, 8, 10, 3), (2, 3, 3, 4), (1, 1), "VALID", None, (3, 2)),
    ((2, 9, 7, 2), (5, 3, 2, 3), (1, 1), ((3, -1), (0, 2)), None, None),
    ((1, 6, 6, 4), (1, 1, 4, 2), (1, 1), "SAME", None, None),
    # strides 3 and 2 with input and kernel dilation: taps cross stride phases
    ((2, 12, 11, 3), (3, 3, 3, 2), (3, 2), ((1, 0), (2, 1)), (2, 1), (2, 3)),
]


def _layout(ndim):
    spatial = "DHW"[3 - (ndim - 2) :]
    return (f"N{spatial}C", f"{spatial}IO", f"N{spatial}C")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[2]}-{c[3]}")
def test_fast_conv_equals_lax_outputs_gradients_and_tangents(case):
    shape, kshape, strides, padding, lhs_d, rhs_d = case
    kx, kk, kg, kt = jax.random.split(jax.random.key(0), 4)
    x, k = jax.random.normal(kx, shape), jax.random.normal(kk, kshape)
    kw = {
        "lhs_dilation": lhs_d,
        "rhs_dilation": rhs_d,
        "dimension_numbers": _layout(len(shape)),
    }

    def run(conv):
        f = lambda x, k: conv(x, k, strides, padding, **kw)  # noqa: E731
        y = f(x, k)
        g = jax.random.normal(kg, y.shape)
        grads = jax.grad(lambda x, k: jnp.sum(f(x, k) * g), (0, 1))(x, k)
        tx, tk = jax.random.normal(kt, shape), jax.random.normal(kt, kshape)
        _, tangent = jax.jvp(f, (x, k), (tx, tk))
        return y, *grads, tangent

    ref, fast = (
        run(jax.lax.conv_general_dilated),
        jax.jit(lambda: run(conv_general_dilated))(),
    )
    # float32 sums of <= 36 products of N(0, 1) terms, reordered: ~1e-5
    for a, b in zip(ref, fast, strict=True):
        np.testing.assert_allclose(b, a, atol=5e-5, rtol=1e-5)


def _flat_eqns(jaxpr):
    """The equations of ``jaxpr`` with nested calls (pjit, custom_jvp) inlined."""
    eqns = list(jaxpr.eqns)
    while any(e.primitive.name in ("pjit", "custom_jvp_call") for e in eqns):
        inner = []
        for e in eqns:
            sub = e.params.get("jaxpr") or e.params.get("call_jaxpr")
            inner.extend(getattr(sub, "jaxpr", sub).eqns if sub is not None else [e])
        eqns = inner
    return eqns


def _kernel_gradient_products(strides):
    """Equations and matrix-product shapes of a 3 x 3 (3 -> 4) kernel gradient."""
    x, k = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 4))

    def loss(k):
        y = conv_general_dilated(x, k, strides, "SAME", dimension_numbers=_layout(4))
        return jnp.sum(jnp.tanh(y))

    eqns = _flat_eqns(jax.make_jaxpr(jax.grad(loss))(k).jaxpr)
    dots = [e.outvars[0].aval.shape for e in eqns if e.primitive.name == "dot_general"]
    return eqns, dots


def test_kernel_gradient_is_the_wide_product_behind_a_barrier():
    # the kernel gradient comes out as g^T P (D, k k C_in), the orientation
    # XLA's CPU backend runs ~2x faster, kept apart from its transpose
    eqns, dots = _kernel_gradient_products((2, 2))
    assert (4, 27) in dots and (27, 4) not in dots
    barriers = [e for e in eqns if e.primitive.name == "optimization_barrier"]
    assert any(v.aval.shape == (4, 27) for e in barriers for v in e.outvars)


def test_unit_stride_kernel_gradient_takes_the_row_form():
    # stride 1 in 2-D: one product of the row patches (k_w C = 9 columns) with
    # the output gradient at k_h = 3 row shifts (k_h D = 12), not the full
    # im2col's (D, k_h k_w C) = (4, 27)
    _, dots = _kernel_gradient_products((1, 1))
    assert (12, 9) in dots
    assert (4, 27) not in dots and (27, 4) not in dots


def test_fast_gradient_has_no_gradient_convolution():
    # the point of the fast path: no XLA convolution in the backward pass, also
    # at second order (a gradient penalty differentiates the gradient again)
    x, k = jnp.ones((2, 8, 8, 3)), jnp.ones((3, 3, 3, 4))
    for conv, first, second in ((conv_fn("fast"), 1, 1), (conv_fn("reference"), 3, 5)):

        def loss(x, k, c=conv):
            y = c(x, k, (1, 1), "SAME", dimension_numbers=_layout(4))
            return jnp.sum(jnp.tanh(y))

        def penalty(k):
            return jnp.sum(jax.grad(loss)(x, k) ** 2)

        jaxpr = str(jax.make_jaxpr(jax.grad(loss, (0, 1)))(x, k))
        assert jaxpr.count("conv_general_dilated") == first
        assert (
            str(jax.make_jaxpr(jax.grad(penalty))(k)).count("conv_general_dilated")
            == second
        )


def test_fast_second_order_equals_lax():
    kx, kk = jax.random.split(jax.random.key(2))
    x, k = jax.random.normal(kx, (2, 7, 7, 3)), jax.random.normal(kk, (3, 3, 3, 4))

    def penalty(conv):
        def loss(x, k):
            y = conv(x, k, (2, 2), "SAME", dimension_numbers=_layout(4))
            return jnp.sum(jnp.tanh(y))

        return lambda k: jnp.sum(jax.grad(loss)(x, k) ** 2)

    want = jax.grad(penalty(jax.lax.conv_general_dilated))(k)
    got = jax.jit(jax.grad(penalty(conv_general_dilated)))(k)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_grouped_convolution_falls_back_to_lax():
    x, k = jax.random.normal(jax.random.key(1), (2, 6, 6, 4)), jnp.ones((3, 3, 2, 4))
    args = ((1, 1), "SAME")
    kw = {"dimension_numbers": _layout(4), "feature_group_count": 2}
    np.testing.assert_array_equal(
        conv_general_dilated(x, k, *args, **kw),
        jax.lax.conv_general_dilated(x, k, *args, **kw),
    )


@pytest.mark.parametrize(
    "strides, padding",
    [((2, 2), "SAME"), ((2, 2), "VALID"), ((2, 2), ((0, 2), (2, 1))), ((1, 1), "SAME")],
)
def test_conv_transpose_module_equals_flax(strides, padding):
    x = jax.random.normal(jax.random.key(0), (2, 7, 7, 5))
    ref = nn.ConvTranspose(4, (3, 3), strides=strides, padding=padding)
    params = ref.init(jax.random.key(1), x)
    for path in ("fast", "reference"):
        layer = ConvTranspose(
            4, (3, 3), strides=strides, padding=padding, conv_path=path
        )
        own = layer.init(jax.random.key(1), x)  # same initialisers and shapes
        jax.tree.map(np.testing.assert_array_equal, own, params)
        loss = lambda p, x, m: jnp.sum(jnp.sin(m.apply(p, x)))  # noqa: E731
        np.testing.assert_allclose(
            layer.apply(params, x), ref.apply(params, x), atol=1e-5
        )
        g_ref = jax.grad(loss, (0, 1))(params, x, ref)
        g_own = jax.grad(loss, (0, 1))(params, x, layer)
        jax.tree.map(
            lambda a, b: np.testing.assert_allclose(a, b, atol=5e-5), g_own, g_ref
        )
    assert conv_transpose(x, jnp.ones((3, 3, 5, 2)), (2, 2)).shape == (2, 14, 14, 2)


def test_bad_path_is_a_value_error():
    assert resolve_path("auto") == (
        "fast" if jax.default_backend() == "cpu" else "reference"
    )
    with pytest.raises(ValueError, match="`path` must be one of"):
        conv_fn("cuda")
    with pytest.raises(ValueError, match="`conv_path` must be one of"):
        conv_fn("gpu", "conv_path")
