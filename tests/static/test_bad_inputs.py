"""Every public function of jnn.static against bad input, as one table.

For each function the table holds one valid call (keyword arguments) and,
per argument, one-argument mutations: NaN/inf, wrong rank or size, an empty
array, a wrong dtype (float labels), a negative or zero count, an
out-of-range index or label, None, a bad key. Each mutated call must raise a
``ValueError`` or ``TypeError`` whose message names the argument (in
backticks, as every check of ``jnn._checks`` does), before anything is traced;
the valid calls show that the mutation, not the rest of the call, is refused.
"""

from __future__ import annotations

import contextlib
import inspect
import re
from typing import Any, NamedTuple

import jax
import numpy as np
import optax
import pytest

import jnn.static as S
from jnn.train import classification_loss, gradient_learner
from tests.conftest import load

KEY = jax.random.key(0)
NAN, INF = float("nan"), float("inf")
RNG = np.random.default_rng(0)
# Two blobs of six points in the plane; labels alternate so both classes
# occur in every blob.
X = np.concatenate([RNG.normal(size=(6, 2)), 5 + RNG.normal(size=(6, 2))]).astype(
    np.float32
)
Y = np.tile(np.array([0, 1], np.int32), 6)
DATA = {"x": X, "y": Y}
ALL_NAN_ROW = np.where(np.arange(12)[:, None] == 0, np.float32(NAN), X)


# --- mutations -------------------------------------------------------------


def _set_first(value, entry):
    out = np.array(value, copy=True)
    out.flat[0] = entry
    return out


def matrix(value, *, features: bool = True, dtype: bool = True) -> dict:
    """A 2-D float array: NaN, inf, rank 1, empty, None, int, extra column."""
    out = {
        "nan": _set_first(value, NAN),
        "inf": _set_first(value, INF),
        "rank1": value[0],
        "empty": value[:0],
        "none": None,
    }
    if dtype:
        out["int"] = value.astype(np.int32)
    if features:  # one feature too many for the other arguments
        out["features"] = np.concatenate([value, value[:, :1]], axis=1)
    return out


def vector(value, *, length: bool = True) -> dict:
    """A 1-D float array: NaN, inf, rank 2, empty, None, wrong length."""
    out = {
        "nan": _set_first(value, NAN),
        "inf": _set_first(value, INF),
        "rank2": value[:, None],
        "empty": value[:0],
        "none": None,
    }
    if length:
        out["length"] = value[:-1]
    return out


def labels(value, *, out_of_range: bool = True) -> dict:
    """Integer labels: float dtype, negative, too large, wrong length, rank 2."""
    out = {
        "float": value.astype(np.float32),
        "negative": _set_first(value, -1),
        "length": value[:-1],
        "rank2": value[:, None],
        "empty": value[:0],
        "none": None,
    }
    if out_of_range:
        out["range"] = _set_first(value, 9)
    return out


def without(mutations: dict, *labels: str) -> dict:
    """``mutations`` less those that are valid values for this argument."""
    return {k: v for k, v in mutations.items() if k not in labels}


def count(*, none: bool = True) -> dict:
    """A positive int."""
    out = {"zero": 0, "negative": -1, "float": 1.5, "bool": True}
    return {**out, "none": None} if none else out


def positive(*, none: bool = True) -> dict:
    """A finite number > 0."""
    out = {"zero": 0.0, "negative": -1.0, "nan": NAN, "inf": INF, "string": "1"}
    return {**out, "none": None} if none else out


def choice() -> dict:
    return {"unknown": "bogus", "none": None}


def keys() -> dict:
    return {"none": None, "int": 0, "two_keys": jax.random.split(KEY, 2)}


def boolean() -> dict:
    return {"string": "yes", "none": None}


def dataset(data) -> dict:
    """A ``{"x", "y"}`` dict: not a dict, missing entry, NaN x, float labels."""
    return {
        "none": None,
        "no_y": {"x": data["x"]},
        "nan_x": {**data, "x": _set_first(data["x"], NAN)},
        "float_y": {**data, "y": data["y"].astype(np.float32)},
        "rows": {**data, "y": data["y"][:-1]},
    }


# --- the valid models the predictors are given -------------------------------

