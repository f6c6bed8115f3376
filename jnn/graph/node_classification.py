r"""Semi-supervised node classification through the engine (curriculum G2).

A transductive model (:mod:`jnn.graph.models`) sees every node's features and
the whole graph, but learns from the labels of a few nodes only: the loss is
the cross-entropy averaged over a mask,

.. math:: E = -\frac{1}{|M|}\sum_{i \in M} \log \mathrm{softmax}(Z_i)_{y_i}
          + \frac{\lambda}{2} \sum_{W \in \mathcal W} \lVert W \rVert^2,

with the papers' L2 penalty :math:`\lambda` on a set of weights
:math:`\mathcal W` (Kipf & Welling 2017: the first layer's; Veličković et al.
2018: every weight). Training is full-batch: each data set is a dict of
``(N, ...)`` arrays (features, labels, a mask), one per split, that share
everything but the mask, so :func:`jnn.train.fit` and :func:`jnn.train.run`
(vmapped over seeds) train it unchanged. Early stopping follows each paper
(:mod:`jnn.graph.early_stopping`): Kipf's stops when the validation loss
exceeds its mean over the previous 10 epochs, GAT's after 100 epochs without a
better validation loss or accuracy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn._checks import check_array, check_interval, check_positive_int, is_concrete
from jnn.graph.early_stopping import patience_on_loss_and_accuracy, window_mean_rise
from jnn.graph.sparse_features import padded_rows
from jnn.train import (
    Context,
    Learner,
    Stop,
    apply_model,
    full_batch,
    gradient_learner,
    learner_compiler_options,
    run,
    validation_patience,
)

Batch = Mapping[str, jax.Array]


def node_classification_data(
    features: Any,
    labels: Any,
    masks: Mapping[str, Any],
    *,
    sparse: bool = True,
) -> dict[str, dict[str, np.ndarray]]:
    """One full-batch data set per split: ``{split: {"x", ("x_values"), "y", "mask"}}``.

    Args:
      features: ``(N, F)`` node features (NumPy or SciPy sparse), e.g.
        ``normalize_features(data.graph.nodes)``.
      labels: ``(N,)`` int class labels.
      masks: ``{split: (N,) bool}``, e.g. ``{"train": data.train_mask, ...}``.
      sparse: store the features as padded rows (``"x"`` the ``(N, K)`` int32
        column indices, ``"x_values"`` the ``(N, K)`` float32 values; see
        :mod:`jnn.graph.sparse_features`) instead of ``(N, F)`` float32.

    Returns:
      ``{split: batch}``; every batch holds the same feature and label arrays
      and its split's ``"mask"`` as float32.

    Raises:
      TypeError, ValueError: labels not ``(N,)`` int, a mask not ``(N,)`` bool
        or selecting no node, features with another number of rows.
    """
    labels = np.asarray(labels)
    check_array(labels, "labels", ndim=1, kind="i")
    n = labels.shape[0]
    if getattr(features, "ndim", None) != 2 or features.shape[0] != n:
        raise ValueError(
            f"`features` must be (N, F) with N = {n} rows (one per label); got "
            f"{getattr(features, 'shape', type(features).__name__)}."
        )
    if not isinstance(masks, Mapping) or not masks:
        raise TypeError(
            f"`masks` must be a non-empty dict of masks; got {masks!r:.60}."
        )
    if sparse:
        index, values = padded_rows(features)
        inputs = {"x": index, "x_values": values}
    else:
        dense = features.toarray() if hasattr(features, "toarray") else features
        check_array(dense, "features", ndim=2, kind="n")
        inputs = {"x": np.asarray(dense, np.float32)}
    out = {}
    for split, mask in masks.items():
        mask = np.asarray(mask)
        if mask.dtype != bool or mask.shape != (n,):
            raise ValueError(
                f"`masks[{split!r}]` must be an (N,) = ({n},) bool mask; got "
                f"{mask.dtype} {mask.shape}."
            )
        if not mask.any():
            raise ValueError(f"`masks[{split!r}]` selects no node.")
        out[split] = {
            **inputs,
            "y": labels.astype(np.int32),
            "mask": mask.astype(np.float32),
        }
    return out


def _l2_penalty(params: Any, decay: Sequence[str] | None) -> jax.Array:
    """``sum ||W||^2 / 2`` over the weights (not biases) of the named layers."""
    total = jnp.zeros((), jnp.float32)
    for path, leaf in jax.tree_util.tree_leaves_with_path(params):
        names = [getattr(p, "key", str(p)) for p in path]
        if names[-1] == "bias" or (decay is not None and names[0] not in decay):
            continue
        total = total + 0.5 * jnp.sum(jnp.square(leaf))
    return total


def node_classification_loss(
    model: nn.Module,
    *,
    mask_key: str = "mask",
    input_key: str = "x",
    values_key: str = "x_values",
    target_key: str = "y",
    weight_decay: float = 0.0,
    decay: Sequence[str] | None = None,
):
    r"""Masked softmax cross-entropy with the papers' L2 penalty, and accuracy.

    .. math:: E = \frac{\sum_i m_i\, \mathrm{CE}(Z_i, y_i)}{\sum_i m_i}
              + \frac{\lambda}{2} \sum_{W} \lVert W \rVert^2

    Args:
      model: maps ``batch[input_key]`` (and ``values=batch[values_key]`` when
        the batch holds it: sparse features) to logits ``(N, C)``.
      mask_key: ``(N,)`` float (or bool) weight of each node, 1 on the nodes
        that count.
      input_key: node features.
      values_key: values of padded-row features, passed on as ``values``.
      target_key: ``(N,)`` int labels (any value where the mask is 0).
      weight_decay: :math:`\lambda` (``5e-4`` in both papers).
      decay: top-level layer names whose weights (not biases) are penalised
        (Kipf: ``("conv1",)``), or None for every weight (GAT).

    Returns:
      ``loss(params, batch, ctx) -> (E, {"accuracy", "cross_entropy"},
      model_state)``; accuracy and cross-entropy are over the masked nodes.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a flax.linen Module; got {model!r:.60}.")
    for name, key in (
        ("mask_key", mask_key),
        ("input_key", input_key),
        ("values_key", values_key),
        ("target_key", target_key),
    ):
        if not isinstance(key, str):
            raise TypeError(f"`{name}` must be a string; got {key!r}.")
    check_interval(weight_decay, "weight_decay", 0.0)
    if decay is not None:
        if isinstance(decay, str) or not all(isinstance(d, str) for d in decay):
            raise TypeError(
                f"`decay` must be a tuple of layer names or None; got {decay!r}."
            )
        decay = tuple(decay)

    def loss(params: Any, batch: Batch, ctx: Context):
        kwargs = {"values": batch[values_key]} if values_key in batch else {}
        logits, state = apply_model(model, params, ctx, batch[input_key], **kwargs)
        mask = batch[mask_key].astype(logits.dtype)
        labels = batch[target_key]
        ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        count = jnp.maximum(mask.sum(), 1.0)
        cross_entropy = jnp.sum(ce * mask) / count
        correct = (jnp.argmax(logits, axis=-1) == labels).astype(mask.dtype)
        accuracy = jnp.sum(correct * mask) / count
        value = cross_entropy
        if weight_decay:
            value = value + weight_decay * _l2_penalty(params, decay)
        return value, {"accuracy": accuracy, "cross_entropy": cross_entropy}, state

    def check(data: Batch, name: str) -> None:
        for key in (input_key, target_key, mask_key):
            if key not in data:
                raise ValueError(
                    f"`{name}` has no entry {key!r} (the loss reads {input_key!r}, "
                    f"{target_key!r}, {mask_key!r}); it has {sorted(data)}."
                )
        labels, mask = data[target_key], data[mask_key]
        check_array(labels, f"{name}[{target_key!r}]", ndim=1, kind="i")
        check_array(mask, f"{name}[{mask_key!r}]", ndim=1)
        if is_concrete(mask) and not np.asarray(mask).any():
            raise ValueError(f"`{name}[{mask_key!r}]` selects no node (all zero).")
        n_classes = getattr(model, "n_classes", None)
        if is_concrete(labels) and isinstance(n_classes, int):
            selected = np.asarray(labels)[np.asarray(mask) != 0]
            if selected.min() < 0 or selected.max() >= n_classes:
                raise ValueError(
                    f"`{name}[{target_key!r}]` must hold labels in [0, {n_classes}) "
                    f"on the masked nodes; got [{selected.min()}, {selected.max()}]."
                )

    loss.check = check
    return loss


