"""Bad input to the Hopfield chapter: one argument wrong, a clear error naming it.

Two tables. ``CASES``: calls that used to run silently (a wrong answer
reported as a success) or to fail deep inside JAX/Diffrax. ``MUTATIONS``: the
sweep over every public function of :mod:`jnn.hopfield`, a valid call and its
one-argument mutations (NaN/inf, wrong rank or size, empty, wrong dtype,
negative counts, out-of-range values, asymmetric weights, None, non-keys).
The calls fail at the public boundary, before anything is compiled, so both
tables run in seconds.
"""

import functools

import diffrax
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jnn.hopfield as hop
import tests._mutations as T
from tests._mutations import INF, NAN

KEY = jax.random.key(0)
W2 = np.array([[0.0, 1.0], [1.0, 0.0]], np.float32)
U2 = np.array([0.1, -0.2], np.float32)
CYCLE = np.array([[0, 1, 0], [0, 0, 1], [1, 0, 0]], np.float32)  # asymmetric
PATTERN = np.array([1.0, -1.0, 1.0], np.float32)
S2 = np.array([1.0, -1.0], np.float32)
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
            hop.potts_tsp(D5),
            KEY,
            method="serial",
            restarts=2,
            penalty_growth=float("inf"),
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
    "softassign_tsp": lambda key: hop.softassign_tsp(hop.potts_tsp(D5), key),
    "serial_anneal_tsp": lambda key: hop.serial_anneal_tsp(hop.potts_tsp(D5), key),
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


# ----------------------------------------------------------------------------
# The sweep: every public function, a valid call and its one-argument mutations
# ----------------------------------------------------------------------------

P4 = np.array([[1, -1, 1, -1], [1, 1, -1, -1]], np.float32)  # (M, N) = (2, 4)
W4 = np.asarray(hop.hebbian(P4))
ASYM2 = np.array([[0.0, 1.0], [0.0, 0.0]], np.float32)
DIAG2 = np.array([[1.0, 1.0], [1.0, 0.0]], np.float32)
NET = hop.chnn(W2, gain=2.0)
TOUR5 = np.arange(5, dtype=np.int32)
Q2 = np.array([[1.0, -2.0], [0.0, 1.0]], np.float32)
C2 = np.array([-1.0, 0.5], np.float32)
ADJ3 = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], np.float32)
TSP5 = hop.hopfield_tank(D5)
POTTS5 = hop.potts_tsp(D5)
V5 = np.full((5, 5), 0.2, np.float32)
ENERGY, FIELD = hop.chnn_lyapunov(NET)
_SOLUTION = []


def solution():
    """One tiny solve, made on first use (only the valid calls need it)."""
    if not _SOLUTION:
        _SOLUTION.append(hop.simulate(NET, U2, t1=1.0))
    return _SOLUTION[0]


def network(arg: str) -> list[tuple]:
    """A continuous network argument: None, a string, a discrete weight matrix."""
    return [(arg, None, TypeError), (arg, "net", TypeError), (arg, W2, TypeError)]


def states(arg: str, good, *, size: bool = False) -> list[tuple]:
    """±1 states: the float mutations, a non-±1 value (and the wrong size)."""
    good = np.asarray(good)
    rows = [*T.floats(arg, good), (arg, np.full_like(good, 0.5))]
    if size:
        rows.append((arg, np.ones((*good.shape[:-1], good.shape[-1] + 1))))
    return rows


def square(arg: str, good) -> list[tuple]:
    """A square float matrix: the float mutations and a non-square one."""
    return [*T.floats(arg, good), (arg, np.asarray(good)[:1])]


def distances(arg: str = "distances") -> list[tuple]:
    """A TSP distance matrix: square, non-negative, symmetric, zero diagonal."""
    asym = D5.copy()
    asym[0, 1] += 1.0
    diag = D5.copy()
    diag[0, 0] = 1.0
    return [*square(arg, D5), (arg, -D5), (arg, asym), (arg, diag)]


