"""Demo of curriculum Gen2: an RBM learns MNIST digits by CD-1.

``rbm-mnist``: a 784-200 restricted Boltzmann machine trained by CD-1
(:func:`jnn.generative.contrastive_divergence`, Hinton's momentum and weight
decay, visible biases at the base rates) for 3 epochs on 30,000 MNIST images
binarised stochastically once (as Salakhutdinov & Murray 2008). Plotted: the
first 50 filters (the weights into hidden units) and 50 samples after 500
block Gibbs sweeps from base-rate noise. The headline is the test
log-likelihood in nats, ``mean(-F(v)) - log Z`` with ``log Z`` from annealed
importance sampling (100 chains, 2,000 temperatures, base-rate model), beside
the base-rate model's own exact log-likelihood.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnn import plotting
from jnn.data import load
from jnn.demos import DemoConfig, DemoResult, register
from jnn.generative import (
    annealed_importance_sampling,
    base_rate_bias,
    binarize,
    contrastive_divergence,
    log_likelihood,
    sample,
)
from jnn.train import fit


@jax.jit
def _mean_log_likelihood(rbm, test, log_z):
    return jnp.mean(log_likelihood(rbm, test, log_z))


@register("rbm-mnist", "Gen2", "RBM by CD-1 on MNIST: filters, samples, AIS nats")
def rbm_mnist(config: DemoConfig) -> DemoResult:
    """CD-1 on binarised MNIST; filters, Gibbs samples, AIS test log-likelihood."""
    smoke = config.smoke
    n_train, n_test, hidden = (2000, 500, 32) if smoke else (30_000, 2000, 200)
    chains, temperatures, sweeps = (20, 200, 50) if smoke else (100, 2000, 500)
    epochs = config.epochs_or(3, smoke=1)
    ds = load("mnist", standardize=False, val_size=1000)
    images = np.concatenate([ds.train["x"][:n_train], ds.test["x"][:n_test]])
    train, test = np.split(
        np.asarray(binarize(jax.random.key(2008), images)), [n_train]
    )
    bias = base_rate_bias(train)
    learner = contrastive_divergence(hidden, learning_rate=0.1, visible_bias=bias)
    key = jax.random.key(config.seed)
    result = fit(
        learner, {"x": train}, key=key, epochs=epochs, batch_size=100, progress=False
    )
    rbm = result.state.rbm
    estimate = annealed_importance_sampling(
        rbm,
        jax.random.fold_in(key, 1),
        base_bias=bias,
        n_chains=chains,
        betas=temperatures,
    )
    nats = float(_mean_log_likelihood(rbm, test, estimate.log_z))
    # the base-rate model: independent pixels, log p(v) = b.v - sum softplus(b)
    b = np.asarray(bias, np.float64)
    base_nats = float(np.mean(test @ b) - np.logaddexp(0, b).sum())
    noise = binarize(
        jax.random.fold_in(key, 2), jnp.broadcast_to(jax.nn.sigmoid(bias), (50, 784))
    )
    samples = sample(rbm, jax.random.fold_in(key, 3), noise, sweeps)
    out = config.out
    figures = (
        plotting.image_grid(
            np.asarray(rbm.weights.T[:50]),
            out / "rbm_mnist_filters.png",
            f"784-{hidden} RBM, CD-1: filters of the first 50 hidden units",
            signed=True,
            limit=50,
        ),
        plotting.image_grid(
            np.asarray(samples),
            out / "rbm_mnist_samples.png",
            f"samples after {sweeps} Gibbs sweeps from base-rate noise",
            limit=50,
        ),
    )
    return DemoResult(
        f"MNIST, {n_train} binarised training images, {n_test} test images",
        "test log-likelihood (nats, AIS)",
        nats,
        figures,
        f"784-{hidden} RBM, CD-1, {epochs} epochs: test log-likelihood {nats:.1f} "
        f"nats (AIS log Z {float(estimate.log_z):.1f} ± "
        f"{float(estimate.std_error):.2f}, {chains} chains x {temperatures} "
        f"temperatures) vs {base_nats:.1f} nats for the base-rate model.",
    )