GMM = S.GMMParams(
    np.array([0.5, 0.5], np.float32), X[[0, 6]], np.ones((2, 2), np.float32)
)
RBF = S.RBFParams(
    X[[0, 6]], np.ones(2, np.float32), np.ones((2, 2), np.float32),
    np.zeros(2, np.float32),
)  # fmt: skip
PRBF = S.PRBFParams(
    X[[0, 6]], np.ones(2, np.float32), np.full((2, 2), 0.5, np.float32),
    np.log(np.full(2, 0.5, np.float32)),
)  # fmt: skip
PNN = S.PNNState(X, Y, np.log(np.full(2, 0.5, np.float32)), np.float32(1.0))
PROBS = np.tile(np.array([[0.8, 0.2], [0.3, 0.7]], np.float32), (6, 1))
MLP = S.MLP(features=(3, 2))
LEARNER = gradient_learner(MLP, classification_loss(MLP), optax.sgd(0.1))


def vb_state():
    return S.vb_gmm(2, covariance="diag").init(KEY, {"x": X})


def tampered(params, field: str, value):
    return params._replace(**{field: value})


def stub_model(dataset):
    """A contestant of :func:`compare` that trains nothing."""

    def fit(train, val, key):
        return S.Fitted(lambda x: np.zeros(len(x), np.int32), 1)

    return fit


# --- the table ---------------------------------------------------------------


class Spec(NamedTuple):
    """One public function: a valid call and its mutations per argument."""

    fn: Any
    valid: dict
    bad: dict  # argument -> {label: value}
    match: dict = {}  # argument -> regex, when the message names it otherwise
    free: tuple = ()  # arguments with nothing to mutate (callables, **settings)
    deprecated: tuple = ()  # renamed arguments: they warn, then are checked


GRID = (2, 2)
CODEBOOK = X[:4]
LINEAR = {"x": X, "centers": X[:3]}