def tours(arg: str = "tour") -> list[tuple]:
    """A tour of 5 cities: the int mutations, wrong length, repeats, range."""
    return [
        *T.ints(arg, TOUR5),
        (arg, TOUR5[:4]),
        (arg, np.array([0, 1, 1, 2, 3], np.int32)),
        (arg, np.array([0, 1, 2, 3, 5], np.int32)),
    ]


def solvers() -> list[tuple]:
    return [
        ("solver", "tsit5", TypeError),
        ("solver", diffrax.Tsit5, TypeError),
    ]


MUTATIONS: dict = {}
VALID: dict = {}


def add(name, fn, valid, *changes):
    VALID[name] = T.table(name, fn, valid, [c for g in changes for c in g], MUTATIONS)


# --- discrete networks, storage rules, dense and modern memories -------------
add(
    "recall",
    hop.recall,
    {"W": W2, "state": S2},
    square("W", W2),
    [("W", ASYM2, ValueError, "`W` must be symmetric")],
    states("state", S2, size=True),
    T.option("mode"),
    T.option("order"),
    T.option("convention"),
    [("order", "random", ValueError, "`key` is required"), ("key", 0, TypeError)],
    [("theta", NAN), ("theta", np.zeros(3)), ("theta", None, TypeError)],
    [("theta", "a", TypeError)],
    T.positive_int("max_sweeps"),
)
add(
    "energy",
    hop.energy,
    {"W": W2, "state": S2},
    square("W", W2),
    T.floats("state", S2),
    [("state", np.ones(3, np.float32))],
    [("theta", NAN), ("theta", np.zeros(3)), ("theta", None, TypeError)],
)
add(
    "overlap",
    hop.overlap,
    {"a": S2, "b": S2},
    T.floats("a", S2),
    T.floats("b", S2),
    [("b", np.ones(3, np.float32))],
)
for _name in ("hebbian", "storkey", "pseudo_inverse"):
    add(
        _name,
        getattr(hop, _name),
        {"patterns": P4},
        states("patterns", P4),
        T.option("convention"),
    )
for _name, _rounds in (
    ("error_correcting", "max_epochs"),
    ("repeated_learning", "max_rounds"),
):
    add(
        _name,
        getattr(hop, _name),
        {"patterns": P4},
        states("patterns", P4),
        [("margin", -1.0), ("margin", NAN), ("margin", None, TypeError)],
        [("margin", "a", TypeError)],
        T.positive_float("learning_rate"),
        T.positive_int(_rounds),
        T.option("convention"),
    )
add(
    "to_bipolar",
    hop.to_bipolar,
    {"x": (P4 + 1) / 2},
    T.floats("x", (P4 + 1) / 2, rank=False),
    [("x", P4)],
)
add(
    "to_binary",
    hop.to_binary,
    {"s": P4},
    T.floats("s", P4, rank=False),
    [("s", (P4 + 1) / 2)],
)
add(
    "binary_weights",
    hop.binary_weights,
    {"W": W2},
    square("W", W2),
    [("theta", NAN), ("theta", np.zeros(3)), ("theta", None, TypeError)],
)
_DENSE = {"patterns": P4, "state": P4[0]}
add(
    "dense_recall",
    hop.dense_recall,
    _DENSE,
    states("patterns", P4),
    states("state", P4[0], size=True),
    [("n", 1), ("n", 2.5, TypeError), ("n", None, TypeError)],
    T.option("interaction"),
    T.option("order"),
    [("order", "random", ValueError, "`key` is required"), ("key", 0, TypeError)],
    T.positive_int("max_sweeps"),
)
add(
    "dense_energy",
    hop.dense_energy,
    _DENSE,
    states("patterns", P4),
    states("state", P4[0], size=True),
    [("n", 1), ("n", 2.5, TypeError)],
    T.option("interaction"),
)
for _name in ("modern_update", "modern_energy", "modern_recall"):
    add(
        _name,
        getattr(hop, _name),
        _DENSE,
        T.floats("patterns", P4),
        T.floats("state", P4[0]),
        [("state", np.ones(5, np.float32))],
        T.positive_float("beta"),
    )
