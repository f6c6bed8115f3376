"""Partition function, AIS, pseudo-likelihood, reconstruction (jnn.generative)."""

import functools

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


def brute_free_energy(rbm):
    """``F(v)`` of every visible state from the written-out joint table."""
    energies, vs, _ = joint_energies(rbm)
    return -np.log(np.exp(-energies).sum(1)), vs


def test_log_partition_equals_enumeration_of_every_state():
    energies, vs, _ = joint_energies(RBM_5x4)
    exact = np.log(np.exp(-energies).sum())
    assert float(gen.log_partition(RBM_5x4)) == pytest.approx(exact, abs=1e-5)
    # chunks that do not divide 2^H give the same sum
    assert float(gen.log_partition(RBM_5x4, chunk_size=3)) == pytest.approx(
        exact, abs=1e-5
    )
    # the likelihood is normalised over all 2^V visible states
    log_p = gen.log_likelihood(RBM_5x4, vs, gen.log_partition(RBM_5x4))
    assert float(jnp.sum(jnp.exp(log_p))) == pytest.approx(1.0, abs=1e-5)


def test_gaussian_log_partition_equals_quadrature():
    sigma = np.array([0.7, 1.3])
    rbm = gen.GaussianRBM(
        *random_rbm(2, 3, seed=7, scale=0.5), jnp.asarray(sigma, jnp.float32)
    )
    w, b, c, _ = (np.asarray(p, np.float64) for p in rbm)
    grid = np.linspace(-14, 14, 1401)
    v = np.stack(np.meshgrid(grid, grid, indexing="ij"), -1).reshape(-1, 2)
    hs = all_states(3)
    energies = (((v - b) / sigma) ** 2).sum(1)[:, None] / 2 - hs @ c
    energies -= (v / sigma) @ w @ hs.T
    density = np.exp(-energies).sum(1).reshape(len(grid), len(grid))
    step = grid[1] - grid[0]
    exact = np.log(density.sum() * step * step)
    assert float(gen.log_partition(rbm)) == pytest.approx(exact, abs=1e-4)


def test_ais_agrees_with_exact_log_z_on_a_random_rbm():
    rbm = random_rbm(12, 6, seed=2, scale=1.0)
    exact = float(gen.log_partition(rbm))
    est = gen.annealed_importance_sampling(
        rbm, jax.random.key(0), n_chains=200, betas=1000
    )
    assert est.log_weights.shape == (200,)
    assert abs(float(est.log_z) - exact) < 3 * float(est.std_error)
    assert float(est.log_z_low) < exact < float(est.log_z_high)
    assert float(est.std_error) < 0.05


@functools.cache
def mnist_rbm_15():
    """784 x 15 RBM, CD-1 on 5,000 binarised MNIST images (2 epochs)."""
    ds = load("mnist", standardize=False, val_size=1000)
    train = np.asarray(gen.binarize(jax.random.key(1), ds.train["x"][:5000]))
    bias = gen.base_rate_bias(train)
    learner = gen.contrastive_divergence(15, visible_bias=bias, momentum=0.9)
    result = fit(
        learner,
        {"x": train},
        key=jax.random.key(0),
        epochs=2,
        batch_size=100,
        progress=False,
    )
    return result.state.rbm, bias, train


# ~25 s of one core (the 10-minute suite budget); the random-RBM AIS check
# stays in the suite
@pytest.mark.slow
def test_ais_agrees_with_exact_log_z_on_mnist_784x15():
    rbm, bias, train = mnist_rbm_15()
    exact = float(gen.log_partition(rbm))
    est = gen.annealed_importance_sampling(
        rbm, jax.random.key(3), base_bias=bias, n_chains=100, betas=2000
    )
    assert abs(float(est.log_z) - exact) < 3 * float(est.std_error)
    assert float(est.std_error) < 0.1
    # the uniform base (no base-rate model) is a far worse start
    worse = gen.annealed_importance_sampling(
        rbm, jax.random.key(3), n_chains=100, betas=2000
    )
    assert float(worse.std_error) > float(est.std_error)
    # and the trained model beats the base-rate model on its data
    base = gen.RBM(jnp.zeros_like(rbm.weights), bias, jnp.zeros_like(rbm.hidden_bias))
    gain = jnp.mean(gen.log_likelihood(rbm, train[:1000], exact)) - jnp.mean(
        gen.log_likelihood(base, train[:1000], gen.log_partition(base))
    )
    assert float(gain) > 20


