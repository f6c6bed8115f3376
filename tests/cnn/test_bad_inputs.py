"""Bad input to the CNN chapter: every public function, one argument wrong.

Each row is a valid call with one argument (or module attribute) mutated; it
must raise a ``ValueError`` or ``TypeError`` naming that argument, at the
public boundary: for Flax modules in the constructor or in ``__call__`` on
static shapes, before any convolution runs.
"""

import functools

import jax
import numpy as np
import pytest

import jnn.cnn as cnn
import jnn.train as train
import tests._mutations as T
from tests._mutations import INF, NAN

KEY = jax.random.key(0)
X = np.random.default_rng(0).normal(size=(1, 8, 8, 3)).astype(np.float32)
K = np.random.default_rng(1).normal(size=(3, 3, 3, 4)).astype(np.float32)
X12 = np.zeros((1, 8, 8, 12), np.float32)
MNIST = np.zeros((2, 28, 28), np.float32)
LENET_X = np.zeros((1, 32, 32, 1), np.float32)
IMAGE = np.zeros((8, 8, 1), np.float32)
EYE2 = np.eye(2, dtype=np.float32)

MUTATIONS: dict = {}
VALID: dict = {}


def add(name, fn, valid, *changes):
    VALID[name] = T.table(name, fn, valid, [c for g in changes for c in g], MUTATIONS)


def init(module_type, input_name="x"):
    """``module_type(**attributes).init(KEY, input)`` as a keyword-only call.

    Abstractly (``jax.eval_shape``): the input stays a concrete constant, so
    the module's checks see its values, but no layer is computed.
    """

    def call(**kwargs):
        x = kwargs.pop(input_name)
        return jax.eval_shape(lambda: module_type(**kwargs).init(KEY, x))

    return call


def images(arg="x", good=X, *, floating=True) -> list[tuple]:
    """NHWC float images: None, strings, ints, NaN, inf, empty batch, rank 3."""
    good = np.asarray(good)
    ints = [(arg, good.astype(np.int32), TypeError)] if floating else []
    return [
        (arg, None, TypeError),
        (arg, np.full(good.shape, "a"), TypeError),
        *ints,
        (arg, T._with(good, NAN)),
        (arg, T._with(good, INF)),
        (arg, good[:0]),
        (arg, good[0]),
    ]


def sizes(arg: str) -> list[tuple]:
    """A kernel size or stride: 0, -1, a float, a triple."""
    return [(arg, 0), (arg, -1), (arg, 2.5, TypeError), (arg, (3, 3, 3))]


# --- functional layers -------------------------------------------------------
add(
    "conv2d",
    cnn.conv2d,
    {"x": X, "kernel": K},
    images(),
    T.floats("kernel", K),
    [("kernel", K[:, :, :2]), ("kernel", np.zeros((9, 9, 3, 4), np.float32))],
    T.floats("bias", np.zeros(4, np.float32), none=False, rank=False),
    [("bias", np.zeros(3, np.float32))],
    sizes("strides"),
    [("padding", "bogus"), ("padding", ((1, 1),)), ("padding", None, TypeError)],
    T.positive_int("groups"),
    [("groups", 2)],
)
for _name in ("avg_pool", "max_pool"):
    add(
        _name,
        getattr(cnn, _name),
        {"x": X},
        images(),
        [*sizes("window"), ("window", 9), ("window", None, TypeError)],
        sizes("strides"),
        [("padding", "bogus"), ("padding", None, TypeError)],
    )