add(
    "modern_recall-loop",
    hop.modern_recall,
    _DENSE,
    T.positive_int("max_iterations"),
    T.positive_float("tol"),
)

# --- analysis (basins, capacity, spurious states) and pattern sets ----------
add(
    "basin_size",
    hop.basin_size,
    {"W": W4, "pattern": P4[0], "distances": [0, 1], "key": KEY, "trials": 2},
    square("W", W4),
    [("W", W2), ("W", W4 + np.triu(np.ones((4, 4)), 1).astype(np.float32))],
    states("pattern", P4[0], size=True),
    [("distances", [-1]), ("distances", [5]), ("distances", [])],
    [("distances", [0.5], TypeError), ("distances", None)],
    T.key(),
    T.positive_int("trials"),
    T.option("mode"),
    T.option("order"),
    T.positive_int("max_sweeps"),
    [("min_overlap", 0.0), ("min_overlap", 1.5), ("min_overlap", NAN)],
    [("min_overlap", None, TypeError), ("min_overlap", "1", TypeError)],
)
add(
    "capacity_curve",
    hop.capacity_curve,
    {"rule": hop.hebbian, "n_units": 8, "loads": [0.25], "key": KEY, "trials": 2},
    [("rule", None, TypeError), ("rule", "hebbian", TypeError)],
    T.positive_int("n_units"),
    [("loads", [0.0]), ("loads", [2.0]), ("loads", [NAN]), ("loads", [])],
    [("loads", ["a"], TypeError), ("loads", None)],
    T.key(),
    T.positive_int("trials"),
    [("noise", 0.5), ("noise", -0.1), ("noise", NAN), ("noise", "a", TypeError)],
    [("patterns", None, TypeError)],
    T.option("mode"),
    T.option("order"),
    T.positive_int("max_sweeps"),
)
add(
    "spurious_census",
    hop.spurious_census,
    {"W": W4, "patterns": P4, "key": KEY, "starts": 2},
    square("W", W4),
    [("W", W2), ("W", W4 + np.triu(np.ones((4, 4)), 1).astype(np.float32))],
    states("patterns", P4, size=True),
    [("patterns", np.ones((41, 4), np.float32))],
    T.key(),
    T.positive_int("starts"),
    T.positive_int("max_sweeps"),
)
add(
    "flip_bits",
    hop.flip_bits,
    {"key": KEY, "state": P4[0], "d": 1},
    T.key(),
    T.floats("state", P4[0]),
    [("d", -1), ("d", 5), ("d", 1.5, TypeError), ("d", None, TypeError)],
)
add(
    "random_patterns",
    hop.random_patterns,
    {"key": KEY, "m": 2, "n": 4},
    T.key(),
    T.positive_int("m"),
    T.positive_int("n"),
)
add(
    "correlated_patterns",
    hop.correlated_patterns,
    {"key": KEY, "m": 2, "n": 4, "correlation": 0.5},
    T.key(),
    T.positive_int("m"),
    T.positive_int("n"),
    [("correlation", 1.0), ("correlation", -0.1), ("correlation", NAN)],
    [("correlation", "a", TypeError), ("correlation", None, TypeError)],
)
for _name in ("orthogonalize", "orthogonal_hebbian"):
    add(
        _name,
        getattr(hop, _name),
        {"patterns": P4},
        T.floats("patterns", P4),
        [("patterns", np.ones((5, 4), np.float32))],
    )

