"""The CNN models under jit and vmap: one trace per compiled step, same values."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.cnn import LeNet5, mobilenet_v2_mnist, shufflenet_v1_mnist
from jnn.train import classification_loss, gradient_learner

# Small configurations: LeNet-5 on 32x32 (its default path: the fast one on
# CPU), the efficient nets as tests/cnn/test_efficient.py uses them on 8x8.
MODELS = {
    "lenet5": (lambda: LeNet5(variant="modern"), (32, 32)),
    "mobilenet": (
        lambda: mobilenet_v2_mnist(
            image_size=8, settings=((1, 8, 1, 1), (3, 24, 1, 2), (1, 24, 1, 1))
        ),
        (8, 8),
    ),
    "shufflenet": (
        lambda: shufflenet_v1_mnist(
            image_size=8, stage_channels=(48,), stage_repeats=(2,), stem_features=8
        ),
        (8, 8),
    ),
}


def _batch(size, seed=0):
    x = jax.random.normal(jax.random.key(seed), (8, *size, 1))
    return {"x": x, "y": (jnp.arange(8, dtype=jnp.int32) + seed) % 10}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_one_trace_per_training_step_and_jit_vmap_equal_eager(name):
    build, size = MODELS[name]
    model = build()
    learner = gradient_learner(model, classification_loss(model), optax.adam(1e-3))
    state = jax.jit(learner.init)(jax.random.key(0), _batch(size))
    chex.clear_trace_counter()  # every learner's update shares one code object
    step = jax.jit(chex.assert_max_traces(learner.update, n=1))
    for seed in (1, 2, 3):  # new batches and keys, same shapes: no new trace
        state, metrics = step(state, _batch(size, seed), jax.random.key(seed))
    assert int(state.step) == 3 and np.isfinite(float(metrics["loss"]))

    variables = {"params": state.params}
    x = _batch(size, seed=4)["x"]
    eager = model.apply(variables, x)
    compiled = jax.jit(model.apply)(variables, x)
    # one image at a time, vmapped over the batch: no example sees another
    per_image = jax.jit(jax.vmap(lambda image: model.apply(variables, image[None])[0]))
    assert eager.shape == (8, 10) and float(jnp.std(eager)) > 0
    np.testing.assert_allclose(compiled, eager, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(per_image(x), eager, rtol=1e-5, atol=1e-5)
