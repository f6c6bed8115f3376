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
  loop gathering batches from tensors by index, in each of
  ``_harness.TORCH_VARIANTS`` (Adam's default CPU kernels, ``foreach=True``,
  ``fused=True``; the model under ``torch.compile`` with fused Adam; threads
  = the cores this process may use, fused eager and compiled also on 1
  thread).
* inference: logits of the 10,000 test images in batches of 1,000 (jnn: one
  jitted ``apply`` per batch; PyTorch: ``eval()`` under
  ``torch.inference_mode``, eager or ``torch.compile``, all cores or 1
  thread).

A timed call is one whole training (or one pass over the test set); the figure
is the median of the timed calls after a warm-up call, whose extra time is the
compile time (jnn, ``torch.compile``). jnn and PyTorch calls alternate
(round-robin), so a load change on the shared machine hits all of them (the
1-thread ``torch.compile`` rows run after the others: inductor bakes the thread
count into its kernels). A variant that fails here is a skipped row with the
reason. The quality is the test accuracy after the training. ``vs fastest
peer``: the row's samples/s over the fastest PyTorch row's. On the CPU,
LeNet5's default ``conv_path`` computes C1/S2 and C3/S4 as wide matrix products
by pooling phase (the private ``jnn.cnn._fastconv``), the training batch as 4
independent chains. Measured numbers are in ``benchmarks/README.md`` and
``benchmarks/results/cnn.json``; the issue's target is jnn >= 1.5x PyTorch.

Run::

    .venv/bin/python benchmarks/cnn.py           # a few minutes on 2 cores
    .venv/bin/python benchmarks/cnn.py --quick   # 8,192 images, 2 rounds
    .venv/bin/python benchmarks/cnn.py --smoke   # seconds

Results go to ``benchmarks/results/cnn.json`` (``cnn_quick.json``, ...).
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
#: PyTorch inference rows: ``name -> (torch.compile, threads)`` (None: cores).
TORCH_INFERENCE = {
    "torch eager": (False, None),
    "torch.compile": (True, None),
    "torch eager 1 thread": (False, 1),
    "torch.compile 1 thread": (True, 1),
}


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


def _threaded(fn, threads: int | None):
    """``fn`` run with ``threads`` torch threads (None: all cores)."""
    import torch

    def call(i):
        torch.set_num_threads(h.cores() if threads is None else threads)
        return fn(i)

    return call


def torch_workloads(train, test):
    """PyTorch's ``({name: fit}, {name: infer}, accuracy_of_fit_results)``.

    One ``fit`` per :data:`_harness.TORCH_VARIANTS`, one ``infer`` per
    :data:`TORCH_INFERENCE`; each sets its torch thread count when called.
    """
    import torch

    x, y = (
        torch.from_numpy(train[0].transpose(0, 3, 1, 2).copy()),
        torch.from_numpy(train[1]).long(),
    )
    xt = torch.from_numpy(test[0].transpose(0, 3, 1, 2).copy())
    yt = torch.from_numpy(test[1]).long()

    fits = {}
    for name, (adam, compiled, threads) in h.TORCH_VARIANTS.items():

        def fit(i, adam=adam, compiled=compiled):
            return h.torch_train(
                torch_lenet(i), x, y, epochs=1, batch_size=BATCH, lr=LR, seed=i,
                adam=adam, compile=compiled,
            )  # fmt: skip

        fits[name] = _threaded(fit, threads)

    trained = []
    compiled_models: dict[str, object] = {}

    def infers(name: str, compiled: bool):
        def infer(_):
            model = trained[-1].eval()
            if compiled:
                if name not in compiled_models:
                    compiled_models[name] = torch.compile(model)
                model = compiled_models[name]
            with torch.inference_mode():
                return [
                    model(xt[i : i + INFER_BATCH])
                    for i in range(0, len(yt), INFER_BATCH)
                ]

        return infer

    infer_fns = {
        name: _threaded(infers(name, compiled), threads)
        for name, (compiled, threads) in TORCH_INFERENCE.items()
    }

    def accuracy(models):
        if not trained:
            trained.append(models[-1])
        return float(np.mean([h.torch_accuracy(m, xt, yt) for m in models]))

    return fits, infer_fns, accuracy


def in_phases(workloads: dict, repeats: int) -> dict[str, h.Timing | str]:
    """:func:`_harness.interleaved`, the 1-thread ``torch.compile`` rows apart.

    Inductor's C++ kernels are compiled for the thread count of the moment
    (dynamo does not guard on it), so those rows run after the others, one at
    a time, after ``torch._dynamo.reset()``.
    """
    later = [n for n in workloads if n.startswith("torch.compile") and "1 thread" in n]
    first = {n: f for n, f in workloads.items() if n not in later}
    timings = h.interleaved(first, repeats)
    for name in later:
        import torch

        torch._dynamo.reset()
        timings.update(h.interleaved({name: workloads[name]}, repeats))
    return {name: timings[name] for name in workloads}


def _row(workload, impl, t, samples: int, accuracy, iterations) -> dict:
    peer = impl.startswith("torch")
    if isinstance(t, str):
        return {"workload": workload, "impl": impl, "peer": peer, "skipped": t,
                "samples_per_s": None}  # fmt: skip
    return {
        "workload": workload,
        "impl": impl,
        "peer": peer,
        "median_s": t.median,
        "compile_s": t.compile,
        "quality": float(accuracy),
        "quality_name": "test accuracy",
        "iterations": iterations,
        "samples_per_s": samples / t.median,
        "times_s": t.times,
    }


