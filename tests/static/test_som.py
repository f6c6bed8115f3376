"""Self-organising map (S1): MiniSom peer checks, metrics, learning, bad input."""

import functools
import warnings

import chex
import jax
import numpy as np
import pytest
from minisom import MiniSom

from jnn.static import (
    best_matching_unit,
    grid_coordinates,
    hit_map,
    neighborhood,
    quantization_error,
    som,
    som_batch,
    som_fit,
    som_fit_seeds,
    topographic_error,
    u_matrix,
)
from jnn.train import TrainingDiverged
from tests.conftest import load

GRID = (8, 8)
T = 3000


def digits() -> np.ndarray:
    return load("digits").train["x"]  # (1169, 64) float32, standardised


def minisom(grid, seed=1, **kwargs) -> MiniSom:
    with warnings.catch_warnings():  # sigma / triangle-on-hexagonal advice
        warnings.simplefilter("ignore")
        return MiniSom(*grid, 64, random_seed=seed, **kwargs)


def train_random_order(grid, n, n_iterations, seed=1) -> np.ndarray:
    """MiniSom's train_random sample sequence: its RNG after the weights."""
    rng = np.random.RandomState(seed)
    rng.rand(*grid, 64)  # MiniSom's random initial weights
    order = np.arange(n_iterations) % n
    rng.shuffle(order)
    return order


@functools.cache
def peer_run(topology: str, neighborhood_name: str):
    """MiniSom train_random and jnn on the same initial weights and order."""
    x = digits()
    peer = minisom(GRID, topology=topology, neighborhood_function=neighborhood_name)
    w0 = peer.get_weights().reshape(-1, 64).astype(np.float32)
    order = train_random_order(GRID, len(x), T)
    settings = dict(topology=topology, neighborhood=neighborhood_name)
    ours = som_fit(
        x,
        GRID,
        key=jax.random.key(0),
        n_iterations=T,
        init_weights=w0,
        order=order,
        **settings,
    )
    peer.train_random(x, T)
    return peer, w0, ours


@pytest.mark.parametrize(
    ("topology", "neighborhood_name"),
    [("rectangular", "gaussian"), ("hexagonal", "gaussian"), ("rectangular", "bubble")],
)
def test_online_matches_minisom_train_random_step_for_step(topology, neighborhood_name):
    x = digits()
    peer, w0, ours = peer_run(topology, neighborhood_name)
    weights = np.asarray(ours.state.weights)
    assert int(ours.state.step) == T
    # Same winners every step: float32 vs MiniSom's float64 only.
    np.testing.assert_allclose(
        weights, peer.get_weights().reshape(-1, 64), atol=2e-3, rtol=0
    )
    qe, peer_qe = float(quantization_error(weights, x)), peer.quantization_error(x)
    assert abs(qe - peer_qe) <= 0.05 * peer_qe
    te = float(topographic_error(weights, x, GRID, topology))
    assert abs(te - peer.topographic_error(x)) <= 0.02
    assert qe < 0.7 * float(quantization_error(w0, x))  # 4.45 vs 7.07


def test_engine_shuffled_online_reaches_minisom_quality():
    """batch_size=1 through the engine, its own sample order: same QE within 5%."""
    x = digits()
    peer, w0, _ = peer_run("rectangular", "gaussian")
    result = som_fit(x, GRID, key=jax.random.key(3), n_iterations=T, init_weights=w0)
    qe = float(quantization_error(result.state.weights, x))
    assert abs(qe - peer.quantization_error(x)) <= 0.05 * peer.quantization_error(x)
    assert result.epochs == -(-T // len(x))  # ceil(T / n) passes
    assert int(result.state.step) == result.epochs * len(x)


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
def test_metrics_match_minisom(topology):
    x = digits()
    peer, _, _ = peer_run(topology, "gaussian")
    w = peer.get_weights().reshape(-1, 64).astype(np.float32)
    assert np.isclose(
        float(quantization_error(w, x)), peer.quantization_error(x), rtol=1e-5
    )
    assert np.isclose(
        float(topographic_error(w, x, GRID, topology)),
        peer.topographic_error(x),
        atol=1.5 / len(x),  # at most one float32 near-tie of 2nd/3rd unit
    )
    np.testing.assert_array_equal(hit_map(w, x, GRID), peer.activation_response(x))
    xx, yy = peer.get_euclidean_coordinates()
    np.testing.assert_allclose(
        grid_coordinates(GRID, topology), np.stack([xx.ravel(), yy.ravel()], 1)
    )


@pytest.mark.parametrize(
    ("grid", "topology"), [((6, 7), "rectangular"), ((6, 7), "hexagonal")]
)
@pytest.mark.parametrize("scaling", ["sum", "mean"])
def test_u_matrix_matches_minisom_distance_map(grid, topology, scaling):
    # Odd column count: MiniSom's hexagonal table agrees with its coordinates.
    peer = minisom(grid, topology=topology)
    w = peer.get_weights().reshape(-1, 64)
    np.testing.assert_allclose(
        u_matrix(w.astype(np.float32), grid, topology, scaling),
        peer.distance_map(scaling=scaling),
        rtol=1e-5,
    )


@pytest.mark.parametrize("topology", ["rectangular", "hexagonal"])
@pytest.mark.parametrize("name", ["gaussian", "bubble", "mexican_hat", "triangle"])
def test_neighborhood_matches_minisom(topology, name):
    grid = (5, 4)  # even column count: the hexagonal shift is on odd columns
    peer = minisom(grid, topology=topology, neighborhood_function=name)
    h = neighborhood(name, grid, topology)
    for center in [0, 6, 13, 19]:
        for sigma in [1.0, 1.7, 2.0]:
            expected = peer.neighborhood(np.unravel_index(center, grid), sigma)
            np.testing.assert_allclose(
                h(center, sigma), expected.ravel(), rtol=1e-5, atol=1e-6
            )


def test_best_matching_unit_is_numpy_argmin():
    x = digits()
    w = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)
    expected = np.argmin(np.linalg.norm(x[:, None, :] - w[None], axis=-1), axis=1)
    np.testing.assert_array_equal(best_matching_unit(w, x), expected)


