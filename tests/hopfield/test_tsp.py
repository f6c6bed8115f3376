"""Tests of the Hopfield-Tank TSP network and Potts mean-field annealing."""

from __future__ import annotations

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.hopfield import (
    anneal_tsp as anneal,
)
from jnn.hopfield import (
    decode_tour as decode,
)
from jnn.hopfield import (
    dense_weights,
    energy_continuous,
    fault_tolerance,
    final_state,
    held_karp,
    hopfield_tank,
    output,
    potts_energy,
    potts_tsp,
    random_tsp,
    simulate,
    solve_qubo,
    tour_length,
)
from jnn.hopfield import (
    potts_critical_temperature as critical_temperature,
)
from jnn.hopfield import (
    solve_tsp as solve,
)
from jnn.hopfield.problems.tsp_potts import _sweep


def instance(seed: int, n: int) -> np.ndarray:
    return np.asarray(random_tsp(jax.random.key(seed), n)[1])


def test_structured_input_equals_dense_weights_and_minus_gradient():
    network = hopfield_tank(instance(0, 5), A=3.0, B=4.0, C=2.0, D=5.0, n_target=6.0)
    v = jax.random.uniform(jax.random.key(1), (5, 5))
    weights, bias = dense_weights(network)
    assert weights.shape == (25, 25)
    np.testing.assert_allclose(weights, weights.T)
    dense = (weights @ v.reshape(-1) + bias).reshape(5, 5)
    np.testing.assert_allclose(network.synaptic_input(v), dense, rtol=1e-5, atol=1e-5)
    gradient = jax.grad(network.interaction_energy)(v)
    np.testing.assert_allclose(
        network.synaptic_input(v), -gradient, rtol=1e-5, atol=1e-5
    )
    flat = v.reshape(-1)
    expected = -0.5 * flat @ weights @ flat - bias @ flat
    np.testing.assert_allclose(network.interaction_energy(v), expected, rtol=1e-5)


def test_hopfield_tank_energy_of_a_tour_is_its_scaled_length():
    # At a permutation matrix only the D term and the global term remain.
    d = instance(2, 6)
    network = hopfield_tank(d, n_target=6.0)
    tour = np.array([3, 0, 5, 1, 4, 2])
    v = jax.nn.one_hot(tour, 6).T  # v[X, i] = 1 iff tour[i] == X
    constant = 0.5 * 200.0 * 36.0  # C n_t^2 / 2, left out of the interaction
    expected = 500.0 * float(tour_length(d, tour))  # D/2 counts each edge twice
    np.testing.assert_allclose(
        network.interaction_energy(v) + constant, expected, rtol=1e-5
    )


def test_decode():
    tour = np.array([2, 0, 3, 1])
    v = jax.nn.one_hot(tour, 4).T * 0.9 + 0.02
    decoded, valid = decode(v)
    np.testing.assert_array_equal(decoded, tour)
    assert bool(valid)
    clash = v.at[0, 0].set(0.9)  # city 0 also at position 0 (column 0 has two)
    assert not bool(decode(clash)[1])
    assert not bool(decode(jnp.full((4, 4), 0.25))[1])


def test_energy_never_increases_along_a_hopfield_tank_trajectory():
    network = hopfield_tank(instance(3, 6), n_target=9.0)
    u0 = 0.002 * jax.random.uniform(jax.random.key(4), (6, 6), minval=-1.0) - 0.02
    ts = jnp.linspace(0.0, 0.5, 60)
    sol = simulate(
        network, u0, t1=0.5, saveat=diffrax.SaveAt(ts=ts), until_steady=False
    )
    energies = np.asarray(
        jax.vmap(lambda u: energy_continuous(network, output(network, u)))(sol.ys)
    )
    # final_state keeps the (city, position) shape: not the last row (1, n)
    np.testing.assert_array_equal(final_state(sol), sol.ys[-1])
    assert np.all(np.diff(energies) <= 1e-4 * np.abs(energies).max())
    assert energies[-1] < energies[0] - 1.0


def test_hopfield_tank_ten_cities_valid_rate_and_gap_to_held_karp():
    """The paper's setting on a 10-city instance, against the exact optimum.

    Measured on this instance over keys 0..5 (64 restarts each): valid rate
    0.17-0.33, mean gap of the valid tours 22-31%, best gap 0-14% (key 0:
    0.19, 24%, 0%). Hopfield & Tank (1985) report about half of their 10-city
    runs valid; Wilson & Pawley (1988) far fewer.
    """
    d = instance(101, 10)
    optimum = held_karp(d)[0]
    result = solve(hopfield_tank(d), jax.random.key(0), restarts=64)
    assert result.tours.shape == (64, 10) and result.outputs.shape == (64, 10, 10)
    valid = np.asarray(result.valid)
    for tour, ok, length in zip(result.tours, valid, result.lengths, strict=True):
        if ok:
            assert sorted(np.asarray(tour).tolist()) == list(range(10))
            np.testing.assert_allclose(length, tour_length(d, tour), rtol=1e-5)
        else:
            assert np.isinf(length)
    gaps = np.asarray(result.lengths)[valid] / optimum - 1.0
    assert valid.mean() >= 0.15
    assert np.mean(gaps) <= 0.33
    assert np.min(gaps) <= 0.15 and np.min(gaps) >= -1e-6