#: Sizes per mode: (training images, test images, timed rounds).
SIZES = {"smoke": (2048, 2000, 1), "quick": (8192, 5000, 2), "full": (16384, 10000, 3)}


def measure(mode: str = "full") -> list[dict]:
    """Rows for jnn and PyTorch (training and inference), same data and weights."""
    if mode is True or mode is False:  # the former measure(smoke: bool)
        mode = "smoke" if mode else "full"
    n_train, n_test, repeats = SIZES[mode]
    h.set_torch_threads()
    train, test = mnist32(n_train, n_test)
    jnn_fit, jnn_infer, jnn_accuracy = jnn_workloads(train, test, repeats)
    fit_fns, infer_fns, accuracies = {"jnn": jnn_fit}, {"jnn": jnn_infer}, {}
    torch_accuracy = None
    try:
        torch_fits, torch_infers, torch_accuracy = torch_workloads(train, test)
    except ImportError:
        print("torch not installed: pip install torch==2.13.0 (skipping)")
    else:
        fit_fns.update(torch_fits)
        infer_fns.update(torch_infers)
    steps = len(train[1]) // BATCH
    fits = in_phases(fit_fns, repeats)
    for name, t in fits.items():
        if isinstance(t, str):
            continue
        scorer = jnn_accuracy if name == "jnn" else torch_accuracy
        accuracies[name] = scorer(t.results)
    infers = in_phases(infer_fns, 3 * repeats)
    h.set_torch_threads()  # the rows changed it
    # inference uses the last trained model of jnn and of the first torch row
    infer_accuracy = {n: accuracies.get("jnn" if n == "jnn" else "torch eager")
                      for n in infer_fns}  # fmt: skip
    rows = []
    for name, t in fits.items():
        if not isinstance(t, str) and name.startswith("torch eager"):
            t.first = None  # no compilation
        rows.append(
            _row(TRAIN_WORKLOAD, name, t, steps * BATCH, accuracies.get(name), steps)
        )
    for name, t in infers.items():
        if not isinstance(t, str) and name.startswith("torch eager"):
            t.first = None
        rows.append(
            _row(INFER_WORKLOAD, name, t, len(test[1]), infer_accuracy[name], None)
        )
    return rows


def comparisons(rows: list[dict]) -> list[dict]:
    """The jnn rows against the fastest PyTorch rows (training, inference)."""
    out = []
    for workload, target in ((TRAIN_WORKLOAD, 1.5), (INFER_WORKLOAD, 1.5)):
        mine = [r for r in rows if r["workload"] == workload]
        ours = next(r for r in mine if r["impl"] == "jnn")
        peers = {r["impl"]: r["samples_per_s"] for r in mine if r["peer"]}
        out.append(
            h.vs_fastest_peer(
                workload, "jnn", ours["samples_per_s"], peers, unit="samples/s",
                higher_is_better=True, target=target,
            )
        )  # fmt: skip
    return out


def print_rows(rows: list[dict]) -> None:
    """The table: samples/s, compile s, accuracy, jnn/impl, row / fastest peer."""
    best: dict[str, float] = {}
    for r in rows:
        if r["peer"] and r["samples_per_s"] is not None:
            best[r["workload"]] = max(best.get(r["workload"], 0), r["samples_per_s"])
    print(
        f"{'workload':44s} {'impl':28s} {'samples/s':>10s} {'compile s':>9s} "
        f"{'test acc':>8s} {'jnn/impl':>8s} {'vs fastest peer':>15s}"
    )
    ours = {r["workload"]: r["samples_per_s"] for r in rows if r["impl"] == "jnn"}
    for r in rows:
        if r["samples_per_s"] is None:
            print(f"{r['workload']:44s} {r['impl']:28s} skipped: {r['skipped']}")
            continue
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        quality = "-" if r["quality"] is None else f"{100 * r['quality']:.2f}%"
        fastest = best.get(r["workload"])
        vs = "-" if fastest is None else f"{r['samples_per_s'] / fastest:.2f}"
        print(
            f"{r['workload']:44s} {r['impl']:28s} {r['samples_per_s']:10,.0f} "
            f"{compile_s:>9s} {quality:>8s} "
            f"{ours[r['workload']] / r['samples_per_s']:8.2f} {vs:>15s}"
        )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8,192 images, 2 rounds")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    mode = h.mode_of(args)
    monitor = h.CpuMonitor().start()
    rows = measure(mode)
    info = h.machine_info()
    info["cpu_usage"] = monitor.stop()
    h.print_machine(info)
    print_rows(rows)
    compared = comparisons(rows)
    h.print_comparisons(compared)
    h.warn_if_busy(info["cpu_usage"])
    payload = {
        "mode": mode,
        "config": {**vars(args), "batch": BATCH, "lr": LR, "sizes": SIZES[mode]},
        "machine": info,
        "rows": rows,
        "vs_fastest_peer": compared,
    }
    print(f"wrote {h.write_json(h.result_name('cnn', mode), payload)}")
    return payload


if __name__ == "__main__":
    main()
