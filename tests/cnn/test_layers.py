"""Tests of jnn.cnn's layers: PyTorch equivalence, shapes, bad input."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.cnn import (
    GlobalAvgPool,
    GroupConv,
    InvertedResidual,
    MobileNetV2,
    SeparableConv,
    ShuffleNetV1,
    ShuffleUnit,
    avg_pool,
    channel_shuffle,
    check_images,
    conv2d,
    make_divisible,
    max_pool,
    mobilenet_v2_mnist,
    shufflenet_v1_mnist,
)


@pytest.fixture
def torch():
    """PyTorch, for the tests that compare with it (skipped without it)."""
    return pytest.importorskip("torch")


def _images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _nchw(x):
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))))


def _nhwc(t):
    return np.transpose(t.detach().numpy(), (0, 2, 3, 1))


@pytest.mark.parametrize(
    "channels,features,size,groups,strides",
    [(3, 8, 5, 1, 1), (4, 6, 3, 2, 2), (6, 6, 3, 6, 1), (6, 12, 3, 6, 2)],
    ids=["standard", "groups2-stride2", "depthwise", "depthwise-multiplier2"],
)
def test_group_conv_equals_torch_conv2d(
    channels, features, size, groups, strides, torch
):
    x = _images((2, 9, 9, channels))
    layer = GroupConv(features, size, groups, strides)
    kernel = layer.init(jax.random.key(1), x)["params"]["kernel"]
    bias = _images((features,), seed=3)  # non-zero bias too
    params = {"kernel": kernel, "bias": jnp.asarray(bias)}
    weight = np.transpose(np.asarray(kernel), (3, 2, 0, 1))
    ours = np.asarray(layer.apply({"params": params}, x))
    theirs = torch.nn.functional.conv2d(
        _nchw(x),
        torch.from_numpy(np.ascontiguousarray(weight)),
        torch.from_numpy(bias),
        stride=strides,
        padding=size // 2,
        groups=groups,
    )
    assert ours.shape == _nhwc(theirs).shape
    assert np.max(np.abs(ours - _nhwc(theirs))) < 1e-5


def test_conv2d_function_equals_torch_valid_conv(torch):
    x, kernel = _images((2, 12, 12, 3)), _images((5, 5, 3, 6), seed=1)
    bias = _images((6,), seed=2)
    ours = np.asarray(conv2d(x, kernel, bias))
    w = torch.from_numpy(np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1))))
    theirs = _nhwc(torch.nn.functional.conv2d(_nchw(x), w, torch.from_numpy(bias)))
    assert ours.shape == (2, 8, 8, 6)
    assert np.max(np.abs(ours - theirs)) < 1e-5


@pytest.mark.parametrize("window,strides,pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_pooling_equals_torch(window, strides, pad, torch):
    x = _images((2, 10, 10, 4))
    padding = ((pad, pad), (pad, pad))
    ours_avg = np.asarray(avg_pool(x, window, strides, padding))
    ours_max = np.asarray(max_pool(x, window, strides, padding))
    functional = torch.nn.functional
    theirs_avg = _nhwc(functional.avg_pool2d(_nchw(x), window, strides, pad))
    theirs_max = _nhwc(functional.max_pool2d(_nchw(x), window, strides, pad))
    assert np.max(np.abs(ours_avg - theirs_avg)) < 1e-5
    assert np.max(np.abs(ours_max - theirs_max)) < 1e-5


def test_channel_shuffle_equals_torch_and_mixes_groups(torch):
    x = _images((1, 2, 2, 6))
    t = _nchw(x)
    theirs = _nhwc(t.view(1, 3, 2, 2, 2).transpose(1, 2).reshape(1, 6, 2, 2))
    ours = np.asarray(channel_shuffle(x, 3))
    np.testing.assert_array_equal(ours, theirs)
    # channels (g0: 0 1 | g1: 2 3 | g2: 4 5) -> 0 2 4 1 3 5
    order = np.asarray(channel_shuffle(jnp.arange(6.0).reshape(1, 1, 1, 6), 3))
    np.testing.assert_array_equal(order.ravel(), [0, 2, 4, 1, 3, 5])


def test_separable_conv_is_depthwise_then_pointwise():
    x = _images((2, 6, 6, 4))
    layer = SeparableConv(8, 3, use_bias=False)
    params = jax.jit(layer.init)(jax.random.key(0), x)["params"]
    assert params["depthwise"]["kernel"].shape == (3, 3, 1, 4)
    assert params["pointwise"]["kernel"].shape == (1, 1, 4, 8)
    dw = conv2d(x, params["depthwise"]["kernel"], padding="SAME", groups=4)
    expected = conv2d(dw, params["pointwise"]["kernel"])
    out = jax.jit(layer.apply)({"params": params}, x)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_inverted_residual_shapes_and_residual():
    x = jnp.asarray(_images((2, 8, 8, 16)))
    same = InvertedResidual(16, 6, 1, norm="none")
    params = jax.eval_shape(same.init, jax.random.key(0), x)["params"]
    assert params["expand"]["kernel"].shape == (1, 1, 16, 96)
    # zero projection: the block is the identity only if it adds its input
    zero = jax.tree.map(lambda p: jnp.zeros(p.shape, p.dtype), params)
    np.testing.assert_allclose(jax.jit(same.apply)({"params": zero}, x), x)
    down = InvertedResidual(24, 6, 2, norm="batch")
    variables = jax.eval_shape(down.init, jax.random.key(0), x)
    assert jax.eval_shape(down.apply, variables, x).shape == (2, 4, 4, 24)
    assert "batch_stats" in variables
    no_expand = InvertedResidual(8, 1, 1)
    assert (
        "expand" not in jax.eval_shape(no_expand.init, jax.random.key(0), x)["params"]
    )


def test_shuffle_unit_add_and_concat():
    x = jnp.asarray(_images((2, 8, 8, 24)))
    down = ShuffleUnit(48, groups=3, strides=2, norm="none")
    variables = jax.jit(down.init)(jax.random.key(0), x)
    y = jax.jit(down.apply)(variables, x)
    assert y.shape == (2, 4, 4, 48)
    # the first 24 channels are ReLU(avg_pool(x)): the concat shortcut
    pooled = avg_pool(x, 3, 2, ((1, 1), (1, 1)))
    np.testing.assert_allclose(y[..., :24], jax.nn.relu(pooled), atol=1e-6)
    same = ShuffleUnit(24, groups=3, strides=1)
    variables = jax.eval_shape(same.init, jax.random.key(0), x)
    assert jax.eval_shape(same.apply, variables, x).shape == x.shape


def test_global_avg_pool_closed_form():
    # x[n, i, j, c] = 100 n + 10 c + (5 i + j): the mean over a 4x5 map of
    # 0..19 is 9.5, so the pooled value is 100 n + 10 c + 9.5.
    n, i, j, c = np.meshgrid(*map(np.arange, (3, 4, 5, 6)), indexing="ij")
    x = (100 * n + 10 * c + 5 * i + j).astype(np.float32)
    expected = 100 * np.arange(3)[:, None] + 10 * np.arange(6)[None, :] + 9.5
    np.testing.assert_array_equal(GlobalAvgPool().apply({}, jnp.asarray(x)), expected)


def test_global_avg_pool_equals_torch_adaptive_avg_pool(torch):
    x = _images((3, 4, 5, 6))
    theirs = torch.nn.AdaptiveAvgPool2d(1)(_nchw(x)).numpy()[:, :, 0, 0]
    np.testing.assert_allclose(GlobalAvgPool().apply({}, x), theirs, rtol=1e-6)


def test_inverted_residual_projection_is_linear():
    # The linear bottleneck (Sandler et al. 2018): no ReLU6 after the 1x1
    # projection, so the output is W_p h + b_p of the depthwise stage's
    # activations h and takes negative values (a ReLU6 would clip them).
    x = jnp.asarray(_images((2, 6, 6, 8)))
    block = InvertedResidual(12, 6, 2, norm="none")  # stride 2: no residual
    params = jax.jit(block.init)(jax.random.key(0), x)["params"]
    out, state = jax.jit(
        lambda p, x: block.apply({"params": p}, x, capture_intermediates=True)
    )(params, x)
    hidden = jax.nn.relu6(state["intermediates"]["depthwise"]["__call__"][0])
    project = params["project"]
    expected = conv2d(hidden, project["kernel"], project["bias"])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert float(jnp.min(out)) < -0.1


def _numpy_shuffle(x: np.ndarray, groups: int) -> np.ndarray:
    """Channel shuffle by its definition, with loops.

    Output channel ``k G + g`` is input channel ``g (C/G) + k``: channel ``k``
    of group ``g``.
    """
    c = x.shape[-1]
    out = np.empty_like(x)
    for g in range(groups):
        for k in range(c // groups):
            out[..., k * groups + g] = x[..., g * (c // groups) + k]
    return out


def test_shuffle_unit_shuffles_between_the_group_convs():
    # Zhang et al. 2018, Fig. 2: GConv 1x1 -> BN ReLU -> channel shuffle ->
    # DWConv 3x3. The depthwise conv must receive the shuffled activations.
    x = jnp.asarray(_images((2, 6, 6, 24)))
    unit = ShuffleUnit(24, groups=3, strides=1, norm="none")
    variables = jax.jit(unit.init)(jax.random.key(0), x)
    seen = {}

    def record(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__":
            seen[context.module.name] = (args[0], out)
        return out

    with nn.intercept_methods(record):
        unit.apply(variables, x)
    compressed = np.asarray(jax.nn.relu(seen["compress"][1]))  # (2, 6, 6, 6)
    depthwise_input = np.asarray(seen["depthwise"][0])
    expected = _numpy_shuffle(compressed, 3)
    np.testing.assert_array_equal(depthwise_input, expected)
    assert not np.array_equal(expected, compressed)  # a real permutation
    np.testing.assert_array_equal(np.asarray(channel_shuffle(compressed, 3)), expected)


BAD_BLOCK_SIZES = {
    "GroupConv features": (lambda: GroupConv(0), "`features`"),
    "GroupConv kernel": (lambda: GroupConv(8, kernel_size=0), "`kernel_size`"),
    "GroupConv strides": (lambda: GroupConv(8, strides=0), "`strides`"),
    "GroupConv groups": (lambda: GroupConv(8, groups=-2), "`groups`"),
    "SeparableConv kernel": (lambda: SeparableConv(8, (3, 0)), "`kernel_size`"),
    "SeparableConv strides": (lambda: SeparableConv(8, strides=-1), "`strides`"),
    "InvertedResidual expansion": (
        lambda: InvertedResidual(8, expansion=0),
        "`expansion`",
    ),
    "InvertedResidual strides": (lambda: InvertedResidual(8, strides=0), "`strides`"),
    "ShuffleUnit features": (lambda: ShuffleUnit(0), "`features`"),
    "ShuffleUnit groups": (lambda: ShuffleUnit(24, groups=0), "`groups`"),
    "ShuffleUnit strides": (lambda: ShuffleUnit(24, strides=3), "`strides`"),
    "ShuffleNetV1 width": (
        lambda: ShuffleNetV1(width_multiplier=-1.0),
        "`width_multiplier`",
    ),
    "ShuffleNetV1 groups": (lambda: ShuffleNetV1(groups=0), "`groups`"),
    "ShuffleNetV1 stages": (
        lambda: ShuffleNetV1(stage_channels=(0, 48), stage_repeats=(1, 1)),
        "`stage_channels`",
    ),
    "MobileNetV2 width": (
        lambda: MobileNetV2(width_multiplier=float("inf")),
        "`width_multiplier`",
    ),
    "MobileNetV2 settings": (
        lambda: MobileNetV2(settings=((6, 0, 1, 1),)),
        r"`settings\[0\] channels c`",
    ),
    "MobileNetV2 stem": (lambda: MobileNetV2(stem_strides=0), "`stem_strides`"),
    "mobilenet image size": (lambda: mobilenet_v2_mnist(image_size=0), "`image_size`"),
    "shufflenet image size": (
        lambda: shufflenet_v1_mnist(image_size=-8),
        "`image_size`",
    ),
    "make_divisible": (lambda: make_divisible(10, 0), "`divisor`"),
    "max_pool": (lambda: max_pool(jnp.ones((1, 4, 4, 1)), 0), "`window`"),
    "avg_pool": (lambda: avg_pool(jnp.ones((1, 4, 4, 1)), 2, 0), "`strides`"),
}


@pytest.mark.parametrize("case", sorted(BAD_BLOCK_SIZES))
def test_sizes_below_one_are_refused_by_name(case):
    build, name = BAD_BLOCK_SIZES[case]
    with pytest.raises(ValueError, match=name):
        build()


RANK_3 = jnp.ones((4, 4, 6))


@pytest.mark.parametrize(
    "owner, call",
    [
        ("SeparableConv", lambda: SeparableConv(4).init(jax.random.key(0), RANK_3)),
        ("GroupConv", lambda: GroupConv(4).init(jax.random.key(0), RANK_3)),
        (
            "InvertedResidual",
            lambda: InvertedResidual(4).init(jax.random.key(0), RANK_3),
        ),
        ("ShuffleUnit", lambda: ShuffleUnit(6).init(jax.random.key(0), RANK_3)),
        ("channel_shuffle", lambda: channel_shuffle(RANK_3, 2)),
        ("GlobalAvgPool", lambda: GlobalAvgPool().apply({}, RANK_3)),
    ],
)
def test_wrong_rank_is_refused_clearly(owner, call):
    with pytest.raises(ValueError, match=rf"`x` of {owner} must have shape .*NHWC"):
        call()


def test_bad_inputs():
    x = jnp.ones((1, 4, 4, 6))
    with pytest.raises(ValueError, match="must divide"):
        GroupConv(8, 1, groups=4).init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="must divide"):
        GroupConv(8, 1, groups=3).init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="must divide the channels C=6"):
        channel_shuffle(x, 4)
    with pytest.raises(ValueError, match="must equal the input channels 6"):
        ShuffleUnit(12, 3, strides=1).init(jax.random.key(0), x)
    # the user's width (48) and groups (5), not an internal bottleneck width
    with pytest.raises(ValueError, match=r"ShuffleUnit\(features=48, groups=5\)"):
        ShuffleUnit(48, groups=5, strides=2).init(
            jax.random.key(0), jnp.ones((1, 8, 8, 24))
        )
    with pytest.raises(ValueError, match="NHWC"):
        check_images(jnp.ones((4, 4, 1)))
    with pytest.raises(ValueError, match=r"\('batch', 28, 28, 1\); got \(2, 32"):
        check_images(jnp.ones((2, 32, 32, 1)), height=28, width=28, channels=1)
    with pytest.raises(ValueError, match="NaN"):
        check_images(jnp.full((1, 2, 2, 1), jnp.nan))
    with pytest.raises(TypeError, match="floating"):
        check_images(np.ones((1, 2, 2, 1), np.int32))
    with pytest.raises(ValueError, match="`norm`"):
        InvertedResidual(6, norm="instance")