# --- continuous networks ------------------------------------------------------
add(
    "chnn",
    hop.chnn,
    {"weights": W2},
    square("weights", W2),
    [("weights", ASYM2), ("weights", DIAG2)],
    T.floats("bias", U2, none=False),
    [("bias", np.zeros(3, np.float32))],
    [("tau", 0.0), ("tau", -1.0), ("tau", NAN), ("tau", INF), ("tau", "a", TypeError)],
    [("gain", 0.0), ("gain", NAN), ("gain", INF), ("gain", None, TypeError)],
    T.option("activation"),
)
for _name in ("energy_continuous", "leak_integral"):
    add(
        _name,
        getattr(hop, _name),
        {"params": NET, "v": np.array([0.2, 0.7], np.float32)},
        network("params"),
        T.floats("v", np.array([0.2, 0.7], np.float32)),
        [("v", np.full(3, 0.5, np.float32)), ("v", np.array([1.5, 0.2], np.float32))],
    )
add(
    "vector_field",
    hop.vector_field,
    {"t": 0.0, "u": U2, "params": NET},
    network("params"),
    T.floats("u", U2),
    [("u", np.zeros(3, np.float32))],
)
add(
    "ensemble_vector_field",
    hop.ensemble_vector_field,
    {"t": 0.0, "u": U2[None], "params": NET},
    network("params"),
    T.floats("u", U2[None]),
    [("u", U2), ("u", np.zeros((1, 3), np.float32))],
)
add(
    "output",
    hop.output,
    {"params": NET, "u": U2},
    network("params"),
    T.floats("u", U2, rank=False),
)
add(
    "state_from_output",
    hop.state_from_output,
    {"params": NET, "v": np.array([0.2, 0.7], np.float32)},
    network("params"),
    T.floats("v", np.array([0.2, 0.7], np.float32), rank=False),
    [("v", np.array([1.5, 0.2], np.float32))],
)
for _name in ("reached_steady_state", "final_state"):
    T.table(
        _name,
        getattr(hop, _name),
        {},
        [
            ("solution", None),
            ("solution", "sol", TypeError),
            ("solution", U2, TypeError),
        ],
        MUTATIONS,
    )
    VALID[_name] = functools.partial(lambda name: getattr(hop, name)(solution()), _name)
_TIMES = [
    ("t1", NAN),
    ("t1", INF),
    ("t1", 0.0, ValueError, "t1 must be > t0"),
    ("t1", None, TypeError),
    ("t1", "1", TypeError),
    ("t0", NAN),
    ("t0", 2.0, ValueError, "t1 must be > t0"),
]
add(
    "simulate",
    hop.simulate,
    {"params": NET, "u0": U2, "t1": 1.0},  # the call of solution()
    network("params"),
    [("params", net(tau=-1.0), ValueError, "params.tau must be > 0")],
    [("params", net(gain=0.0), ValueError, "params.gain must be > 0")],
    T.floats("u0", U2),
    [("u0", np.zeros(3, np.float32))],
    _TIMES,
    [("dt0", 0.0), ("dt0", -0.1), ("dt0", NAN), ("dt0", "a", TypeError)],
    solvers(),
    [("stepsize_controller", "pid", TypeError), ("saveat", "t1", TypeError)],
    [("steady_rtol", -1e-3), ("steady_rtol", NAN), ("steady_atol", -1.0)],
    T.positive_int("max_steps", none=False),
)
add(
    "simulate_ensemble",
    hop.simulate_ensemble,
    {"params": NET, "u0s": U2[None], "t1": 1.0},
    network("params"),
    [("params", net(tau=-1.0), ValueError, "params.tau must be > 0")],
    T.floats("u0s", U2[None]),
    [("u0s", U2), ("u0s", np.zeros((1, 3), np.float32))],
    _TIMES,
    solvers(),
    [("saveat", "t1", TypeError)],
    [("rtol", -1e-3), ("rtol", NAN), ("rtol", None, TypeError)],
    [("atol", 0.0), ("atol", -1.0), ("atol", NAN), ("atol", "a", TypeError)],
    T.positive_int("max_steps", none=False),
)
add(
    "lyapunov_check",
    hop.lyapunov_check,
    {"energy": ENERGY, "vector_field": FIELD, "states": U2[None]},
    [("energy", None, TypeError), ("vector_field", "f", TypeError)],
    [("energy", FIELD), ("vector_field", ENERGY)],  # wrong output shapes
    T.floats("states", U2[None], rank=False),
    [("states", U2)],
    [("equilibrium", U2[:1]), ("equilibrium", np.array([NAN, 0.0]))],
    [("equilibrium", np.array(["a", "b"]), TypeError)],
    [("tol", -1.0), ("tol", NAN), ("tol", None, TypeError), ("tol", "a", TypeError)],
    [("rtol", -1.0), ("rtol", INF), ("hessian_tol", -1.0), ("hessian_tol", NAN)],
)
add(
    "chnn_lyapunov",
    hop.chnn_lyapunov,
    {"params": NET},
    network("params"),
)
add(
    "fault_tolerance",
    hop.fault_tolerance,
    {"params": NET, "u_clean": U2, "noise_levels": [0.0], "key": KEY, "trials": 2},
    network("params"),
    T.floats("u_clean", U2),
    [("u_clean", np.zeros(3, np.float32))],
    [("noise_levels", [1.5]), ("noise_levels", [-0.1]), ("noise_levels", [NAN])],
    [("noise_levels", []), ("noise_levels", None)],
    [("noise_levels", ["a"], TypeError)],
    T.key(),
    T.positive_int("trials"),
    T.positive_float("t1"),
    T.option("noise"),
    T.option("criterion"),
    T.positive_float("atol"),
    solvers(),
    [("stepsize_controller", "pid", TypeError)],
    T.positive_int("max_steps"),
)

