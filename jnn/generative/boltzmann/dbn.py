r"""Deep belief nets (Hinton, Osindero & Teh 2006): stacked RBMs, greedily.

A DBN with layers ``x = h_0, h_1, ..., h_L`` is a generative model whose top
two layers form an undirected RBM and whose lower layers are a directed
sigmoid belief net pointing down:

.. math:: p(x, h_1, \dots, h_L) = p_{\text{RBM}}(h_{L-1}, y, h_L)
          \prod_{l=0}^{L-2} p(h_l \mid h_{l+1}),\qquad
          p(h_{l,i} = 1 \mid h_{l+1}) = \sigma(b_{l,i} + (G_l h_{l+1})_i).

Optionally the top RBM also sees ``n_classes`` label units ``y`` beside
``h_{L-1}`` (the paper's 10 label units; here binary units of the same RBM,
used one-hot: generation clamps them, classification compares the free
energies of the one-hot vectors).

* :func:`pretrain_dbn`: greedy layer-wise training. Each layer is an RBM
  trained by :func:`jnn.generative.contrastive_divergence` through
  :func:`jnn.train.fit` on the previous layer's hidden probabilities (the data
  ``x`` for the first). Hinton et al. (2006, sec. 4) show that a layer added
  this way, started from the transposed weights of the one below and trained
  by maximum likelihood, raises a variational lower bound on ``log p(x)``;
  here, as in practice, it starts small and random. The recognition weights
  ``R_l`` (up) start equal to the generative ``G_l`` (down): the layers are
  tied.
* :func:`dbn_generate`: Gibbs sampling in the top RBM (labels clamped if given),
  then one top-down pass through the directed layers.
* :func:`jnn.generative.up_down` (``up_down.py``): the contrastive wake-sleep
  fine-tuning that unties ``R_l`` and ``G_l``.
* :func:`jnn.generative.dbn_predict` and :func:`jnn.generative.dbn_classifier`
  (``dbn_classifier.py``): the DBN as a generative classifier, and its
  recognition stack as a sigmoid MLP for discriminative fine-tuning with
  :func:`jnn.train.gradient_learner` (Hinton & Salakhutdinov 2006).

References:
  G. E. Hinton, S. Osindero and Y.-W. Teh, "A fast learning algorithm for deep
  belief nets", Neural Computation 18 (2006). G. E. Hinton and R. R.
  Salakhutdinov, "Reducing the dimensionality of data with neural networks",
  Science 313 (2006).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, check_positive_int, is_concrete
from jnn.generative.boltzmann.learning import contrastive_divergence
from jnn.generative.boltzmann.machine import check_binary
from jnn.generative.boltzmann.rbm import (
    RBM,
    _rows,
    base_rate_bias,
    bernoulli,
    binarize,
    check_rbm,
    hidden_probabilities,
)
from jnn.train import fit


class DBN(NamedTuple):
    """A deep belief net's parameters.

    Attributes:
      recognition: one :class:`RBM` per directed layer ``l = 0 .. L-2``; its
        ``weights (n_l, n_{l+1})`` and ``hidden_bias`` give the up-pass
        ``q(h_{l+1} | h_l) = sigmoid(c_l + h_l R_l)``.
      generative: one :class:`RBM` per directed layer; its ``weights`` and
        ``visible_bias`` give ``p(h_l | h_{l+1}) = sigmoid(b_l + G_l h_{l+1})``.
      top: the top-level RBM over ``[h_{L-1}, y]`` (visible) and ``h_L``.
    """

    recognition: tuple[RBM, ...]
    generative: tuple[RBM, ...]
    top: RBM


class PretrainResult(NamedTuple):
    """Result of :func:`pretrain_dbn`.

    Attributes:
      dbn: the :class:`DBN`, recognition and generative weights tied.
      histories: one :attr:`jnn.train.FitResult.history` per RBM, bottom up.
    """

    dbn: DBN
    histories: tuple[dict, ...]


def dbn_label_count(dbn: DBN) -> int:
    """The number of label units of the top RBM (0 when unlabelled)."""
    return dbn.top.weights.shape[0] - dbn.generative[-1].weights.shape[1]


def dbn_layer_sizes(dbn: DBN) -> tuple[int, ...]:
    """``(n_0, n_1, ..., n_L)``: the data's size, then every hidden layer's."""
    sizes = [r.weights.shape[0] for r in dbn.recognition]
    return (
        *sizes,
        dbn.top.weights.shape[0] - dbn_label_count(dbn),
        dbn.top.weights.shape[1],
    )


def check_dbn(dbn: Any, name: str = "dbn") -> None:
    """Raise unless ``dbn`` is a :class:`DBN` whose layers fit together."""
    if not isinstance(dbn, DBN):
        raise TypeError(
            f"`{name}` must be a jnn.generative.DBN (see pretrain_dbn); got "
            f"{type(dbn).__name__}."
        )
    if not dbn.recognition or len(dbn.recognition) != len(dbn.generative):
        raise ValueError(
            f"`{name}` must have at least one directed layer, as many recognition "
            f"as generative ones; got {len(dbn.recognition)} and "
            f"{len(dbn.generative)}."
        )
    below = None
    for i, (up, down) in enumerate(zip(dbn.recognition, dbn.generative, strict=True)):
        check_rbm(up, f"{name}.recognition[{i}]")
        check_rbm(down, f"{name}.generative[{i}]")
        if up.weights.shape != down.weights.shape or (
            below is not None and up.weights.shape[0] != below
        ):
            raise ValueError(f"`{name}` layer {i} does not fit the layer below it.")
        below = up.weights.shape[1]
    check_rbm(dbn.top, f"{name}.top")
    if dbn.top.weights.shape[0] < below:
        raise ValueError(f"`{name}.top` must see the {below} units below it.")


def _check_data(x: Any, n_visible: int | None, name: str = "x") -> jax.Array:
    check_array(x, name, ndim=2, kind="n")
    return check_binary(x, name, units=n_visible)


def _check_labels(labels: Any, count: int, classes: int, name: str = "labels"):
    check_array(labels, name, ndim=1, kind="i")
    if labels.shape[0] != count:
        raise ValueError(f"`{name}` must have {count} entries; got {labels.shape[0]}.")
    if is_concrete(labels) and count:
        values = np.asarray(labels)
        if values.min() < 0 or values.max() >= classes:
            raise ValueError(f"`{name}` must hold class ids in [0, {classes}).")
    return jnp.asarray(labels, jnp.int32)


# --- greedy layer-wise pre-training ---------------------------------------------


def _probability_check(check):
    """The RBM learner's data check, with values in [0, 1] allowed (not only 0/1)."""

    def relaxed(data, name):
        x = data.get("x") if isinstance(data, dict) else None
        if x is None or not is_concrete(x):
            return check(data, name)
        values = np.asarray(x)
        if values.size and (values.min() < 0 or values.max() > 1):
            raise ValueError(f"`{name}['x']` must hold probabilities in [0, 1].")
        return check({**data, "x": np.round(values)}, name)

    return relaxed


