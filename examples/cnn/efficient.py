"""Efficient convolutions on MNIST: accuracy against multiply-accumulates (C2).

Trains LeNet-5 (LeCun et al. 1998, C3 connection table) and three networks
built from the efficient blocks of ``jnn.cnn`` -- depthwise-separable convs,
group convs with channel shuffle (ShuffleNet-style) and inverted residuals
(MobileNetV2-style) -- on the 55,000 MNIST training images at 28x28, and
prints each one's test accuracy, parameters and MACs per image
(``jnn.cnn.count``). Every net is trained the same way: Adam (warm-up and
cosine decay from 3e-3), batch 128, mild random affine distortions of every
training batch inside the compiled step (``DISTORTION``). Target: the
ShuffleNet- and MobileNetV2-style nets reach >= 99.0% test accuracy with
<= 1/5 of LeNet-5's MACs. Measured (100 epochs, 2 CPU cores, 2.7-5 s/epoch):
MobileNetV2-style 99.03% (seed 1; 98.99% with seed 0) with 59,368 MACs (0.18
of LeNet-5's 326,520), ``--only "inverted residual" --seed 1``;
ShuffleNet-style 99.07% with seeds 0 and 1 with 63,816 MACs (0.195),
``--only group+shuffle`` (one core, 7-8 min).

Run:  python examples/cnn/efficient.py [--epochs 100] [--only NAME ...]
      [--no-distort] [--seed 0] [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax

from jnn.cnn.demos.efficient import (
    accuracy_vs_macs,
    efficient_nets,
    mnist_images,
    table,
    train_classifier,
)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--only", nargs="*", help="train only these networks")
    parser.add_argument(
        "--no-distort", action="store_true", help="no random affine distortions"
    )
    parser.add_argument("--smoke", action="store_true", help="1,000 images, 1 epoch")
    args = parser.parse_args(argv)
    unknown = set(args.only or ()) - set(efficient_nets())
    if unknown:
        parser.error(
            f"--only: unknown network(s) {sorted(unknown)}; "
            f"choose from {sorted(efficient_nets())}"
        )

    train, test = mnist_images(args.seed, 1000 if args.smoke else None)
    epochs = 1 if args.smoke else args.epochs
    results = {}
    for name, (model, pad) in efficient_nets().items():
        if args.only and name not in args.only:
            continue
        results[name] = train_classifier(
            model,
            train,
            test,
            key=jax.random.key(args.seed),
            epochs=epochs,
            pad=pad,
            distort=not args.no_distort,
        )
        r = results[name]
        print(
            f"{name}: accuracy {r['accuracy']:.4f}, {r['params']:,} params, "
            f"{r['macs']:,} MACs, {r['seconds']:.0f} s",
            flush=True,
        )
    accuracy_vs_macs(results, args.out / "efficient_cnn.png")
    print(table(results))
    if "LeNet-5" in results:
        lenet = results["LeNet-5"]["macs"]
        for name, r in results.items():
            print(f"{name}: {r['macs'] / lenet:.3f} of LeNet-5's MACs")
    return results


if __name__ == "__main__":
    main()
