"""Bad input to the data readers and batching: one argument wrong, named.

Each row is a valid call with one argument mutated; it must raise a
``ValueError`` or ``TypeError`` naming that argument (a missing file: a
``FileNotFoundError`` naming it) before any data are read or gathered.
"""

import jax
import numpy as np
import pytest

import jnn.data as data
import tests._mutations as T
from jnn.data.tsplib import TSPLIB_DIR
from tests._mutations import NAN

KEY = jax.random.key(0)
X = np.arange(12, dtype=np.float32).reshape(6, 2)
Y = np.arange(6, dtype=np.int32)
DATA = {"x": X, "y": Y}
LABELS = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2, 2], np.int32)
NOT_A_FILE = "/nonexistent/jnn/file.gz"
A_TSP_FILE = TSPLIB_DIR / "berlin52.tsp"

MUTATIONS: dict = {}
VALID: dict = {}


def add(name, fn, valid, *changes):
    VALID[name] = T.table(name, fn, valid, [c for g in changes for c in g], MUTATIONS)


def dataset(arg: str = "data") -> list[tuple]:
    match = rf"`{arg}(`|\[)"
    return [
        (arg, None, TypeError, match),
        (arg, [X, Y], TypeError, match),
        (arg, {}, ValueError, match),
        (arg, {"x": X, "y": Y[:5]}, ValueError, match),
        (arg, {"x": np.full(X.shape, "a"), "y": Y}, TypeError, match),
    ]


def counts(arg: str) -> list[tuple]:
    return T.positive_int(arg)


# --- batching ---------------------------------------------------------------------
add(
    "n_batches",
    data.n_batches,
    {"n_examples": 6, "batch_size": 4},
    counts("n_examples"),
    counts("batch_size"),
    [("batch_size", 7)],
)
add(
    "epoch_indices",
    data.epoch_indices,
    {"key": KEY, "n_examples": 6, "batch_size": 4},
    T.key(),
    counts("n_examples"),
    counts("batch_size"),
    [("batch_size", 7)],
)
add(
    "take",
    data.take,
    {"data": DATA, "indices": np.array([0, 5], np.int32)},
    dataset(),
    [("indices", None, TypeError), ("indices", np.array([0.0, 1.0]), TypeError)],
    [("indices", np.array([0, 6], np.int32)), ("indices", np.array([-1, 0]))],
    [("indices", np.array(["a"]), TypeError)],
)
add(
    "batches",
    data.batches,
    {"key": KEY, "data": DATA, "batch_size": 4},
    T.key(),
    dataset(),
    counts("batch_size"),
    [("batch_size", 7)],
)

# --- data sets ----------------------------------------------------------------------
add(
    "load",
    data.load,
    {"name": "iris"},
    [("name", "cifar10"), ("name", None, TypeError), ("name", 3, TypeError)],
    [("seed", -1), ("seed", 2.5, TypeError), ("seed", None, TypeError)],
    [("val_fraction", 1.0), ("val_fraction", -0.1), ("val_fraction", NAN)],
    [("val_fraction", "a", TypeError), ("test_fraction", 1.5)],
    [("test_fraction", 0.8, ValueError, "`val_fraction \\+ test_fraction`")],
)
add(
    "load-mnist",
    data.load,
    {"name": "mnist", "val_size": 100},
    T.positive_int("val_size"),
    [("mnist_dir", 5, TypeError), ("mnist_dir", NOT_A_FILE)],
)
add(
    "read_idx",
    data.read_idx,
    {"path": data.datasets.MNIST_DIR / "t10k-labels-idx1-ubyte.gz"},
    [("path", None, TypeError), ("path", 5, TypeError)],
    [("path", NOT_A_FILE, FileNotFoundError), ("path", A_TSP_FILE)],
)
add(
    "stratified_split",
    data.stratified_split,
    {"y": LABELS, "fractions": (0.2, 0.2), "seed": 0},
    [("y", None, TypeError), ("y", LABELS[:, None]), ("y", LABELS[:0])],
    [("y", np.full(10, "a"), TypeError)],
    [("fractions", None, TypeError), ("fractions", (0.2,)), ("fractions", (1.5, 0))],
    [
        ("fractions", (0.5, 0.5)),
        ("fractions", (NAN, 0.1)),
        ("fractions", "ab", TypeError),
    ],
    [("seed", -1), ("seed", 2.5, TypeError), ("seed", None, TypeError)],
)
add("load_karate_club", data.load_karate_club, {})

# --- TSPLIB ---------------------------------------------------------------------
add(
    "load_tsplib",
    data.load_tsplib,
    {"path_or_name": "burma14"},
    [("path_or_name", None, TypeError), ("path_or_name", 14, TypeError)],
    [("path_or_name", "burma15"), ("path_or_name", NOT_A_FILE, FileNotFoundError)],
    [("path_or_name", TSPLIB_DIR / "berlin52.opt.tour", ValueError, "berlin52")],
)
add(
    "load_tour",
    data.load_tour,
    {"path": "berlin52"},
    [("path", None, TypeError), ("path", 14, TypeError), ("path", "burma15")],
    [("path", NOT_A_FILE, FileNotFoundError)],
    [("path", A_TSP_FILE, ValueError, "berlin52.tsp: .*expected TOUR")],
)
add("tsplib_instances", data.tsplib_instances, {})


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_one_bad_argument_is_named(name):
    case = MUTATIONS[name]
    with pytest.raises(case.error, match=case.match):
        case.call()


# MNIST (60,000 images) is read by the data set tests.
@pytest.mark.parametrize("name", [n for n in VALID if n != "load-mnist"])
def test_valid_call_runs(name):
    VALID[name]()