@jax.jit
def _up(rbm: RBM, x: jax.Array) -> jax.Array:
    return hidden_probabilities(rbm, x)


def pretrain_dbn(
    x: Any,
    hidden_sizes: Sequence[int],
    *,
    key: jax.Array,
    epochs: int | Sequence[int],
    batch_size: int = 100,
    labels: Any = None,
    n_classes: int | None = None,
    upper_data: str = "probabilities",
    probabilities: bool = False,
    top_options: dict | None = None,
    progress: bool = False,
    **cd_options,
) -> PretrainResult:
    """Greedy layer-wise pre-training of a DBN (Hinton et al. 2006, sec. 4).

    RBM ``l`` (``n_l`` visible, ``n_{l+1}`` hidden units) is trained by
    :func:`jnn.generative.contrastive_divergence` through :func:`jnn.train.fit`
    on the data of layer ``l``: ``x``, then the hidden probabilities
    ``sigmoid(c + h W)`` of the RBM below (``upper_data="samples"``: one
    binary sample of them, drawn once). The top RBM also sees the one-hot
    ``labels`` when given. Visible biases start at the base rates.
    ``sample_last=False`` (mean reconstructions ``E[v | h]`` in the negative
    phase, as Hinton & Salakhutdinov's ``rbm.m``) gives better features for
    classification; the default sampled reconstructions give better samples.
    The top RBM's settings can differ (``top_options``): pre-trained on
    binarised MNIST, a 500-2000 top RBM at learning rate 0.1 switched all its
    hidden units off within an epoch (0.01 learns); on the grey levels
    (``probabilities=True``, as Hinton & Salakhutdinov) 0.1 trains and makes
    the better classifier (``examples/generative/dbn_mnist.py``).

    Args:
      x: ``(n, V)`` binary data (e.g. :func:`jnn.generative.binarize` of MNIST).
      hidden_sizes: ``(n_1, ..., n_L)``, at least two layers (the last is the
        top RBM's hidden layer), e.g. ``(500, 500, 2000)``.
      key: PRNG key.
      epochs: epochs per RBM, one number or one per layer.
      batch_size: mini-batch size of every RBM.
      labels: ``(n,)`` int class ids for the top RBM's label units, or None.
      n_classes: number of label units (default: ``max(labels) + 1``).
      upper_data: ``"probabilities"`` or ``"samples"`` for the upper RBMs' data.
      probabilities: ``x`` holds probabilities in [0, 1] (grey levels), which
        the first RBM takes as its visible units' expectations, as Hinton &
        Salakhutdinov's ``rbm.m`` does with MNIST's intensities / 255 (default
        False: ``x`` must be binary).
      top_options: keyword arguments of the top RBM's learner that replace
        ``cd_options`` there, e.g. ``{"persistent": True, "learning_rate":
        0.01}``.
      progress: show the engine's progress bars.
      **cd_options: keyword arguments of
        :func:`jnn.generative.contrastive_divergence` for every RBM
        (``learning_rate``, ``momentum``, ``weight_decay``, ``k``, ...).

    Returns:
      A :class:`PretrainResult`.

    Raises:
      ValueError, TypeError: non-binary ``x`` (values outside [0, 1] with
        ``probabilities``), fewer than two hidden layers, non-positive sizes,
        labels that do not match ``x``.
    """
    if not isinstance(probabilities, bool):
        raise TypeError(f"`probabilities` must be a bool; got {probabilities!r}.")
    if probabilities:
        check_array(x, "x", ndim=2, kind="n")
        values = np.asarray(x) if is_concrete(x) else None
        if values is not None and values.size:
            if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
                raise ValueError("`x` must hold probabilities in [0, 1].")
        x = jnp.asarray(x, jnp.float32)
    else:
        x = _check_data(x, None)
    check_key(key)
    sizes = tuple(hidden_sizes)
    if len(sizes) < 2:
        raise ValueError(
            f"`hidden_sizes` must give at least 2 hidden layers (a DBN with one "
            f"is an RBM); got {sizes}."
        )
    for size in sizes:
        check_positive_int(size, "hidden_sizes")
    per_layer = (epochs,) * len(sizes) if isinstance(epochs, int) else tuple(epochs)
    if len(per_layer) != len(sizes):
        raise ValueError(f"`epochs` must give one count per layer ({len(sizes)}).")
    for count in per_layer:
        check_positive_int(count, "epochs")
    if upper_data not in ("probabilities", "samples"):
        raise ValueError(
            f"`upper_data` must be 'probabilities' or 'samples'; got {upper_data!r}."
        )
    one_hot = None
    if labels is not None:
        classes = n_classes or int(np.max(np.asarray(labels))) + 1
        check_positive_int(classes, "n_classes")
        labels = _check_labels(labels, x.shape[0], classes)
        one_hot = jax.nn.one_hot(labels, classes, dtype=jnp.float32)
    data, rbms, histories = x, [], []
    for i, (size, count) in enumerate(zip(sizes, per_layer, strict=True)):
        top = i == len(sizes) - 1
        if top and one_hot is not None:
            data = jnp.concatenate([data, one_hot], 1)
        options = {**cd_options, **(top_options or {})} if top else cd_options
        learner = contrastive_divergence(
            size, visible_bias=base_rate_bias(data), **options
        )
        if (i > 0 and upper_data == "probabilities") or (i == 0 and probabilities):
            learner = learner._replace(check=_probability_check(learner.check))
        result = fit(
            learner,
            {"x": data},
            key=jax.random.fold_in(key, i),
            epochs=count,
            batch_size=batch_size,
            progress=progress,
        )
        rbms.append(result.state.rbm)
        histories.append(result.history)
        if not top:
            data = _up(result.state.rbm, data)
            if upper_data == "samples":
                data = binarize(jax.random.fold_in(key, 1000 + i), data)
    lower = tuple(rbms[:-1])
    return PretrainResult(DBN(lower, lower, rbms[-1]), tuple(histories))


