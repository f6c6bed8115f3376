"""simulate_ensemble: many starts as one solve, each meeting its tolerance."""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from jnn.hopfield import chnn, final_state, simulate, simulate_ensemble


def network(n=12, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    w = (a + a.T) / np.sqrt(2 * n)
    np.fill_diagonal(w, 0.0)
    return chnn(w.astype(np.float32), rng.normal(size=n).astype(np.float32), gain=2.0)


def test_ensemble_matches_scipy_and_vmapped_simulate():
    params = network()
    u0s = np.random.default_rng(1).normal(size=(16, 12)).astype(np.float32)
    sol = simulate_ensemble(params, u0s, t1=5.0, until_steady=False)
    finals = np.asarray(sol.ys[-1])
    assert finals.shape == (16, 12)
    w, b = np.asarray(params.weights, np.float64), np.asarray(params.bias, np.float64)

    def f(t, u):
        return -u + w @ (1 / (1 + np.exp(-2.0 * u))) + b

    ref = np.stack(
        [solve_ivp(f, (0, 5), u, rtol=1e-10, atol=1e-12).y[:, -1] for u in u0s]
    )
    assert np.max(np.abs(finals - ref)) < 5e-3  # rtol 1e-3 per member
    one = jax.vmap(
        lambda u: final_state(simulate(params, u, t1=5.0, until_steady=False))
    )
    assert np.max(np.abs(finals - np.asarray(one(jnp.asarray(u0s))))) < 5e-3


def test_ensemble_stops_when_every_member_is_steady():
    params = network(seed=2)
    u0s = np.random.default_rng(3).normal(size=(8, 12)).astype(np.float32)
    sol = simulate_ensemble(params, u0s, t1=1000.0)
    assert float(sol.ts[-1]) < 1000.0  # the event fired
    sol_long = simulate_ensemble(params, u0s, t1=1000.0, until_steady=False)
    assert np.max(np.abs(np.asarray(sol.ys[-1]) - np.asarray(sol_long.ys[-1]))) < 1e-2


def test_ensemble_passes_solvers_through():
    params = network()
    u0s = np.zeros((4, 12), np.float32)
    a = simulate_ensemble(
        params, u0s, t1=3.0, solver=diffrax.Dopri5(), until_steady=False
    )
    b = simulate_ensemble(
        params, u0s, t1=3.0, solver=diffrax.Tsit5(), until_steady=False
    )
    assert np.max(np.abs(np.asarray(a.ys[-1]) - np.asarray(b.ys[-1]))) < 5e-3


def test_ensemble_rejects_bad_starts():
    params = network()
    with pytest.raises(ValueError, match="u0s"):
        simulate_ensemble(params, np.zeros((4, 11), np.float32), t1=1.0)
    with pytest.raises(ValueError, match="u0s"):
        simulate_ensemble(params, np.zeros(12, np.float32), t1=1.0)
    with pytest.raises(ValueError, match="u0s"):
        simulate_ensemble(params, np.full((2, 12), np.nan, np.float32), t1=1.0)
