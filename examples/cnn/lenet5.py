"""LeNet-5 on MNIST: the paper's 0.95% test error, and 0.8% with distortions.

LeCun et al. (1998) report 0.95% test error for LeNet-5 trained 20 epochs on
the 60,000 MNIST images, and 0.8% when the training set is enlarged with
randomly distorted copies. This script trains LeNet-5 with ``jnn.train.fit``
on the 55,000 training images (5,000 held out for validation), Adam with a
cosine-decayed step, mini-batches of 64 (cross-entropy with label smoothing
0.1 without distortions), and prints the test error, the wall
time per epoch and the parameter count. With ``--distort`` every training
step distorts its batch by fresh random affine maps, compiled into the step.

The defaults are the measured runs (the times include compilation):

* no distortions: modern variant, full C3, 20 epochs, Adam 1e-3, label
  smoothing 0.1 -> 0.92%, 0.79%, 0.87%, 0.90% test error with seeds 0-3
  (paper: 0.95%); 1.8 s/epoch on 2 CPU cores, 2.5-2.9 s on one. Without
  label smoothing the seeds scatter around the target: 0.96%, 0.81%, 0.96%
  (seeds 0-2; 30 epochs: 0.96% and 0.79% for seeds 0 and 2).
* ``--distort``: modern variant, C3 table, 30 epochs, Adam 1e-3, no label
  smoothing -> 0.62% and 0.65% with seeds 0 and 1 (paper: 0.80%); 3.5
  s/epoch on one core.
* (for comparison, earlier measurements: the paper variant, C3 table, 20
  epochs, 1e-3 -> 1.07%; modern, C3 table, 15 epochs, 1e-3 -> 1.06%.)

Run::

    .venv/bin/python examples/cnn/lenet5.py             # <= 0.95% error
    .venv/bin/python examples/cnn/lenet5.py --distort   # <= 0.8%
    .venv/bin/python examples/cnn/lenet5.py --smoke     # seconds
"""

from __future__ import annotations

import argparse

from jnn.cnn.demos.lenet import DISTORTION, train_lenet5
from jnn.cnn.lenet.model import parameter_counts


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("modern", "paper"), default="modern")
    parser.add_argument("--c3", choices=("table", "full"), default=None)
    parser.add_argument("--epochs", type=int, default=None, help="default 20 (30)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3, help="initial Adam step")
    parser.add_argument("--distort", action="store_true", help="random affine maps")
    parser.add_argument(
        "--label-smoothing", type=float, default=None, help="default 0.1 (0)"
    )
    parser.add_argument(
        "--output",
        choices=("linear", "rbf"),
        default="linear",
        help="rbf: the paper's RBF units and MAP loss (paper variant)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="2,000 images, 1 epoch")
    args = parser.parse_args(argv)
    # Defaults: the two measured runs of the docstring (distorted in brackets).
    epochs = args.epochs or (30 if args.distort else 20)
    args.c3 = args.c3 or ("table" if args.distort else "full")
    if args.output == "rbf":
        args.variant = "paper"  # F6's squashing range holds the +-1 bitmaps
    if args.label_smoothing is None:
        rbf = args.output == "rbf"
        args.label_smoothing = 0.0 if args.distort or rbf else 0.1
    if args.smoke:
        epochs = 1
    run = train_lenet5(
        variant=args.variant,
        c3=args.c3,
        epochs=epochs,
        batch_size=args.batch_size,
        learning_rate=args.lr,
        distort=args.distort,
        label_smoothing=args.label_smoothing,
        output=args.output,
        seed=args.seed,
        n_train=2000 if args.smoke else None,
        n_test=1000 if args.smoke else None,
    )
    error = 100 * (1 - run.test_accuracy)
    target = 0.8 if args.distort else 0.95
    summary = {
        "variant": args.variant,
        "c3": args.c3,
        "distort": args.distort,
        "label_smoothing": args.label_smoothing,
        "output": args.output,
        "epochs": epochs,
        "test_error_percent": error,
        "target_percent": target,
        "seconds_per_epoch": run.seconds_per_epoch,
        "parameters": parameter_counts(run.params)["total"],
        "final_val_accuracy": float(run.history["val_accuracy"][-1]),
    }
    print(
        f"LeNet-5 ({args.variant}, C3 {args.c3}, {args.output} output), "
        f"{epochs} epochs, label smoothing {args.label_smoothing}"
        + (f", distortions {DISTORTION}" if args.distort else "")
    )
    print(
        f"test error {error:.2f}% (paper: {target}%), "
        f"{run.seconds_per_epoch:.1f} s/epoch (compile included), "
        f"{summary['parameters']:,} parameters"
    )
    return summary


if __name__ == "__main__":
    main()