def test_fault_tolerance_and_solve_qubo_run_on_the_tsp_network():
    """(n, n) states through fault_tolerance and solve_qubo (final_state)."""
    d = instance(12, 5)
    network = hopfield_tank(d, n_target=7.0)
    tour = np.array([0, 2, 4, 1, 3])
    u_clean = 0.05 * (2.0 * np.asarray(jax.nn.one_hot(tour, 5).T) - 1.0)
    study = fault_tolerance(
        network, u_clean, [0.0, 0.2], key=jax.random.key(3), trials=4, t1=1.0
    )
    assert study.finals.shape == (2, 4, 5, 5) and study.clean_final.shape == (5, 5)
    assert float(study.fraction[0]) == 1.0  # no noise: the clean run's attractor
    # the batched noise-free runs end where the clean run does (measured 1.5e-4:
    # float32 rounding differs between the batched and the single solve)
    np.testing.assert_allclose(
        study.finals[0], np.broadcast_to(study.clean_final, (4, 5, 5)), atol=1e-3
    )
    assert np.max(np.abs(np.asarray(study.clean_final) - 0.5)) > 0.4  # it moved

    result = solve_qubo(network, jax.random.key(4), restarts=4, t1=1.0)
    states = np.asarray(result.states, np.float64)
    assert states.shape == (4, 5, 5) and set(np.unique(states)) <= {0.0, 1.0}
    # objective = -x^T T x / 2 - I^T x with the paper's dense weights (NumPy)
    weights, bias = (np.asarray(x, np.float64) for x in dense_weights(network))
    flat = states.reshape(4, 25)
    expected = -0.5 * np.einsum("ri,ij,rj->r", flat, weights, flat) - flat @ bias
    np.testing.assert_allclose(result.objective, expected, rtol=1e-5)


def test_potts_field_is_minus_gradient_and_sweep_lowers_free_energy():
    network = potts_tsp(instance(7, 7))
    v = jax.nn.softmax(jax.random.normal(jax.random.key(8), (7, 7)), axis=1)
    gradient = jax.grad(network.interaction_energy)(v, network.penalty)
    np.testing.assert_allclose(
        network.local_field(v, network.penalty), -gradient, rtol=1e-5, atol=1e-5
    )
    temperature = 0.5 * network.critical_temperature
    before = potts_energy(network, v, temperature)
    after = potts_energy(
        network,
        _sweep(
            network,
            v,
            temperature,
            network.penalty,
            jax.random.key(9),
            network.couplings,
        ),
        temperature,
    )
    assert float(after) < float(before)


def test_critical_temperature_matches_dense_linearisation():
    # Brute force: the Jacobian of V -> softmax_rows(h(V) / T) at V = 1/n has
    # spectral radius 1 exactly at T_c (largest eigenvalue of P(-M)P / n).
    network = potts_tsp(instance(10, 6), penalty=1.7)
    n, c, beta = 6, np.asarray(network.couplings, np.float64), 1.7

    def field(flat):
        v = flat.reshape(n, n)
        nb = np.roll(v, -1, axis=1) + np.roll(v, 1, axis=1)
        return (-(c @ nb) - beta * (v.sum(0, keepdims=True) - v)).reshape(-1)

    m = np.stack([field(e) for e in np.eye(n * n)], axis=1)  # linear: h = M v
    p = np.kron(np.eye(n), np.eye(n) - 1.0 / n)
    expected = np.linalg.eigvalsh(p @ (m + m.T) / 2 @ p)[-1] / n
    t_c, t_dist = critical_temperature(c, beta)
    np.testing.assert_allclose(t_c, expected, rtol=1e-6)
    assert t_dist <= t_c + 1e-9


def test_potts_ten_cities_all_valid_and_near_optimal():
    """3 instances x 128 restarts: mean gap 5.05-5.34% over keys 0..7.

    (The example's 20 instances x 100 restarts average 2.9%; these three
    include a harder one, ~9% on average.) The best restart is optimal on two
    instances and 3.7-6.3% above it on the third, for every key.
    """
    gaps, valid, solved = [], [], 0
    for seed in range(3):
        d = instance(20 + seed, 10)
        optimum = held_karp(d)[0]
        network = potts_tsp(d, exponent=1.0)
        result = anneal(
            network, jax.random.key(seed), method="serial", restarts=128, cooling=0.99
        )
        valid.append(np.asarray(result.valid))
        instance_gaps = np.asarray(result.lengths) / optimum - 1.0
        gaps.extend(instance_gaps)
        solved += int(instance_gaps.min() <= 1e-6)
    assert np.all(np.concatenate(valid))
    assert np.mean(gaps) <= 0.056
    assert np.min(gaps) >= -1e-6  # never shorter than the exact optimum
    assert solved >= 2


def test_bad_input():
    d = instance(11, 5)
    with pytest.raises(ValueError, match="distances"):
        hopfield_tank(np.where(np.eye(5) > 0, 0.0, np.nan))
    with pytest.raises(ValueError, match="distances"):
        potts_tsp(-d)
    asymmetric = d.copy()
    asymmetric[0, 1] += 1.0
    with pytest.raises(ValueError, match="distances"):
        potts_tsp(asymmetric)
    with pytest.raises(ValueError, match="A"):
        hopfield_tank(d, A=-1.0)
    with pytest.raises(ValueError, match="cooling"):
        anneal(potts_tsp(d), jax.random.key(0), restarts=2, cooling=1.5)
    with pytest.raises(ValueError, match="u0"):
        simulate(hopfield_tank(d), jnp.zeros((4, 4)), t1=1.0)