def test_batch_som_matches_minisom_train_batch_offline():
    x = digits()[:400]
    grid = (5, 5)
    peer = minisom(grid, sigma=2.0)
    w0 = peer.get_weights().reshape(-1, 64).astype(np.float32)
    ours = som_fit(
        x,
        grid,
        key=jax.random.key(0),
        n_iterations=15,
        algorithm="batch",
        init_weights=w0,
        sigma=2.0,
    )
    peer.train_batch_offline(x, 15)
    np.testing.assert_allclose(
        ours.state.weights, peer.get_weights().reshape(-1, 64), atol=1e-4
    )
    qe = ours.history["quantization_error"]  # QE before each batch update
    assert qe[-1] < 0.85 * qe[0]  # 5.45 vs 6.79 after 15 iterations


def test_batch_learner_decreases_quantization_error_on_digits():
    x = digits()
    learner = som_batch(
        (6, 6),
        n_iterations=30,
        sigma=3.0,
        learning_rate=1.0,
        decay="constant",
        sigma_decay=lambda s, t, n: s + t * (0.5 - s) / n,  # 3 -> 0.5
    )
    state = learner.init(jax.random.key(0), {"x": x})
    initial = float(quantization_error(state.weights, x))
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    for _ in range(30):
        state, metrics = update(state, {"x": x}, jax.random.key(0))
    final = learner.evaluate(state, {"x": x})
    assert float(final["quantization_error"]) < 0.75 * initial  # ~5.2 vs 7.1
    assert 0.0 <= float(final["topographic_error"]) <= 0.2


def test_batch_of_rows_is_the_same_online_rule_in_sequence():
    x = digits()[:32]
    learner = som((4, 4), n_iterations=32, neighborhood="bubble", sigma=2.0)
    # One trace per batch shape: the 32-row scan and the single-row step.
    update = jax.jit(chex.assert_max_traces(learner.update, n=2))
    state0 = learner.init(jax.random.key(0), {"x": x})
    whole, metrics = update(state0, {"x": x}, jax.random.key(0))
    state = state0
    for row in x:
        state, _ = update(state, {"x": row[None]}, jax.random.key(0))
    np.testing.assert_allclose(whole.weights, state.weights, rtol=1e-5, atol=1e-6)
    assert int(whole.step) == 32
    assert float(metrics["learning_rate"]) == pytest.approx(0.5 / (1 + 31 / 16))


def test_steps_past_n_iterations_leave_the_map_unchanged():
    x = digits()[:3]
    learner = som((3, 3), n_iterations=2)
    state = learner.init(jax.random.key(0), {"x": x})
    two, _ = learner.update(state, {"x": x[:2]}, jax.random.key(0))
    three, metrics = learner.update(state, {"x": x}, jax.random.key(0))
    np.testing.assert_array_equal(two.weights, three.weights)
    assert float(metrics["learning_rate"]) == 0.0
    assert not np.allclose(two.weights, state.weights)


