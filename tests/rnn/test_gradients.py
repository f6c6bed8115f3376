"""R1 diagnostics: BPTT gradients by lag against closed forms and the spectral bound."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.rnn.gradients import (
    DERIVATIVE_BOUNDS,
    _hidden_state_gradients,
    gradient_norms_by_lag,
    hidden_state_gradients,
    largest_singular_value,
    scaled_orthogonal,
    spectral_bound,
)

H, D, T = 6, 3, 12


def problem(seed, scale=1.0, steps=T):
    """Random Elman weights with sigma_max near ``scale`` and random inputs."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=(H, H)) / np.sqrt(H)
    w = scale * w / np.linalg.norm(w, 2)
    arrays = (
        w,
        rng.normal(size=(H, D)),
        0.1 * rng.normal(size=H),
        rng.normal(size=(steps, D)),
        0.5 * rng.normal(size=H),
        rng.normal(size=H),
    )
    return [jnp.asarray(a, jnp.float32) for a in arrays]


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["eager", "jit"])
def test_linear_recurrence_matches_the_closed_form(transform):
    w, u, b, x, h0, v = problem(0, scale=1.1)
    f = transform(lambda *a, **k: hidden_state_gradients(*a, activation="linear", **k))
    grads = np.asarray(f(w, u, b, x, h0, cotangent=v))
    assert grads.shape == (T + 1, H)
    wt = np.asarray(w, np.float64).T
    for k in range(T + 1):  # dL/dh_{T-k} = (W^T)^k v
        expected = np.linalg.matrix_power(wt, k) @ np.asarray(v, np.float64)
        np.testing.assert_allclose(grads[k], expected, rtol=2e-4, atol=1e-5)


def test_tanh_gradients_equal_jacobians_of_the_unrolled_recurrence():
    w, u, b, x, h0, v = problem(1, scale=1.3)
    grads = np.asarray(hidden_state_gradients(w, u, b, x, h0, cotangent=v))

    def run(h, start):  # h_T from h_start, a plain Python loop
        for t in range(start, T):
            h = jnp.tanh(w @ h + u @ x[t] + b)
        return h

    states = [h0]
    for t in range(T):
        states.append(jnp.tanh(w @ states[-1] + u @ x[t] + b))
    for s in (0, 1, 5, T - 1, T):
        jac = jax.jacobian(run)(states[s], s)  # dh_T/dh_s, (H, H)
        np.testing.assert_allclose(grads[T - s], jac.T @ v, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "linear"])
@pytest.mark.parametrize("scale", [0.6, 1.0, 1.6])
def test_norms_never_exceed_the_spectral_bound(activation, scale):
    w, u, b, x, h0, v = problem(2, scale=scale)
    v = v / jnp.linalg.norm(v)
    norms = gradient_norms_by_lag(w, u, b, x, h0, activation=activation, cotangent=v)
    bound = spectral_bound(w, jnp.arange(T + 1), activation=activation)
    assert norms.shape == bound.shape == (T + 1,)
    assert float(norms[0]) == pytest.approx(1.0, rel=1e-6)
    assert (np.asarray(norms) <= np.asarray(bound) * (1 + 1e-4) + 1e-12).all()
    gamma = {"tanh": 1.0, "relu": 1.0, "linear": 1.0, "sigmoid": 0.25}[activation]
    assert DERIVATIVE_BOUNDS[activation] == gamma
    rate = gamma * np.linalg.norm(np.asarray(w), 2)
    np.testing.assert_allclose(bound, rate ** np.arange(T + 1), rtol=1e-4)


@pytest.mark.parametrize("sigma", [0.8, 1.25])
@pytest.mark.parametrize("activation", ["linear", "tanh"])
def test_orthogonal_weights_vanish_below_one_and_explode_above(sigma, activation):
    # With zero inputs, bias and state, tanh'(0) = 1: the bound is attained
    # exactly, ||dL/dh_{T-k}|| = sigma^k, for tanh as for the identity.
    steps = 30
    w = scaled_orthogonal(jax.random.key(3), H, sigma)
    zeros = jnp.zeros(H)
    norms = gradient_norms_by_lag(
        w, jnp.zeros((H, D)), zeros, jnp.zeros((steps, D)), zeros, activation=activation
    )
    np.testing.assert_allclose(norms, sigma ** np.arange(steps + 1.0), rtol=1e-4)
    np.testing.assert_allclose(
        spectral_bound(w, jnp.arange(steps + 1)), norms, rtol=1e-4
    )
    if sigma < 1:
        assert float(norms[-1]) < 2e-3  # 0.8^30 = 1.2e-3: vanished
    else:
        assert float(norms[-1]) > 500  # 1.25^30 = 808: exploded


