"""Model comparison under the guiding principles of curriculum S0.

* Occam's razor: among the models whose validation error is within
  ``tolerance`` of the best, prefer the one with the fewest parameters.
* No Free Lunch (Wolpert 1996): averaged over all problems no learner beats
  another, so over a handful of real data sets the winner changes; the table
  shows it.

A *model* here is a name and a function ``fit(train, val, key) -> Fitted``;
``Fitted`` holds a ``predict(x) -> predictions`` function and the number of
fitted parameters (for memory-based models such as PNN, the stored numbers).
:func:`mlp_model` adapts :class:`jnn.static.MLP`; any other learner can be
wrapped in a few lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import jax
import numpy as np
import optax

from jnn._checks import (
    check_callable,
    check_fraction,
    check_interval,
    check_key,
    check_positive_float,
    check_positive_int,
)
from jnn.data.datasets import Dataset
from jnn.static.backprop.mlp import ACTIVATIONS, MLP
from jnn.train import (
    classification_loss,
    fit,
    gradient_learner,
    regression_loss,
    validation_patience,
)


class Fitted(NamedTuple):
    """A trained model: ``predict(x: (n, d)) -> (n,)`` labels or values."""

    predict: Callable[[np.ndarray], np.ndarray]
    n_params: int


ModelFit = Callable[[dict, dict, jax.Array], Fitted]


class Row(NamedTuple):
    """One (model, data set) cell of the comparison."""

    model: str
    dataset: str
    n_params: int
    train_error: float
    val_error: float
    test_error: float
    seconds: float


class Comparison(NamedTuple):
    """Result of :func:`compare`.

    Attributes:
      rows: one :class:`Row` per model and data set.
      occam: per data set, the simplest model within tolerance of the best
        validation error.
      best: per data set, the model with the lowest test error.
      no_free_lunch: True when no single model has the lowest test error
        (ties included) on every data set.
    """

    rows: list[Row]
    occam: dict[str, str]
    best: dict[str, str]
    no_free_lunch: bool

    def markdown(self) -> str:
        """The table as Markdown (errors: 1 - accuracy, or MSE for regression)."""
        lines = [
            "| data set | model | params | train err | val err | test err | s |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            mark = " (Occam)" if self.occam[r.dataset] == r.model else ""
            lines.append(
                f"| {r.dataset} | {r.model}{mark} | {r.n_params} | "
                f"{r.train_error:.4f} | {r.val_error:.4f} | "
                f"{r.test_error:.4f} | {r.seconds:.2f} |"
            )
        return "\n".join(lines)


def error(dataset: Dataset, predictions: np.ndarray, split: dict) -> float:
    """Classification error rate, or mean squared error for regression."""
    y = np.asarray(split["y"])
    predictions = np.asarray(predictions)
    if dataset.info["task"] == "regression":
        return float(np.mean((predictions.reshape(y.shape) - y) ** 2))
    return float(np.mean(predictions != y))


def mlp_model(
    hidden: Sequence[int] = (32,),
    *,
    activation: str = "relu",
    learning_rate: float = 1e-2,
    epochs: int = 300,
    batch_size: int = 32,
    patience: int = 30,
) -> Callable[[Dataset], ModelFit]:
    """An MLP contestant: Adam, validation patience (best weights restored).

    Returns a factory ``(dataset) -> fit`` because the output layer depends on
    the data set (classes or one regression output).

    Raises:
      TypeError, ValueError: bad settings (checked here, not when training).
    """
    try:
        widths = tuple(hidden)
    except TypeError:
        widths = None
    if widths is None or not all(
        isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in widths
    ):
        raise ValueError(
            f"`hidden` must be a sequence of positive ints; got {hidden!r}."
        )
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"`activation` must be one of {sorted(ACTIVATIONS)}; got {activation!r}."
        )
    check_positive_float(learning_rate, "learning_rate")
    for name, value in (
        ("epochs", epochs),
        ("batch_size", batch_size),
        ("patience", patience),
    ):
        check_positive_int(value, name)

    def for_dataset(dataset: Dataset) -> ModelFit:
        regression = dataset.info["task"] == "regression"
        n_out = 1 if regression else dataset.info["n_classes"]
        model = MLP(
            features=(*hidden, n_out),
            activation=activation,
            kernel_init="he" if activation == "relu" else "xavier",
        )
        loss = regression_loss(model) if regression else classification_loss(model)
        learner = gradient_learner(model, loss, optax.adam(learning_rate))

        def fit_mlp(train: dict, val: dict, key: jax.Array) -> Fitted:
            batch = min(batch_size, len(train["y"]))
            result = fit(
                learner,
                train,
                key=key,
                epochs=epochs,
                batch_size=batch,
                val=val,
                stop=validation_patience(patience),
            )
            params = result.state.params

            def predict(x):
                out = np.asarray(model.apply({"params": params}, x))
                return out[:, 0] if regression else out.argmax(axis=-1)

            size = sum(int(p.size) for p in jax.tree.leaves(params))
            return Fitted(predict, size)

        return fit_mlp

    return for_dataset


def rbf_model(
    n_centers: int | None = None, *, width_factor: float = 2.0, ridge: float = 1e-2
) -> Callable[[Dataset], ModelFit]:
    """A two-stage RBF network contestant (k-means centres, ridge weights).

    ``n_centers`` defaults to one centre per 4 training examples (at most 300);
    for classification the output is the arg-max of the ``K`` linear outputs.
    """
    check_positive_int(n_centers, "n_centers", allow_none=True)
    check_positive_float(width_factor, "width_factor")
    check_interval(ridge, "ridge", 0.0)
    from jnn.static.radial.rbf import rbf_fit, rbf_predict

    def for_dataset(dataset: Dataset) -> ModelFit:
        regression = dataset.info["task"] == "regression"

        def fit_rbf(train: dict, val: dict, key: jax.Array) -> Fitted:
            n = len(train["y"])
            m = min(n_centers or min(300, max(10, n // 4)), n)
            n_out = None if regression else dataset.info["n_classes"]
            params = rbf_fit(
                train["x"],
                train["y"],
                m,
                key=key,
                width_factor=width_factor,
                ridge=ridge,
                n_outputs=n_out,
            )

            def predict(x):
                out = np.asarray(rbf_predict(params, x))
                return out[:, 0] if regression else out.argmax(axis=-1)

            size = sum(int(p.size) for p in jax.tree.leaves(params.params))
            return Fitted(predict, size)

        return fit_rbf

    return for_dataset


def pnn_model(sigmas: Sequence[float] = tuple(np.geomspace(0.1, 10.0, 15))):
    """Specht's PNN contestant, ``sigma`` chosen on the validation split.

    Its parameter count is the stored training inputs (``n * d``): a PNN
    memorises the training set.
    """
    try:
        grid = np.asarray(sigmas, np.float64).reshape(-1)
    except (TypeError, ValueError):
        grid = np.array([np.nan])
    if sigmas is None or grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise ValueError(
            f"`sigmas` must be a non-empty sequence of finite numbers > 0; got "
            f"{sigmas!r}."
        )
    from jnn.static.radial.pnn import pnn_fit, pnn_predict, pnn_select_sigma

    def for_dataset(dataset: Dataset) -> ModelFit:
        if dataset.info["task"] == "regression":
            raise ValueError("pnn_model is a classifier; got a regression data set.")
        k = dataset.info["n_classes"]

        def fit_pnn(train: dict, val: dict, key: jax.Array) -> Fitted:
            chosen = pnn_select_sigma(
                train, val, np.asarray(sigmas, np.float32), n_classes=k
            )
            state = pnn_fit(
                train["x"], train["y"], sigma=float(chosen.sigma), n_classes=k
            )
            return Fitted(
                lambda x: np.asarray(pnn_predict(state, x)), int(state.patterns.size)
            )

        return fit_pnn

    return for_dataset


def prbf_model(
    n_kernels: int | None = None, *, variance_floor: float = 1.0
) -> Callable[[Dataset], ModelFit]:
    """The probabilistic RBF network contestant (shared spherical kernels, EM).

    ``n_kernels`` defaults to one kernel per 3 training examples (at most
    400); the variance floor suits standardised inputs.
    """
    check_positive_int(n_kernels, "n_kernels", allow_none=True)
    check_positive_float(variance_floor, "variance_floor")
    from jnn.static.radial.prbf_fit import prbf_fit, prbf_predict

    def for_dataset(dataset: Dataset) -> ModelFit:
        if dataset.info["task"] == "regression":
            raise ValueError("prbf_model is a classifier; got a regression data set.")
        k = dataset.info["n_classes"]

        def fit_prbf(train: dict, val: dict, key: jax.Array) -> Fitted:
            n = len(train["y"])
            m = min(n_kernels or min(400, max(4, n // 3)), n)
            params = prbf_fit(
                train["x"],
                train["y"],
                m,
                key=key,
                n_classes=k,
                covariance="spherical",
                variance_floor=variance_floor,
            )
            size = sum(int(p.size) for p in jax.tree.leaves(params.params))
            return Fitted(lambda x: np.asarray(prbf_predict(params, x)), size)

        return fit_prbf

    return for_dataset


def compare(
    models: Mapping[str, Callable[[Dataset], ModelFit]],
    datasets: Mapping[str, Dataset],
    *,
    key: jax.Array,
    tolerance: float = 0.01,
) -> Comparison:
    """Train every model on every data set; report errors, sizes and times.

    Args:
      models: ``{name: factory}``, each ``factory(dataset) -> fit`` with
        ``fit(train, val, key) -> Fitted`` (see :func:`mlp_model`).
      datasets: ``{name: jnn.data.Dataset}`` (fixed splits).
      key: PRNG key; every (model, data set) pair gets its own fold-in.
      tolerance: Occam's tolerance on the validation error (absolute).

    Returns:
      A :class:`Comparison`.

    Raises:
      TypeError, ValueError: no models or no data sets, a model that is not a
        factory, a data set that is not a :class:`jnn.data.Dataset`, a bad
        ``tolerance`` or ``key``.
    """
    for name, value in (("models", models), ("datasets", datasets)):
        if not isinstance(value, Mapping):
            raise TypeError(
                f"`{name}` must be a dict {{name: ...}}; got {type(value).__name__}."
            )
        if not value:
            raise ValueError(f"`{name}` must hold at least one entry; got {{}}.")
    for m_name, factory in models.items():
        check_callable(factory, f"models[{m_name!r}]", "a factory (dataset) -> fit")
    for d_name, dataset in datasets.items():
        if not isinstance(dataset, Dataset):
            raise TypeError(
                f"`datasets[{d_name!r}]` must be a jnn.data.Dataset; got "
                f"{type(dataset).__name__}."
            )
    check_fraction(tolerance, "tolerance")
    check_key(key)
    rows = []
    for d_index, (d_name, dataset) in enumerate(datasets.items()):
        for m_index, (m_name, factory) in enumerate(models.items()):
            pair_key = jax.random.fold_in(jax.random.fold_in(key, d_index), m_index)
            start = time.perf_counter()
            fitted = factory(dataset)(dataset.train, dataset.val, pair_key)
            seconds = time.perf_counter() - start
            # One prediction over the three splits: one compilation, not three.
            splits = (dataset.train, dataset.val, dataset.test)
            sizes = np.cumsum([len(s["x"]) for s in splits])[:-1]
            predicted = np.asarray(
                fitted.predict(np.concatenate([np.asarray(s["x"]) for s in splits]))
            )
            errors = [
                error(dataset, p, s)
                for p, s in zip(np.split(predicted, sizes), splits, strict=True)
            ]
            rows.append(Row(m_name, d_name, fitted.n_params, *errors, seconds))
    occam, best, winners = {}, {}, []
    for d_name in datasets:
        cells = [r for r in rows if r.dataset == d_name]
        best_val = min(r.val_error for r in cells)
        near = [r for r in cells if r.val_error <= best_val + tolerance]
        occam[d_name] = min(near, key=lambda r: (r.n_params, r.val_error)).model
        best[d_name] = min(cells, key=lambda r: r.test_error).model
        lowest = min(r.test_error for r in cells)
        winners.append({r.model for r in cells if r.test_error <= lowest})
    # No Free Lunch: no model is (jointly) best on every data set.
    return Comparison(rows, occam, best, not set.intersection(*winners))