def test_many_seeds_in_one_vmapped_call():
    x = digits()
    result = som_fit_seeds(
        x, (5, 5), key=jax.random.key(0), n_seeds=6, n_iterations=1169, init="samples"
    )
    assert result.state.weights.shape == (6, 25, 64)
    qe = np.asarray(jax.vmap(lambda w: quantization_error(w, x))(result.state.weights))
    # 36 seeds (keys 0-5 x 6 seeds) measured 5.13-5.26 (mean 5.18, sd 0.026);
    # random rows of x as the codebook (init="samples", untrained): ~7.
    assert np.all(qe < 5.35), qe
    assert np.unique(qe.round(5)).size == 6  # independent seeds differ


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"grid": (0, 5)}, "grid"),
        ({"grid": (4,)}, "grid"),
        ({"topology": "square"}, "topology"),
        ({"neighborhood": "cosine"}, "neighborhood"),
        ({"decay": "exponential"}, "decay"),
        ({"sigma": 0.0}, "sigma"),
        ({"init_weights": np.zeros((3, 64), np.float32)}, "init_weights"),
    ],
)
def test_bad_configuration(kwargs, match):
    settings = {"grid": (3, 3), "n_iterations": 10, **kwargs}
    with pytest.raises(ValueError, match=match):
        som(**settings)
    with pytest.raises(ValueError, match=match):
        som_batch(**settings)


def test_bad_fit_input():
    x = digits()
    with pytest.raises(ValueError, match="grid"):
        som_fit(x, (5, 0), key=jax.random.key(0), n_iterations=10)
    with pytest.raises(ValueError, match="rank 2"):
        som_fit(x[0], (5, 5), key=jax.random.key(0), n_iterations=10)
    with pytest.raises(ValueError, match="NaN"):
        som_fit(np.full_like(x, np.nan), (5, 5), key=jax.random.key(0), n_iterations=1)
    with pytest.raises(ValueError, match="algorithm"):
        som_fit(x, (5, 5), key=jax.random.key(0), n_iterations=10, algorithm="x")
    with pytest.raises(ValueError, match="init"):
        som_fit_seeds(x, (5, 5), key=jax.random.key(0), n_seeds=2, n_iterations=1,
                      init="zeros")  # fmt: skip
    with pytest.raises(ValueError, match="features"):
        quantization_error(np.zeros((4, 3), np.float32), x)


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        # MiniSom-style index sequences out of range were clamped or wrapped
        ({"order": np.array([0, 1, 500, 2])}, ValueError, r"`order` .* \[0, 100\)"),
        ({"order": np.array([0, -1, 2, 3])}, ValueError, r"got -1 at position 1"),
        ({"order": np.array([0.0, 1.0])}, TypeError, "`order` must have an integer"),
        ({"init_weights": "nan"}, ValueError, "`init_weights` contains NaN"),
        ({"init_weights": "inf"}, ValueError, "`init_weights` contains NaN or inf"),
        ({"init_weights": "features"}, ValueError, "`init_weights` must have the 64"),
        ({"init_weights": "rows"}, ValueError, "`init_weights` must have 9 rows"),
        ({"key": None}, TypeError, "`key` must be a JAX PRNG key"),
    ],
)
def test_bad_fit_arguments_are_refused_before_training(change, error, match):
    x = digits()[:100]
    weights = {
        "nan": np.full((9, 64), np.nan, np.float32),
        "inf": np.full((9, 64), np.inf, np.float32),
        "features": np.zeros((9, 3), np.float32),
        "rows": np.zeros((4, 64), np.float32),
    }
    args = {"key": jax.random.key(0), "n_iterations": 4, **change}
    if isinstance(args.get("init_weights"), str):
        args["init_weights"] = weights[args["init_weights"]]
    with pytest.raises(error, match=match):
        som_fit(x, (3, 3), **args)
    if "order" not in change:
        for algorithm in ("online", "batch"):
            with pytest.raises(error, match=match):
                som_fit(x, (3, 3), algorithm=algorithm, **args)
    if "key" in change:
        with pytest.raises(error, match=match):
            som_fit_seeds(x, (3, 3), key=None, n_seeds=2, n_iterations=4)


def test_a_diverging_map_raises_like_the_other_fits():
    # eta = 5 > 2 overshoots: every batch step multiplies the error by -4.
    x = digits()[:100]
    with pytest.raises(TrainingDiverged, match="Lower `learning_rate`") as info:
        som_fit(x, (3, 3), key=jax.random.key(0), n_iterations=80,
                algorithm="batch", learning_rate=5.0, decay="constant")  # fmt: skip
    assert info.value.result.reason == "diverged"


def test_fit_compiles_once_per_setting(count_traces):
    # (The learners' steps: test_batch_of_rows_... and test_batch_learner_...)
    # som_fit reuses the trainer compiled for these settings (shared with
    # test_batch_som_matches_minisom_train_batch_offline).
    x = digits()
    settings = dict(n_iterations=15, algorithm="batch", sigma=2.0)
    w0 = np.asarray(x[:25])
    first = som_fit(x[:400], (5, 5), key=jax.random.key(0), init_weights=w0, **settings)
    with count_traces() as traces:
        second = som_fit(x[:400], (5, 5), key=jax.random.key(1),
                         init_weights=w0[::-1].copy(), **settings)  # fmt: skip
    assert traces() == 0
    assert not np.allclose(first.state.weights, second.state.weights)
