"""Players taking turns (GAN pattern), keyed evaluation, boundary checks."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jnn
from jnn.train import (
    Player,
    classification_loss,
    fit,
    gradient_learner,
    players_learner,
    run,
)
from tests.conftest import load

ETA = 0.1


def bilinear_players(critic_steps=1, split=False):
    """min_x max_y f = x y: x descends, y ascends (the loss of y is -x y)."""

    def init(key, batch):
        return {"x": jnp.float32(1.0), "y": jnp.float32(0.5)}, {}

    def loss_y(params, batch, ctx):
        return -params["x"] * params["y"] * jnp.mean(batch["w"]), {}, ctx.model_state

    def loss_x(params, batch, ctx):
        return params["x"] * params["y"] * jnp.mean(batch["w"]), {}, ctx.model_state

    return players_learner(
        init,
        {
            "y": Player(loss_y, optax.sgd(ETA), steps=critic_steps, split_batch=split),
            "x": Player(loss_x, optax.sgd(ETA)),
        },
    )


def test_alternating_gradient_descent_ascent_closed_form():
    # y_{t+1} = y_t + eta x_t ; x_{t+1} = x_t - eta y_{t+1} (y moves first)
    data = {"w": jnp.ones((4,))}
    out = run(bilinear_players(), data, key=jax.random.key(0), epochs=50)
    x, y = 1.0, 0.5
    for _ in range(50):
        y = y + ETA * x
        x = x - ETA * y
    np.testing.assert_allclose(out.state.params["x"], x, rtol=1e-5)
    np.testing.assert_allclose(out.state.params["y"], y, rtol=1e-5)
    # alternating GDA on a bilinear game stays bounded (simultaneous diverges)
    assert abs(x) < 2 and abs(y) < 2


def test_critic_steps_and_split_batches():
    # 3 critic steps per round, each on its third of the batch (weights w)
    w = jnp.array([1.0, 1.0, 2.0, 2.0, 3.0, 3.0])
    out = run(
        bilinear_players(critic_steps=3, split=True),
        {"w": w},
        key=jax.random.key(0),
        epochs=4,
    )
    x, y = 1.0, 0.5
    for _ in range(4):
        for scale in (1.0, 2.0, 3.0):
            y = y + ETA * scale * x
        x = x - ETA * 2.0 * y  # the generator sees the whole batch: mean 2
    np.testing.assert_allclose(out.state.params["x"], x, rtol=1e-5)
    np.testing.assert_allclose(out.state.params["y"], y, rtol=1e-5)
    metrics = set(out.history)
    assert {"y_loss", "y_grad_norm", "x_loss", "x_grad_norm"} <= metrics
    with pytest.raises(ValueError, match="multiple of it"):
        run(
            bilinear_players(critic_steps=4, split=True),
            {"w": w},
            key=jax.random.key(0),
            epochs=1,
        )


def test_players_are_checked():
    with pytest.raises(TypeError, match="players"):
        players_learner(lambda k, b: ({}, {}), {})
    with pytest.raises(TypeError, match=r"players\['g'\]"):
        players_learner(lambda k, b: ({}, {}), {"g": (lambda *a: 0, optax.sgd(1))})
    with pytest.raises(ValueError, match="steps"):
        players_learner(
            lambda k, b: ({}, {}), {"g": Player(lambda *a: 0, optax.sgd(1), steps=0)}
        )


def test_keyed_evaluation_draws_from_the_epoch_key():
    base = jnn.static.kmeans(3)

    def evaluate(state, data, key):  # a Monte Carlo estimate needs a key
        rows = jax.random.choice(key, data["x"].shape[0], (8,))
        return {
            "sampled_inertia": base.evaluate(state, {"x": data["x"][rows]})["inertia"]
        }

    learner = base._replace(evaluate=evaluate)
    x = {"x": load("iris").train["x"]}
    a = fit(learner, x, key=jax.random.key(0), epochs=6, val=x)
    b = fit(learner, x, key=jax.random.key(0), epochs=6, val=x)
    np.testing.assert_array_equal(
        a.history["val_sampled_inertia"], b.history["val_sampled_inertia"]
    )
    # k-means converges within a few epochs; the sampled estimate keeps moving
    # because every epoch evaluates with a fresh key
    assert len(np.unique(a.history["val_sampled_inertia"][-3:])) == 3
    # two-argument evaluate of existing learners keeps working
    plain = fit(base, x, key=jax.random.key(0), epochs=3, val=x)
    assert plain.history["val_inertia"].shape == (3,)


def test_val_must_look_like_train():
    iris = load("iris")
    model = jnn.static.MLP(features=(8, 3))
    learner = gradient_learner(model, classification_loss(model), optax.sgd(0.1))
    key = jax.random.key(0)
    wrong_shape = {"x": iris.val["x"][:, :3], "y": iris.val["y"]}
    with pytest.raises(ValueError, match=r"`val\['x'\]` must have the shape"):
        fit(learner, iris.train, key=key, epochs=1, batch_size=16, val=wrong_shape)
    float_labels = {"x": iris.val["x"], "y": iris.val["y"].astype(jnp.float32)}
    with pytest.raises(TypeError, match=r"`val\['y'\]`"):
        fit(learner, iris.train, key=key, epochs=1, batch_size=16, val=float_labels)
    train_float = {"x": iris.train["x"], "y": iris.train["y"].astype(jnp.float32)}
    with pytest.raises(TypeError, match=r"`train\['y'\]` must have an integer dtype"):
        fit(learner, train_float, key=key, epochs=1, batch_size=16)
    with pytest.raises(ValueError, match=r"`train` has no entry 'y'"):
        fit(learner, {"x": iris.train["x"]}, key=key, epochs=1, batch_size=16)


def test_players_update_is_traced_once():
    learner = bilinear_players(critic_steps=2, split=True)
    step = jax.jit(chex.assert_max_traces(learner.update, n=1))
    batch = {"w": jnp.ones((4,))}
    state = learner.init(jax.random.key(0), batch)
    state, _ = step(state, batch, jax.random.key(1))
    step(state, {"w": jnp.full((4,), 2.0, jnp.float32)}, jax.random.key(2))