add(
    "channel_shuffle",
    cnn.channel_shuffle,
    {"x": X12, "groups": 3},
    images(good=X12, floating=False),  # a permutation: any numeric dtype
    T.positive_int("groups"),
    [("groups", 5)],
)
add(
    "check_images",
    cnn.check_images,
    {"x": X, "name": "x"},
    images(),
    [("height", -1)],
    [("height", 2.5, TypeError), ("width", 0), ("channels", -3)],
    [("name", None, TypeError), ("name", 3, TypeError)],
)
add(
    "check_images-size",
    cnn.check_images,
    {"x": X, "name": "x", "height": 8},
    [("height", 9, ValueError, r"`x` must have shape .* = \('batch', 9")],
)
add("normalization", cnn.normalization, {"norm": "none"}, T.option("norm"))
add(
    "make_divisible",
    cnn.make_divisible,
    {"value": 10.0},
    T.positive_float("value"),
    T.positive_int("divisor"),
)
add(
    "squash",
    cnn.squash,
    {"a": X},
    T.floats("a", X, rank=False),
)
add(
    "affine_warp",
    cnn.affine_warp,
    {"image": IMAGE, "matrix": EYE2, "offset": np.zeros(2, np.float32)},
    T.floats("image", IMAGE),
    T.floats("matrix", EYE2),
    [("matrix", np.eye(3, dtype=np.float32))],
    T.floats("offset", np.zeros(2, np.float32)),
    [("offset", np.zeros(3, np.float32))],
)
add(
    "random_affine",
    cnn.random_affine,
    {"key": KEY, "images": X, "max_shift": 1.0},
    T.key(),
    images("images"),
    [("max_rotation_deg", -1.0), ("max_rotation_deg", NAN)],
    [("max_rotation_deg", "a", TypeError), ("max_scale", 1.0), ("max_scale", -0.1)],
    [("max_shift", INF), ("max_shift", None, TypeError), ("max_shear", -1.0)],
)
_LOSS = train.classification_loss(cnn.LeNet5())
add(
    "augmented_loss",
    cnn.augmented_loss,
    {"loss": _LOSS, "augment": functools.partial(cnn.random_affine, max_shift=1.0)},
    [("loss", None, TypeError), ("loss", "ce", TypeError)],
    [("augment", None, TypeError), ("augment", 1.0, TypeError)],
    [("input_key", None, TypeError), ("input_key", 1, TypeError)],
)
add(
    "pad_mnist",
    cnn.pad_mnist,
    {"x": MNIST},
    T.floats("x", MNIST),
    [("x", MNIST[0]), ("x", np.zeros((2, 32, 32), np.float32))],
    [("fill", NAN), ("fill", INF), ("fill", "a", TypeError)],
)
_PARAMS = {"C1": {"kernel": np.zeros((5, 5, 1, 6)), "bias": np.zeros(6)}}
add(
    "parameter_counts",
    cnn.parameter_counts,
    {"params": _PARAMS},
    [("params", None, TypeError), ("params", "p", TypeError)],
    [("params", {"C1": 3}, TypeError, r"`params\['C1'\]`"), ("params", {})],
)
add(
    "rbf_map_loss",
    cnn.rbf_map_loss,
    {"model": cnn.LeNet5(output="rbf")},
    [("model", None, TypeError), ("model", "lenet", TypeError)],
    [("model", cnn.LeNet5(), ValueError)],
    T.positive_float("j"),
    [("input_key", None, TypeError), ("target_key", 1, TypeError)],
)
_SEP = cnn.SeparableConv(4)
_REPORT = cnn.count(_SEP, (1, 8, 8, 3))
add(
    "count",
    cnn.count,
    {"model": _SEP, "input_shape": (1, 8, 8, 3)},
    [("model", None, TypeError), ("model", cnn.conv2d, TypeError)],
    [("input_shape", None, TypeError), ("input_shape", (0, 8, 8, 3))],
    [("input_shape", (1, 8.0, 8, 3)), ("input_shape", ())],
    [("variables", 5, TypeError), ("variables", "v", TypeError)],
)
add(
    "format_report",
    cnn.format_report,
    {"report": _REPORT},
    [("report", None, TypeError), ("report", "r", TypeError)],
    [("max_layers", 0), ("max_layers", -1), ("max_layers", 2.5, TypeError)],
)

