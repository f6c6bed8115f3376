"""Tests of jnn.train.ema: the moving average of the weights around any learner."""

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.train import (
    Context,
    EMAState,
    apply_model,
    ema_params,
    fit,
    gradient_learner,
    regression_loss,
    with_ema,
)

X = jax.random.normal(jax.random.key(0), (64, 3))
Y = X @ jnp.array([[1.0], [-2.0], [0.5]]) + 0.3
DATA = {"x": X, "y": Y}
MODEL = nn.Dense(1)
INNER = gradient_learner(MODEL, regression_loss(MODEL), optax.sgd(0.05))


def _trajectory(learner, steps):
    """Parameters theta_0 .. theta_n of the wrapped learner, stepped by hand."""
    update = jax.jit(learner.update)
    state = learner.init(jax.random.key(1), DATA)
    params = [state.params]
    for i in range(steps):
        state, _ = update(state, DATA, jax.random.key(i))
        params.append(state.params)
    return params


def test_average_equals_the_closed_form():
    decay, n = 0.9, 12
    learner = with_ema(INNER, decay)
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    state = learner.init(jax.random.key(1), DATA)
    for i in range(n):
        state, metrics = update(state, DATA, jax.random.key(i))
    thetas = _trajectory(INNER, n)
    # avg_n = d^n theta_0 + (1 - d) sum_k d^(n - k) theta_k
    weights = [decay**n] + [(1 - decay) * decay ** (n - k) for k in range(1, n + 1)]
    expected = jax.tree.map(
        lambda *ps: sum(
            w * np.asarray(p, np.float64) for w, p in zip(weights, ps, strict=True)
        ),
        *thetas,
    )
    chex.assert_trees_all_close(ema_params(state), expected, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(state.inner.params, thetas[-1], rtol=1e-6)
    assert int(state.updates) == n and float(metrics["ema_decay"]) == pytest.approx(0.9)


def test_warmup_decay_and_schedule():
    learner = with_ema(INNER, 0.999, warmup=True)
    state = learner.init(jax.random.key(1), DATA)
    decays = []
    for i in range(3):
        state, metrics = learner.update(state, DATA, jax.random.key(i))
        decays.append(float(metrics["ema_decay"]))
    np.testing.assert_allclose(decays, [1 / 10, 2 / 11, 3 / 12], rtol=1e-6)
    # decay 0 after the first update: the average is the newest weights
    learner = with_ema(INNER, lambda step: jnp.where(step < 1, 0.0, 0.5))
    state = learner.init(jax.random.key(1), DATA)
    state, _ = learner.update(state, DATA, jax.random.key(0))
    chex.assert_trees_all_close(state.average, state.inner.params)


def test_fit_trains_and_evaluates_with_the_average():
    learner = with_ema(INNER, 0.8)
    result = fit(
        learner, DATA, key=jax.random.key(2), epochs=5, batch_size=16, val=DATA
    )
    assert isinstance(result.state, EMAState)
    assert result.history["loss"][-1] < result.history["loss"][0]
    averaged = ema_params(result.state)
    out, _ = apply_model(MODEL, averaged, Context(), X)
    expected = float(jnp.mean((out - Y) ** 2))
    assert result.history["val_loss"][-1] == pytest.approx(expected, rel=1e-5)
    own, _ = apply_model(MODEL, result.state.inner.params, Context(), X)
    assert float(jnp.mean((own - Y) ** 2)) != pytest.approx(expected, rel=1e-3)


def test_bad_input():
    with pytest.raises(TypeError, match="learner"):
        with_ema("sgd", 0.9)
    with pytest.raises(ValueError, match="decay"):
        with_ema(INNER, 1.0)
    with pytest.raises(TypeError, match="decay"):
        with_ema(INNER, "0.9")
    with pytest.raises(TypeError, match="warmup"):
        with_ema(INNER, 0.9, warmup=1)
    with pytest.raises(TypeError, match="state"):
        ema_params({"params": 1})
