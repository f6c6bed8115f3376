"""LeNet-5 on MNIST (curriculum C1): training recipe, plots and the ``lenet5`` demo.

:func:`train_lenet5` is shared by the demo and ``examples/cnn/lenet5.py``
(which holds the full runs): MNIST padded to 32x32, Adam with a cosine decay
of the learning rate, mini-batches of 64, optionally with random affine
distortions drawn afresh in every compiled training step.
"""

from __future__ import annotations

import functools
import time
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import data as jdata
from jnn import plotting
from jnn.cnn.augment import augmented_loss, random_affine
from jnn.cnn.lenet.model import LeNet5, pad_mnist, parameter_counts
from jnn.cnn.lenet.rbf_output import rbf_map_loss
from jnn.demos import DemoConfig, DemoResult, register
from jnn.train import classification_loss, fit, gradient_learner

#: The distortions of the "with distortions" run: shifts of up to 2 pixels,
#: independent vertical/horizontal scaling (hence squeezing) by up to 10%,
#: horizontal shear up to 0.15 and rotations up to 10 degrees.
DISTORTION = {
    "max_rotation_deg": 10.0,
    "max_scale": 0.1,
    "max_shift": 2.0,
    "max_shear": 0.15,
}


class LeNetRun(NamedTuple):
    """Outcome of :func:`train_lenet5`.

    Attributes:
      model: the :class:`~jnn.cnn.LeNet5` module.
      params: trained parameters.
      history: the ``fit`` history (per-epoch loss, val accuracy, ...).
      test_accuracy: accuracy on the 10,000 MNIST test images (or the subset).
      seconds_per_epoch: wall time of ``fit`` / epochs (compilation included).
      test: the padded test split ``{"x": (n, 32, 32, 1), "y": (n,)}``.
      predicted: the predicted class of every test image, ``(n,)``.
    """

    model: LeNet5
    params: Any
    history: dict
    test_accuracy: float
    seconds_per_epoch: float
    test: dict
    predicted: np.ndarray


def mnist_32(seed: int = 0, n_train: int | None = None, n_test: int | None = None):
    """MNIST standardised and padded to ``(n, 32, 32, 1)``: train, val, test dicts."""
    ds = jdata.load("mnist", seed=seed, flatten=False)

    def prepare(split, n):
        split = {k: v[:n] for k, v in split.items()}
        return {"x": np.asarray(pad_mnist(split["x"])), "y": split["y"]}

    return prepare(ds.train, n_train), prepare(ds.val, None), prepare(ds.test, n_test)


