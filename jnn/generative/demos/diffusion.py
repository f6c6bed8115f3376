"""Demo of curriculum Gen4: a small DDPM noises and denoises MNIST digits.

``diffusion-steps``: a small epsilon-prediction network trained for a few
hundred steps with DDPM's simple loss (Ho et al. 2020) through
:func:`jnn.train.fit`, with an exponential moving average of its weights. The
network is a two-layer MLP with a sinusoidal time embedding (it compiles in a
second; the UNet of :mod:`jnn.generative.diffusion` takes tens of seconds to
compile on a CPU and is what ``examples/generative/diffusion_mnist.py``
trains); the samplers take either.
Plotted: the forward process ``q(x_t | x_0)`` of a test digit at six steps,
the network's denoised guess ``x0_hat`` from each, and the path of a DDIM
sampler (Song et al. 2021, 10 steps, eta 0) from pure noise. The headline is
the test simple loss against 1.0, the loss of predicting no noise at all.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import plotting
from jnn.data import load
from jnn.demos import DemoConfig, DemoResult, register
from jnn.generative import diffusion as dm
from jnn.plotting import plt
from jnn.train import Context, ema_params, fit, gradient_learner, with_ema

STEPS_SHOWN = (0, 100, 250, 500, 750, 999)


class MLPDenoiser(nn.Module):
    """``epsilon(x_t, t)`` by an MLP on the flattened image (demo-sized).

    The output is ``sqrt(1 - alpha_bar_t) x_t + MLP(x_t, t)``: the first term
    is the optimal predictor for data with zero mean and unit variance, so the
    MLP learns a correction (a skip connection, as in Karras et al. 2022's
    preconditioning).
    """

    hidden: int = 512
    steps: int = 1000

    @nn.compact
    def __call__(self, x, t=None):
        """``(B, H, W, C)``, ``(B,)`` steps -> ``(B, H, W, C)``."""
        t = jnp.zeros(x.shape[:1], jnp.int32) if t is None else t
        alpha_bar = dm.linear_schedule(self.steps).alpha_bar
        skip = jnp.sqrt(1 - jnp.interp(t, jnp.arange(self.steps), alpha_bar))
        time = nn.silu(nn.Dense(self.hidden)(dm.timestep_embedding(t, 64)))
        h = nn.silu(nn.Dense(self.hidden)(x.reshape(x.shape[0], -1)) + time)
        h = nn.silu(nn.Dense(self.hidden)(h) + nn.Dense(self.hidden)(time))
        out = nn.Dense(x[0].size)(h).reshape(x.shape)
        return skip[:, None, None, None] * x + out


@functools.partial(jax.jit, static_argnums=0)
def _denoise(model, params, noisy, t, schedule):
    """``x0_hat`` from ``x_t``: the network's guess of the clean image."""
    eps = model.apply({"params": params}, noisy, t)
    alpha_bar = schedule.alpha_bar[t][:, None, None, None]
    guess = (noisy - jnp.sqrt(1 - alpha_bar) * eps) / jnp.sqrt(alpha_bar)
    return jnp.clip(guess, -1.0, 1.0)


def _steps_figure(rows: dict, path):
    """One row of 28 x 28 images per entry of ``rows`` (model range)."""
    width = max(len(images) for images in rows.values())
    fig, axes = plt.subplots(len(rows), width, figsize=(1.2 * width, 1.3 * len(rows)))
    for r, (label, images) in enumerate(rows.items()):
        pixels = np.asarray(dm.to_pixels(images))[..., 0]
        for c in range(width):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(pixels):
                ax.imshow(pixels[c], cmap="gray", vmin=0, vmax=1)
        axes[r, 0].text(
            -0.08, 0.5, label, transform=axes[r, 0].transAxes, fontsize=7,
            rotation=90, ha="right", va="center",
        )  # fmt: skip
    for c, t in enumerate(STEPS_SHOWN):
        axes[0, c].set_title(f"t = {t}" if c else "x_0 (t = 0)", fontsize=8)
    fig.suptitle("DDPM: forward noising, denoised guesses, DDIM-10 from noise")
    return plotting.save(fig, path)


@register("diffusion-steps", "Gen4", "DDPM on MNIST: noising and denoising steps")
def diffusion_steps(config: DemoConfig) -> DemoResult:
    """Train a small DDPM briefly; plot q(x_t|x_0), x0 guesses and a DDIM path."""
    smoke = config.smoke
    n_train = 640 if smoke else 12_800
    epochs = config.epochs_or(3, smoke=1)
    ds = load("mnist", standardize=False, flatten=False, val_size=1000)
    train = dm.to_model_range(ds.train["x"][:n_train])
    test = dm.to_model_range(ds.test["x"][:512])
    model = MLPDenoiser()
    schedule = dm.linear_schedule()
    loss = dm.simple_loss(model, schedule)
    learner = with_ema(
        gradient_learner(model, loss, optax.adam(1e-3)), 0.99, warmup=True
    )
    key = jax.random.key(config.seed)
    result = fit(
        learner, {"x": train}, key=key, epochs=epochs, batch_size=64, progress=False
    )
    params = ema_params(result.state)
    test_loss = float(jax.jit(loss)(params, {"x": test}, Context(jax.random.key(1)))[0])

    digit = jnp.repeat(test[:1], len(STEPS_SHOWN), axis=0)
    t = jnp.asarray(STEPS_SHOWN, jnp.int32)
    noisy, _ = dm.forward_sample(schedule, digit, t, jax.random.key(2))
    guess = _denoise(model, params, noisy, t, schedule)
    _, path = dm.ddim_sample(
        model, params, schedule, jax.random.key(3), (2, 28, 28, 1),
        steps=10, return_path=True,
    )  # fmt: skip
    rows = {
        "x_t ~ q(x_t | x_0)": noisy,
        "x0 guess": guess,
        "DDIM path 1": path[1::2, 0],
        "DDIM path 2": path[1::2, 1],
    }
    figure = _steps_figure(rows, config.out / "diffusion_steps.png")
    return DemoResult(
        f"MNIST, {n_train} training images, 512 test images",
        "test simple loss (1.0 = predict no noise)",
        test_loss,
        (figure,),
        f"MLP denoiser, {epochs} epochs of batch 64 (EMA weights): test "
        f"L_simple {test_loss:.3f} vs 1.0 for predicting zero noise.",
    )