SPECS = [
    # backprop/
    Spec(
        S.MLP,
        {"features": (3, 2)},
        {
            "features": {"empty": (), "zero": (3, 0), "none": None, "float": (2.5,)},
            "activation": choice(),
            "kernel_init": {"unknown": "bogus", "negative": -1.0, "inf": INF},
            "layer_norm": boolean(),
            "residual": boolean(),
        },
        free=("parent", "name"),
    ),
    Spec(
        S.kernel_initializer,
        {"spec": "he"},
        {"spec": {"unknown": "bogus", "negative": -1.0, "nan": NAN, "inf": INF}},
        match={"spec": "kernel_init"},  # what MLP calls it
    ),
    Spec(
        S.layer_gradient_norms,
        {"grads": {"layer_0": {"kernel": np.ones((2, 2), np.float32)}}},
        {"grads": {"empty": {}, "none": None, "list": [1.0]}},
    ),
    Spec(
        S.initial_gradient_norms,
        {"model": MLP, "loss": classification_loss(MLP), "key": KEY, "batch": DATA},
        {
            "model": {"none": None, "string": "mlp"},
            "loss": {"none": None},
            "key": keys(),
            "batch": {"none": None, "no_x": {"y": Y}, "nan": dataset(DATA)["nan_x"]},
        },
    ),
    Spec(
        S.seed_spread,
        {"learner": LEARNER, "train": DATA, "key": KEY, "n_seeds": 2, "epochs": 1},
        {
            "learner": {"none": None, "string": "sgd"},
            "train": {
                "none": None,
                "nan": dataset(DATA)["nan_x"],
                "rows": dataset(DATA)["rows"],
            },  # fmt: skip
            "key": keys(),
            "n_seeds": count(),
            "epochs": count(),
            "batch_size": {"zero": 0, "negative": -1, "float": 1.5},
            "val": {"nan": dataset(DATA)["nan_x"], "string": "val"},
            "stop": {"string": "early"},
        },
    ),
    Spec(
        S.expected_calibration_error,
        {"probs": PROBS, "labels": Y, "n_bins": 5},
        {
            "probs": {
                **matrix(PROBS),
                "negative": PROBS - 1.0,
                "unnormalised": 2 * PROBS,
            },
            "labels": labels(Y),
            "n_bins": count(),
        },
    ),
    Spec(
        S.reliability_diagram,
        {"probs": PROBS, "labels": Y, "n_bins": 5},
        {
            "probs": matrix(PROBS, features=False),
            "labels": labels(Y),
            "n_bins": count(),
        },
    ),
    # comparison.py
    Spec(
        S.compare,
        {
            "models": {"stub": stub_model},
            "datasets": {"iris": load("iris")},
            "key": KEY,
        },
        {
            "models": {
                "empty": {},
                "none": None,
                "list": [stub_model],
                "not_callable": {"stub": 3},
            },  # fmt: skip
            "datasets": {"empty": {}, "none": None, "dict": {"iris": DATA}},
            "key": keys(),
            "tolerance": {"negative": -0.1, "nan": NAN, "one": 1.0, "none": None},
        },
    ),
    Spec(
        S.mlp_model,
        {"hidden": (4,)},
        {
            "hidden": {"zero": (0,), "none": None, "float": (2.5,)},
            "activation": choice(),
            "learning_rate": positive(),
            "epochs": count(),
            "batch_size": count(),
            "patience": count(),
        },
    ),
    Spec(
        S.rbf_model,
        {},
        {
            "n_centers": count(none=False),
            "width_factor": positive(),
            "ridge": {"negative": -1.0, "nan": NAN, "none": None},
        },
    ),
    Spec(
        S.pnn_model,
        {"sigmas": (0.5, 1.0)},
        {"sigmas": {"empty": (), "zero": (0.0,), "nan": (NAN,), "none": None}},
    ),
    Spec(
        S.prbf_model,
        {},
        {"n_kernels": count(none=False), "variance_floor": positive()},
    ),
    # mixtures/kmeans.py
    Spec(S.assign_clusters, dict(LINEAR), {"x": matrix(X), "centers": matrix(X[:3])}),
    Spec(S.lloyd_step, dict(LINEAR), {"x": matrix(X), "centers": matrix(X[:3])}),
    Spec(
        S.kmeans,
        {"n_clusters": 2},
        {
            "n_clusters": count(),
            "init": {**choice(), "nan": _set_first(X[:2], NAN), "rows": X[:3]},
            "input_key": {"none": None, "int": 3},
        },
    ),
    Spec(S.kmeans_convergence, {"tol": 1e-4}, {"tol": positive()}),
    Spec(
        S.kmeans_plus_plus,
        {"key": KEY, "x": X, "n_clusters": 2},
        {
            "key": keys(),
            "x": matrix(X, features=False),
            "n_clusters": {**count(), "too_many": 13},
        },
    ),
    Spec(
        S.kmeans_fit,
        {"x": X, "n_clusters": 2, "key": KEY, "n_init": 1, "max_iter": 2},
        {
            "x": matrix(X, features=False),
            "n_clusters": {**count(), "too_many": 13},
            "key": keys(),
            "n_init": count(),
            "init": {**choice(), "nan": _set_first(X[:2], NAN), "shape": X[:3]},
            "tol": positive(),
            "max_iter": count(),
        },
    ),
    Spec(
        S.kmeans_predict,
        {"params": X[:2], "x": X},
        {"params": matrix(X[:2], features=False), "x": matrix(X)},
    ),
    # mixtures/mixture.py
    Spec(
        S.gmm_em,
        {"n_components": 2},
        {
            "n_components": count(),
            "covariance": choice(),
            "reg_covar": positive(),
            "init": {**choice(), "nan": tampered(GMM, "means", np.full((2, 2), NAN))},
        },
    ),
    Spec(
        S.gmm_fit,
        {"x": X, "n_components": 2, "key": KEY, "covariance": "diag", "max_iter": 2},
        {
            # a NaN cell is a missing value; an all-NaN row or column is not
            "x": {
                **without(matrix(X, features=False, dtype=False), "nan"),
                "nan_column": np.where(np.arange(2) == 1, NAN, X),
                "all_nan_row": ALL_NAN_ROW,
            },  # fmt: skip
            "n_components": {**count(), "too_many": 13},
            "key": keys(),
            "covariance": choice(),
            "tol": positive(),
            "max_iter": count(),
            "reg_covar": positive(),
            "init": {
                **choice(),
                "nan_weights": tampered(GMM, "weights", np.array([NAN, 0.5])),
                "negative_weights": tampered(GMM, "weights", np.array([1.5, -0.5])),
                "nan_means": tampered(GMM, "means", np.full((2, 2), NAN)),
                "zero_variance": tampered(GMM, "covariances", np.zeros((2, 2))),
                "full_for_diag": tampered(GMM, "covariances", np.ones((2, 2, 2))),
                "components": tampered(GMM, "weights", np.ones(3) / 3),
            },
        },
    ),
    *[
        Spec(
            fn,
            {"params": GMM, "x": X},
            {
                "params": {
                    "none": None,
                    "tuple": tuple(GMM),
                    "nan": tampered(GMM, "means", np.full((2, 2), NAN)),
                    "weights": tampered(GMM, "weights", np.array([0.9, 0.9])),
                    "variance": tampered(GMM, "covariances", -np.ones((2, 2))),
                    "rank": tampered(GMM, "means", np.zeros(2)),
                },
                "x": {
                    **without(matrix(X, dtype=False), "nan"),
                    "all_nan_row": ALL_NAN_ROW,
                },  # fmt: skip
                **({"per_sample": boolean()} if fn is S.gmm_log_likelihood else {}),
            },
        )
        for fn in (S.gmm_predict, S.gmm_predict_proba, S.gmm_log_likelihood)
    ],
    # mixtures/vb.py
    Spec(
        S.vb_gmm,
        {"n_components": 2},
        {
            "n_components": count(),
            "covariance": {**choice(), "spherical": "spherical"},
            "weight_concentration_prior": positive(none=False),
            "mean_precision_prior": positive(none=False),
            "degrees_of_freedom_prior": positive(none=False),
            "reg_covar": positive(),
            "init": {**choice(), "list": [[1.0]]},
            "prune_threshold": {"negative": -0.1, "one": 1.0, "nan": NAN, "none": None},
            "mean_prior": {
                "nan": np.full(2, NAN),
                "rank2": np.zeros((2, 2)),
                "list": [0.0, 0.0],
            },  # fmt: skip
            "covariance_prior": {
                "nan": np.full(2, NAN),
                "zero": np.zeros(2),
                "list": [1.0, 1.0],
            },  # fmt: skip
        },
    ),
    # mixtures/vb_fit.py
    Spec(
        S.vb_gmm_fit,
        {"x": X, "n_components": 2, "key": KEY, "covariance": "diag", "max_iter": 2},
        {
            "x": {
                **matrix(X, features=False, dtype=False),
                "missing": _set_first(X, NAN),
            },  # fmt: skip
            "n_components": {**count(), "too_many": 13},
            "key": keys(),
            "covariance": choice(),
            "tol": positive(),
            "max_iter": count(),
            "prune_threshold": {"one": 1.0, "nan": NAN},
            "init": {
                **choice(),
                "shape": np.full((12, 3), 1 / 3),
                "nan": np.full((12, 2), NAN),
            },  # fmt: skip
            "mean_prior": {"length": np.zeros(3), "nan": np.full(2, NAN)},
            "covariance_prior": {"zero": np.zeros(2), "shape": np.ones(3)},
            "degrees_of_freedom_prior": {"small": 0.5, "nan": NAN},
            "weight_concentration_prior": {"negative": -1.0},
        },
        free=("priors",),
    ),
    *[
        Spec(
            fn,
            {"params": vb_state(), "x": X},
            {
                "params": {"none": None, "gmm": GMM, "tuple": tuple(GMM)},
                "x": matrix(X, dtype=False),
            },
        )
        for fn in (S.vb_gmm_predict, S.vb_gmm_predict_proba)
    ],
    # radial/rbf.py
    Spec(
        S.gaussian_activations,
        {"x": X, "centers": X[:3], "widths": np.ones(3, np.float32)},
        {
            "x": matrix(X),
            "centers": matrix(X[:3]),
            "widths": {
                **vector(np.ones(3, np.float32)),
                "zero": np.zeros(3, np.float32),
            },
        },
    ),
    Spec(
        S.rbf_widths,
        {"centers": X[:3], "method": "global"},
        {
            "centers": {**matrix(X[:3], features=False), "one": X[:1]},
            "method": {**choice(), "negative": -1.0, "nan": NAN},
            "factor": positive(),
        },
    ),
    Spec(
        S.ridge_weights,
        {"h": X, "y": PROBS, "ridge": 0.1},
        {
            "h": matrix(X, features=False),
            "y": {**matrix(PROBS, features=False), "rows": PROBS[:-1]},
            "ridge": {"negative": -1.0, "nan": NAN, "inf": INF, "none": None},
        },
    ),
    Spec(
        S.lms_learner,
        {"centers": X[:3], "widths": np.ones(3, np.float32), "n_outputs": 2},
        {
            "centers": matrix(X[:3], features=False),
            "widths": {
                **vector(np.ones(3, np.float32)),
                "zero": np.zeros(3, np.float32),
            },
            "n_outputs": count(),
            "learning_rate": {**positive(), "two": 2.0},
            "normalized": boolean(),
        },
    ),
    Spec(
        S.rbf_fit,
        {"x": X, "y": Y, "n_centers": 2, "key": KEY},
        {
            "x": matrix(X, features=False),
            # float targets are regression targets, not bad labels
            "y": {
                **without(labels(Y, out_of_range=False), "float"),
                "rank3": np.zeros((12, 2, 2), np.float32),
            },  # fmt: skip
            "n_centers": {**count(), "too_many": 13},
            "key": keys(),
            "init": choice(),
            "width": {**choice(), "negative": -1.0, "nan": NAN},
            "width_factor": positive(),
            "solver": choice(),
            "ridge": {"negative": -1.0, "nan": NAN, "inf": INF, "none": None},
            "n_outputs": {**count(none=False), "too_few": 1},
            "lms_epochs": count(),
            "lms_learning_rate": {**positive(), "two": 2.0},
            "centers": {"unknown": "bogus"},  # the deprecated name of init
        },
        match={"centers": "`init"},
        deprecated=("centers",),
    ),
    *[
        Spec(
            fn,
            {"params": RBF, "x": X},
            {
                "params": {
                    "none": None,
                    "tuple": tuple(RBF),
                    "nan": tampered(RBF, "centers", _set_first(RBF.centers, NAN)),
                    "widths": tampered(RBF, "widths", np.ones(3, np.float32)),
                },
                "x": matrix(X),
            },
        )
        for fn in (S.rbf_predict, S.rbf_classify)
    ],
    Spec(
        S.rbf_net_params,
        {"params": RBF},
        {"params": {"none": None, "tuple": tuple(RBF)}},
    ),
    Spec(
        S.rbf_from_net,
        {"net_params": S.rbf_net_params(RBF)},
        {
            "net_params": {
                "none": None,
                "empty": {},
                "no_output": {"rbf": S.rbf_net_params(RBF)["rbf"]},
            }
        },
    ),
    Spec(
        S.rbf_gradient_learner,
        {"params": RBF, "optimizer": optax.sgd(0.1)},
        {
            "params": {"none": None, "tuple": tuple(RBF)},
            "optimizer": {"none": None, "string": "adam"},
            "task": choice(),
        },
    ),
    # radial/prbf.py
    Spec(
        S.prbf,
        {"n_kernels": 2, "n_classes": 2},
        {
            "n_kernels": count(),
            "n_classes": count(),
            "covariance": choice(),
            "variance_floor": positive(),
            "init": choice(),
            "kmeans_iterations": count(),
        },
    ),
    # radial/prbf_fit.py
    Spec(
        S.prbf_fit,
        {"x": X, "y": Y, "n_kernels": 2, "key": KEY, "n_classes": 2, "max_iter": 2},
        {
            "x": matrix(X, features=False),
            "y": {**labels(Y), "one_class": np.zeros(12, np.int32)},
            "n_kernels": {**count(), "too_many": 13},
            "key": keys(),
            "n_classes": {**count(none=False), "too_many": 3},
            "covariance": choice(),
            "variance_floor": positive(),
            "init": choice(),
            "max_iter": count(),
            "tol": positive(),
            "n_init": count(),
        },
    ),
    *[
        Spec(
            fn,
            {"params": PRBF, "x": X},
            {
                "params": {
                    "none": None,
                    "tuple": tuple(PRBF),
                    "nan": tampered(PRBF, "means", _set_first(PRBF.means, NAN)),
                    "mixing": tampered(PRBF, "mixing", np.ones((3, 2), np.float32)),
                },
                "x": matrix(X),
            },
        )
        for fn in (S.prbf_predict, S.prbf_predict_proba)
    ],
    # radial/pnn.py
    Spec(
        S.pnn,
        {"sigma": 1.0, "n_classes": 2},
        {
            "sigma": positive(),
            "n_classes": count(),
            "priors": {**choice(), "length": np.ones(3) / 3, "nan": np.array([NAN, 1])},
            "chunk_size": count(),
        },
    ),
    Spec(
        S.pnn_fit,
        {"x": X, "y": Y, "sigma": 1.0, "n_classes": 2},
        {
            "x": matrix(X, features=False),
            "y": {**labels(Y), "one_class": np.zeros(12, np.int32)},
            "sigma": positive(),
            "n_classes": {**count(none=False), "too_many": 3},
            "priors": {**choice(), "negative": np.array([1.5, -0.5])},
        },
    ),
    *[
        Spec(
            fn,
            {"params": PNN, "x": X},
            {
                "params": {
                    "none": None,
                    "tuple": tuple(PNN),
                    "sigma": tampered(PNN, "sigma", np.float32(0.0)),
                    "labels": tampered(PNN, "labels", Y.astype(np.float32)),
                },
                "x": matrix(X),
                "chunk_size": count(),
            },
        )
        for fn in (S.pnn_predict, S.pnn_predict_proba)
    ],
    Spec(
        S.pnn_select_sigma,
        {"train": DATA, "val": DATA, "sigmas": [0.5, 1.0], "n_classes": 2},
        {
            "train": dataset(DATA),
            "val": {**dataset(DATA), "features": {"x": matrix(X)["features"], "y": Y}},
            "sigmas": {
                "empty": [],
                "zero": [0.0],
                "nan": [NAN],
                "none": None,
                "string": ["wide"],
            },  # fmt: skip
            "n_classes": {**count(none=False), "too_many": 3},
            "priors": choice(),
            "chunk_size": count(),
        },
    ),
    # maps/
    Spec(
        S.best_matching_unit,
        {"weights": CODEBOOK, "x": X},
        {"weights": matrix(CODEBOOK), "x": {**matrix(X, dtype=False)}},
    ),
    Spec(
        S.quantization_error,
        {"weights": CODEBOOK, "x": X},
        {"weights": matrix(CODEBOOK), "x": matrix(X, dtype=False)},
    ),
    Spec(
        S.topographic_error,
        {"weights": CODEBOOK, "x": X, "grid": GRID},
        {
            "weights": {**matrix(CODEBOOK), "units": X[:5]},
            "x": matrix(X, dtype=False),
            "grid": {"zero": (0, 2), "one": (2,), "none": None, "single": (1, 1)},
            "topology": choice(),
        },
    ),
    Spec(
        S.hit_map,
        {"weights": CODEBOOK, "x": X, "grid": GRID},
        {
            "weights": {**matrix(CODEBOOK), "units": X[:5]},
            "x": matrix(X, dtype=False),
            "grid": {"zero": (0, 2), "one": (2,), "none": None},
        },
    ),
    Spec(
        S.u_matrix,
        {"weights": CODEBOOK, "grid": GRID},
        {
            "weights": {**matrix(CODEBOOK, features=False), "units": X[:5]},
            "grid": {"zero": (0, 2), "one": (2,), "none": None},
            "topology": choice(),
            "scaling": choice(),
        },
    ),
    Spec(
        S.grid_coordinates,
        {"grid": GRID},
        {"grid": {"zero": (0, 2), "one": (2,), "none": None}, "topology": choice()},
    ),
    Spec(
        S.neighborhood,
        {"name": "gaussian", "grid": GRID},
        {
            "name": choice(),
            "grid": {"zero": (0, 2), "one": (2,), "none": None},
            "topology": choice(),
        },
        match={"name": "`neighborhood"},  # what som() calls it
    ),
    Spec(
        S.initial_weights,
        {"key": KEY, "x": X, "grid": GRID},
        {
            "key": keys(),
            "x": matrix(X, features=False),
            "grid": {"zero": (0, 2), "one": (2,), "none": None},
            "init": choice(),
        },
    ),
    *[
        Spec(
            fn,
            {"grid": GRID, "n_iterations": 4},
            {
                "grid": {"zero": (0, 2), "one": (2,), "none": None},
                "n_iterations": count(),
                "topology": choice(),
                "neighborhood": choice(),
                "learning_rate": positive(),
                "sigma": positive(),
                "decay": choice(),
                "sigma_decay": choice(),
                "init_weights": {
                    **without(matrix(CODEBOOK, features=False), "none"),
                    "rows": X[:3],
                },  # fmt: skip
            },
        )
        for fn in (S.som, S.som_batch)
    ],
    Spec(
        S.som_fit,
        {"x": X, "grid": GRID, "key": KEY, "n_iterations": 4},
        {
            "x": matrix(X, features=False),
            "grid": {"zero": (0, 2), "one": (2,), "none": None},
            "key": keys(),
            "n_iterations": count(),
            "algorithm": choice(),
            "init": choice(),
            "init_weights": {**without(matrix(CODEBOOK), "none"), "rows": X[:3]},
            "order": {
                "range": np.array([0, 12]),
                "negative": np.array([-1, 0]),
                "float": np.array([0.0, 1.0]),
                "rank2": np.zeros((2, 2), int),
                "empty": np.zeros(0, int),
            },  # fmt: skip
            "batch_size": {**count(), "too_big": 13},
            "sigma": positive(),  # one of the **settings of som()
            "learning_rate": positive(),
        },
        free=("settings",),
    ),
    Spec(
        S.som_fit_seeds,
        {"x": X, "grid": GRID, "key": KEY, "n_seeds": 2, "n_iterations": 4},
        {
            "x": matrix(X, features=False),
            "grid": {"zero": (0, 2), "one": (2,), "none": None},
            "key": keys(),
            "n_seeds": count(),
            "n_iterations": count(),
            "algorithm": choice(),
            "init": choice(),
            "batch_size": {**count(), "too_big": 13},
            "sigma": positive(),
        },
        free=("settings",),
    ),
    Spec(
        S.som_ring,
        {"points": X, "key": KEY, "restarts": 2},
        {
            "points": {
                **matrix(X, features=False, dtype=False),
                "three": X[:3],
            },
            "key": keys(),
            "restarts": count(),
            "gain": positive(),
            "final_gain": {**positive(), "above_gain": 20.0},
            "alpha": {**positive(), "one": 1.0},
            "distances": {
                "shape": np.ones((3, 3)),
                "negative": -np.ones((12, 12)),
                "asymmetric": np.triu(np.ones((12, 12))),
                "nan": np.full((12, 12), NAN),
            },
        },
        match={"final_gain": "`final_gain"},
    ),
    Spec(
        S.som_predict,
        {"params": CODEBOOK, "x": X},
        {"params": {**matrix(CODEBOOK), "string": "map"}, "x": matrix(X)},
    ),
]

