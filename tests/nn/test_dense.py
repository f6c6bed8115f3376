"""``jnn.nn.flat_dot_general``: Flax's dense layers on sequences as one 2-D product."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.nn import flat_dot_general
from jnn.nn.dense import narrowing_product


def _dots(jaxpr) -> list:
    """The ``dot_general`` equations of ``jaxpr``, inside custom rules too."""
    found = []
    for e in jaxpr.eqns:
        if e.primitive.name == "dot_general":
            found.append(e)
        for p in e.params.values():
            inner = getattr(p, "jaxpr", None)
            if inner is not None:
                found += _dots(getattr(inner, "jaxpr", inner))
    return found


# (lhs shape, rhs shape, dimension numbers, flattened?)
CASES = [
    ((4, 5, 6), (6, 3), (((2,), (0,)), ((), ())), True),  # nn.Dense on (B, T, F)
    ((4, 5, 6), (6, 2, 3), (((2,), (0,)), ((), ())), True),  # DenseGeneral to (H, D)
    ((4, 5, 2, 3), (2, 3, 7), (((2, 3), (0, 1)), ((), ())), True),  # from (H, D)
    ((4, 6), (6, 3), (((1,), (0,)), ((), ())), False),  # already a matrix
    ((4, 5, 6), (4, 6, 3), (((2,), (1,)), ((0,), (0,))), False),  # batch dims
    ((6, 4, 5), (6, 3), (((0,), (0,)), ((), ())), False),  # leading axis
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}x{c[1]}")
def test_equals_lax_dot_general_values_and_gradients(case):
    lhs_shape, rhs_shape, dims, flattened = case
    kl, kr, kg = jax.random.split(jax.random.key(0), 3)
    lhs, rhs = jax.random.normal(kl, lhs_shape), jax.random.normal(kr, rhs_shape)

    def run(dot):
        y = dot(lhs, rhs, dims)
        g = jax.random.normal(kg, y.shape)
        grads = jax.grad(lambda a, b: jnp.sum(dot(a, b, dims) * g), (0, 1))(lhs, rhs)
        return y, *grads

    ref = run(jax.lax.dot_general)
    for a, b in zip(ref, jax.jit(lambda: run(flat_dot_general))(), strict=True):
        np.testing.assert_allclose(b, a, atol=2e-5, rtol=1e-5)
    # the flattened form is one 2-D product; the others are passed on as given
    jaxpr = jax.make_jaxpr(lambda a, b: flat_dot_general(a, b, dims))(lhs, rhs)
    (dot,) = _dots(jaxpr.jaxpr)
    n = len(dims[0][0])
    matrix = (int(np.prod(lhs_shape[:-n])), int(np.prod(lhs_shape[-n:])))
    assert dot.invars[0].aval.shape == (matrix if flattened else lhs_shape)


def test_plugs_into_flax_dense_layers_with_their_parameters():
    x = jax.random.normal(jax.random.key(1), (2, 7, 8))
    for flax_layer in (
        lambda **kw: nn.Dense(5, **kw),
        lambda **kw: nn.DenseGeneral((2, 3), **kw),
    ):
        plain, flat = flax_layer(), flax_layer(dot_general=flat_dot_general)
        params = plain.init(jax.random.key(2), x)
        assert jax.tree.structure(params) == jax.tree.structure(
            flat.init(jax.random.key(2), x)
        )
        np.testing.assert_allclose(
            flat.apply(params, x), plain.apply(params, x), atol=1e-5
        )


def test_narrowing_product_kernel_gradient_is_taken_as_its_transpose():
    """A narrowing layer (K >= 2N) computes X^T G as (G^T X)^T, same values."""
    kx, kw, kg = jax.random.split(jax.random.key(3), 3)
    x, w = jax.random.normal(kx, (64, 12)), jax.random.normal(kw, (12, 4))
    g = jax.random.normal(kg, (64, 4))

    def loss(dot, x, w):
        return jnp.sum(dot(x, w) * g)

    for argnums in ((0, 1), 0, 1):
        ref = jax.grad(lambda x, w: loss(jnp.matmul, x, w), argnums)(x, w)
        got = jax.grad(lambda x, w: loss(narrowing_product, x, w), argnums)(x, w)
        for a, b in zip(jax.tree.leaves(ref), jax.tree.leaves(got), strict=True):
            np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(x.T @ g, jax.grad(loss, 2)(narrowing_product, x, w),
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    # reverse mode (after the primal product): the kernel gradient is the
    # (N, K) product behind a barrier (so that XLA keeps its orientation);
    # the input gradient alone computes no kernel-gradient product at all
    grad_w = jax.make_jaxpr(jax.grad(lambda w: loss(narrowing_product, x, w)))(w)
    assert "optimization_barrier" in str(grad_w)
    assert [e.outvars[0].aval.shape for e in _dots(grad_w.jaxpr)] == [(64, 4), (4, 12)]
    grad_x = jax.make_jaxpr(jax.grad(lambda x: loss(narrowing_product, x, w)))(x)
    assert [e.outvars[0].aval.shape for e in _dots(grad_x.jaxpr)] == [(64, 4), (64, 12)]
    # forward mode and second order
    t = jax.random.normal(kg, w.shape)
    np.testing.assert_allclose(
        jax.jvp(lambda w: narrowing_product(x, w), (w,), (t,))[1], x @ t, atol=1e-5
    )
    hess = jax.hessian(lambda w: loss(narrowing_product, x, jnp.tanh(w)))(w)
    ref = jax.hessian(lambda w: loss(jnp.matmul, x, jnp.tanh(w)))(w)
    np.testing.assert_allclose(hess, ref, atol=1e-4, rtol=1e-4)


def test_only_narrowing_layers_take_the_transposed_kernel_gradient():
    dims = (((2,), (0,)), ((), ()))
    for k, n, narrowing in ((8, 4, True), (8, 5, False), (4, 8, False)):
        lhs, rhs = jnp.ones((2, 3, k)), jnp.ones((k, n))
        jaxpr = jax.make_jaxpr(
            jax.grad(lambda b, lhs=lhs: jnp.sum(flat_dot_general(lhs, b, dims)))
        )(rhs)
        assert ("optimization_barrier" in str(jaxpr)) == narrowing, (k, n)
