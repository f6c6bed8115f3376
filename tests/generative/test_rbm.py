"""RBM energy, Gibbs conditionals, CD-k / PCD learners (jnn.generative)."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.neural_network import BernoulliRBM

from jnn import generative as gen
from jnn.train import fit
from tests.conftest import load
from tests.generative import all_states, joint_energies, random_rbm

RBM_5x4 = random_rbm(5, 4, seed=0)


@functools.cache
def mnist(n_train=5000, n_test=1000):
    """Stochastically binarised MNIST (fixed keys), as the example uses it."""
    ds = load("mnist", standardize=False, val_size=1000)
    train = np.asarray(gen.binarize(jax.random.key(1), ds.train["x"][:n_train]))
    test = np.asarray(gen.binarize(jax.random.key(2), ds.test["x"][:n_test]))
    return train, test


# --- the energy against brute-force enumeration ---------------------------------


def test_energy_free_energy_and_conditionals_equal_enumeration():
    energies, vs, hs = joint_energies(RBM_5x4)
    got = gen.energy(RBM_5x4, vs[:, None, :], hs[None, :, :])
    np.testing.assert_allclose(got, energies, atol=2e-5)
    # F(v) = -log sum_h exp(-E(v, h))
    free = -np.log(np.exp(-energies).sum(1))
    np.testing.assert_allclose(gen.free_energy(RBM_5x4, vs), free, rtol=1e-5)
    # p(h_j = 1 | v) and p(v_i = 1 | h) from the joint table
    joint = np.exp(-energies)
    p_h = (joint / joint.sum(1, keepdims=True)) @ hs
    np.testing.assert_allclose(gen.hidden_probabilities(RBM_5x4, vs), p_h, atol=1e-6)
    p_v = (joint / joint.sum(0, keepdims=True)).T @ vs
    np.testing.assert_allclose(gen.visible_mean(RBM_5x4, hs), p_v, atol=1e-6)


def test_gaussian_free_energy_and_conditional_mean():
    rng = np.random.default_rng(3)
    sigma = jnp.asarray(rng.uniform(0.5, 2.0, 3), jnp.float32)
    rbm = gen.GaussianRBM(*random_rbm(3, 4, seed=3), sigma)
    v = jnp.asarray(rng.normal(size=(7, 3)), jnp.float32)
    hs = all_states(4)
    w, b, c, s = (np.asarray(p, np.float64) for p in rbm)
    vv = np.asarray(v, np.float64)
    # E(v, h) = sum (v - b)^2 / 2 s^2 - c.h - (v / s) W h, written out
    energies = (((vv - b) / s) ** 2).sum(1)[:, None] / 2 - hs @ c - (vv / s) @ w @ hs.T
    np.testing.assert_allclose(
        gen.energy(rbm, v[:, None, :], hs[None]), energies, rtol=1e-5, atol=1e-5
    )
    free = -np.log(np.exp(-energies).sum(1))
    np.testing.assert_allclose(gen.free_energy(rbm, v), free, rtol=1e-5, atol=1e-5)
    # v | h is Gaussian: -E is a quadratic in v_i with its peak at E[v | h]
    # and curvature 1 / sigma^2.
    h = hs[5]
    mean = np.asarray(gen.visible_mean(rbm, h), np.float64)
    energy = lambda x: (((x - b) / s) ** 2).sum() / 2 - (x / s) @ w @ h  # noqa: E731
    for i in range(3):
        step = np.eye(3)[i] * 0.3
        assert abs(energy(mean + step) - energy(mean - step)) < 1e-6
        curvature = (
            energy(mean + step) + energy(mean - step) - 2 * energy(mean)
        ) / 0.09
        assert curvature == pytest.approx(1 / s[i] ** 2, rel=1e-5)


def test_gibbs_chains_sample_the_model_distribution():
    rbm = random_rbm(4, 3, seed=5)
    energies, vs, _ = joint_energies(rbm)
    p = np.exp(-energies).sum(1)
    p /= p.sum()
    start = jnp.zeros((20000, 4))
    samples = np.asarray(gen.sample(rbm, jax.random.key(0), start, 30, mean=False))
    index = samples.astype(int) @ (2 ** np.arange(3, -1, -1))
    counts = np.bincount(index, minlength=16)
    total_variation = 0.5 * np.abs(counts / counts.sum() - p).sum()
    assert total_variation < 0.015  # 20,000 samples: sampling TV about 0.01


def test_vmap_of_one_state_equals_the_batch():
    v = all_states(5)[:9]
    np.testing.assert_allclose(
        jax.vmap(lambda x: gen.free_energy(RBM_5x4, x))(v),
        gen.free_energy(RBM_5x4, v),
        rtol=1e-6,
    )


# --- CD-k against the exact gradient ---------------------------------------------


def exact_nll_gradient(rbm, data_index):
    """-d/dW mean log p(data) by enumeration: <v h>_model - <v p(h|v)>_data."""
    energies, vs, hs = joint_energies(rbm)
    joint = np.exp(-energies - np.log(np.exp(-energies).sum()))
    cond = np.exp(-energies[data_index])
    cond /= cond.sum(1, keepdims=True)
    positive = vs[data_index].T @ (cond @ hs) / len(data_index)
    negative = np.einsum("vh,vi,hj->ij", joint, vs, hs)
    return negative - positive


@functools.partial(jax.jit, static_argnames="k")
def _cd_weight_gradient(rbm, start, key, k):
    negative, _ = gen.negative_samples(rbm, start, key, k)
    return gen.free_energy_gradient(rbm, start, negative)[0].weights


@pytest.mark.slow  # ~12 s of one core (the suite's 10-minute budget on 2 cores)
def test_cd_k_gradient_is_unbiased_as_k_grows():
    # strong weights (scale 3): slow mixing, so CD-1 is clearly biased
    rbm = random_rbm(6, 4, seed=1, scale=3.0)
    data_index = np.array([0, 5, 21, 42, 63, 12, 50, 33])
    exact = exact_nll_gradient(rbm, data_index)
    start = jnp.asarray(np.tile(all_states(6)[data_index], (40000, 1)), jnp.float32)
    bias = {
        k: np.abs(
            np.asarray(_cd_weight_gradient(rbm, start, jax.random.key(k), k)) - exact
        ).max()
        for k in (1, 3, 50)
    }
    # measured: 0.148, 0.008, 0.001 (Monte Carlo error of 320,000 chains ~0.001)
    assert bias[1] > 0.1
    assert bias[3] < bias[1] / 5
    assert bias[50] < 0.004


# --- learning on MNIST -------------------------------------------------------------


def test_cd1_on_mnist_improves_pseudo_likelihood_and_reconstruction():
    train, test = mnist()
    bias = gen.base_rate_bias(train)
    before = gen.init_rbm(jax.random.key(0), 784, 64, visible_bias=bias)
    learner = gen.contrastive_divergence(64, visible_bias=bias)
    result = fit(
        learner,
        {"x": train},
        key=jax.random.key(0),
        epochs=3,
        batch_size=100,
        val={"x": test},
        progress=False,
    )
    pl_before = float(jnp.mean(gen.pseudo_likelihood(before, test)))
    pl_after = float(jnp.mean(gen.pseudo_likelihood(result.state.rbm, test)))
    recon = result.history["val_reconstruction_error"]
    # measured: PL -200.9 -> -142.6 nats, reconstruction 52.9 -> 43.2 (3 epochs)
    assert pl_before < -195 and pl_after > -148
    assert recon[-1] < 45 and np.all(np.diff(recon) < 0)


def test_pcd_pseudo_likelihood_at_least_scikit_learns():
    # Same data, sizes, batch, learning rate, epochs, both PCD-1 without momentum.
    train, test = mnist()
    sk = BernoulliRBM(
        n_components=64, learning_rate=0.1, batch_size=100, n_iter=3, random_state=0
    ).fit(train)
    peer = gen.RBM(
        jnp.asarray(sk.components_.T, jnp.float32),
        jnp.asarray(sk.intercept_visible_, jnp.float32),
        jnp.asarray(sk.intercept_hidden_, jnp.float32),
    )
    learner = gen.persistent_contrastive_divergence(
        64,
        learning_rate=0.1,
        momentum=0.0,
        weight_decay=0.0,
        visible_bias=gen.base_rate_bias(train),
    )
    ours = fit(
        learner,
        {"x": train},
        key=jax.random.key(0),
        epochs=3,
        batch_size=100,
        progress=False,
    ).state.rbm
    pl_ours = float(jnp.mean(gen.pseudo_likelihood(ours, test)))
    pl_peer = float(jnp.mean(gen.pseudo_likelihood(peer, test)))
    # measured: -155.6 (jnn) vs -183.5 (scikit-learn; its own estimate -174.6)
    assert pl_ours >= pl_peer
    assert pl_ours >= float(np.mean(sk.score_samples(test)))


def test_update_is_traced_once():
    train, _ = mnist()
    learner = gen.contrastive_divergence(16, k=2)
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    batch = {"x": train[:50]}
    state = learner.init(jax.random.key(0), batch)
    for i in range(3):
        state, metrics = update(
            state, {"x": train[50 * i : 50 * i + 50]}, jax.random.key(i)
        )
    assert set(metrics) == {"reconstruction_error", "free_energy_gap"}


def test_gaussian_rbm_learns_standardised_digits():
    ds = load("digits", seed=0)  # z-scored 8x8 digits
    learner = gen.contrastive_divergence(
        32, gaussian=True, learning_rate=0.05, sample_last=False
    )
    result = fit(
        learner,
        {"x": ds.train["x"]},
        key=jax.random.key(0),
        epochs=10,
        batch_size=50,
        val={"x": ds.val["x"]},
        progress=False,
    )
    recon = result.history["val_reconstruction_error"]
    # 64 z-scored pixels: predicting the mean costs ~62 per example.
    # measured (seeds 0, 1): 52.6 after the first epoch, 22.1-22.2 after 10
    assert recon[0] > 50 and recon[-1] < 24


# --- bad input ---------------------------------------------------------------------


def test_bad_input_names_the_argument():
    train, _ = mnist()
    with pytest.raises(ValueError, match="binary"):
        fit(
            gen.contrastive_divergence(8),
            {"x": train[:200] * 0.5},
            key=jax.random.key(0),
            epochs=1,
            batch_size=100,
            progress=False,
        )
    with pytest.raises(ValueError, match="`k`"):
        gen.contrastive_divergence(8, k=0)
    with pytest.raises(ValueError, match="`v`.*5 visible units"):
        gen.free_energy(RBM_5x4, jnp.zeros((2, 6)))
    with pytest.raises(ValueError, match="`h`.*4 hidden units"):
        gen.visible_mean(RBM_5x4, jnp.zeros((2, 3)))
    with pytest.raises(ValueError, match="`start`"):
        gen.sample(RBM_5x4, jax.random.key(0), jnp.zeros((2, 4)), 1)
    with pytest.raises(ValueError, match="sample_last"):
        gen.persistent_contrastive_divergence(8, sample_last=False)
    with pytest.raises(TypeError, match="`rbm`"):
        gen.log_partition({"weights": 1})
    with pytest.raises(ValueError, match="`rbm.hidden_bias`"):
        gen.check_rbm(RBM_5x4._replace(hidden_bias=jnp.zeros(3)))


def test_example_smoke(tmp_path, monkeypatch):
    # examples/generative/rbm_mnist.py at smoke size (16 hidden units, 1 epoch)
    import runpy
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    script = Path(__file__).parents[2] / "examples" / "generative" / "rbm_mnist.py"
    summary = runpy.run_path(str(script))["main"](["--smoke"])
    results = summary["results"]
    assert set(results) == {"cd1", "pcd"}
    for r in results.values():
        assert -205 < r["test_log_likelihood"] < -150
        assert r["log_z_std_error"] < 0.4  # measured 0.22 (cd1), 0.11 (pcd)
    # base-rate model: about -200 nats; measured -181.3 after 100 CD-1 updates
    assert results["cd1"]["test_log_likelihood"] > -190
    assert (tmp_path / "jnn-output" / "rbm_pcd_samples.png").exists()