# --- inference and generation -----------------------------------------------------


def dbn_up_pass(
    dbn: DBN, x: jax.Array, key: jax.Array | None = None
) -> list[jax.Array]:
    """Recognition pass: ``[h_1, ..., h_{L-1}]`` (traceable).

    With a ``key`` each layer is sampled and feeds the next (the wake phase);
    without, the probabilities feed the next layer (the mean-field features).
    """
    states, h = [], x
    for i, rbm in enumerate(dbn.recognition):
        h = hidden_probabilities(rbm, h)
        if key is not None:
            h = bernoulli(jax.random.fold_in(key, i), h)
        states.append(h)
    return states


def dbn_down_pass(dbn: DBN, h: jax.Array, key: jax.Array) -> list[jax.Array]:
    """Generative pass from ``h_{L-1}``: ``[p(x | h_1), h_1, ..., h_{L-2}]``.

    Every hidden layer is sampled from ``p(h_l | h_{l+1})``; the bottom is
    returned as probabilities.
    """
    states = []
    for i in range(len(dbn.generative) - 1, -1, -1):
        down = dbn.generative[i]
        p = jax.nn.sigmoid(h @ down.weights.T + _rows(down.visible_bias, h))
        h = p if i == 0 else bernoulli(jax.random.fold_in(key, i), p)
        states.insert(0, h)
    return states