# --- layer and block modules (attributes, then the input) ---------------------
add(
    "GroupConv",
    init(cnn.GroupConv),
    {"x": X, "features": 6, "kernel_size": 3, "groups": 3},
    images(),
    [("x", X[..., :2], ValueError, "`groups`")],
    T.positive_int("features"),
    sizes("kernel_size"),
    T.positive_int("groups"),
    [("groups", 2)],
    sizes("strides"),
    [("kernel_init", None, TypeError), ("kernel_init", "lecun", TypeError)],
)
add(
    "SeparableConv",
    init(cnn.SeparableConv),
    {"x": X, "features": 4},
    images(),
    T.positive_int("features"),
    sizes("kernel_size"),
    sizes("strides"),
)
add("GlobalAvgPool", init(cnn.GlobalAvgPool), {"x": X}, images())
add(
    "InvertedResidual",
    init(cnn.InvertedResidual),
    {"x": X, "features": 3, "expansion": 2, "norm": "none"},
    images(),
    T.positive_int("features"),
    T.positive_float("expansion"),
    T.positive_int("strides"),
    T.option("norm"),
    [("activation", None, TypeError), ("activation", "relu6", TypeError)],
)
add(
    "ShuffleUnit",
    init(cnn.ShuffleUnit),
    {"x": X12, "features": 12, "groups": 3, "norm": "none"},
    images(good=X12),
    [("x", X, ValueError, "`features` must equal the input channels 3")],
    T.positive_int("features"),
    [("features", 3)],
    T.positive_int("groups"),
    [("groups", 5, ValueError, r"ShuffleUnit\(features=12, groups=5\): `groups`")],
    [("strides", 3), ("strides", 0), ("strides", None, ValueError)],
    T.option("norm"),
)
add(
    "ShuffleUnit-48",
    init(cnn.ShuffleUnit),
    {"x": np.zeros((1, 8, 8, 48), np.float32), "features": 48, "groups": 3},
    [("groups", 5, ValueError, r"features=48, groups=5\): `groups` must divide")],
)

# --- LeNet-5 ---------------------------------------------------------------------
add(
    "LeNet5",
    init(cnn.LeNet5),
    {"x": LENET_X},
    images(good=LENET_X),
    [("x", np.zeros((1, 28, 28, 1), np.float32))],
    T.option("variant"),
    T.option("c3"),
    T.option("output"),
    T.option("conv_path"),
    [("num_classes", 1), ("num_classes", 2.5, TypeError)],
    [("num_classes", None, TypeError)],
)
add(
    "LeNet5-rbf",
    init(cnn.LeNet5),
    {"x": LENET_X, "output": "rbf"},
    [("num_classes", 5, ValueError, "num_classes=10")],
    [("variant", "modern", ValueError, "variant='paper'")],
)
add("Subsampling", init(cnn.Subsampling), {"x": X}, images(), [("x", X[:, :7])])
_TABLE = np.ones((3, 4), bool)
add(
    "ConnectionTableConv",
    init(cnn.ConnectionTableConv),
    {"x": X, "table": _TABLE, "kernel_size": 3},
    images(),
    [("x", X12, ValueError, "`table`")],
    [("table", None, TypeError), ("table", np.ones(4, bool))],
    [("table", np.zeros((3, 4), bool)), ("table", np.full((3, 4), "a"), TypeError)],
    T.positive_int("kernel_size"),
    [("kernel_size", 9)],
)
add(
    "EuclideanRBF",
    init(cnn.EuclideanRBF),
    {"x": np.zeros((2, 84), np.float32)},
    T.floats("x", np.zeros((2, 84), np.float32)),
    [("x", np.zeros((2, 83), np.float32))],
    T.floats("centres", np.ones((10, 84), np.float32), none=False),
)

