"""Demo of curriculum Gen4: a variational auto-encoder on MNIST.

``vae-mnist``: Kingma & Welling's 784-400-20 VAE (Bernoulli decoder) trained
through :func:`jnn.train.fit` with the negative ELBO
(:func:`jnn.generative.vae.negative_elbo`, Adam 3e-3: a short run) for 2
epochs on 20,000 MNIST images binarised stochastically once (fixed key),
batch 128. Plotted: test digits, their
reconstructions and samples from the prior; linear and spherical latent
interpolations between pairs of test digits. The headline is the test
negative ELBO in nats (one draw per image), its reconstruction and KL terms
from the fit history beside it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import plotting
from jnn.data import load
from jnn.demos import DemoConfig, DemoResult, register
from jnn.generative import vae as V
from jnn.train import fit, gradient_learner

LEARNING_RATE = 3e-3


@functools.partial(jax.jit, static_argnums=0)
def _pictures(model, params, digits, key):
    """Digits, reconstructions, prior samples; interpolation paths (one compile)."""
    shown = digits[:20]
    samples = V.sample_prior(model, params, key, 20)
    grid = jnp.concatenate([shown, V.reconstruct(model, params, shown), samples])
    paths = [
        V.latent_interpolation(model, params, digits[i], digits[i + 1], 10, method)
        for i in (20, 22, 24)
        for method in ("linear", "spherical")
    ]
    return grid, jnp.concatenate(paths)


@register(
    "vae-mnist", "Gen4", "VAE on MNIST: ELBO terms, reconstructions, interpolation"
)
def vae_mnist(config: DemoConfig) -> DemoResult:
    """A 784-400-20 VAE on binarised MNIST; reconstructions and interpolations."""
    smoke = config.smoke
    n_train, n_test, hidden = (2000, 500, 64) if smoke else (20_000, 1000, 400)
    epochs = config.epochs_or(2, smoke=1)
    ds = load("mnist", standardize=False, val_size=1000)
    images = np.concatenate([ds.train["x"][:n_train], ds.test["x"][:n_test]])
    binary = jax.random.bernoulli(jax.random.key(2014), images)
    train, test = np.split(np.asarray(binary, np.float32), [n_train])
    model = V.mlp_vae(latents=20, hidden=hidden)
    learner = gradient_learner(model, V.negative_elbo(model), optax.adam(LEARNING_RATE))
    key = jax.random.key(config.seed)
    result = fit(
        learner,
        {"x": train},
        key=key,
        epochs=epochs,
        batch_size=128,
        val={"x": test},
        progress=False,
    )
    params, history = result.state.params, result.history
    nats = float(history["val_loss"][-1])
    reconstruction = float(history["val_reconstruction"][-1])
    kl = float(history["val_kl"][-1])
    grid, paths = _pictures(model, params, test[:26], jax.random.fold_in(key, 1))
    out = config.out
    figures = (
        plotting.image_grid(
            np.asarray(grid),
            out / "vae_mnist_reconstructions.png",
            "rows 1-2: test digits, 3-4: reconstructions, 5-6: prior samples",
            limit=60,
        ),
        plotting.image_grid(
            np.asarray(paths),
            out / "vae_mnist_interpolation.png",
            "latent interpolation, pairs of rows: linear, then spherical",
            limit=60,
        ),
    )
    return DemoResult(
        f"MNIST, {n_train} binarised training images, {n_test} test images",
        "test negative ELBO (nats)",
        nats,
        figures,
        f"784-{hidden}-20 VAE, Bernoulli decoder, Adam {LEARNING_RATE:g}, batch "
        f"128, {epochs} epochs: test negative ELBO {nats:.1f} nats = reconstruction "
        f"{reconstruction:.1f} + KL {kl:.1f} (the base-rate model: about 206).",
    )
