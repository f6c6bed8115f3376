"""Tests of jnn.cnn's layers: PyTorch equivalence, shapes, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.cnn import (
    GlobalAvgPool,
    GroupConv,
    InvertedResidual,
    SeparableConv,
    ShuffleUnit,
    avg_pool,
    channel_shuffle,
    check_images,
    conv2d,
    max_pool,
)

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _images(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _nchw(x):
    return torch.from_numpy(np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2))))


def _nhwc(t):
    return np.transpose(t.detach().numpy(), (0, 2, 3, 1))


@pytest.mark.parametrize(
    "channels,features,size,groups,strides",
    [(3, 8, 5, 1, 1), (4, 6, 3, 2, 2), (6, 6, 3, 6, 1), (6, 12, 3, 6, 2)],
    ids=["standard", "groups2-stride2", "depthwise", "depthwise-multiplier2"],
)
def test_group_conv_equals_torch_conv2d(channels, features, size, groups, strides):
    x = _images((2, 9, 9, channels))
    layer = GroupConv(features, size, groups, strides)
    kernel = layer.init(jax.random.key(1), x)["params"]["kernel"]
    bias = _images((features,), seed=3)  # non-zero bias too
    params = {"kernel": kernel, "bias": jnp.asarray(bias)}
    weight = np.transpose(np.asarray(kernel), (3, 2, 0, 1))
    ours = np.asarray(layer.apply({"params": params}, x))
    theirs = F.conv2d(
        _nchw(x),
        torch.from_numpy(np.ascontiguousarray(weight)),
        torch.from_numpy(bias),
        stride=strides,
        padding=size // 2,
        groups=groups,
    )
    assert ours.shape == _nhwc(theirs).shape
    assert np.max(np.abs(ours - _nhwc(theirs))) < 1e-5


def test_conv2d_function_equals_torch_valid_conv():
    x, kernel = _images((2, 12, 12, 3)), _images((5, 5, 3, 6), seed=1)
    bias = _images((6,), seed=2)
    ours = np.asarray(conv2d(x, kernel, bias))
    w = torch.from_numpy(np.ascontiguousarray(np.transpose(kernel, (3, 2, 0, 1))))
    theirs = _nhwc(F.conv2d(_nchw(x), w, torch.from_numpy(bias)))
    assert ours.shape == (2, 8, 8, 6)
    assert np.max(np.abs(ours - theirs)) < 1e-5


@pytest.mark.parametrize("window,strides,pad", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_pooling_equals_torch(window, strides, pad):
    x = _images((2, 10, 10, 4))
    padding = ((pad, pad), (pad, pad))
    ours_avg = np.asarray(avg_pool(x, window, strides, padding))
    ours_max = np.asarray(max_pool(x, window, strides, padding))
    theirs_avg = _nhwc(F.avg_pool2d(_nchw(x), window, strides, pad))
    theirs_max = _nhwc(F.max_pool2d(_nchw(x), window, strides, pad))
    assert np.max(np.abs(ours_avg - theirs_avg)) < 1e-5
    assert np.max(np.abs(ours_max - theirs_max)) < 1e-5


def test_channel_shuffle_equals_torch_and_mixes_groups():
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
    params = layer.init(jax.random.key(0), x)["params"]
    assert params["depthwise"]["kernel"].shape == (3, 3, 1, 4)
    assert params["pointwise"]["kernel"].shape == (1, 1, 4, 8)
    dw = conv2d(x, params["depthwise"]["kernel"], padding="SAME", groups=4)
    expected = conv2d(dw, params["pointwise"]["kernel"])
    out = layer.apply({"params": params}, x)
    np.testing.assert_allclose(out, expected, atol=1e-5)


def test_inverted_residual_shapes_and_residual():
    x = jnp.asarray(_images((2, 8, 8, 16)))
    same = InvertedResidual(16, 6, 1, norm="none")
    params = same.init(jax.random.key(0), x)["params"]
    assert params["expand"]["kernel"].shape == (1, 1, 16, 96)
    # zero projection: the block is the identity only if it adds its input
    zero = jax.tree.map(jnp.zeros_like, params)
    np.testing.assert_allclose(same.apply({"params": zero}, x), x)
    down = InvertedResidual(24, 6, 2, norm="batch")
    variables = down.init(jax.random.key(0), x)
    assert down.apply(variables, x).shape == (2, 4, 4, 24)
    assert "batch_stats" in variables
    no_expand = InvertedResidual(8, 1, 1).init(jax.random.key(0), x)["params"]
    assert "expand" not in no_expand


def test_shuffle_unit_add_and_concat():
    x = jnp.asarray(_images((2, 8, 8, 24)))
    down = ShuffleUnit(48, groups=3, strides=2, norm="none")
    variables = down.init(jax.random.key(0), x)
    y = down.apply(variables, x)
    assert y.shape == (2, 4, 4, 48)
    # the first 24 channels are ReLU(avg_pool(x)): the concat shortcut
    pooled = avg_pool(x, 3, 2, ((1, 1), (1, 1)))
    np.testing.assert_allclose(y[..., :24], jax.nn.relu(pooled), atol=1e-6)
    same = ShuffleUnit(24, groups=3, strides=1)
    assert same.apply(same.init(jax.random.key(0), x), x).shape == x.shape


def test_global_avg_pool():
    x = _images((3, 4, 5, 6))
    np.testing.assert_allclose(
        GlobalAvgPool().apply({}, x), x.mean(axis=(1, 2)), rtol=1e-6
    )


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
    with pytest.raises(ValueError, match="NHWC"):
        check_images(jnp.ones((4, 4, 1)))
    with pytest.raises(ValueError, match=r"\('batch', 28, 28, 1\); got \(2, 32"):
        check_images(jnp.ones((2, 32, 32, 1)), height=28, width=28, channels=1)
    with pytest.raises(ValueError, match="NaN"):
        check_images(jnp.full((1, 2, 2, 1), jnp.nan))
    with pytest.raises(TypeError, match="floating"):
        check_images(np.ones((1, 2, 2, 1), np.int32))
    with pytest.raises(ValueError, match="`norm`"):
        InvertedResidual(6, norm="instance").init(jax.random.key(0), x)
