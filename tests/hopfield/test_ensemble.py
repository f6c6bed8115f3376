"""simulate_ensemble: many starts as one solve, each meeting its tolerance."""

import functools

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


@functools.cache
def scipy_reference():
    """16 starts of one network integrated to t = 5 by SciPy at rtol 1e-10."""
    params = network()
    u0s = np.random.default_rng(1).normal(size=(16, 12)).astype(np.float32)
    w, b = np.asarray(params.weights, np.float64), np.asarray(params.bias, np.float64)

    def f(t, u):
        return -u + w @ (1 / (1 + np.exp(-2.0 * u))) + b

    ref = np.stack(
        [solve_ivp(f, (0, 5), u, rtol=1e-10, atol=1e-12).y[:, -1] for u in u0s]
    )
    return params, u0s, ref


@functools.cache
def ensemble(solver_name):
    params, u0s, _ = scipy_reference()
    solver = {"Tsit5": diffrax.Tsit5(), "Dopri5": diffrax.Dopri5()}[solver_name]
    return simulate_ensemble(params, u0s, t1=5.0, solver=solver, until_steady=False)


@pytest.mark.parametrize("solver_name", ["Tsit5", "Dopri5"])
def test_ensemble_matches_scipy_with_each_solver(solver_name):
    _, _, ref = scipy_reference()
    sol = ensemble(solver_name)
    finals = np.asarray(final_state(sol))
    assert finals.shape == (16, 12)
    np.testing.assert_array_equal(finals, np.asarray(sol.ys[-1]))
    # rtol 1e-3 per member; measured max error 4.6e-5 (Tsit5), 1.1e-4 (Dopri5)
    assert np.max(np.abs(finals - ref)) < 5e-4
    assert np.max(np.abs(ref - scipy_reference()[1])) > 0.5  # the states moved


def test_ensemble_uses_the_solver_it_is_given_and_matches_vmapped_simulate():
    params, u0s, _ = scipy_reference()
    tsit5, dopri5 = ensemble("Tsit5"), ensemble("Dopri5")
    # another method lands elsewhere (within tolerance of SciPy, above): the
    # solver is not silently replaced by the default (both take 9 steps here)
    gap = np.max(np.abs(np.asarray(tsit5.ys[-1]) - np.asarray(dopri5.ys[-1])))
    assert gap > 1e-6, gap
    one = jax.vmap(
        lambda u: final_state(simulate(params, u, t1=5.0, until_steady=False))
    )
    finals = np.asarray(final_state(tsit5))
    # measured 1.7e-4 between the two (each within 1.7e-4 of SciPy)
    assert np.max(np.abs(finals - np.asarray(one(jnp.asarray(u0s))))) < 5e-4


def test_ensemble_stops_when_every_member_is_steady():
    params = network(seed=2)
    u0s = np.random.default_rng(3).normal(size=(8, 12)).astype(np.float32)
    sol = simulate_ensemble(params, u0s, t1=1000.0)
    assert float(sol.ts[-1]) < 1000.0  # the event fired
    sol_long = simulate_ensemble(params, u0s, t1=1000.0, until_steady=False)
    assert np.max(np.abs(np.asarray(sol.ys[-1]) - np.asarray(sol_long.ys[-1]))) < 1e-2


def test_ensemble_rejects_bad_starts():
    params = network()
    with pytest.raises(ValueError, match="u0s"):
        simulate_ensemble(params, np.zeros((4, 11), np.float32), t1=1.0)
    with pytest.raises(ValueError, match="u0s"):
        simulate_ensemble(params, np.zeros(12, np.float32), t1=1.0)
    with pytest.raises(ValueError, match="u0s"):
        simulate_ensemble(params, np.full((2, 12), np.nan, np.float32), t1=1.0)