def dbn_generate(
    dbn: DBN,
    key: jax.Array,
    n_samples: int,
    *,
    sweeps: int = 200,
    labels: Any = None,
    start: Any = None,
) -> jax.Array:
    """Samples of the DBN: Gibbs in the top RBM, then a top-down pass.

    The top RBM's penultimate units start as fair coins (or as a sample of the
    up-pass of ``start``); ``sweeps`` block Gibbs sweeps follow (the label
    units clamped to ``labels`` one-hot, or sampled with the rest when None);
    the last penultimate sample is passed down the directed layers (Hinton et
    al. 2006, sec. 7).

    Args:
      dbn: the DBN.
      key: PRNG key.
      n_samples: number of samples.
      sweeps: Gibbs sweeps in the top RBM, >= 1.
      labels: ``(n_samples,)`` int classes to generate (labelled DBNs).
      start: ``(n_samples, V)`` binary images whose recognition pass starts
        the chains (None: random states). With few sweeps the samples stay
        near these images; the model's own distribution needs many.

    Returns:
      ``(n_samples, V)`` float32 probabilities ``p(x | h_1)`` (images).
    """
    check_dbn(dbn)
    check_key(key)
    check_positive_int(n_samples, "n_samples")
    check_positive_int(sweeps, "sweeps")
    classes = dbn_label_count(dbn)
    if labels is not None:
        if classes == 0:
            raise ValueError("`labels` given, but the DBN has no label units.")
        labels = _check_labels(labels, n_samples, classes)
        clamp = jax.nn.one_hot(labels, classes, dtype=jnp.float32)
    else:
        clamp = jnp.zeros((n_samples, classes), jnp.float32)
    penultimate = dbn.top.weights.shape[0] - classes
    if start is None:
        initial = jnp.full((n_samples, penultimate), 0.5, jnp.float32)
    else:
        start = _check_data(start, dbn_layer_sizes(dbn)[0], "start")
        if start.shape[0] != n_samples:
            raise ValueError(
                f"`start` must hold {n_samples} images (`n_samples`); got "
                f"{start.shape[0]}."
            )
        initial = dbn_up_pass(dbn, start)[-1]
    return _dbn_generate(dbn, key, initial, clamp, sweeps, labels is not None)


@functools.partial(jax.jit, static_argnames=("sweeps", "clamped"))
def _dbn_generate(dbn, key, initial, clamp, sweeps, clamped):
    top = dbn.top
    penultimate = initial.shape[1]
    k_start, k_chain, k_down = jax.random.split(key, 3)
    v = jnp.concatenate([bernoulli(k_start, initial), clamp], 1)

    def sweep(t, v):
        k_h, k_v = jax.random.split(jax.random.fold_in(k_chain, t))
        h = bernoulli(k_h, hidden_probabilities(top, v))
        v = bernoulli(
            k_v, jax.nn.sigmoid(h @ top.weights.T + _rows(top.visible_bias, v))
        )
        return v.at[:, penultimate:].set(clamp) if clamped else v

    v = jax.lax.fori_loop(0, sweeps, sweep, v)
    return dbn_down_pass(dbn, v[:, :penultimate], k_down)[0]
