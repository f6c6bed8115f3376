"""Bad input to the Hopfield chapter: one argument wrong, a clear error naming it.

Each row is a call that used to run silently (a wrong answer reported as a
success) or to fail deep inside JAX/Diffrax. The calls fail at the public
boundary, before anything is compiled, so the whole table runs in about a
second.
"""

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.hopfield as hop

KEY = jax.random.key(0)
W2 = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
U2 = np.array([0.1, -0.2], np.float32)
CYCLE = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)  # asymmetric
PATTERN = np.array([1.0, -1.0, 1.0], np.float32)
D5 = np.asarray(hop.random_tsp(jax.random.key(1), 5)[1])


def net(**replace):
    return hop.chnn(W2, gain=2.0).replace(
        **{k: jnp.float32(v) for k, v in replace.items()}
    )


def skew_hebbian(x):
    """A storage rule that (wrongly) returns an asymmetric W."""
    return hop.hebbian(x) + jnp.triu(jnp.full((x.shape[1], x.shape[1]), 0.1), 1)


CASES = {
    # 2. asymmetric W where recall runs compiled
    "basin_size-asymmetric-W": (
        lambda: hop.basin_size(CYCLE, PATTERN, distances=[0], key=KEY, trials=2),
        ValueError,
        "`W` must be symmetric",
    ),
    "spurious_census-asymmetric-W": (
        lambda: hop.spurious_census(CYCLE, PATTERN[None], key=KEY, starts=2),
        ValueError,
        "`W` must be symmetric",
    ),
    "capacity_curve-asymmetric-rule": (
        lambda: hop.capacity_curve(skew_hebbian, 16, [0.125], key=KEY, trials=2),
        ValueError,
        "`rule` must return symmetric weights",
    ),
    # 3. simulate / simulate_ensemble / chnn / energy_continuous
    "simulate-negative-tau-by-replace": (
        lambda: hop.simulate(net(tau=-1.0), U2, t1=10.0),
        ValueError,
        r"params.tau must be > 0 and finite, got -1",
    ),
    "simulate-nan-gain-by-replace": (
        lambda: hop.simulate(net(gain=np.nan), U2, t1=10.0),
        ValueError,
        r"params.gain must be > 0 and finite, got nan",
    ),
    "simulate-dt0-zero": (
        lambda: hop.simulate(net(), U2, t1=1.0, dt0=0.0),
        ValueError,
        "`dt0` must be > 0",
    ),
    "simulate-dt0-negative": (
        lambda: hop.simulate(net(), U2, t1=1.0, dt0=-0.1),
        ValueError,
        "`dt0` must be > 0",
    ),
    "simulate-max_steps-zero": (
        lambda: hop.simulate(net(), U2, t1=1.0, max_steps=0),
        ValueError,
        "`max_steps` must be a positive int",
    ),
    "simulate-steady_rtol-negative": (
        lambda: hop.simulate(net(), U2, t1=1.0, steady_rtol=-1e-3),
        ValueError,
        "`steady_rtol` must be >= 0",
    ),
    "simulate-saveat-string": (
        lambda: hop.simulate(net(), U2, t1=1.0, saveat="t1"),
        TypeError,
        "`saveat` must be a diffrax.SaveAt",
    ),
    "simulate-solver-class-not-instance": (
        lambda: hop.simulate(net(), U2, t1=1.0, solver=diffrax.Tsit5),
        TypeError,
        "`solver` must be a diffrax.AbstractSolver",
    ),
    "simulate-t1-nan": (
        lambda: hop.simulate(net(), U2, t1=float("nan")),
        ValueError,
        "`t1` must be finite",
    ),
    "ensemble-t1-before-t0": (
        lambda: hop.simulate_ensemble(net(), U2[None], t1=-1.0),
        ValueError,
        "t1 must be > t0",
    ),
    "ensemble-t1-equals-t0": (
        lambda: hop.simulate_ensemble(net(), U2[None], t1=0.0),
        ValueError,
        "t1 must be > t0",
    ),
    "ensemble-t1-nan": (
        lambda: hop.simulate_ensemble(net(), U2[None], t1=float("nan")),
        ValueError,
        "`t1` must be finite",
    ),
    "ensemble-rtol-negative": (
        lambda: hop.simulate_ensemble(net(), U2[None], t1=1.0, rtol=-1e-3),
        ValueError,
        "`rtol` must be >= 0",
    ),
    "ensemble-atol-zero": (
        lambda: hop.simulate_ensemble(net(), U2[None], t1=1.0, atol=0.0),
        ValueError,
        "`atol` must be > 0",
    ),
    "ensemble-atol-nan": (
        lambda: hop.simulate_ensemble(net(), U2[None], t1=1.0, atol=float("nan")),
        ValueError,
        "`atol` must be finite",
    ),
    "ensemble-negative-tau-by-replace": (
        lambda: hop.simulate_ensemble(net(tau=-1.0), U2[None], t1=1.0),
        ValueError,
        "params.tau must be > 0",
    ),
    "ensemble-max_steps-zero": (
        lambda: hop.simulate_ensemble(net(), U2[None], t1=1.0, max_steps=0),
        ValueError,
        "`max_steps` must be a positive int",
    ),
    "chnn-infinite-tau": (
        lambda: hop.chnn(W2, tau=float("inf")),
        ValueError,
        "tau must be > 0 and finite",
    ),
    "chnn-infinite-gain": (
        lambda: hop.chnn(W2, gain=float("inf")),
        ValueError,
        "gain must be > 0 and finite",
    ),
    "energy_continuous-output-above-sigmoid-range": (
        lambda: hop.energy_continuous(net(), jnp.array([1.5, 0.2])),
        ValueError,
        r"`v` must hold outputs of the sigmoid activation, in \[0, 1\]",
    ),
    "energy_continuous-output-below-tanh-range": (
        lambda: hop.energy_continuous(
            hop.chnn(W2, activation="tanh"), jnp.array([-1.5, 0.2])
        ),
        ValueError,
        r"`v` must hold outputs of the tanh activation, in \[-1, 1\]",
    ),
    "leak_integral-output-out-of-range": (
        lambda: hop.leak_integral(net(), jnp.array([-0.5, 0.2])),
        ValueError,
        r"`v` must hold outputs .* in \[0, 1\]",
    ),
    # 4. theta, tours, annealing, keys
    "recall-scalar-nan-theta": (
        lambda: hop.recall(W2, np.array([1.0, -1.0]), theta=float("nan")),
        ValueError,
        "`theta` contains NaN",
    ),
    "energy-scalar-nan-theta": (
        lambda: hop.energy(W2, np.array([1.0, -1.0]), theta=float("nan")),
        ValueError,
        "`theta` contains NaN",
    ),
    "tour_length-repeated-city": (
        lambda: hop.tour_length(D5, jnp.array([0, 1, 1, 2, 3])),
        ValueError,
        r"`tour` must be a permutation of 0..4",
    ),
    "tour_length-negative-distances": (
        lambda: hop.tour_length(-D5, jnp.arange(5)),
        ValueError,
        "`distances` must be non-negative",
    ),
    "tour_length-non-square-distances": (
        lambda: hop.tour_length(D5[:4], jnp.arange(4)),
        ValueError,
        r"`distances` must be square",
    ),
    "anneal_tsp-infinite-penalty_growth": (
        lambda: hop.anneal_tsp(
            hop.potts_tsp(D5), KEY, restarts=2, penalty_growth=float("inf")
        ),
        ValueError,
        "`penalty_growth` must be a finite number",
    ),
    "anneal_tsp-fractional-cleanup_sweeps": (
        lambda: hop.anneal_tsp(hop.potts_tsp(D5), KEY, restarts=2, cleanup_sweeps=2.5),
        TypeError,
        "`cleanup_sweeps` must be an int",
    ),
}