BY_NAME = {spec.fn.__name__: spec for spec in SPECS}
CASES = [
    pytest.param(name, arg, label, id=f"{name}-{arg}-{label}")
    for name, spec in BY_NAME.items()
    for arg, mutations in spec.bad.items()
    for label in mutations
]


def test_every_public_function_and_argument_is_in_the_table():
    public = {
        name
        for name in S.__all__
        if inspect.isfunction(getattr(S, name)) or name == "MLP"
    }
    assert public == set(BY_NAME), public ^ set(BY_NAME)
    for name, spec in BY_NAME.items():
        parameters = inspect.signature(spec.fn).parameters
        untested = set(parameters) - set(spec.bad) - set(spec.free)
        assert not untested, (name, untested)


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_the_valid_call_is_valid(name):
    spec = BY_NAME[name]
    spec.fn(**spec.valid)


@pytest.mark.parametrize(("name", "arg", "label"), CASES)
def test_a_bad_argument_is_refused_by_name(name, arg, label):
    spec = BY_NAME[name]
    kwargs = {**spec.valid, arg: spec.bad[arg][label]}
    match = spec.match.get(arg, f"`{re.escape(arg)}\\b")
    renamed = arg in spec.deprecated
    with pytest.warns(DeprecationWarning) if renamed else contextlib.nullcontext():
        with pytest.raises((ValueError, TypeError), match=match):
            spec.fn(**kwargs)
