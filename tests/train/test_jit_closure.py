"""Public functions run inside a user's ``jit`` with data closed over."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.static import MLP
from jnn.train import classification_loss, gradient_learner, run
from tests.conftest import load


def test_run_inside_jit_with_closed_over_labels_checks_before_and_skips_inside():
    data = load("digits").train
    train = {k: jnp.asarray(v[:256]) for k, v in data.items()}
    model = MLP((8, 10))
    learner = gradient_learner(model, classification_loss(model), optax.sgd(0.1))
    # the label check reads the closed-over labels' values inside the trace:
    # through a host copy, not jnp (a ConcretizationTypeError before the fix)
    jitted = jax.jit(lambda k: run(learner, train, key=k, epochs=2, batch_size=64))
    history = jitted(jax.random.key(0)).history["loss"]
    eager = run(learner, train, key=jax.random.key(0), epochs=2, batch_size=64)
    np.testing.assert_allclose(history, eager.history["loss"], rtol=1e-5)
    bad = {**train, "y": train["y"].at[0].set(10)}
    with pytest.raises(ValueError, match="class labels"):
        run(learner, bad, key=jax.random.key(0), epochs=1, batch_size=64)
