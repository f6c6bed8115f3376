"""The adding problem: how many training steps each cell needs as T grows (R2).

Hochreiter & Schmidhuber (1997), in the variant of Arjovsky, Shah & Bengio
(2016): inputs of T steps, each a value in [0, 1] and a marker; the two marked
values (one in each half) must be added. Predicting 1 scores the baseline MSE
1/6 ~ 0.167; "solved" means a validation MSE below 0.01. For every cell (LSTM,
GRU, Elman; 128 units, many-to-one head) and every T = 50 / 100 / 200 the
script trains through ``jnn.train`` (Adam 1e-3, clipping by global norm 1,
batch 64, fresh training sequences every epoch are not needed: 20,000 training
sequences are never memorised at these sizes) and stops at the first epoch
with validation MSE < 0.01 (``metric_below``). It prints the table of
training steps to solve (or "not solved" within ``--epochs``) and the test
MSE, and plots validation MSE against steps.

Run:  python examples/rnn/adding_problem.py [--lengths 50 100 200]
      [--cells lstm gru elman] [--epochs 30] [--out DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

from jnn import plotting
from jnn.data import ADDING_BASELINE_MSE, adding_problem
from jnn.rnn import RecurrentNet
from jnn.train import any_of, fit, gradient_learner, metric_below, regression_loss

SOLVED = 0.01


def solve(cell, length, *, key, epochs, n_train, features, batch_size=64):
    """Train until validation MSE < SOLVED; returns (steps or None, test MSE, curve)."""
    k_train, k_val, k_test, k_fit = jax.random.split(key, 4)
    train = adding_problem(k_train, n_train, length)
    val = adding_problem(k_val, 1000, length)
    test = adding_problem(k_test, 1000, length)
    model = RecurrentNet(cell=cell, features=features, out_features=1)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(1e-3))
    learner = gradient_learner(model, regression_loss(model), optimizer)
    result = fit(
        learner,
        train,
        key=k_fit,
        epochs=epochs,
        batch_size=batch_size,
        val=val,
        stop=any_of(metric_below(SOLVED, metric="val_loss")),
        progress=False,
    )
    steps_per_epoch = n_train // batch_size
    curve = np.asarray(result.history["val_loss"])
    solved = bool(curve[-1] < SOLVED)
    test_mse = float(learner.evaluate(result.state, test)["loss"])
    steps = result.epochs * steps_per_epoch if solved else None
    return steps, test_mse, curve, steps_per_epoch


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[50, 100, 200])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "elman"])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--n-train", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="T = 10, one tiny net")
    args = parser.parse_args(argv)
    if args.smoke:
        args.lengths, args.epochs, args.features, args.n_train = [10], 2, 16, 512
        args.cells = args.cells[:1]
    key = jax.random.key(args.seed)
    table, curves = {}, {}
    for cell in args.cells:
        for length in args.lengths:
            start = time.perf_counter()
            steps, test_mse, curve, per_epoch = solve(
                cell,
                length,
                key=jax.random.fold_in(key, length),
                epochs=args.epochs,
                n_train=args.n_train,
                features=args.features,
            )
            seconds = time.perf_counter() - start
            table[cell, length] = (steps, test_mse, seconds)
            curves[cell, length] = (np.arange(1, len(curve) + 1) * per_epoch, curve)
            solved = f"{steps:6d}" if steps else "not solved"
            print(
                f"{cell:6s} T={length:4d}  steps to MSE<{SOLVED}: {solved:>10s}  "
                f"test MSE {test_mse:.4f}  ({seconds:.0f} s)",
                flush=True,
            )
    fig, axes = plt.subplots(
        1, len(args.lengths), figsize=(5 * len(args.lengths), 4), squeeze=False
    )
    for ax, length in zip(axes[0], args.lengths, strict=True):
        for cell in args.cells:
            steps, curve = curves[cell, length]
            ax.semilogy(steps, curve, marker=".", label=cell)
        ax.axhline(ADDING_BASELINE_MSE, color="gray", linestyle="--", label="predict 1")
        ax.axhline(SOLVED, color="black", linestyle=":", label="solved")
        ax.set(title=f"T = {length}", xlabel="training steps", ylabel="validation MSE")
        ax.legend()
    args.out.mkdir(parents=True, exist_ok=True)
    plotting.save(fig, args.out / "adding_problem_steps.png")
    return {"table": table}


if __name__ == "__main__":
    main()
