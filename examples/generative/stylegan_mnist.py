"""A StyleGAN-style generator on MNIST: training, MNIST-FID, style mixing (Gen3).

Trains :func:`jnn.generative.gan.stylegan.style_generator` (mapping network,
learned 7 x 7 constant, AdaIN per layer, noise inputs, 7 -> 14 -> 28) against
a small convolutional discriminator with the non-saturating loss and the R1
penalty (gamma = 10) and mixing regularisation (p = 0.9), as Karras et al.
(2019) did on FFHQ, through :func:`jnn.train.fit`. Reports the MNIST-FID of
``--samples`` samples against the test images with the real-data floor at the
same sample size, and the classifier's class coverage and confidence; with
truncation psi = 0.7 too. Writes two PNGs: samples, and a style-mixing grid
(rows: source A, columns: source B; left block crossover 2 = coarse 7 x 7
styles from A, the rest from B; right block crossover 4 = only the fine
28 x 28 styles from B), noise fixed.

Run:  python examples/generative/stylegan_mnist.py [--epochs 2]
      [--train-size 20000] [--batch 32] [--samples 2000] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import matplotlib
import numpy as np

from jnn import data, plotting
from jnn.generative import evaluation
from jnn.generative.gan.stylegan import mean_style, style_generator, stylegan_generate
from jnn.generative.gan.stylegan_training import stylegan_learner
from jnn.train import fit

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def mixing_grid(model, params, path: Path, crossovers=(2, 4), n: int = 5) -> Path:
    """Rows: source A; columns: source B; one block per crossover."""
    za = jax.random.normal(jax.random.key(11), (n, model.latent_size))
    zb = jax.random.normal(jax.random.key(12), (n, model.latent_size))
    noise = jax.random.key(13)
    pure_a = np.asarray(stylegan_generate(model, params, za, noise_key=noise))[..., 0]
    pure_b = np.asarray(stylegan_generate(model, params, zb, noise_key=noise))[..., 0]
    fig, axes = plt.subplots(1, len(crossovers), figsize=(4 * len(crossovers), 4.4))
    for ax, cut in zip(np.atleast_1d(axes), crossovers, strict=True):
        tiles = np.ones((n + 1, n + 1, 28, 28))
        tiles[0, 1:], tiles[1:, 0] = pure_b, pure_a
        for i in range(n):
            rows = np.repeat(za[i : i + 1], n, axis=0)
            mixed = stylegan_generate(
                model, params, rows, noise_key=noise, z_mix=zb, crossover=cut
            )
            tiles[i + 1, 1:] = np.asarray(mixed)[..., 0]
        mosaic = np.pad(tiles, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=1)
        mosaic = mosaic.transpose(0, 2, 1, 3).reshape((n + 1) * 30, (n + 1) * 30)
        ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
        ax.axis("off")
        ax.set_title(
            f"crossover {cut}: layers < {cut} from A (rows), rest B", fontsize=8
        )
    return plotting.save(fig, path)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--r1", type=float, default=10.0)
    parser.add_argument("--channels", type=int, nargs=3, default=[64, 32, 16])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.train_size, args.samples, args.channels = 256, 200, [8, 8, 4]
    ds = data.load("mnist", standardize=False, flatten=False)
    images = ds.train["x"][: args.train_size]
    model = style_generator(channels=tuple(args.channels))
    learner = stylegan_learner(
        model, learning_rate=args.learning_rate, r1_weight=args.r1
    )
    print(
        f"StyleGAN-style generator, {args.epochs} epochs of {len(images)} images, "
        f"batch {args.batch}"
    )
    start = time.perf_counter()
    result = fit(
        learner,
        {"x": images},
        key=jax.random.key(args.seed),
        epochs=args.epochs,
        batch_size=args.batch,
        progress=not args.smoke,
    )
    jax.block_until_ready(result.state)
    seconds = time.perf_counter() - start
    params = result.state.params["generator"]
    z = jax.random.normal(
        jax.random.key(args.seed + 1), (args.samples, model.latent_size)
    )
    noise = jax.random.key(args.seed + 2)
    samples = np.asarray(stylegan_generate(model, params, z, noise_key=noise))
    w_mean = mean_style(model, params, jax.random.key(args.seed + 3))
    truncated = np.asarray(
        stylegan_generate(model, params, z, noise_key=noise, psi=0.7, w_mean=w_mean)
    )
    classifier = evaluation.load_mnist_classifier()
    scores = evaluation.mnist_scores(samples, classifier=classifier)
    scores_t = evaluation.mnist_scores(truncated, classifier=classifier)
    floor = evaluation.real_floor(args.samples, classifier)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = [
        plotting.image_grid(
            samples, args.out / "stylegan_samples.png", "StyleGAN-style samples"
        ),
        mixing_grid(model, params, args.out / "stylegan_mixing.png"),
    ]
    summary = {
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
        },
        "train_seconds": seconds,
        "steps": int(result.state.step),
        "fid": scores.fid,
        "fid_truncated_0.7": scores_t.fid,
        "real_floor": floor,
        "mode_coverage": scores.quality.mode_coverage,
        "confidence": scores.quality.confidence,
        "class_histogram": scores.quality.class_histogram.tolist(),
        "mode_coverage_truncated": scores_t.quality.mode_coverage,
        "final_losses": {
            k: float(v[-1])
            for k, v in result.history.items()
            if not k.startswith("stop")
        },
        "figures": [str(f) for f in figures],
    }
    print(
        f"{seconds:.0f} s, {summary['steps']} steps; MNIST-FID {scores.fid:.1f} "
        f"(psi 0.7: {scores_t.fid:.1f}; real floor at n={args.samples}: {floor:.1f}), "
        f"classes covered {scores.quality.mode_coverage}/10, confidence "
        f"{scores.quality.confidence:.3f}"
    )
    (args.out / "stylegan_mnist.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