# --- TSP yardsticks ----------------------------------------------------------
add(
    "tour_length",
    hop.tour_length,
    {"distances": D5, "tour": TOUR5},
    square("distances", D5),
    [("distances", -D5)],
    tours(),
)
add("held_karp", hop.held_karp, {"distances": D5}, distances())
add(
    "held_karp-size",
    hop.held_karp,
    {"distances": D5},
    [("distances", np.zeros((21, 21), np.float32))],
)
add(
    "two_opt",
    hop.two_opt,
    {"distances": D5, "tour": TOUR5},
    distances(),
    tours(),
    T.positive_int("max_sweeps"),
)
add(
    "random_tsp",
    hop.random_tsp,
    {"key": KEY, "n": 5},
    T.key(),
    T.positive_int("n"),
    [("n", 1)],
)
add("validate_distances", hop.validate_distances, {"distances": D5}, distances())

# --- QUBO, max-cut, A/D converter ----------------------------------------------
_C = [*T.floats("c", C2, none=False), ("c", np.zeros(3, np.float32))]
add("qubo_weights", hop.qubo_weights, {"Q": Q2, "c": C2}, square("Q", Q2), _C)
add(
    "qubo",
    hop.qubo,
    {"Q": Q2, "c": C2},
    square("Q", Q2),
    _C,
    T.positive_float("gain", none=False),
    T.positive_float("tau"),
)
add(
    "qubo_objective",
    hop.qubo_objective,
    {"Q": Q2, "c": C2, "x": np.array([1.0, 0.0], np.float32)},
    square("Q", Q2),
    _C,
    T.floats("x", np.array([1.0, 0.0], np.float32), rank=False),
    [("x", np.zeros(3, np.float32))],
)
add(
    "brute_force_qubo",
    hop.brute_force_qubo,
    {"Q": Q2, "c": C2},
    square("Q", Q2),
    [("Q", np.zeros((21, 21), np.float32))],
    _C,
)
add(
    "penalty",
    hop.penalty,
    {"A": np.ones((1, 2), np.float32), "b": np.ones(1, np.float32), "weight": 1.0},
    T.floats("A", np.ones((1, 2), np.float32)),
    T.floats("b", np.ones(1, np.float32)),
    [("b", np.ones(2, np.float32))],
    T.positive_float("weight"),
)
add(
    "one_hot_penalty",
    hop.one_hot_penalty,
    {"groups": np.ones((1, 2), np.float32), "weight": 1.0},
    T.floats("groups", np.ones((1, 2), np.float32)),
    [("groups", np.ones(2, np.float32)), ("groups", np.full((1, 2), 0.5))],
    T.positive_float("weight"),
)
add(
    "solve_qubo",
    hop.solve_qubo,
    {"params": NET, "key": KEY, "restarts": 2, "t1": 1.0},
    network("params"),
    T.key(),
    T.positive_int("restarts"),
    T.positive_float("t1"),
    T.positive_float("noise"),
    [("anneal", [0.0]), ("anneal", [NAN]), ("anneal", [[1.0]]), ("anneal", [])],
    [("anneal", ["a"], TypeError)],
    solvers(),
)
add("critical_gain", hop.critical_gain, {"params": NET}, network("params"))
add(
    "critical_gain-dense",
    hop.critical_gain,
    {"params": NET},
    [("params", TSP5, TypeError)],
)
add(
    "gain_schedule",
    hop.gain_schedule,
    {"params": NET},
    network("params"),
    [("params", TSP5, TypeError)],
    T.positive_int("stages"),
    T.positive_float("start"),
)


