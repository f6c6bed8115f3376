"""DCGAN and WGAN-GP on MNIST: MNIST-FID, class coverage, sample grids (Gen3).

Both methods train the 28 x 28 DCGAN generator of
:class:`jnn.generative.gan.DCGANGenerator` (widths 256-128-64, 1.07M
parameters, latent size 100) on MNIST scaled to [-1, 1] through
:func:`jnn.train.fit` (compiled epochs, progress bar):

* ``dcgan``: the DCGAN discriminator (64-128-256, batch normalisation,
  0.43M parameters), non-saturating loss, Adam(2e-4, b1=0.5) for both
  players, batch 64 (Radford et al. 2016); ``--reuse-fakes``: the generator
  step reuses the discriminator step's fakes, as PyTorch's DCGAN example;
* ``wgan-gp``: the same discriminator with layer normalisation as the critic
  (the penalty needs samples treated independently), penalty weight 10,
  5 critic steps per generator step on fresh batches of 64, Adam(1e-4, b1=0,
  b2=0.9) (Gulrajani et al. 2017).

Scores (:mod:`jnn.generative.evaluation`): MNIST-FID of 10,000 samples
against the 10,000 test images, next to the real-vs-real floor (10,000
training images against the test images), the classifier's mean confidence
and the class coverage (classes with at least 2% of the samples; target for
WGAN-GP: >= 9 of 10). Samples are drawn with the generator's BatchNorm in
evaluation mode (running averages).

Run:  python examples/generative/gan_mnist.py [--methods dcgan wgan-gp]
      [--epochs 5] [--wgan-epochs 5] [--train-size 55000] [--reuse-fakes]
      [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np

from jnn import data, plotting
from jnn.generative import evaluation
from jnn.generative.gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    gan_learner,
    generate,
    wgan_gp,
)
from jnn.train import fit

LATENT = 100


def learner_of(method: str, small: bool, reuse_fakes: bool = False):
    """The generator and the learner of ``method`` (small: tiny widths)."""
    g_widths, d_widths = ((16, 8, 8), (8, 8, 16)) if small else ((256, 128, 64), None)
    generator = DCGANGenerator(features=g_widths)
    d_kwargs = {} if d_widths is None else {"features": d_widths}
    if method == "dcgan":
        discriminator = DCGANDiscriminator(**d_kwargs)
        learner = gan_learner(
            generator, discriminator, latent_size=LATENT, reuse_fakes=reuse_fakes
        )
        return generator, learner, 64
    critic = DCGANDiscriminator(normalization="layer", **d_kwargs)
    return generator, wgan_gp(generator, critic, latent_size=LATENT), 5 * 64


def train_one(method, x, args):
    generator, learner, batch = learner_of(method, args.smoke, args.reuse_fakes)
    epochs = args.epochs if method == "dcgan" else args.wgan_epochs
    print(f"{method}: {epochs} epochs over {len(x)} images, batch {batch}")
    start = time.perf_counter()
    result = fit(
        learner,
        {"x": x},
        key=jax.random.key(args.seed),
        epochs=epochs,
        batch_size=batch,
        progress=not args.smoke,
    )
    jax.block_until_ready(result.state)
    return generator, result, time.perf_counter() - start


def evaluate(method, generator, result, args, classifier) -> dict:
    samples = []
    for i in range(args.samples // 1000):
        key = jax.random.fold_in(jax.random.key(args.seed + 1), i)
        x = generate(generator, result.state, key, 1000, latent_size=LATENT)
        samples.append(np.asarray(x))
    images = np.clip((np.concatenate(samples) + 1.0) / 2.0, 0.0, 1.0)
    scores = evaluation.mnist_scores(images, classifier=classifier)
    figure = plotting.image_grid(
        images[:100, :, :, 0],
        args.out / f"gan_mnist_{method}.png",
        f"{method}: samples (MNIST-FID {scores.fid:.1f})",
    )
    history = {k: v.tolist() for k, v in result.history.items() if v.ndim == 1}
    return {
        "mnist_fid": scores.fid,
        "confidence": scores.quality.confidence,
        "class_coverage": scores.quality.mode_coverage,
        "class_histogram": scores.quality.class_histogram.tolist(),
        "figure": str(figure),
        "history": history,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=["dcgan", "wgan-gp"],
        choices=["dcgan", "wgan-gp"],
    )
    parser.add_argument("--epochs", type=int, default=5, help="DCGAN epochs")
    parser.add_argument("--wgan-epochs", type=int, default=5, help="WGAN-GP epochs")
    parser.add_argument("--train-size", type=int, default=55_000)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--reuse-fakes",
        action="store_true",
        help="dcgan: the generator step reuses the discriminator step's fakes "
        "(PyTorch's DCGAN example; one generator forward pass per step)",
    )
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.wgan_epochs, args.train_size, args.samples = 1, 1, 640, 1000
    args.out.mkdir(parents=True, exist_ok=True)
    ds = data.load("mnist", standardize=False, flatten=False, val_size=1000)
    x = ds.train["x"][: args.train_size] * 2.0 - 1.0
    if args.smoke:
        classifier = evaluation.load_mnist_classifier(
            args.out / "classifier",
            recipe=evaluation.ClassifierRecipe(
                channels=(4, 8), features=16, epochs=1, batch_size=64, n_train=1000
            ),
        )
    else:
        classifier = evaluation.load_mnist_classifier()
    floor = evaluation.real_floor(args.samples, classifier)
    rows = {}
    for method in args.methods:
        generator, result, seconds = train_one(method, x, args)
        rows[method] = {"train_seconds": seconds}
        rows[method].update(evaluate(method, generator, result, args, classifier))
        r = rows[method]
        print(
            f"{method}: {seconds:.0f} s, MNIST-FID {r['mnist_fid']:.1f} (floor "
            f"{floor:.2f}), classes covered {r['class_coverage']}/10, confidence "
            f"{r['confidence']:.3f}"
        )
    print("\n| method | MNIST-FID | real floor | classes covered | confidence | s |")
    print("|---|---|---|---|---|---|")
    for method, r in rows.items():
        print(
            f"| {method} | {r['mnist_fid']:.1f} | {floor:.2f} | "
            f"{r['class_coverage']}/10 | {r['confidence']:.3f} | "
            f"{r['train_seconds']:.0f} |"
        )
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    summary = {"config": config, "real_floor": floor, "results": rows}
    (args.out / "gan_mnist.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