def test_annealing_schedule_is_the_papers():
    betas = np.asarray(gen.annealing_schedule(14500))
    assert betas.shape == (14501,) and betas[0] == 0 and betas[-1] == 1
    assert np.all(np.diff(betas) > 0)
    assert (
        np.sum(betas <= 0.5) == 501 and np.sum((betas > 0.5) & (betas <= 0.9)) == 4000
    )
    assert len(gen.annealing_schedule(100)) == 101


def test_pseudo_likelihood_exact_sampled_and_scikit_learn_agree():
    free, vs = brute_free_energy(RBM_5x4)
    x = vs[[3, 7, 12, 30, 17]]
    expected = []
    for v in x:
        index = int("".join(str(int(t)) for t in v), 2)
        flips = [index ^ (1 << (4 - i)) for i in range(5)]
        expected.append(np.sum(-np.logaddexp(0, -(free[flips] - free[index]))))
    np.testing.assert_allclose(gen.pseudo_likelihood(RBM_5x4, x), expected, rtol=1e-5)
    # the one-bit estimate is unbiased: its mean over many draws is the exact sum
    repeats = 4000
    tiled = np.tile(x, (repeats, 1))
    draws = gen.pseudo_likelihood(RBM_5x4, tiled, jax.random.key(0))
    draws = np.asarray(draws).reshape(repeats, len(x))
    error = draws.std(0) / np.sqrt(repeats)
    assert np.all(np.abs(draws.mean(0) - expected) < 4 * error)
    # scikit-learn's score_samples on the same parameters estimates the same
    sk = BernoulliRBM(n_components=4, random_state=0)
    sk.components_ = np.asarray(RBM_5x4.weights, np.float64).T
    sk.intercept_visible_ = np.asarray(RBM_5x4.visible_bias, np.float64)
    sk.intercept_hidden_ = np.asarray(RBM_5x4.hidden_bias, np.float64)
    peer = sk.score_samples(tiled).reshape(repeats, len(x))
    assert np.all(np.abs(peer.mean(0) - expected) < 4 * error)


def test_reconstruction_error_is_one_up_down_pass():
    x = all_states(5)[[1, 9, 22]]
    w, b, c = (np.asarray(p, np.float64) for p in RBM_5x4)
    h = 1 / (1 + np.exp(-(x @ w + c)))
    recon = 1 / (1 + np.exp(-(h @ w.T + b)))
    np.testing.assert_allclose(
        gen.reconstruction_error(RBM_5x4, x), ((x - recon) ** 2).sum(1), rtol=1e-5
    )
    sampled = gen.reconstruction_error(RBM_5x4, x, jax.random.key(0))
    assert sampled.shape == (3,)


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="`betas`.*at least 2"):
        gen.annealed_importance_sampling(RBM_5x4, jax.random.key(0), betas=1)
    with pytest.raises(ValueError, match="`betas`.*at least 2"):
        gen.annealed_importance_sampling(
            RBM_5x4, jax.random.key(0), betas=jnp.array([1.0])
        )
    with pytest.raises(ValueError, match="`betas` must rise"):
        gen.annealed_importance_sampling(
            RBM_5x4, jax.random.key(0), betas=jnp.array([0.5, 1.0])
        )
    with pytest.raises(ValueError, match="`base_bias`"):
        gen.annealed_importance_sampling(
            RBM_5x4, jax.random.key(0), base_bias=jnp.zeros(4)
        )
    gaussian = gen.GaussianRBM(*RBM_5x4, jnp.ones(5))
    with pytest.raises(ValueError, match="`rbm` must be a Bernoulli"):
        gen.annealed_importance_sampling(gaussian, jax.random.key(0))
    with pytest.raises(ValueError, match="`rbm` has 30 hidden units"):
        gen.log_partition(random_rbm(3, 30))
    with pytest.raises(ValueError, match="`v` must be binary"):
        gen.pseudo_likelihood(RBM_5x4, jnp.full((2, 5), 0.5))
    with pytest.raises(ValueError, match="`v`.*5 visible units"):
        gen.log_likelihood(RBM_5x4, jnp.zeros((2, 4)), 0.0)