def train_lenet5(
    *,
    variant: str = "modern",
    c3: str = "table",
    epochs: int = 15,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    distort: bool = False,
    label_smoothing: float = 0.0,
    output: str = "linear",
    seed: int = 0,
    n_train: int | None = None,
    n_test: int | None = None,
    progress: bool | None = None,
    validate: bool = True,
) -> LeNetRun:
    """Train LeNet-5 on MNIST with :func:`jnn.train.fit`.

    Args:
      variant: ``"paper"`` or ``"modern"`` (see :class:`~jnn.cnn.LeNet5`).
      c3: ``"table"`` or ``"full"``.
      epochs: passes over the 55,000 training images.
      batch_size: images per Adam step.
      learning_rate: initial Adam step, decayed to 0 by a cosine schedule.
      distort: draw :data:`DISTORTION` random affine distortions in every
        training step (:func:`~jnn.cnn.augmented_loss`).
      label_smoothing: ``eps`` of the cross-entropy's smoothed targets
        (:func:`jnn.train.classification_loss`).
      output: ``"linear"`` (logits, cross-entropy) or ``"rbf"`` (the paper's
        RBF units and MAP criterion, :func:`~jnn.cnn.rbf_map_loss`; needs
        ``variant="paper"`` and no label smoothing).
      seed: seeds the validation split, the initialisation and the shuffling.
      n_train: use only the first ``n_train`` training images (demos, tests).
      n_test: use only the first ``n_test`` test images.
      progress: show the progress bar (None: on a terminal).
      validate: measure the 5,000 validation images after every epoch (the
        history's ``val_*`` entries; off in the demo, where compiling it is a
        fifth of the run).

    Returns:
      A :class:`LeNetRun`.
    """
    if output == "rbf" and label_smoothing:
        raise ValueError(
            "`label_smoothing` applies to the cross-entropy of output='linear'; "
            f"got {label_smoothing} with output='rbf'."
        )
    model = LeNet5(variant=variant, c3=c3, output=output)
    train, val, test = mnist_32(seed, n_train, n_test)
    if output == "rbf":
        loss = rbf_map_loss(model)
    else:
        loss = classification_loss(model, label_smoothing=label_smoothing)
    if distort:
        loss = augmented_loss(loss, functools.partial(random_affine, **DISTORTION))
    steps = epochs * (len(train["y"]) // batch_size)
    schedule = optax.cosine_decay_schedule(learning_rate, max(steps, 1))
    learner = gradient_learner(model, loss, optax.adam(schedule))
    start = time.perf_counter()
    result = fit(
        learner,
        train,
        key=jax.random.key(seed),
        epochs=epochs,
        batch_size=batch_size,
        val=val if validate else None,
        progress=progress,
    )
    seconds = (time.perf_counter() - start) / epochs
    # The compiled, batched ``predict`` (op-by-op evaluation compiles every
    # operation of the network on its own: 7 s on 2 cores).
    predicted = predict(model, result.state.params, test["x"])
    accuracy = float(np.mean(predicted == test["y"]))
    return LeNetRun(
        model, result.state.params, result.history, accuracy, seconds, test, predicted
    )


def predict(model: LeNet5, params, x: np.ndarray, batch: int = 1000) -> np.ndarray:
    """Predicted classes ``(n,)`` of ``x: (n, 32, 32, 1)``, in batches of ``batch``.

    The largest logit, or the smallest penalty of the RBF output.
    """
    best = jnp.argmin if model.output == "rbf" else jnp.argmax
    classes = jax.jit(lambda p, xb: best(model.apply({"params": p}, xb), axis=-1))
    n = len(x)
    padded = np.concatenate([x, np.zeros((-n % batch, *x.shape[1:]), x.dtype)])
    out = [
        np.asarray(classes(params, padded[i : i + batch]))
        for i in range(0, len(padded), batch)
    ]
    return np.concatenate(out)[:n]


def plot_filters_and_maps(model: LeNet5, params, image: np.ndarray, path):
    """C1's six 5x5 kernels (top) and their feature maps on ``image`` (bottom)."""
    import matplotlib.pyplot as plt

    _, state = model.apply({"params": params}, image[None], mutable=["intermediates"])
    maps = np.asarray(state["intermediates"]["C1_maps"][0][0])  # (28, 28, 6)
    kernels = np.asarray(params["C1"]["kernel"])[:, :, 0, :]  # (5, 5, 6)
    fig, axes = plt.subplots(2, 7, figsize=(12, 3.8))
    axes[0, 0].imshow(image[:, :, 0], cmap="gray")
    axes[0, 0].set_title("input 32x32")
    axes[1, 0].axis("off")
    for i in range(6):
        limit = np.abs(kernels).max()  # white = 0, red > 0, blue < 0
        axes[0, i + 1].imshow(kernels[:, :, i], cmap="bwr", vmin=-limit, vmax=limit)
        axes[0, i + 1].set_title(f"C1 kernel {i}")
        axes[1, i + 1].imshow(maps[:, :, i], cmap="gray")
        axes[1, i + 1].set_title(f"C1 map {i}")
    for ax in axes.ravel():
        ax.set(xticks=[], yticks=[])
    return plotting.save(fig, path)


def plot_confusion(labels: np.ndarray, predicted: np.ndarray, path, title: str):
    """A 10x10 confusion matrix (rows: true digit, columns: predicted)."""
    import matplotlib.pyplot as plt

    counts = np.zeros((10, 10), int)
    np.add.at(counts, (labels, predicted), 1)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(np.log1p(counts), cmap="Blues")
    for (i, j), c in np.ndenumerate(counts):
        if c:
            ax.text(j, i, str(c), ha="center", va="center", fontsize=7)
    ax.set(
        xlabel="predicted",
        ylabel="true",
        xticks=range(10),
        yticks=range(10),
        title=title,
    )
    return plotting.save(fig, path)


@register("lenet5", "C1", "LeNet-5 on MNIST: C1 filters, feature maps, confusion")
def lenet5(config: DemoConfig) -> DemoResult:
    """The paper's LeNet-5 (scaled tanh, trainable subsampling, C3 table) on MNIST.

    One epoch over 20,000 training images in batches of 32 (Adam, 3e-3 with a
    cosine decay) by default: about 96% test accuracy in ~15 s on 2 cores, of
    which compilation is half. The full runs that meet the paper's 0.95% /
    0.8% test errors are ``examples/cnn/lenet5.py``.
    """
    run = train_lenet5(
        variant="paper",
        c3="table",
        epochs=config.epochs_or(1, smoke=1),
        batch_size=32,
        learning_rate=3e-3,
        seed=config.seed,
        n_train=2000 if config.smoke else 20_000,
        n_test=1000 if config.smoke else None,
        progress=False,
        validate=False,
    )
    test, predicted = run.test, run.predicted
    error = 100 * (1 - run.test_accuracy)
    figures = (
        plot_filters_and_maps(
            run.model, run.params, test["x"][0], config.out / "lenet5_c1.png"
        ),
        plot_confusion(
            test["y"],
            predicted,
            config.out / "lenet5_confusion.png",
            f"LeNet-5 (paper variant) on MNIST: {error:.2f}% error",
        ),
    )
    n_params = parameter_counts(run.params)["total"]
    return DemoResult(
        "mnist",
        "test accuracy",
        run.test_accuracy,
        figures,
        f"{len(run.history['loss'])} epoch(s), test error {error:.2f}%, "
        f"{run.seconds_per_epoch:.1f} s/epoch (compile included), {n_params:,} "
        "parameters; the paper: 0.95% after 20 epochs",
    )