# every public function that draws: key=None is a TypeError naming `key`
DRAWS = {
    "random_tsp": lambda key: hop.random_tsp(key, 5),
    "random_patterns": lambda key: hop.random_patterns(key, 2, 5),
    "correlated_patterns": lambda key: hop.correlated_patterns(
        key, 2, 5, correlation=0.5
    ),
    "flip_bits": lambda key: hop.flip_bits(key, jnp.asarray(PATTERN), 1),
    "basin_size": lambda key: hop.basin_size(
        hop.hebbian(PATTERN[None]), PATTERN, distances=[0], key=key, trials=2
    ),
    "capacity_curve": lambda key: hop.capacity_curve(
        hop.hebbian, 16, [0.125], key=key, trials=2
    ),
    "spurious_census": lambda key: hop.spurious_census(
        hop.hebbian(PATTERN[None]), PATTERN[None], key=key, starts=2
    ),
    "recall": lambda key: hop.recall(
        W2, np.array([1.0, -1.0]), order="random", key=key
    ),
    "dense_recall": lambda key: hop.dense_recall(
        PATTERN[None], PATTERN, order="random", key=key
    ),
    "fault_tolerance": lambda key: hop.fault_tolerance(net(), U2, [0.0], key=key),
    "solve_qubo": lambda key: hop.solve_qubo(net(), key),
    "solve_tsp": lambda key: hop.solve_tsp(hop.hopfield_tank(D5), key),
    "anneal_tsp": lambda key: hop.anneal_tsp(hop.potts_tsp(D5), key),
}
OPTIONAL_KEY = {"recall", "dense_recall"}  # None means "not needed" there


@pytest.mark.parametrize("name", list(CASES))
def test_bad_argument_is_named(name):
    call, error, match = CASES[name]
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("name", list(DRAWS))
@pytest.mark.parametrize("bad", [None, 0, np.zeros(3, np.float32)], ids=str)
def test_functions_that_draw_refuse_a_non_key(name, bad):
    if bad is None and name in OPTIONAL_KEY:
        with pytest.raises(ValueError, match="`key` is required"):
            DRAWS[name](bad)
        return
    with pytest.raises(TypeError, match="`key` must be a JAX PRNG key"):
        DRAWS[name](bad)


def test_batched_keys_are_refused_with_their_shape():
    with pytest.raises(TypeError, match=r"one key\); got key shape \(2,\)"):
        hop.random_tsp(jax.random.split(KEY, 2), 5)
