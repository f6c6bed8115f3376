"""Benchmark: LeNet-5 training and inference on MNIST, jnn against PyTorch CPU.

Both sides run the same network, LeNet-5 "modern" with full C3 (the usual
PyTorch LeNet: conv 5x5 6 - ReLU - max-pool 2 - conv 5x5 16 - ReLU - max-pool
2 - conv 5x5 120 - ReLU - linear 84 - ReLU - linear 10, 61,706 parameters), on
MNIST standardised and padded to 32x32, in one process:

* training: one epoch over the first ``N`` training images, mini-batches of 64
  (shuffled; the last ``N % 64`` images skipped), Adam 1e-3, softmax
  cross-entropy. Both start from the *same* weights: PyTorch's default
  initialisation (``U(+-1/sqrt(fan_in))`` for weights and biases) drawn with
  ``torch.manual_seed(i)`` for run ``i`` and copied into jnn's parameters.
  jnn is ``jnn.train.fit`` (``lax.scan`` over the batches); PyTorch is a plain
  loop gathering batches from tensors by index.
* inference: logits of the 10,000 test images in batches of 1,000 (jnn: one
  jitted ``apply`` per batch; PyTorch: ``eval()`` under ``no_grad``).

A timed call is one whole training (or one pass over the test set); the figure
is the median of the timed calls after a warm-up call, whose extra time is
jnn's compile time. jnn and PyTorch calls alternate (round-robin), so a load
change on the shared machine hits both. The quality is the test accuracy after
the training. On the CPU, LeNet5's default ``conv_path`` computes C1/S2 and
C3/S4 as wide matrix products by pooling phase (the private
``jnn.cnn._fastconv``), the training batch as 4 independent chains. The
measured numbers are in ``benchmarks/README.md``; the issue's target is
jnn >= 1.5x PyTorch.

Run::

    .venv/bin/python benchmarks/cnn.py           # about 2 minutes on 2 cores
    .venv/bin/python benchmarks/cnn.py --smoke   # seconds

Results go to ``benchmarks/results/cnn.json``.
"""

from __future__ import annotations

import argparse

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np
import optax

import jnn
from jnn.cnn import LeNet5, pad_mnist
from jnn.train import TrainState

BATCH = 64
LR = 1e-3
INFER_BATCH = 1000
TRAIN_WORKLOAD = "LeNet-5 train, MNIST 32x32, batch 64, Adam"
INFER_WORKLOAD = "LeNet-5 inference, batch 1000"


def mnist32(n_train: int, n_test: int):
    """Padded MNIST: ``(x, y)`` NumPy pairs for training and test."""
    ds = jnn.data.load("mnist", seed=0, flatten=False)
    train = (np.asarray(pad_mnist(ds.train["x"][:n_train])), ds.train["y"][:n_train])
    test = (np.asarray(pad_mnist(ds.test["x"][:n_test])), ds.test["y"][:n_test])
    return train, test


def torch_lenet(seed: int):
    """The PyTorch LeNet-5 (default initialisation, seeded)."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def torch_to_flax(model) -> dict:
    """The torch model's weights as LeNet5(variant="modern", c3="full") params."""
    layers = [m for m in model if hasattr(m, "weight")]
    params = {}
    for name, layer in zip(("C1", "C3", "C5", "F6", "output"), layers, strict=True):
        w = layer.weight.detach().numpy()
        kernel = w.transpose(2, 3, 1, 0) if w.ndim == 4 else w.T  # HWIO / (in, out)
        params[name] = {
            "kernel": jnp.asarray(kernel),
            "bias": jnp.asarray(layer.bias.detach().numpy()),
        }
    return params


def jnn_workloads(train, test, repeats: int):
    """The ``(fit, infer, accuracy_of_fit_results)`` callables of jnn."""
    model = LeNet5(variant="modern", c3="full")
    optimizer = optax.adam(LR)
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optimizer
    )
    data = jax.device_put({"x": train[0], "y": train[1]})
    test_data = jax.device_put({"x": test[0], "y": test[1]})

    def start(i: int) -> TrainState:
        params = torch_to_flax(torch_lenet(i))
        return TrainState(params, optimizer.init(params), jnp.zeros((), jnp.int32))

    states = [start(i) for i in range(repeats + 1)]

    def fit(i):
        return jnn.train.fit(
            learner,
            data,
            key=jax.random.key(i),
            epochs=1,
            batch_size=BATCH,
            init_state=states[i],
            progress=False,
        ).state

    logits = jax.jit(lambda p, x: model.apply({"params": p}, x))
    batches = [
        test_data["x"][i : i + INFER_BATCH] for i in range(0, len(test[1]), INFER_BATCH)
    ]
    trained = []

    def infer(_):
        return [logits(trained[-1], xb) for xb in batches]

    def accuracy(states):
        trained.append(states[-1].params)
        scores = [float(learner.evaluate(s, test_data)["accuracy"]) for s in states]
        return float(np.mean(scores))

    return fit, infer, accuracy


