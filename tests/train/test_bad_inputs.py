"""Bad input to the training engine: every public function, one argument wrong.

Each row is a valid call with one argument mutated; it must raise a
``ValueError`` or ``TypeError`` naming that argument before anything is traced
(``fit`` and ``run`` check the learner, the data, the plan and the criteria
before compiling an epoch).
"""

import flax.linen as nn
import jax
import numpy as np
import optax
import pytest

import jnn.train as train
import tests._mutations as T
from tests._mutations import INF, NAN

KEY = jax.random.key(0)
MODEL = nn.Dense(3)
X = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1], np.int32)
DATA = {"x": X, "y": Y}
LOSS = train.classification_loss(MODEL)
LEARNER = train.gradient_learner(MODEL, LOSS, optax.sgd(0.1))
PARAMS = MODEL.init(KEY, X[:1])["params"]
STATE = LEARNER.init(KEY, DATA)
TRAIN = r"`train(`|\[)"  # `train` or `train['x']`
VAL = r"`val(`|\[)"


def with_entry(data, entry, value):
    return {**data, entry: value}


MUTATIONS: dict = {}
VALID: dict = {}


def add(name, fn, valid, *changes):
    VALID[name] = T.table(name, fn, valid, [c for g in changes for c in g], MUTATIONS)


def dataset(arg: str, match: str) -> list[tuple]:
    """A data set: not a dict, empty, bad arrays, bad labels, a missing entry."""
    return [
        (arg, None, TypeError, match),
        (arg, [X, Y], TypeError, match),
        (arg, {}, ValueError, match),
        (arg, with_entry(DATA, "x", T._with(X, NAN)), ValueError, match),
        (arg, with_entry(DATA, "x", T._with(X, INF)), ValueError, match),
        (arg, with_entry(DATA, "x", np.full(X.shape, "a")), TypeError, match),
        (arg, with_entry(DATA, "x", X[:5]), ValueError, match),
        (arg, {"x": X[:0], "y": Y[:0]}, ValueError, match),
        (arg, {"x": X}, ValueError, match),
        (arg, with_entry(DATA, "y", Y.astype(np.float32)), TypeError, match),
        (arg, with_entry(DATA, "y", Y[:, None]), ValueError, match),
        (arg, with_entry(DATA, "y", np.where(Y == 2, -1, Y)), ValueError, match),
        (arg, with_entry(DATA, "y", np.where(Y == 2, 3, Y)), ValueError, match),
    ]


def metric_names(arg: str = "metric") -> list[tuple]:
    return [(arg, None, TypeError), (arg, 1, TypeError), (arg, "", ValueError)]


# --- the drivers ---------------------------------------------------------------
_ENGINE = [
    [
        ("learner", None, TypeError),
        ("learner", LEARNER.update, TypeError),
        ("learner", LEARNER._replace(init=None), TypeError),
        ("learner", LEARNER._replace(update="step"), TypeError),
        ("learner", LEARNER._replace(plan="full"), TypeError, "`learner.plan`"),
        ("learner", LEARNER._replace(compiler_options={"cpu": {}}), TypeError),
    ],
    dataset("train", TRAIN),
    [*dataset("val", VAL)[1:], ("val", {"x": X[:, :3], "y": Y}, ValueError, VAL)],
    [("val", with_entry(DATA, "x", X.astype(np.int32)), TypeError, VAL)],
    T.key(),
    T.positive_int("epochs"),
    T.positive_int("batch_size", none=False),
    [("batch_size", 9)],
    [("stop", "patience", TypeError)],
    [("stop", train.validation_patience(2), ValueError, "`stop`")],
    [("init_state", 5, ValueError), ("init_state", {"params": 1}, ValueError)],
    [("plan", "shuffled", TypeError), ("plan", train.BatchPlan("bogus"))],
    [("plan", train.BatchPlan("shuffled", 0), ValueError, "`plan.batch_size`")],
    [("plan", train.BatchPlan("full", 4), ValueError, "`plan`")],
    [("plan", train.shuffled(9), ValueError, "`batch_size` .* must not exceed")],
]
add(
    "fit",
    train.fit,
    {"learner": LEARNER, "train": DATA, "key": KEY, "epochs": 1, "progress": False},
    *_ENGINE,
    [("checkpoint_dir", 5, TypeError), *T.positive_int("checkpoint_every")],
    [("progress", "yes", TypeError), ("devices", [], ValueError)],
    [("devices", "cpu", TypeError), ("devices", [0], TypeError)],
)
add(
    "run",
    train.run,
    {"learner": LEARNER, "train": DATA, "key": KEY, "epochs": 1},
    *_ENGINE,
)

# --- learners, losses, modules ------------------------------------------------------
_MODEL_ROWS = [("model", None, TypeError), ("model", "mlp", TypeError)]
add(
    "gradient_learner",
    train.gradient_learner,
    {"model": MODEL, "loss": LOSS, "optimizer": optax.sgd(0.1)},
    _MODEL_ROWS,
    [("loss", None, TypeError), ("loss", "ce", TypeError)],
    [("optimizer", None, TypeError), ("optimizer", 1e-3, TypeError)],
    [("input_key", None, TypeError), ("input_key", 1, TypeError)],
    [("grad_metrics", "norms", TypeError)],
    [("reset_collections", [1], TypeError), ("reset_collections", None, TypeError)],
    [("plan", "full", TypeError), ("plan", train.BatchPlan("bogus"))],
    [("rng_streams", [1], TypeError), ("rng_streams", None, TypeError)],
)
add(
    "classification_loss",
    train.classification_loss,
    {"model": MODEL},
    _MODEL_ROWS,
    [("input_key", None, TypeError), ("target_key", 1, TypeError)],
    [("label_smoothing", -0.1), ("label_smoothing", 1.0)],
    [("label_smoothing", NAN), ("label_smoothing", "0.1")],
)
add(
    "regression_loss",
    train.regression_loss,
    {"model": MODEL},
    _MODEL_ROWS,
    [("input_key", None, TypeError), ("target_key", 1, TypeError)],
)


