"""Demo of curriculum Gen5: DBN, GAN, VAE and DDPM measured on the same MNIST data.

``generative-compare``: the four families of the chapter trained briefly on
one MNIST subset and scored with one yardstick
(:mod:`jnn.generative.evaluation`): MNIST-FID against the test images, class
coverage (classes given at least 2% of the samples) and the classifier's mean
confidence; beside them the sampling time per image (a warm call, compile
excluded) and the training time (compile included). All samples are
unconditional.

* DBN (Hinton, Osindero & Teh 2006): greedy CD-1 pre-training with label
  units in the top RBM; samples by Gibbs sweeps there, labels free, then
  one pass down (the probabilities ``p(x | h_1)`` as images). At the demo's
  few epochs the free-running chains settle in one class (the DBN's poor
  mixing; ``examples/generative/compare.py`` reaches 9-10 classes in two
  minutes of training and 200 sweeps).
* GAN: MLP players (the demo: 256-256, 8 epochs; at 128-128 and 5 epochs
  its samples covered one class) or a DCGAN (Radford et al. 2016),
  non-saturating.
* VAE (Kingma & Welling 2014): 784-400-20, Bernoulli decoder; ``E[x | z]``.
* DDPM (Ho et al. 2020): ``L_simple``, EMA weights; DDIM sampling (eta 0).

The demo scores with a small classifier (:data:`DEMO_CLASSIFIER`, whose
trained weights jnn ships beside the default one), so its FIDs are comparable only
with each other; ``examples/generative/compare.py`` runs the comparison at
real sizes with the full classifier, several seeds and a wall-clock budget
per model. The headline is the best (lowest) MNIST-FID of the four.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np
import optax

from jnn import plotting
from jnn.data import load
from jnn.demos import DemoConfig, DemoResult, register
from jnn.generative import binarize, dbn_generate, pretrain_dbn
from jnn.generative import diffusion as dm
from jnn.generative import gan as G
from jnn.generative import vae as V
from jnn.generative.demos.diffusion import MLPDenoiser
from jnn.generative.evaluation import (
    ClassifierRecipe,
    MnistClassifier,
    load_mnist_classifier,
    mnist_scores,
)
from jnn.plotting import plt
from jnn.train import fit, gradient_learner
from jnn.train.ema import ema_params, with_ema

FAMILIES = ("DBN", "GAN", "VAE", "DDPM")
#: The demo's yardstick: a small MNIST classifier (the tests' recipe).
DEMO_CLASSIFIER = ClassifierRecipe(
    channels=(16, 32), features=64, epochs=3, batch_size=64, n_train=5000
)


class Sizes(NamedTuple):
    """Model sizes and training lengths of one comparison (defaults: the demo's).

    Attributes:
      dbn_layers: DBN layer sizes above the pixels (the last with the labels).
      dbn_epochs: CD-1 epochs per layer.
      dbn_sweeps: Gibbs sweeps in the top RBM per sample.
      gan_features: generator widths (the discriminator mirrors them).
      gan_conv: a DCGAN (else MLP players, 784 tanh outputs; compile faster).
      gan_epochs: GAN epochs (batch 64).
      gan_learning_rate: Adam's step size for both players (b1 = 0.5).
      vae_hidden: VAE hidden width.
      vae_epochs: VAE epochs (batch 128).
      unet: keyword arguments of :class:`jnn.generative.diffusion.UNet`
        (None: the MLP denoiser of ``diffusion-steps``, which compiles in a
        second where a UNet takes tens of seconds on a CPU).
      ddpm_epochs: DDPM epochs (batch 64).
      ddim_steps: DDIM sampling steps.
    """

    dbn_layers: tuple[int, ...] = (256, 512)
    dbn_epochs: tuple[int, ...] = (1, 3)
    dbn_sweeps: int = 100
    gan_features: tuple[int, ...] = (256, 256)
    gan_conv: bool = False
    gan_epochs: int = 8
    gan_learning_rate: float = 1e-3
    vae_hidden: int = 400
    vae_epochs: int = 5
    unet: dict | None = None
    ddpm_epochs: int = 2
    ddim_steps: int = 20


DEMO = Sizes()
SMOKE = Sizes(
    dbn_layers=(64, 128), dbn_epochs=(1, 1), dbn_sweeps=50, gan_features=(64, 64),
    gan_epochs=2, vae_hidden=128, vae_epochs=2, ddpm_epochs=1, ddim_steps=5,
)  # fmt: skip
GAN_LATENT = 32
#: Examples per piece of a budgeted run (:func:`fit_within`): the budget is
#: checked between pieces, so a run overshoots by at most one piece (the DDPM
#: UNet on one CPU core: ~50 s at 25 images/s; 6,400 took over 4 minutes).
CHUNK = 1280


class Trained(NamedTuple):
    """Sampler ``sample(key, n) -> (n, 28, 28)`` in [0, 1]; passes over the data.

    (The DBN's ``epochs`` are summed over its layers.)
    """

    sample: Callable[[jax.Array, int], np.ndarray]
    train_seconds: float
    epochs: float


def fit_within(
    learner, data: dict, *, key, epochs: int, batch_size: int, budget=None, chunk=None
):
    """:func:`jnn.train.fit` for ``epochs``, stopped early past ``budget`` seconds.

    With a finite budget training runs in pieces of ``chunk`` examples (a
    fixed-size slice of a fresh permutation each time, so one compile serves
    all; default one epoch), the state carried over with ``init_state``,
    until ``epochs`` are done or the budget is spent. Returns ``(state, epochs
    run)``, the latter possibly fractional.
    """
    if budget is None or math.isinf(budget):
        result = fit(
            learner, data, key=key, epochs=epochs, batch_size=batch_size, progress=False
        )
        return result.state, float(epochs)
    n = len(next(iter(data.values())))
    size = max(batch_size, min(chunk or n, n) // batch_size * batch_size)
    rng = np.random.default_rng(int(jax.random.randint(key, (), 0, 2**31 - 1)))
    start, state, seen, piece = time.perf_counter(), None, 0, 0
    while seen < epochs * n and time.perf_counter() - start < budget:
        rows = rng.permutation(n)[:size]
        state = fit(
            learner,
            {k: v[rows] for k, v in data.items()},
            key=jax.random.fold_in(key, piece),
            epochs=1,
            batch_size=batch_size,
            progress=False,
            init_state=state,
        ).state
        seen, piece = seen + size, piece + 1
    return state, seen / n


def train_dbn(images, labels, key, sizes: Sizes, budget=None) -> Trained:
    """Greedy CD-1 DBN with label units (``budget`` unused: epochs are fixed)."""
    del budget
    start = time.perf_counter()
    x = binarize(jax.random.fold_in(key, 1), images.reshape(len(images), -1))
    result = pretrain_dbn(
        np.asarray(x),
        sizes.dbn_layers,
        key=key,
        epochs=sizes.dbn_epochs,
        labels=labels,
        n_classes=10,
        learning_rate=0.1,
        momentum=0.9,
    )
    jax.block_until_ready(result.dbn)
    seconds = time.perf_counter() - start

    def sample(k, n):
        return np.asarray(dbn_generate(result.dbn, k, n, sweeps=sizes.dbn_sweeps))

    return Trained(sample, seconds, float(sum(sizes.dbn_epochs)))


def train_gan(images, labels, key, sizes: Sizes, budget=None) -> Trained:
    """DCGAN or MLP GAN, non-saturating loss, Adam(lr, 0.5) for both players."""
    del labels
    start = time.perf_counter()
    widths = tuple(sizes.gan_features)
    if sizes.gan_conv:
        generator = G.DCGANGenerator(features=widths)
        discriminator = G.DCGANDiscriminator(features=widths[::-1])
        data = {"x": dm.to_model_range(images[..., None])}
    else:
        generator = G.MLPGenerator(784, widths, output_activation="tanh")
        discriminator = G.MLPDiscriminator(widths[::-1], negative_slope=0.2)
        data = {"x": dm.to_model_range(images.reshape(len(images), -1))}
    learner = G.gan_learner(
        generator,
        discriminator,
        latent_size=GAN_LATENT,
        generator_optimizer=optax.adam(sizes.gan_learning_rate, 0.5),
        discriminator_optimizer=optax.adam(sizes.gan_learning_rate, 0.5),
    )
    state, epochs = fit_within(
        learner,
        data,
        key=key,
        epochs=sizes.gan_epochs,
        batch_size=64,
        budget=budget,
        chunk=CHUNK,
    )
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start

    def sample(k, n):
        x = G.generate(generator, state, k, n, latent_size=GAN_LATENT)
        return np.asarray(dm.to_pixels(x)).reshape(n, 28, 28)

    return Trained(sample, seconds, float(epochs))


def train_vae(images, labels, key, sizes: Sizes, budget=None) -> Trained:
    """784-hidden-20 VAE, Bernoulli decoder, Adam 1e-3, batch 128."""
    del labels
    start = time.perf_counter()
    x = binarize(jax.random.fold_in(key, 1), images.reshape(len(images), -1))
    model = V.mlp_vae(latents=20, hidden=sizes.vae_hidden)
    learner = gradient_learner(model, V.negative_elbo(model), optax.adam(1e-3))
    state, epochs = fit_within(
        learner,
        {"x": np.asarray(x)},
        key=key,
        epochs=sizes.vae_epochs,
        batch_size=128,
        budget=budget,
        chunk=CHUNK,
    )
    jax.block_until_ready(state)
    seconds = time.perf_counter() - start

    def sample(k, n):
        return np.asarray(V.sample_prior(model, state.params, k, n))

    return Trained(sample, seconds, float(epochs))


def train_ddpm(images, labels, key, sizes: Sizes, budget=None) -> Trained:
    """UNet DDPM (linear schedule, T = 1000), EMA 0.99, Adam 1e-3; DDIM sampling."""
    del labels
    start = time.perf_counter()
    model = MLPDenoiser() if sizes.unet is None else dm.UNet(**sizes.unet)
    schedule = dm.linear_schedule()
    learner = with_ema(
        gradient_learner(model, dm.simple_loss(model, schedule), optax.adam(1e-3)),
        0.99,
        warmup=True,
    )
    data = {"x": dm.to_model_range(images[..., None])}
    state, epochs = fit_within(
        learner,
        data,
        key=key,
        epochs=sizes.ddpm_epochs,
        batch_size=64,
        budget=budget,
        chunk=CHUNK,
    )
    params = jax.block_until_ready(ema_params(state))
    seconds = time.perf_counter() - start

    def sample(k, n):
        x = dm.ddim_sample(
            model, params, schedule, k, (n, 28, 28, 1), steps=sizes.ddim_steps
        )
        return np.asarray(dm.to_pixels(x))[..., 0]

    return Trained(sample, seconds, float(epochs))


TRAINERS = {"DBN": train_dbn, "GAN": train_gan, "VAE": train_vae, "DDPM": train_ddpm}


class FamilyScore(NamedTuple):
    """One row of the comparison table."""

    family: str
    fid: float
    coverage: int
    confidence: float
    sample_ms: float
    train_seconds: float
    epochs: float
    samples: np.ndarray


def score_family(
    family: str,
    images: np.ndarray,
    labels: np.ndarray,
    key: jax.Array,
    sizes: Sizes,
    classifier: MnistClassifier,
    n_samples: int,
    budget: float | None = None,
    timing_samples: int | None = None,
) -> FamilyScore:
    """Train ``family`` on ``images`` ``(n, 28, 28)``, sample, time and score it.

    The first sampler call (compile included) gives the scored samples; a
    warm call (``timing_samples`` images, default ``n_samples``; another batch
    size compiles once more first) gives the time per image. ``budget``:
    wall-clock seconds of training (None: the fixed epochs of ``sizes``).
    """
    trained = TRAINERS[family](images, labels, key, sizes, budget)
    samples = np.clip(trained.sample(jax.random.fold_in(key, 7), n_samples), 0, 1)
    m = timing_samples or n_samples
    if m != n_samples:
        trained.sample(jax.random.fold_in(key, 9), m)
    start = time.perf_counter()
    jax.block_until_ready(trained.sample(jax.random.fold_in(key, 8), m))
    sample_ms = 1e3 * (time.perf_counter() - start) / m
    scores = mnist_scores(samples.reshape(-1, 28, 28), classifier=classifier)
    return FamilyScore(
        family,
        scores.fid,
        scores.quality.mode_coverage,
        scores.quality.confidence,
        sample_ms,
        trained.train_seconds,
        trained.epochs,
        samples.reshape(-1, 28, 28),
    )


def markdown_table(rows: list[FamilyScore]) -> str:
    """The comparison as a Markdown table (one row per family)."""
    lines = [
        "| family | MNIST-FID | classes covered | confidence | sampling ms/image "
        "| training s | epochs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.family} | {r.fid:.1f} | {r.coverage}/10 | {r.confidence:.3f} "
            f"| {r.sample_ms:.3g} | {r.train_seconds:.1f} | {r.epochs:g} |"
        )
    return "\n".join(lines)


def sample_rows_figure(samples: dict[str, np.ndarray], path, title: str, per_row=10):
    """One row of ``per_row`` samples per family, labelled on the left."""
    fig, axes = plt.subplots(
        len(samples), per_row, figsize=(0.9 * per_row + 0.6, 1.0 * len(samples))
    )
    axes = np.atleast_2d(axes)
    for r, (name, images) in enumerate(samples.items()):
        for c in range(per_row):
            axes[r, c].imshow(images[c], cmap="gray", vmin=0.0, vmax=1.0)
            axes[r, c].axis("off")
        axes[r, 0].text(
            -0.15, 0.5, name, transform=axes[r, 0].transAxes, ha="right",
            va="center", fontsize=9,
        )  # fmt: skip
    fig.suptitle(title, fontsize=10)
    return plotting.save(fig, path)


def mnist_subset(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``n`` MNIST training images ``(n, 28, 28)`` in [0, 1] and labels."""
    ds = load("mnist", standardize=False, flatten=False, val_size=1000)
    return np.asarray(ds.train["x"][:n, ..., 0]), np.asarray(ds.train["y"][:n])


@register(
    "generative-compare",
    "Gen5",
    "DBN, GAN, VAE, DDPM on the same MNIST data: FID, coverage, speed",
)
def generative_compare(config: DemoConfig) -> DemoResult:
    """Train the four families briefly; one table and one grid of samples."""
    smoke = config.smoke
    n_train, n_samples = (1000, 200) if smoke else (5000, 500)
    sizes = SMOKE if smoke else DEMO
    images, labels = mnist_subset(n_train)
    classifier = load_mnist_classifier(recipe=DEMO_CLASSIFIER)
    key = jax.random.key(config.seed)
    rows = [
        score_family(f, images, labels, jax.random.fold_in(key, i), sizes,
                     classifier, n_samples)
        for i, f in enumerate(FAMILIES)
    ]  # fmt: skip
    table = markdown_table(rows)
    figure = sample_rows_figure(
        {r.family: r.samples for r in rows},
        config.out / "generative_compare.png",
        f"Unconditional samples after short training on {n_train} MNIST images",
    )
    best = min(rows, key=lambda r: r.fid)
    return DemoResult(
        f"MNIST, the same {n_train} training images for every model; "
        f"{n_samples} samples each",
        "best MNIST-FID of the four (small demo classifier)",
        float(best.fid),
        (figure,),
        f"Demo FIDs use a small classifier ({DEMO_CLASSIFIER.channels} channels, "
        f"test accuracy {classifier.test_accuracy:.3f}) and {n_samples} samples: "
        "compare them only with each other.\n" + table,
    )