class Settings(NamedTuple):
    r"""Optimisation settings of a node classifier.

    Attributes:
      learning_rate: Adam's step size.
      weight_decay: the L2 coefficient :math:`\lambda`.
      decay: layers whose weights are penalised (None: every weight).
      epochs: the most epochs.
      stop: the early-stopping criterion (on the validation split).
    """

    learning_rate: float
    weight_decay: float
    decay: tuple[str, ...] | None
    epochs: int
    stop: Stop


def default_settings(model: nn.Module) -> Settings:
    """The optimisation settings of each model of :mod:`jnn.graph.models` on Cora.

    * GCN: Kipf & Welling's: Adam 0.01, L2 5e-4 on the first layer, 200
      epochs, :func:`window_mean_rise` (10).
    * GAT: Veličković et al.'s: Adam 0.005, L2 5e-4 on every weight, up to
      1000 epochs (theirs: 100,000), :func:`patience_on_loss_and_accuracy`
      (100).
    * GraphSAGE, GGNN (no published Cora protocol; chosen on the validation
      split): Adam 0.01, L2 on the first layer (5e-4; GGNN 5e-3), 200 epochs,
      ``validation_patience(50)`` on the validation loss, best state restored.
    """
    name = type(model).__name__
    if name == "GAT":
        return Settings(0.005, 5e-4, None, 1000, patience_on_loss_and_accuracy(100))
    if name == "GCN":
        return Settings(0.01, 5e-4, ("conv1",), 200, window_mean_rise(10))
    if name == "GGNN":
        return Settings(0.01, 5e-3, ("input",), 200, validation_patience(50))
    return Settings(0.01, 5e-4, ("conv1",), 200, validation_patience(50))