# --- MobileNetV2 and ShuffleNet v1 ------------------------------------------------
_MOBILE = {
    "images": X,
    "num_classes": 3,
    "settings": ((1, 8, 1, 1),),
    "stem_features": 8,
    "stem_strides": 1,
    "last_features": 16,
    "norm": "none",
}
add(
    "MobileNetV2",
    init(cnn.MobileNetV2, "images"),
    _MOBILE,
    images("images"),
    [("images", np.zeros((1, 8, 8, 1), np.float32))],
    T.positive_int("num_classes"),
    T.positive_float("width_multiplier"),
    [("settings", None, TypeError), ("settings", ((1, 8, 1),))],
    [("settings", ((1, 8, 0, 1),), ValueError, r"`settings\[0\] repeats n`")],
    [("settings", ((0.0, 8, 1, 1),), ValueError, r"`settings\[0\] expansion t`")],
    T.positive_int("stem_features"),
    T.positive_int("stem_strides"),
    [("last_features", -1), ("last_features", 2.5, TypeError)],
    [("dropout", 1.0), ("dropout", -0.1), ("dropout", NAN)],
    T.option("norm"),
    T.positive_int("in_channels"),
    [("input_size", (0, 8)), ("input_size", (8,))],
    [("input_size", (9, 9), ValueError, r"`images` must have shape .* 9, 9, 3\)")],
    T.option("head"),
)
add(
    "mobilenet_v2_mnist",
    cnn.mobilenet_v2_mnist,
    {},
    T.positive_int("num_classes"),
    T.positive_float("width_multiplier"),
    [("settings", None, TypeError), ("settings", (), TypeError)],
    [("settings", ((1, 8, 0, 2),), ValueError, r"`settings\[0\] repeats n`")],
    T.positive_int("stem_features"),
    T.positive_int("image_size"),
    T.option("norm"),
    T.option("head"),
)
add(
    "separable_mnist",
    cnn.separable_mnist,
    {},
    T.positive_int("num_classes"),
    T.positive_int("image_size"),
)
_SHUFFLE = {
    "images": X,
    "groups": 2,
    "num_classes": 3,
    "stage_channels": (16,),
    "stage_repeats": (1,),
    "stem_features": 8,
    "stem_pool": False,
    "norm": "none",
}
add(
    "ShuffleNetV1",
    init(cnn.ShuffleNetV1, "images"),
    _SHUFFLE,
    images("images"),
    [("images", np.zeros((1, 8, 8, 1), np.float32))],
    T.positive_int("groups"),
    [("groups", 5, ValueError, "`groups` must divide")],
    T.positive_float("width_multiplier"),
    T.positive_int("num_classes"),
    [("stage_channels", (0,)), ("stage_channels", "16", TypeError)],
    [("stage_repeats", None, TypeError), ("stage_repeats", (0,))],
    [("stage_repeats", (1, 1))],
    T.positive_int("stem_features"),
    T.positive_int("stem_strides"),
    T.option("norm"),
    T.positive_int("in_channels"),
    [("input_size", (0, 8))],
    [("input_size", (9, 9), ValueError, r"`images` must have shape .* 9, 9, 3\)")],
    T.option("head"),
)
add(
    "ShuffleNetV1-table",
    init(cnn.ShuffleNetV1, "images"),
    {**_SHUFFLE, "stage_channels": None, "stage_repeats": (1, 1, 1)},
    [("groups", 5, ValueError, "`groups` must be one of")],
    [("width_multiplier", -1.0)],
)
add(
    "shufflenet_v1_mnist",
    cnn.shufflenet_v1_mnist,
    {},
    T.positive_int("num_classes"),
    T.positive_int("groups"),
    [("stage_channels", None, TypeError), ("stage_channels", (0, 48))],
    [("stage_repeats", None, TypeError), ("stage_repeats", (1, -2))],
    T.positive_int("stem_features"),
    T.positive_int("image_size"),
    T.option("norm"),
    T.option("head"),
)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_one_bad_argument_is_named(name):
    case = MUTATIONS[name]
    with pytest.raises(case.error, match=case.match):
        case.call()


@pytest.mark.parametrize("name", list(VALID))
def test_valid_call_runs(name):
    VALID[name]()