def _players_loss(params, batch, ctx):
    return 0.0, {}, {}


_PLAYERS = {"g": train.Player(_players_loss, optax.sgd(0.1))}
add(
    "players_learner",
    train.players_learner,
    {"init": lambda key, batch: ({"g": {}}, {}), "players": _PLAYERS},
    [("init", None, TypeError), ("init", "init", TypeError)],
    [("players", None, TypeError), ("players", {}, TypeError)],
    [("players", {"g": 1}, TypeError, r"`players\['g'\]`")],
    [("players", {"g": _PLAYERS["g"]._replace(loss=None)}, TypeError, "`players")],
    [("players", {"g": _PLAYERS["g"]._replace(optimizer=0.1)}, TypeError, "`players")],
    [("players", {"g": _PLAYERS["g"]._replace(steps=0)}, ValueError, "`players")],
    [("evaluate", "eval", TypeError), ("plan", "full", TypeError)],
)


def _apply(model, params, ctx, x, **kwargs):
    return train.apply_model(model, params, ctx, x, **kwargs)


add(
    "apply_model",
    _apply,
    {"model": MODEL, "params": PARAMS, "ctx": None, "x": X},
    _MODEL_ROWS,
    [("params", None, TypeError), ("params", 1.0, TypeError)],
    [("ctx", "train", TypeError), ("ctx", KEY, TypeError)],
    [("rng_streams", [1], TypeError), ("rng_streams", None, TypeError)],
)


def _init(model, key, x, **kwargs):
    return train.init_model(model, key, x, **kwargs)


add(
    "init_model",
    _init,
    {"model": MODEL, "key": KEY, "x": X[:1]},
    _MODEL_ROWS,
    T.key(),
    [("rng_streams", [1], TypeError), ("rng_streams", None, TypeError)],
)
add(
    "evaluate_with_key",
    train.evaluate_with_key,
    {"evaluate": LEARNER.evaluate, "state": STATE, "data": DATA, "key": None},
    [("evaluate", None, TypeError), ("evaluate", "loss", TypeError)],
    [("data", None, TypeError), ("data", [X], TypeError)],
)
add(
    "check_like",
    train.check_like,
    {"data": DATA, "reference": DATA, "name": "val"},
    [("data", None, TypeError, "`val`"), ("data", [X, Y], TypeError, "`val`")],
    [("data", {"x": X}, ValueError, "`val`")],
    [("data", {"x": X[:, :3], "y": Y}, ValueError, r"`val\['x'\]`")],
    [("data", with_entry(DATA, "y", Y.astype(np.float32)), TypeError, r"`val\[")],
    [("reference", None, TypeError), ("reference", 1, TypeError)],
    [("name", None, TypeError), ("name", 1, TypeError)],
)

# --- batch plans and stopping criteria ------------------------------------------
add("shuffled", train.shuffled, {"batch_size": 4}, T.positive_int("batch_size"))
add(
    "sequence_windows",
    train.sequence_windows,
    {"n_streams": 2, "window": 3},
    T.positive_int("n_streams"),
    T.positive_int("window"),
)
add("full_batch", train.full_batch, {})
add("max_epochs", train.max_epochs, {"n": 3}, T.positive_int("n"))
for _name in ("gradient_norm_below", "relative_loss_change_below"):
    add(
        _name,
        getattr(train, _name),
        {"eps": 1e-3},
        T.positive_float("eps"),
        metric_names(),
    )
add(
    "absolute_change_below",
    train.absolute_change_below,
    {"eps": 1e-3, "metric": "ll"},
    T.positive_float("eps"),
    metric_names(),
)
add(
    "metric_below",
    train.metric_below,
    {"threshold": 0.1, "metric": "loss"},
    [("threshold", NAN), ("threshold", INF), ("threshold", None, TypeError)],
    [("threshold", "small", TypeError)],
    metric_names(),
)
add(
    "validation_patience",
    train.validation_patience,
    {"patience": 3},
    T.positive_int("patience"),
    T.option("mode"),
    [("min_delta", -1.0), ("min_delta", NAN), ("min_delta", INF)],
    [("min_delta", None, TypeError), ("min_delta", "a", TypeError)],
    metric_names(),
)
add(
    "any_of",
    lambda stops: train.any_of(*stops),
    {"stops": (train.max_epochs(2),)},
    [("stops", (), TypeError), ("stops", ("max_epochs",), TypeError)],
    [("stops", (train.max_epochs(2), None), TypeError)],
)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_one_bad_argument_is_named(name):
    case = MUTATIONS[name]
    with pytest.raises(case.error, match=case.match):
        case.call()


@pytest.mark.parametrize("name", list(VALID))
def test_valid_call_runs(name):
    VALID[name]()
