"""Benchmark: the 784-300-100-10 MLP on MNIST, jnn against PyTorch, and GFLOP/s.

Both implementations train ``784 -> 300 -> 100 -> 10`` (ReLU, softmax
cross-entropy) on ``jnn.data.load("mnist", seed=0)`` (55,000 training rows,
standardised) with Adam (learning rate 1e-3) at batch 128, dropping the last
``55000 % 128`` examples of every shuffled epoch:

* ``jnn.fit``: :func:`jnn.train.fit` with ``jnn.static.MLP((300, 100, 10))``
  and ``gradient_learner(..., grad_norm=False)`` (PyTorch's loop computes no
  gradient norm); ``jnn.fit + grad_norm``: the learner's default, which
  records it every step.
* ``torch eager`` ... ``torch.compile fused 1 thread``: a plain PyTorch CPU
  loop (manual shuffled batching of tensors) in each of
  ``_harness.TORCH_VARIANTS``: ``torch.optim.Adam``'s default CPU kernels,
  ``foreach=True``, ``fused=True``, the model under ``torch.compile`` with
  fused Adam, threads = the cores this process may use, and fused eager and
  compiled on 1 thread. A variant that fails here is a skipped row with the
  reason.

A timed run is one whole training of ``--epochs`` epochs from a fresh
initialisation; samples/s is ``epochs x 54,912 / run time``, median of
``--repeats`` runs after one warm-up run (whose extra time is jnn's compile
time). Test accuracy (official 10,000-image test set) is the mean over the
timed runs, i.e. after ``--epochs`` epochs. ``vs fastest peer``: the row's
samples/s over the fastest PyTorch row's.

GFLOP/s: a training step costs about ``6 x W`` FLOPs per sample, ``W`` being
the number of weights in the weight matrices (266,200): 2 for the forward
multiply-adds, 4 for the backward ones (gradients of the inputs and of the
weights); biases, activations, the loss and Adam are ignored. The achieved rate
is compared with a jitted float32 ``jnp.dot`` of two 1024x1024 matrices
(``2 x 1024^3`` FLOPs) timed in the same process.

Run::

    .venv/bin/python benchmarks/mlp_mnist.py          # ~1-2 min on 2 cores
    .venv/bin/python benchmarks/mlp_mnist.py --quick  # 1 epoch, 3 repeats
    .venv/bin/python benchmarks/mlp_mnist.py --smoke  # a few seconds

Results go to ``benchmarks/results/mlp_mnist.json`` (``mlp_mnist_quick.json``,
...); measured numbers are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jnn

WORKLOAD = "mnist 784-300-100-10"
FEATURES = (300, 100, 10)
BATCH = 128
LR = 1e-3
DOT_N = 1024


def weight_count(n_inputs: int, features: tuple[int, ...]) -> int:
    """Entries of the weight matrices (no biases)."""
    widths = (n_inputs, *features)
    return sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True))


def dot_gflops(repeats: int) -> tuple[float, list[float]]:
    """GFLOP/s of a jitted float32 ``jnp.dot`` of two DOT_N x DOT_N matrices."""
    ka, kb = jax.random.split(jax.random.key(0))
    a = jax.random.normal(ka, (DOT_N, DOT_N), jnp.float32)
    b = jax.random.normal(kb, (DOT_N, DOT_N), jnp.float32)
    dot = jax.jit(jnp.dot)
    t = h.time_calls(lambda _: dot(a, b), repeats)
    return 2 * DOT_N**3 / t.median / 1e9, t.times


def bench_jnn(train, test, epochs: int, repeats: int, grad_norm: bool = False):
    model = jnn.static.MLP(features=FEATURES, activation="relu")
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.adam(LR), grad_norm=grad_norm
    )

    fit = h.fit_runner(learner, train, epochs=epochs, batch_size=BATCH)
    t = h.time_calls(fit, repeats)
    accs = [float(learner.evaluate(s, test)["accuracy"]) for s in t.results]
    name = "jnn.fit + grad_norm" if grad_norm else "jnn.fit"
    return h.training_row(
        WORKLOAD, name, t, epochs * (len(train["y"]) // BATCH) * BATCH, accs
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs")
    parser.add_argument(
        "--quick", action="store_true", help="1 epoch, 3 repeats (a sweep)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="8192 training rows, 1 epoch, 1 repeat: a quick check",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.repeats = 1, 1
    elif args.quick:
        args.epochs, args.repeats = 1, 3
    mode = h.mode_of(args)
    h.set_torch_threads()
    monitor = h.CpuMonitor().start()

    data = jnn.data.load("mnist", seed=0)
    train = {k: np.asarray(v) for k, v in data.train.items()}
    test = {k: np.asarray(v) for k, v in data.test.items()}
    if args.smoke:
        train = {k: v[:8192] for k, v in train.items()}
    n_weights = weight_count(train["x"].shape[1], FEATURES)
    flops_per_sample = 6 * n_weights

    # JAX first, with the data put on the device once outside the timed region.
    peak, dot_times = dot_gflops(3 if args.smoke else 20)
    train_dev, test_dev = jax.device_put(train), jax.device_put(test)
    rows = [
        bench_jnn(train_dev, test_dev, args.epochs, args.repeats, grad_norm=g)
        for g in (False, True)
    ]
    rows += h.torch_mlp_rows(
        WORKLOAD,
        train,
        test,
        FEATURES,
        epochs=args.epochs,
        batch_size=BATCH,
        lr=LR,
        repeats=args.repeats,
    )
    for r in rows:
        if r.samples_per_s is None:
            continue
        gflops = r.samples_per_s * flops_per_sample / 1e9
        r.extra.update(gflops=gflops, fraction_of_dot=gflops / peak)

    info = h.machine_info()
    info["cpu_usage"] = monitor.stop()
    title = (
        f"{WORKLOAD}, batch {BATCH}, Adam {LR:g}, {args.epochs} epochs/run; "
        f"median of {args.repeats} runs after warm-up"
    )
    h.print_table(rows, title, info=info)
    print(
        f"jnp.dot {DOT_N}x{DOT_N} float32: {peak:.1f} GFLOP/s (median of "
        f"{len(dot_times)}); training FLOPs/sample = 6 x {n_weights:,} weights"
    )
    for r in rows:
        if r.samples_per_s is None:
            continue
        print(
            f"  {r.impl:28s} {r.extra['gflops']:7.1f} GFLOP/s = "
            f"{100 * r.extra['fraction_of_dot']:.0f}% of jnp.dot"
        )
    comparisons = h.row_comparisons(rows)
    payload = {
        "workload": WORKLOAD,
        "mode": mode,
        "config": {**vars(args), "batch": BATCH, "lr": LR},
        "machine": info,
        "dot": {"n": DOT_N, "gflops": peak, "times_s": dot_times},
        "flops_per_sample": flops_per_sample,
        "rows": rows,
        "vs_fastest_peer": comparisons,
    }
    h.report("mlp_mnist", args, payload, comparisons, usage=info["cpu_usage"])
    return payload


if __name__ == "__main__":
    main()