def torch_workloads(train, test):
    """PyTorch's ``(fit, infer, accuracy_of_fit_results)`` callables."""
    import torch

    x, y = (
        torch.from_numpy(train[0].transpose(0, 3, 1, 2).copy()),
        torch.from_numpy(train[1]).long(),
    )
    xt = torch.from_numpy(test[0].transpose(0, 3, 1, 2).copy())
    yt = torch.from_numpy(test[1]).long()

    def fit(i):
        return h.torch_train(
            torch_lenet(i), x, y, epochs=1, batch_size=BATCH, lr=LR, seed=i
        )

    trained = []

    def infer(_):
        model = trained[-1].eval()
        with torch.no_grad():
            return [
                model(xt[i : i + INFER_BATCH]) for i in range(0, len(yt), INFER_BATCH)
            ]

    def accuracy(models):
        trained.append(models[-1])
        return float(np.mean([h.torch_accuracy(m, xt, yt) for m in models]))

    return fit, infer, accuracy


def interleaved(workloads: dict, repeats: int) -> dict[str, h.Timing]:
    """Time several workloads round-robin: one warm-up call each, then rounds.

    On a shared machine the load drifts; alternating the calls makes every
    implementation see the same load (a median over the rounds).
    """
    timings = {name: h.time_calls(fn, 1, warmup=1) for name, fn in workloads.items()}
    for i in range(2, repeats + 1):
        for name, fn in workloads.items():
            t = h.time_calls(lambda _, fn=fn, i=i: fn(i), 1, warmup=0)
            timings[name].times += t.times
            timings[name].results += t.results
    return timings


def _row(workload, impl, t: h.Timing, samples: int, accuracy, iterations) -> dict:
    return {
        "workload": workload,
        "impl": impl,
        "median_s": t.median,
        "compile_s": t.compile,
        "quality": float(accuracy),
        "quality_name": "test accuracy",
        "iterations": iterations,
        "samples_per_s": samples / t.median,
        "times_s": t.times,
    }


def measure(smoke: bool = False) -> list[dict]:
    """Rows for jnn and PyTorch (training and inference), same data and weights."""
    n_train, n_test, repeats = (2048, 2000, 1) if smoke else (16384, 10000, 3)
    h.set_torch_threads()
    train, test = mnist32(n_train, n_test)
    impls = {"jnn": jnn_workloads(train, test, repeats)}
    try:
        impls["pytorch"] = torch_workloads(train, test)
    except ImportError:
        print("torch not installed: pip install torch==2.13.0 (skipping)")
    steps = len(train[1]) // BATCH
    fits = interleaved({name: w[0] for name, w in impls.items()}, repeats)
    accuracy = {name: impls[name][2](t.results) for name, t in fits.items()}
    infers = interleaved({name: w[1] for name, w in impls.items()}, 3 * repeats)
    rows = []
    for name in impls:
        if name != "jnn":  # no compilation
            fits[name].first = infers[name].first = None
        rows.append(
            _row(TRAIN_WORKLOAD, name, fits[name], steps * BATCH, accuracy[name], steps)
        )
        rows.append(
            _row(INFER_WORKLOAD, name, infers[name], len(test[1]), accuracy[name], None)
        )
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    monitor = h.CpuMonitor().start()
    rows = measure(args.smoke)
    info = h.machine_info()
    info["cpu_usage"] = monitor.stop()
    print(
        f"{'workload':44s} {'impl':8s} {'samples/s':>10s} {'compile s':>9s} "
        f"{'test acc':>8s} {'jnn/impl':>8s}"
    )
    ours = {r["workload"]: r["samples_per_s"] for r in rows if r["impl"] == "jnn"}
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['workload']:44s} {r['impl']:8s} {r['samples_per_s']:10,.0f} "
            f"{compile_s:>9s} {100 * r['quality']:7.2f}% "
            f"{ours[r['workload']] / r['samples_per_s']:8.2f}"
        )
    h.warn_if_busy(info["cpu_usage"])
    payload = {
        "config": {**vars(args), "batch": BATCH, "lr": LR},
        "machine": info,
        "rows": rows,
    }
    name = "cnn_smoke" if args.smoke else "cnn"
    print(f"wrote {h.write_json(name, payload)}")
    return payload


if __name__ == "__main__":
    main()
