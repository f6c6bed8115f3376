"""Gen5: DBN, GAN, VAE and DDPM trained on the same MNIST data, measured alike.

The four families of the chapter (the trainers of
:mod:`jnn.generative.demos.compare`, at real sizes) each get the same
wall-clock training budget (``--minutes``) on the same MNIST training images,
for ``--seeds`` seeds:

* DBN: 784-500-500-(2000 + 10 labels) (Hinton, Osindero & Teh 2006), CD-1
  with momentum; the epochs per layer are set from a one-epoch calibration
  run so that the training fits the budget; unconditional samples by
  200 Gibbs sweeps in the top RBM (label units free).
* GAN: DCGAN 128-64-32 / 32-64-128 (Radford et al. 2016), Adam(2e-4, 0.5).
* VAE: 784-400-20, Bernoulli decoder, Adam 1e-3, batch 128 (binarised data).
* DDPM: UNet 32-64-64, one residual block per level, linear schedule
  T = 1000, EMA 0.99; DDIM with 50 steps (eta 0).

Every model's ``--samples`` samples are scored with the full cached MNIST
classifier (:mod:`jnn.generative.evaluation`): MNIST-FID against the 10,000
test images next to the real-vs-real floor at the same sample size, classes
covered, mean confidence; plus the sampling time per image (warm, 200 images)
and the training time. Training stability: the spread (standard deviation)
of the FID over the seeds. Written to ``--out``: ``compare.md`` (one Markdown
table), ``compare.json`` (every run) and ``compare_samples.png`` (one row of
samples per family, first seed).

Run:  python examples/generative/compare.py [--minutes 5] [--seeds 3]
      [--n-train 55000] [--samples 5000] [--out DIR] [--smoke]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from jnn.generative import pretrain_dbn  # noqa: E402
from jnn.generative.demos import compare as C  # noqa: E402
from jnn.generative.evaluation import load_mnist_classifier, real_floor  # noqa: E402

REAL = C.Sizes(
    dbn_layers=(500, 500, 2000),
    dbn_epochs=(1, 1, 1),
    dbn_sweeps=200,
    gan_features=(128, 64, 32),
    gan_conv=True,
    gan_epochs=10**6,
    vae_hidden=400,
    vae_epochs=10**6,
    unet={"channels": 32, "multipliers": (1, 2, 2), "blocks": 1},
    ddpm_epochs=10**6,
    ddim_steps=50,
)


def dbn_epochs(images, labels, sizes: C.Sizes, budget: float) -> tuple[int, ...]:
    """Epochs per layer that fill ``budget`` seconds, from a 1-epoch run."""
    x = (images.reshape(len(images), -1) > 0.5).astype(np.float32)
    start = time.perf_counter()
    result = pretrain_dbn(
        x,
        sizes.dbn_layers,
        key=jax.random.key(0),
        epochs=(1,) * len(sizes.dbn_layers),
        labels=labels,
        n_classes=10,
    )
    jax.block_until_ready(result.dbn)
    seconds = time.perf_counter() - start
    return (max(1, int(budget / seconds)),) * len(sizes.dbn_layers)


def summary_table(runs: dict[str, list[C.FamilyScore]], floor: float, n: int) -> str:
    """Mean (std over seeds) of every column, one row per family."""

    def ms(values, fmt):
        values = np.asarray(values, float)
        spread = f" ± {values.std():{fmt}}" if len(values) > 1 else ""
        return f"{values.mean():{fmt}}{spread}"

    lines = [
        "| family | MNIST-FID | classes covered | confidence | sampling ms/image "
        "| training s | epochs |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for family, rows in runs.items():
        coverage = [r.coverage for r in rows]
        lines.append(
            f"| {family} | {ms([r.fid for r in rows], '.1f')} "
            f"| {min(coverage)}-{max(coverage)}/10 "
            f"| {ms([r.confidence for r in rows], '.3f')} "
            f"| {ms([r.sample_ms for r in rows], '.3g')} "
            f"| {ms([r.train_seconds for r in rows], '.0f')} "
            f"| {ms([r.epochs for r in rows], '.2g')} |"
        )
    lines.append(f"| real training images (floor) | {floor:.1f} | | | | | |")
    lines.append(
        f"\n{n} samples per run; ± is the standard deviation over "
        f"{len(next(iter(runs.values())))} seeds (training stability)."
    )
    return "\n".join(lines)


def main() -> None:
    """Parse the flags, train and score every family and seed, write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-train", type=int, default=55_000)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--families", nargs="+", default=list(C.FAMILIES))
    parser.add_argument("--out", type=Path, default=Path("jnn-output/compare"))
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    sizes, recipe = REAL, None
    if args.smoke:
        args.minutes, args.seeds = 0.05, 2
        args.n_train, args.samples = 2000, 300
        sizes, recipe = C.SMOKE, C.DEMO_CLASSIFIER
    args.out.mkdir(parents=True, exist_ok=True)
    budget = 60.0 * args.minutes
    images, labels = C.mnist_subset(args.n_train)
    classifier = load_mnist_classifier(**({"recipe": recipe} if recipe else {}))
    floor = real_floor(args.samples, classifier)
    if "DBN" in args.families and not args.smoke:
        sizes = sizes._replace(dbn_epochs=dbn_epochs(images, labels, sizes, budget))
        print(f"DBN epochs per layer for {args.minutes} min: {sizes.dbn_epochs}")
    runs: dict[str, list[C.FamilyScore]] = {f: [] for f in args.families}
    for seed in range(args.seeds):
        for i, family in enumerate(args.families):
            key = jax.random.fold_in(jax.random.key(seed), i)
            row = C.score_family(
                family, images, labels, key, sizes, classifier, args.samples,
                budget=budget, timing_samples=min(200, args.samples),
            )  # fmt: skip
            runs[family].append(row)
            print(
                f"seed {seed} {family}: FID {row.fid:.1f}, {row.coverage}/10 "
                f"classes, confidence {row.confidence:.3f}, {row.sample_ms:.3g} "
                f"ms/image, trained {row.train_seconds:.0f} s ({row.epochs:.2g} "
                "epochs)",
                flush=True,
            )
    table = summary_table(runs, floor, args.samples)
    name = "demo classifier (smoke)" if args.smoke else "full cached classifier"
    header = (
        f"# Gen5 on MNIST: {args.minutes:g} min of training per model, "
        f"{args.n_train} training images, MNIST-FID with the {name} "
        f"(test accuracy {classifier.test_accuracy:.4f})\n\n"
    )
    (args.out / "compare.md").write_text(header + table + "\n")
    record = {
        f: [r._replace(samples=None)._asdict() for r in rows]
        for f, rows in runs.items()
    }
    (args.out / "compare.json").write_text(
        json.dumps({"args": vars(args) | {"out": str(args.out)}, "floor": floor,
                    "runs": record}, indent=1, default=float)
    )  # fmt: skip
    C.sample_rows_figure(
        {f: rows[0].samples for f, rows in runs.items()},
        args.out / "compare_samples.png",
        f"Samples after {args.minutes:g} min of training each (seed 0)",
    )
    print(header + table)


if __name__ == "__main__":
    main()
