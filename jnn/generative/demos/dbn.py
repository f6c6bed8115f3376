"""Demo of curriculum Gen2: a small deep belief net draws the digit it is asked for.

``dbn-samples``: a 784-256-256-(512 + 10 labels) DBN (Hinton, Osindero & Teh
2006, at a quarter of their size) pre-trained greedily by CD-1
(:func:`jnn.generative.pretrain_dbn`, momentum 0.9) on 10,000 MNIST images
binarised once; the top RBM also sees the one-hot label. The negative phase
samples the reconstructions (the learner's default; mean-field
reconstructions, ``sample_last=False``, classify better but sample worse).
Generation (:func:`jnn.generative.dbn_generate`): 300 block Gibbs sweeps in
the top RBM with the label units clamped, from random penultimate states, then
one pass down the directed layers. Plotted: ten samples of every class (one column per
class). The headline is the error of the same generative model used as a
classifier on 1,000 test images: the label whose one-hot vector gives the
lowest free energy of the top RBM (:func:`jnn.generative.dbn_predict`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jnn import plotting
from jnn.data import load
from jnn.demos import DemoConfig, DemoResult, register
from jnn.generative import binarize, dbn_generate, dbn_predict, pretrain_dbn


def _grid(images: np.ndarray, path, title: str):
    """Ten columns (classes) of ten 28 x 28 images."""
    fig, axes = plt.subplots(10, 10, figsize=(6, 6.4))
    for ax, image in zip(axes.T.ravel(), images, strict=False):
        ax.imshow(image.reshape(28, 28), cmap="gray", vmin=0.0, vmax=1.0)
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(title)
    return plotting.save(fig, path)


@register("dbn-samples", "Gen2", "small DBN on MNIST: class-conditional samples")
def dbn_samples(config: DemoConfig) -> DemoResult:
    """Greedy pre-training with labels, top-down generation, generative error."""
    smoke = config.smoke
    n_train, sizes, sweeps = (
        (2000, (32, 32, 64), 50) if smoke else (10_000, (256, 256, 512), 300)
    )
    top_epochs = config.epochs_or(10, smoke=2)
    epochs = (1, 1, top_epochs) if smoke else (3, 3, top_epochs)
    ds = load("mnist", standardize=False, val_size=1000)
    key = jax.random.key(config.seed)
    x = np.asarray(binarize(jax.random.fold_in(key, 1), ds.train["x"][:n_train]))
    test = binarize(jax.random.fold_in(key, 2), ds.test["x"][:1000])
    result = pretrain_dbn(
        x,
        sizes,
        key=key,
        epochs=epochs,
        labels=ds.train["y"][:n_train],
        n_classes=10,
        learning_rate=0.1,
        momentum=0.9,
    )
    dbn = result.dbn
    error = float(jnp.mean(dbn_predict(dbn, test) != ds.test["y"][:1000]))
    labels = np.repeat(np.arange(10, dtype=np.int32), 10)
    samples = dbn_generate(
        dbn, jax.random.fold_in(key, 3), 100, labels=labels, sweeps=sweeps
    )
    shape = "-".join(map(str, (784, *sizes[:-1])))
    figure = _grid(
        np.asarray(samples),
        config.out / "dbn_samples.png",
        f"DBN {shape}-({sizes[-1]} + 10 labels): {sweeps} Gibbs sweeps, label clamped",
    )
    recon = ", ".join(f"{h['reconstruction_error'][-1]:.2f}" for h in result.histories)
    return DemoResult(
        f"MNIST, {n_train} binarised training images, 1,000 test images",
        "test error of the generative DBN classifier",
        error,
        (figure,),
        f"{shape}-{sizes[-1]} DBN with 10 label units, pre-trained {epochs} epochs "
        f"by CD-1 (final reconstruction errors per layer: {recon}); classifying by "
        f"the top RBM's free energy: {100 * error:.1f}% test error (Hinton et al. "
        "2006, full size with up-down fine-tuning: 1.25%).",
    )