def adjacency(arg: str = "adjacency") -> list[tuple]:
    return [*square(arg, ADJ3), (arg, -ADJ3), (arg, np.triu(ADJ3))]


add("validate_adjacency", hop.validate_adjacency, {"adjacency": ADJ3}, adjacency())
add("max_cut_qubo", hop.max_cut_qubo, {"adjacency": ADJ3}, adjacency())
add(
    "max_cut",
    hop.max_cut,
    {"adjacency": ADJ3},
    adjacency(),
    T.positive_float("gain", none=False),
    T.positive_float("tau"),
)
add(
    "cut_value",
    hop.cut_value,
    {"adjacency": ADJ3, "x": np.array([1.0, 0.0, 0.0], np.float32)},
    adjacency(),
    T.floats("x", np.array([1.0, 0.0, 0.0], np.float32), rank=False),
    [("x", np.zeros(4, np.float32))],
)
_ANALOG = [
    ("analog", NAN),
    ("analog", INF),
    ("analog", None, TypeError),
    ("analog", "a", TypeError),
    ("analog", np.array([1.0, 2.0])),
]
_BITS = [("n_bits", 0), ("n_bits", 17), ("n_bits", 2.5, TypeError)]
add(
    "adc",
    hop.adc,
    {"analog": 3.0},
    _ANALOG,
    _BITS,
    T.positive_float("gain"),
    T.positive_float("tau"),
)
add("adc_qubo", hop.adc_qubo, {"analog": 3.0}, _ANALOG, _BITS)
add("adc_target", hop.adc_target, {"analog": 3.0}, _ANALOG[:4], _BITS)
add(
    "adc_decode",
    hop.adc_decode,
    {"v": np.array([0.9, 0.1], np.float32)},
    T.floats("v", np.array([0.9, 0.1], np.float32), rank=False),
    [("v", np.float32(0.5)), ("v", np.zeros(17, np.float32))],
)