def test_saturated_tanh_stays_far_below_the_bound_above_one():
    # sigma_max > 1 only *allows* explosion: with large inputs tanh saturates,
    # diag(tanh') is small, and the gradient vanishes anyway.
    steps = 30
    w = scaled_orthogonal(jax.random.key(4), H, 1.25)
    rng = np.random.default_rng(4)
    u = jnp.asarray(5 * rng.normal(size=(H, D)), jnp.float32)
    x = jnp.asarray(rng.normal(size=(steps, D)), jnp.float32)
    zeros = jnp.zeros(H)
    norms = gradient_norms_by_lag(w, u, zeros, x, zeros)
    bound = spectral_bound(w, jnp.arange(steps + 1))
    assert float(bound[-1]) > 500 and float(norms[-1]) < 1e-6
    assert (np.diff(np.asarray(norms)) <= 0).all()  # decays from the first lag


def test_vmap_over_weights_equals_a_loop_and_compiles_once():
    sigmas = (0.5, 0.9, 1.1)
    ws = jnp.stack([scaled_orthogonal(jax.random.key(5), H, s) for s in sigmas])
    _, u, b, x, h0, _ = problem(5)
    before = _hidden_state_gradients._cache_size()
    looped = [gradient_norms_by_lag(w, u, b, x, h0) for w in ws]
    assert _hidden_state_gradients._cache_size() - before <= 1  # one shape, one trace
    batched = jax.vmap(lambda w: gradient_norms_by_lag(w, u, b, x, h0))(ws)
    np.testing.assert_allclose(batched, np.stack(looped), rtol=1e-5, atol=1e-7)


def test_scaled_orthogonal_has_every_singular_value_sigma():
    w = scaled_orthogonal(jax.random.key(6), 8, 0.7)
    assert w.shape == (8, 8) and w.dtype == jnp.float32
    np.testing.assert_allclose(w @ w.T, 0.49 * np.eye(8), atol=1e-5)
    np.testing.assert_allclose(np.abs(np.linalg.eigvals(np.asarray(w))), 0.7, rtol=1e-4)
    assert float(largest_singular_value(w)) == pytest.approx(0.7, rel=1e-5)
    np.testing.assert_array_equal(w, scaled_orthogonal(jax.random.key(6), 8, 0.7))
    assert not np.allclose(w, scaled_orthogonal(jax.random.key(7), 8, 0.7))


def test_bad_input_names_the_argument():
    w, u, b, x, h0, v = problem(8)
    f = gradient_norms_by_lag
    cases = [
        (lambda: f(w[:, :4], u, b, x, h0), ValueError, "`w_hh`"),
        (lambda: f(w, u[:, :2], b, x, h0), ValueError, "`w_xh`"),
        (lambda: f(w, u, b[:4], x, h0), ValueError, "`b`"),
        (lambda: f(w, u, b, x[0], h0), ValueError, "`x`"),
        (lambda: f(w, u, b, x, h0[None]), ValueError, "`h0`"),
        (lambda: f(w, u, b, x, h0, cotangent=v[:2]), ValueError, "`cotangent`"),
        (lambda: f(w, u, b, x.astype(jnp.int32), h0), TypeError, "`x`"),
        (lambda: f(w, u, b, x.at[0, 0].set(jnp.nan), h0), ValueError, "`x`"),
        (lambda: f(w, u, b, x, h0, activation="softsign"), ValueError, "`activation`"),
        (lambda: spectral_bound(w, jnp.arange(3) - 1), ValueError, "`lags`"),
        (lambda: spectral_bound(w, jnp.ones(3)), TypeError, "`lags`"),
        (lambda: spectral_bound(w[:3], jnp.arange(3)), ValueError, "`w_hh`"),
        (lambda: scaled_orthogonal(jax.random.key(0), 4, 0.0), ValueError, "`sigma`"),
        (lambda: scaled_orthogonal(jax.random.key(0), 0, 1.0), ValueError, "`n`"),
        (lambda: scaled_orthogonal(3, 4, 1.0), TypeError, "`key`"),
    ]
    for call, error, name in cases:
        with pytest.raises(error, match=name):
            call()
