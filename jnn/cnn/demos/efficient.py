"""Demo of curriculum C2: accuracy against cost for efficient convolutions.

LeNet-5 and networks built from the efficient blocks of
:mod:`jnn.cnn.efficient` (depthwise-separable convolutions, group convolutions
with channel shuffle, inverted residuals) are trained on MNIST with the same
optimiser; their parameters and multiply-accumulates come from
:func:`jnn.cnn.count`. The demo trains LeNet-5 and the inverted-residual net
briefly; ``examples/cnn/efficient.py`` runs all four nets at full size (all
55,000 training images, more epochs) with these functions.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import flax.linen as nn
import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

from jnn import data as jdata
from jnn import plotting
from jnn.cnn.augment import augmented_loss, random_affine
from jnn.cnn.counting import count
from jnn.cnn.efficient.mobilenet import mobilenet_v2_mnist, separable_mnist
from jnn.cnn.efficient.shufflenet import shufflenet_v1_mnist
from jnn.cnn.lenet.model import LeNet5, pad_mnist
from jnn.demos import DemoConfig, DemoResult, register
from jnn.train import classification_loss, fit, gradient_learner

#: Mild distortions: the small nets overfit MNIST without any (train 99.7%,
#: test 98.2%) and underfit with LeNet-5's stronger ones.
DISTORTION = {
    "max_rotation_deg": 5.0,
    "max_scale": 0.05,
    "max_shift": 1.5,
    "max_shear": 0.05,
}


def efficient_nets() -> dict[str, tuple[nn.Module, bool]]:
    """The compared networks: ``{name: (model, needs 32x32 padding)}``."""
    return {
        "LeNet-5": (LeNet5(), True),
        "separable": (separable_mnist(), False),
        "group+shuffle": (shufflenet_v1_mnist(), False),
        "inverted residual": (mobilenet_v2_mnist(), False),
    }


def mnist_images(seed: int = 0, n_train: int | None = None) -> tuple[dict, dict]:
    """MNIST as NHWC ``(n, 28, 28, 1)`` train and test dicts (standardised)."""
    ds = jdata.load("mnist", seed=seed, flatten=False)
    train = (
        ds.train if n_train is None else {k: v[:n_train] for k, v in ds.train.items()}
    )
    return dict(train), dict(ds.test)


def train_classifier(
    model: nn.Module,
    train: dict,
    test: dict,
    *,
    key: jax.Array,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    pad: bool = False,
    distort: bool = False,
) -> dict[str, float]:
    """Train ``model`` with Adam (warm-up + cosine schedule) and measure it.

    Args:
      model: a classifier of NHWC images.
      train: ``{"x": (n, 28, 28, 1), "y": (n,)}``.
      test: held-out data of the same form.
      key: PRNG key of the initialisation and shuffling.
      epochs: passes over ``train``.
      batch_size: examples per step.
      learning_rate: peak Adam learning rate.
      pad: pad 28x28 images to LeNet-5's 32x32.
      distort: random affine distortions of every training batch inside the
        compiled step (:data:`DISTORTION`; LeCun et al. 1998, Section III-C).

    Returns:
      ``{"accuracy", "seconds" (training wall time), "params", "macs"}``,
      MACs per image from :func:`jnn.cnn.count`.
    """
    prepare: Callable = pad_mnist if pad else (lambda x: x)
    train = {"x": np.asarray(prepare(train["x"])), "y": train["y"]}
    test = {"x": np.asarray(prepare(test["x"])), "y": test["y"]}
    steps = epochs * (len(train["y"]) // batch_size)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, learning_rate, max(steps // 20, 1), max(steps, 1)
    )
    loss = classification_loss(model)
    if distort:
        loss = augmented_loss(loss, functools.partial(random_affine, **DISTORTION))
    learner = gradient_learner(model, loss, optax.adam(schedule))
    start = time.perf_counter()
    result = fit(learner, train, key=key, epochs=epochs, batch_size=batch_size)
    seconds = time.perf_counter() - start
    cost = count(model, (1, *train["x"].shape[1:]))
    # Compiled once: op by op, every operation compiles on its own (4 s a net).
    accuracy = float(jax.jit(learner.evaluate)(result.state, test)["accuracy"])
    return {
        "accuracy": accuracy,
        "seconds": seconds,
        "params": cost.params,
        "macs": cost.macs,
    }


def accuracy_vs_macs(results: dict[str, dict], path) -> object:
    """Scatter of test error against MACs per image (log axes) as a PNG."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, (name, r) in enumerate(results.items()):
        error = 100 * (1 - r["accuracy"])
        ax.scatter(r["macs"], error, s=40)
        offset = (5, 5) if i % 2 else (5, -12)  # alternate: close points overlap
        ax.annotate(name, (r["macs"], error), textcoords="offset points", xytext=offset)
    ax.set(
        xscale="log",
        xlabel="MACs per image (jnn.cnn.count)",
        ylabel="MNIST test error (%)",
        title="Accuracy against cost",
    )
    ax.grid(True, which="both", alpha=0.3)
    return plotting.save(fig, path)


def table(results: dict[str, dict]) -> str:
    """Plain-text table: network, params, MACs, test accuracy, training time."""
    lines = [f"{'network':18s} {'params':>8s} {'MACs':>9s} {'accuracy':>9s} {'s':>6s}"]
    for name, r in results.items():
        lines.append(
            f"{name:18s} {r['params']:>8,d} {r['macs']:>9,d} "
            f"{r['accuracy']:>9.4f} {r['seconds']:>6.1f}"
        )
    return "\n".join(lines)


@register("efficient-cnn", "C2", "LeNet-5 vs an inverted-residual net: accuracy/MACs")
def efficient_cnn(config: DemoConfig) -> DemoResult:
    """Accuracy against MACs on MNIST: LeNet-5 and an inverted-residual net.

    The default trains both nets for 1 epoch on 12,000 images in batches of
    32 (about 93% each, the inverted-residual net at 0.18 of LeNet-5's MACs);
    ``--smoke`` uses 1,000 images. The full comparison,
    ``examples/cnn/efficient.py``, trains LeNet-5 and the separable,
    group+shuffle and inverted-residual nets for 100 epochs with distortions
    (about 99.0% for the inverted-residual net).
    """
    n_train = 1000 if config.smoke else 12_000
    epochs = config.epochs_or(1, smoke=1)
    train, test = mnist_images(config.seed, n_train)
    if config.smoke:
        test = {k: v[:2000] for k, v in test.items()}
    nets = efficient_nets()
    # Compiling is most of a short run (about 5 s a net on 2 cores): the demo
    # trains LeNet-5 and the inverted-residual net (depthwise-separable
    # convolutions in MobileNetV2's blocks); examples/cnn/efficient.py trains
    # all four nets.
    nets = {k: nets[k] for k in ("LeNet-5", "inverted residual")}
    results = {
        name: train_classifier(
            model,
            train,
            test,
            key=jax.random.key(config.seed),
            epochs=epochs,
            pad=pad,
            batch_size=32,
        )
        for name, (model, pad) in nets.items()
    }
    fig = accuracy_vs_macs(results, config.out / "efficient_cnn.png")
    lenet = results["LeNet-5"]["macs"]
    best = results["inverted residual"]
    return DemoResult(
        "mnist",
        "test accuracy (inverted residual)",
        best["accuracy"],
        (fig,),
        f"{n_train} images, {epochs} epoch(s); MACs vs LeNet-5: "
        f"{best['macs'] / lenet:.3f}\n{table(results)}",
    )