# --- Hopfield-Tank and Potts TSP networks --------------------------------------
add(
    "hopfield_tank",
    hop.hopfield_tank,
    {"distances": D5},
    distances(),
    *(T.positive_float(name) for name in ("A", "B", "C", "D", "n_target", "u0")),
    T.positive_float("tau"),
)
add(
    "dense_weights",
    hop.dense_weights,
    {"network": TSP5},
    [("network", None, TypeError), ("network", NET, TypeError)],
)
add(
    "decode_tour",
    hop.decode_tour,
    {"v": V5},
    square("v", V5),
)
add(
    "solve_tsp",
    hop.solve_tsp,
    {"network": TSP5, "key": KEY, "restarts": 2},
    [("network", None, TypeError), ("network", NET, TypeError)],
    T.key(),
    T.positive_int("restarts"),
    T.positive_float("t1"),
    T.positive_float("noise"),
    solvers(),
    T.positive_int("max_steps"),
)
add(
    "potts_tsp",
    hop.potts_tsp,
    {"distances": D5},
    distances(),
    [("distances", D5[:3, :3]), ("distances", np.zeros((5, 5), np.float32))],
    T.positive_float("exponent"),
    T.positive_float("final_exponent"),
    T.positive_float("penalty", none=False),
)
ANNEAL_COMMON = (
    [("network", None, TypeError), ("network", TSP5, TypeError)],
    T.key(),
    T.positive_int("restarts"),
    [
        ("cooling", 1.0),
        ("cooling", 0.0),
        ("cooling", NAN),
        ("cooling", None, TypeError),
    ],
    T.positive_float("start"),
    [("stop", 0.0), ("stop", 2.0), ("stop", NAN)],
    T.positive_float("noise"),
    [("cleanup_sweeps", -1), ("cleanup_sweeps", 2.5, TypeError)],
)
add(
    "anneal_tsp",
    hop.anneal_tsp,
    {"network": POTTS5, "key": KEY, "restarts": 2, "stop": 0.5},
    *ANNEAL_COMMON,
    [("method", "annealing"), ("method", None)],
)
add(
    "softassign_tsp",
    hop.softassign_tsp,
    {"network": POTTS5, "key": KEY, "restarts": 2, "stop": 0.5},
    *ANNEAL_COMMON,
    [("self_coupling", -1.0), ("self_coupling", NAN), ("self_coupling", INF)],
    [("damping", 0.0), ("damping", 1.5), ("damping", NAN)],
    T.positive_float("self_coupling_growth"),
    T.positive_int("iterations"),
    T.positive_int("sinkhorn_iterations"),
)
add(
    "serial_anneal_tsp",
    hop.serial_anneal_tsp,
    {"network": POTTS5, "key": KEY, "restarts": 2, "stop": 0.5},
    *ANNEAL_COMMON,
    [("penalty_growth", 0.5), ("penalty_growth", INF)],
)
add(
    "sinkhorn",
    hop.sinkhorn,
    {"logits": V5},
    T.floats("logits", V5, rank=False),  # (..., n, n): a batch is valid
    [("logits", V5[:1]), ("logits", V5[0])],
    T.positive_int("iterations"),
    [("potentials", np.zeros(4, np.float32))],
)
add(
    "potts_energy",
    hop.potts_energy,
    {"network": POTTS5, "v": V5, "temperature": 0.1},
    [("network", None, TypeError), ("network", TSP5, TypeError)],
    square("v", V5),
    [("v", np.full((5, 5), 1.5, np.float32))],
    [("temperature", -1.0), ("temperature", NAN), ("temperature", None, TypeError)],
    [("penalty", -1.0), ("penalty", NAN), ("penalty", "a", TypeError)],
)
add(
    "potts_critical_temperature",
    hop.potts_critical_temperature,
    {"couplings": D5, "penalty": 1.0},
    square("couplings", D5),
    [("penalty", -1.0), ("penalty", NAN), ("penalty", None, TypeError)],
)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_one_bad_argument_is_named(name):
    case = MUTATIONS[name]
    with pytest.raises(case.error, match=case.match):
        case.call()


# The valid calls that compile little (one tiny solve serves simulate and the
# solution readers); the chapter's own tests run the others (ensembles,
# restarts, annealing, capacity sweeps and learning rules compile for seconds).
COMPILED = {
    "simulate_ensemble",
    "fault_tolerance",
    "solve_qubo",
    "solve_tsp",
    "anneal_tsp",
    "softassign_tsp",
    "serial_anneal_tsp",
    "capacity_curve",
    "basin_size",
    "spurious_census",
    "error_correcting",
    "repeated_learning",
    "storkey",
    "lyapunov_check",
    "dense_recall",
    "modern_recall",
    "modern_recall-loop",
    "two_opt",
}
CHEAP = [name for name in VALID if name not in COMPILED]


@pytest.mark.parametrize("name", CHEAP)
def test_valid_call_runs(name):
    VALID[name]()