def attention_compiler_options(backend: str) -> dict | None:
    """XLA options for training graph-attention models (``Learner.compiler_options``).

    On CPU, XLA hands the reductions of a GAT step's backward pass (the
    per-edge sums over a head's features, ``(E, H)`` from ``(E, H, C)``) to
    its YNNPACK library; at these shapes the library call is slower than
    XLA's own loop. Measured on Cora (``benchmarks/profile_step.py gat
    --scan``, one core of a 2-core Xeon): 9.6 ms per epoch with them, 8.3 ms
    with only the matrix products in the library. Other backends: defaults.
    """
    if backend != "cpu":
        return None
    return {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


def node_learner(model: nn.Module, settings: Settings | None = None) -> Learner:
    """Full-batch Adam on the masked loss (default: :func:`default_settings`).

    A :class:`jnn.graph.GAT` learner carries :func:`attention_compiler_options`.
    """
    settings = default_settings(model) if settings is None else settings
    loss = node_classification_loss(
        model, weight_decay=settings.weight_decay, decay=settings.decay
    )
    learner = gradient_learner(
        model, loss, optax.adam(settings.learning_rate), plan=full_batch()
    )
    if type(model).__name__ == "GAT":
        learner = learner._replace(compiler_options=attention_compiler_options)
    return learner


class SeedResults(NamedTuple):
    """Outcome of :func:`train_seeds` (one entry per seed).

    Attributes:
      test_accuracy: ``(S,)`` accuracy on the test mask of the returned state.
      val_accuracy: ``(S,)`` on the validation mask.
      epochs: ``(S,)`` epochs run before stopping.
      history: :class:`jnn.train.RunResult` history, stacked over seeds.
      state: the learner states, stacked over seeds.
    """

    test_accuracy: np.ndarray
    val_accuracy: np.ndarray
    epochs: np.ndarray
    history: dict
    state: Any


def train_seeds(
    learner: Learner,
    splits: Mapping[str, Batch],
    *,
    key: jax.Array,
    seeds: int = 10,
    epochs: int = 200,
    stop: Stop | None = None,
) -> SeedResults:
    """Train ``seeds`` independent runs in one compiled call (``vmap`` of ``run``).

    Args:
      learner: e.g. :func:`node_learner`.
      splits: ``{"train", "val", "test"}`` batches (:func:`node_classification_data`).
      key: split into one key per seed.
      seeds: number of runs.
      epochs: the most epochs per run.
      stop: early stopping on ``val`` (every run stops on its own).

    Returns:
      :class:`SeedResults`.
    """
    check_positive_int(seeds, "seeds")
    missing = {"train", "val", "test"} - set(splits)
    if missing:
        raise ValueError(
            f"`splits` needs 'train', 'val' and 'test'; missing {sorted(missing)}."
        )
    train, val, test = (
        {k: jnp.asarray(v) for k, v in splits[s].items()}
        for s in ("train", "val", "test")
    )

    def one(k):
        result = run(learner, train, key=k, epochs=epochs, val=val, stop=stop)
        test_metrics = learner.evaluate(result.state, test)
        val_metrics = learner.evaluate(result.state, val)
        return (
            test_metrics["accuracy"],
            val_metrics["accuracy"],
            result.n_epochs,
            result.history,
            result.state,
        )

    keys = jax.random.split(key, seeds)
    compiled = jax.jit(
        jax.vmap(one), compiler_options=learner_compiler_options(learner)
    )
    test_acc, val_acc, n_epochs, history, state = compiled(keys)
    return SeedResults(
        np.asarray(test_acc),
        np.asarray(val_acc),
        np.asarray(n_epochs),
        jax.device_get(history),
        state,
    )
