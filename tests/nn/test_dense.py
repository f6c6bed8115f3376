"""``jnn.nn.flat_dot_general``: Flax's dense layers on sequences as one 2-D product."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.nn import flat_dot_general

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
    (dot,) = [e for e in jaxpr.eqns if e.primitive.name == "dot_general"]
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
