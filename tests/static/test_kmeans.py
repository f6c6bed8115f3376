"""k-means (S9): scikit-learn peer, NumPy Lloyd step, monotone inertia, bad input."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

import jnn
from jnn.static import (
    KMeansState,
    assign_clusters,
    kmeans,
    kmeans_convergence,
    kmeans_fit,
    kmeans_plus_plus,
    kmeans_predict,
    lloyd_step,
)
from tests.conftest import load

LEARNER = kmeans(10)  # one object: fit's compiled epochs are cached per learner


def digits_x():
    return load("digits").train["x"]


def numpy_lloyd_step(x, centers):
    """Brute-force Lloyd iteration in float64."""
    x, centers = x.astype(np.float64), centers.astype(np.float64)
    dist = ((x[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    labels = dist.argmin(1)
    new = centers.copy()
    for j in range(len(centers)):
        if np.any(labels == j):
            new[j] = x[labels == j].mean(0)
    return new, labels, dist.min(1).sum(), ((new - centers) ** 2).sum()


@pytest.mark.parametrize("transform", [lambda f: f, jax.jit], ids=["eager", "jit"])
def test_lloyd_step_matches_numpy(transform):
    x = digits_x()
    centers = x[:: len(x) // 10][:10]
    new, labels, inertia, shift = transform(lloyd_step)(x, centers)
    want = numpy_lloyd_step(x, centers)
    np.testing.assert_array_equal(labels, want[1])
    np.testing.assert_allclose(new, want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(inertia, want[2], rtol=1e-5)
    np.testing.assert_allclose(shift, want[3], rtol=1e-4)
    labels2, inertia2 = assign_clusters(x, centers)
    np.testing.assert_array_equal(labels2, want[1])
    np.testing.assert_allclose(inertia2, want[2], rtol=1e-6)


def test_same_initial_centres_as_scikit_learn_give_same_result():
    x = digits_x()
    init = np.asarray(kmeans_plus_plus(jax.random.key(3), jnp.asarray(x), 10))
    peer = KMeans(10, init=init, n_init=1, tol=1e-4, max_iter=300).fit(x)
    ours = kmeans_fit(x, 10, key=jax.random.key(0), init=init)
    np.testing.assert_allclose(float(ours.inertia), peer.inertia_, rtol=1e-4)
    np.testing.assert_array_equal(ours.labels, peer.labels_)
    assert abs(int(ours.iterations) - peer.n_iter_) <= 1
    np.testing.assert_allclose(ours.centers, peer.cluster_centers_, atol=1e-4)
    held_out = load("digits").test["x"]
    np.testing.assert_array_equal(
        kmeans_predict(ours, held_out), peer.predict(held_out)
    )
    assert ours.converged and len(ours.history["inertia"]) == ours.iterations


def test_inertia_never_increases_and_convergence_stops_the_engine():
    x = {"x": digits_x()}
    result = jnn.train.fit(
        LEARNER,
        x,
        key=jax.random.key(1),
        epochs=300,
        stop=kmeans_convergence(1e-4),
        progress=False,
    )
    inertia = result.history["inertia"]
    assert result.reason == "metric_below" and 3 < result.epochs < 300
    assert np.all(np.diff(inertia) <= 1e-6 * inertia[0])
    assert inertia[-1] < 0.99 * inertia[0]  # the iterations did improve it
    shift = result.history["relative_center_shift"][-1]
    assert shift <= 1e-4 < result.history["relative_center_shift"][0]


def test_restarts_equal_single_engine_runs_and_reach_scikit_learn():
    x = digits_x()
    key = jax.random.key(0)
    ours = kmeans_fit(x, 10, key=key, n_init=10)
    for r, sub in enumerate(jax.random.split(key, 10)[:2]):
        single = jnn.train.fit(
            LEARNER,
            {"x": x},
            key=sub,
            epochs=300,
            stop=kmeans_convergence(1e-4),
            progress=False,
        )
        _, inertia = assign_clusters(jnp.asarray(x), single.state.centers)
        np.testing.assert_allclose(ours.restart_inertia[r], inertia, rtol=1e-6)
    assert float(ours.inertia) == float(ours.restart_inertia.min())
    peer = KMeans(10, n_init=10, random_state=0).fit(x)
    assert float(ours.inertia) <= 1.01 * peer.inertia_
    # The clusters are digit classes to a good part (chance ARI is 0).
    assert adjusted_rand_score(load("digits").train["y"], ours.labels) > 0.4


def test_kmeans_plus_plus_beats_random_seeding():
    x = jnp.asarray(digits_x())
    keys = jax.random.split(jax.random.key(0), 16)
    plus = jax.jit(jax.vmap(lambda k: kmeans_plus_plus(k, x, 10)))(keys)
    rows = jax.vmap(lambda k: jax.random.choice(k, len(x), (10,), replace=False))(keys)
    inertia = jax.vmap(lambda c: assign_clusters(x, c)[1])
    assert float(inertia(plus).mean()) < 0.95 * float(inertia(x[rows]).mean())
    # Seeds are distinct rows of x.
    for centres in np.asarray(plus[:3]):
        hits = (np.asarray(x)[None, :, :] == centres[:, None, :]).all(-1)
        assert hits.any(1).all() and len(np.unique(centres, axis=0)) == 10


def test_bad_input_is_rejected_with_the_argument_name():
    x = digits_x()[:8]
    with pytest.raises(ValueError, match="n_clusters"):
        kmeans_fit(x, 9, key=jax.random.key(0))
    with pytest.raises(ValueError, match="init"):
        kmeans_fit(x, 3, key=jax.random.key(0), init="kmeans++")
    with pytest.raises(ValueError, match="init"):
        kmeans_fit(x, 3, key=jax.random.key(0), init=np.zeros((2, 64), np.float32))
    bad = x.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="x"):
        kmeans_fit(bad, 3, key=jax.random.key(0))
    with pytest.raises(ValueError, match="tol"):
        kmeans_fit(x, 3, key=jax.random.key(0), tol=0.0)
    with pytest.raises(ValueError, match="n_clusters"):
        jnn.train.fit(kmeans(9), {"x": x}, key=jax.random.key(0), epochs=2)
    for key in (None, 0, jax.random.split(jax.random.key(0), 2)):
        with pytest.raises(TypeError, match="`key` must be a JAX PRNG key"):
            kmeans_fit(x, 3, key=key)
        with pytest.raises(TypeError, match="`key` must be a JAX PRNG key"):
            kmeans_plus_plus(key, jnp.asarray(x), 3)


def test_lloyd_update_and_kmeans_fit_compile_once(count_traces):
    x = digits_x()
    step = jax.jit(chex.assert_max_traces(LEARNER.update, n=1))
    state = KMeansState(jnp.asarray(x[:10]), jnp.asarray(1.0, jnp.float32))
    for i in range(3):  # new values, same shapes: no retrace
        state, _ = step(state, {"x": x + i}, jax.random.key(i))
    # Given centres: the compiled run of test_same_initial_centres_as_...
    init = x[:: len(x) // 10][:10]
    first = kmeans_fit(x, 10, key=jax.random.key(0), init=init)
    with count_traces() as traces:
        second = kmeans_fit(x, 10, key=jax.random.key(1), init=init[::-1].copy())
    assert traces() == 0
    assert not np.array_equal(first.labels, second.labels)
