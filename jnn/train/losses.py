"""Losses for :func:`jnn.train.gradient_learner`, built from any Flax module.

Each factory closes over a module and returns ``loss(params, batch, ctx) ->
(loss, aux, model_state)`` with ``ctx`` a :class:`jnn.train.Context`: the module
is applied by :func:`jnn.train.apply_model` (model state mutable and
``train=True`` in training steps, frozen and ``train=False`` in evaluation;
the step's key is the ``dropout`` stream in training). Each loss carries a
``check(data, name)`` that the engine runs on the data before tracing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn._checks import check_array, is_concrete
from jnn.train.learner import Batch, LossFn, PyTree
from jnn.train.modules import Context, apply_model, check_module, init_model


def _check_loss_args(model, input_key, target_key, model_kwargs=None) -> dict:
    """Check the common arguments; returns ``model_kwargs`` as a plain dict."""
    check_module(model)
    for name, value in (("input_key", input_key), ("target_key", target_key)):
        if not isinstance(value, str):
            raise TypeError(f"`{name}` must be a string; got {value!r}.")
    if model_kwargs is None:
        return {}
    if not isinstance(model_kwargs, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in model_kwargs.items()
    ):
        raise TypeError(
            "`model_kwargs` must be a dict {argument of the model: batch entry}, "
            f"e.g. {{'seq_lengths': 'lengths'}}; got {model_kwargs!r}."
        )
    return dict(model_kwargs)


def _model_inputs(batch: Batch, model_kwargs: dict) -> dict:
    return {argument: batch[entry] for argument, entry in model_kwargs.items()}


def _n_classes(model: nn.Module, x) -> int | None:
    """The model's number of outputs on one example (abstractly, cached).

    None when it cannot be read (the labels are then only checked >= 0).
    """
    spec = (tuple(x.shape[1:]), str(x.dtype))
    try:
        hash(model)
    except TypeError:  # an unhashable module: probe it every time
        return _probe_outputs(model, *spec)
    return _cached_outputs(model, *spec)


def _probe_outputs(model: nn.Module, shape: tuple, dtype: str) -> int | None:
    def logits():
        one = jnp.zeros((1, *shape), dtype)
        params, state = init_model(model, jax.random.key(0), one)
        return apply_model(model, params, Context(model_state=state), one)[0]

    try:
        out = jax.eval_shape(logits)
    except Exception:  # noqa: BLE001 - a model we cannot probe: skip the bound
        return None
    return int(out.shape[-1]) if len(out.shape) == 2 else None


_cached_outputs = functools.lru_cache(maxsize=64)(_probe_outputs)


def _checker(
    input_key: str,
    target_key: str,
    target_kind: str | None,
    model=None,
    extra: tuple[str, ...] = (),
):
    """``check(data, name)``: both entries present, targets of the right kind.

    For class labels (``target_kind="i"``, with the ``model``), concrete labels
    must also lie in ``[0, n_classes)``, ``n_classes`` read from the model's
    output shape: optax's cross-entropy silently gives a finite, meaningless
    loss for a label outside it.
    """

    def check(data: Batch, name: str) -> None:
        for entry in (input_key, target_key, *extra):
            if entry not in data:
                read = ", ".join(repr(e) for e in (input_key, target_key, *extra))
                raise ValueError(
                    f"`{name}` has no entry {entry!r} (the loss reads {read}); it "
                    f"has {sorted(data)}."
                )
        if target_kind != "i":
            return
        labels = data[target_key]
        check_array(labels, f"{name}[{target_key!r}]", kind="i")
        if len(labels.shape) != 1:
            raise ValueError(
                f"`{name}[{target_key!r}]` must hold one integer class label "
                f"per example, shape (n,); got {tuple(labels.shape)}."
            )
        if not is_concrete(labels):
            return
        values = np.asarray(labels)  # a host copy: np.min would trace under jit
        low, high = int(values.min()), int(values.max())
        n = None if model is None else _n_classes(model, data[input_key])
        if low < 0 or (n is not None and high >= n):
            bound = "" if n is None else f", n_classes = {n} (the model's outputs)"
            raise ValueError(
                f"`{name}[{target_key!r}]` must hold class labels in [0, "
                f"{'n_classes' if n is None else n}){bound}; got labels in "
                f"[{low}, {high}]."
            )

    return check


def classification_loss(
    model: nn.Module,
    *,
    input_key: str = "x",
    target_key: str = "y",
    label_smoothing: float = 0.0,
    model_kwargs: Mapping[str, str] | None = None,
) -> LossFn:
    r"""Mean softmax cross-entropy of integer labels, with accuracy.

    .. math:: E = -\frac{1}{B}\sum_b \sum_k q_{bk} \log \mathrm{softmax}(f(x_b))_k

    with targets ``q_b`` one-hot at ``y_b``, or with label smoothing
    (Szegedy et al. 2016) ``q_b = (1 - eps) onehot(y_b) + eps / K`` for ``K``
    classes (``optax.smooth_labels``).

    Args:
      model: module mapping ``x: (B, ...)`` to logits ``(B, n_classes)``.
      input_key: batch entry holding the inputs.
      target_key: batch entry holding ``(B,)`` int class labels (float labels
        are refused with a ``TypeError``).
      label_smoothing: ``eps`` in ``[0, 1)``; 0 is plain cross-entropy.
      model_kwargs: keyword inputs of the model read from the batch,
        ``{argument: entry}``: e.g. ``{"seq_lengths": "lengths"}`` trains a
        :class:`jnn.rnn.RecurrentNet` on padded variable-length sequences.

    Returns:
      ``loss(params, batch, ctx) -> (loss, {"accuracy": ...}, model_state)``.

    Raises:
      ValueError: ``label_smoothing`` outside ``[0, 1)``.
    """
    kwargs = _check_loss_args(model, input_key, target_key, model_kwargs)
    eps = label_smoothing
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not 0 <= eps < 1:
        raise ValueError(f"`label_smoothing` must be in [0, 1); got {eps!r}.")

    def loss(params: PyTree, batch: Batch, ctx: Context):
        logits, model_state = apply_model(
            model, params, ctx, batch[input_key], **_model_inputs(batch, kwargs)
        )
        labels = batch[target_key]
        if eps:
            targets = jax.nn.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
            targets = optax.smooth_labels(targets, eps)
            value = optax.softmax_cross_entropy(logits, targets).mean()
        else:
            value = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
            value = value.mean()
        accuracy = jnp.mean(jnp.argmax(logits, axis=-1) == labels)
        return value, {"accuracy": accuracy}, model_state

    loss.check = _checker(input_key, target_key, "i", model, tuple(kwargs.values()))
    return loss


def regression_loss(
    model: nn.Module,
    *,
    input_key: str = "x",
    target_key: str = "y",
    model_kwargs: Mapping[str, str] | None = None,
) -> LossFn:
    r"""Mean squared error, the ``E`` of the back-propagation literature.

    .. math:: E = \frac{1}{B}\sum_b \lVert f(x_b) - y_b \rVert^2 / d

    Args:
      model: module mapping ``x: (B, ...)`` to predictions ``(B, d)``.
      input_key: batch entry holding the inputs.
      target_key: batch entry holding targets ``(B, d)``, or ``(B,)`` when the
        model has one output (``d = 1``).
      model_kwargs: keyword inputs of the model read from the batch,
        ``{argument: entry}`` (as in :func:`classification_loss`).

    Returns:
      ``loss(params, batch, ctx) -> (mse, {"rmse": ...}, model_state)``.
    """
    kwargs = _check_loss_args(model, input_key, target_key, model_kwargs)

    def loss(params: PyTree, batch: Batch, ctx: Context):
        pred, model_state = apply_model(
            model, params, ctx, batch[input_key], **_model_inputs(batch, kwargs)
        )
        target = batch[target_key]
        if target.ndim == pred.ndim - 1 and pred.shape[-1] == 1:
            pred = pred[..., 0]  # one output: compare (B,) with (B,)
        if pred.shape != target.shape:
            raise ValueError(
                f"model output {pred.shape} does not match targets "
                f"batch[{target_key!r}] {target.shape}."
            )
        value = jnp.mean((pred - target) ** 2)
        return value, {"rmse": jnp.sqrt(value)}, model_state

    loss.check = _checker(input_key, target_key, None, extra=tuple(kwargs.values()))
    return loss
