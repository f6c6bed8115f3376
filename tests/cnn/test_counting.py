"""Tests of jnn.cnn.count: the curriculum's formulas, reference counts, XLA."""

from fractions import Fraction

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.cnn import (
    GroupConv,
    LeNet5,
    MobileNetV2,
    SeparableConv,
    ShuffleNetV1,
    count,
    format_report,
    mobilenet_v2_mnist,
    shufflenet_v1_mnist,
)


@pytest.mark.parametrize(
    "c,d,k,size", [(3, 16, 3, 8), (8, 32, 5, 7), (16, 24, 3, 14), (5, 7, 7, 9)]
)
def test_separable_over_standard_is_one_over_d_plus_one_over_k2(c, d, k, size):
    shape = (1, size, size, c)
    standard = count(GroupConv(d, k, use_bias=False), shape)
    separable = count(SeparableConv(d, k, use_bias=False), shape)
    hw = size * size
    assert standard.macs == k * k * c * d * hw
    assert [layer.kind for layer in separable.layers] == ["depthwise", "pointwise"]
    assert [layer.macs for layer in separable.layers] == [k * k * c * hw, c * d * hw]
    ratio = Fraction(separable.macs, standard.macs)
    assert ratio == Fraction(1, d) + Fraction(1, k * k)
    assert Fraction(separable.params, standard.params) == ratio  # same for weights


@pytest.mark.parametrize("groups", [1, 2, 4, 8])
def test_group_conv_divides_params_and_macs_by_groups(groups):
    shape = (2, 6, 6, 16)
    full = count(GroupConv(32, 3, use_bias=False), shape)
    grouped = count(GroupConv(32, 3, groups, use_bias=False), shape)
    assert grouped.params * groups == full.params == 3 * 3 * 16 * 32
    assert grouped.macs * groups == full.macs == 2 * 3 * 3 * 16 * 32 * 36
    assert grouped.layers[0].kind == ("conv" if groups == 1 else "group_conv")


def test_reference_parameter_counts_of_the_imagenet_networks():
    mobilenet = count(MobileNetV2(), (1, 224, 224, 3))
    assert mobilenet.params == 3_504_872  # torchvision mobilenet_v2
    assert mobilenet.macs == 300_774_272  # the paper's Table 4: 300 M
    shufflenet = count(ShuffleNetV1(groups=3), (1, 224, 224, 3))
    assert shufflenet.params == 1_865_728  # ~1.87 M; Megvii (no FC bias) -1,000
    assert shufflenet.macs == 137_460_672  # the paper's Table 2: 140 MFLOPs
    # the per-layer parameters add up (BatchNorm scale+bias are "norm" layers)
    assert sum(layer.params for layer in mobilenet.layers) == mobilenet.params
    kinds = {layer.kind for layer in mobilenet.layers}
    assert kinds == {"conv", "pointwise", "depthwise", "norm", "dense"}
    assert "group_conv" in {layer.kind for layer in shufflenet.layers}


@pytest.mark.parametrize(
    "variant,c3,params,c3_macs",
    [
        ("paper", "table", 60_850, 150_000),
        ("paper", "full", 61_750, 240_000),
        ("modern", "table", 60_806, 150_000),
        ("modern", "full", 61_706, 240_000),
    ],
)
@pytest.mark.parametrize("conv_path", ["xla", "fast"])
def test_lenet5_counts(variant, c3, params, c3_macs, conv_path):
    report = count(LeNet5(variant=variant, c3=c3, conv_path=conv_path), (1, 32, 32, 1))
    layers = {layer.name: layer for layer in report.layers}
    # LeCun et al. 1998: C1 156, C3 1,516 (table) or 2,416, C5 48,120, F6 10,164
    assert layers["C1"].params == 156 and layers["C1"].macs == 5 * 5 * 6 * 28 * 28
    assert layers["C3"].params == (1_516 if c3 == "table" else 2_416)
    assert layers["C3"].macs == c3_macs
    assert layers["C5"].params == 48_120 and layers["C5"].macs == 48_000
    assert layers["F6"].params == 10_164 and layers["F6"].macs == 10_080
    assert report.params == params
    assert report.macs == 117_600 + c3_macs + 48_000 + 10_080 + 840


def test_masked_conv_counts_connected_weights_only():
    mask = np.zeros((3, 3, 4, 2), bool)
    mask[:, :, :2, 0] = mask[:, :, 2:, 1] = True  # half the connections
    report = count(nn.Conv(2, (3, 3), padding="VALID", mask=mask), (1, 5, 5, 4))
    assert report.params == 36 + 2
    assert report.macs == 36 * 3 * 3


def _xla_flops(model, shape):
    # Lowering needs only shapes: abstract variables, no (eager) init.
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    variables = jax.eval_shape(model.init, jax.random.key(0), x)
    compiled = jax.jit(model.apply).lower(variables, x).compile()
    analysis = compiled.cost_analysis()
    analysis = analysis[0] if isinstance(analysis, list) else analysis
    return analysis["flops"]


def test_agrees_with_xla_cost_analysis():
    # exact where XLA has no extra work: VALID conv and dense without bias
    conv = nn.Conv(16, (3, 3), padding="VALID", use_bias=False)
    assert _xla_flops(conv, (2, 10, 10, 8)) == 2 * count(conv, (2, 10, 10, 8)).macs
    dense = nn.Dense(7, use_bias=False)
    assert _xla_flops(dense, (3, 5)) == 2 * count(dense, (3, 5)).macs
    # whole networks: within [0.85, 1.4] x 2 MACs. Below 1: XLA skips the
    # zero-padding taps at the borders, which the formula counts; above 1:
    # element-wise work (biases, activations, pooling, norms).
    for model, shape in [
        (mobilenet_v2_mnist(), (1, 28, 28, 1)),
        (shufflenet_v1_mnist(), (1, 28, 28, 1)),
    ]:
        ratio = _xla_flops(model, shape) / (2 * count(model, shape).macs)
        assert 0.85 <= ratio <= 1.4, (type(model).__name__, ratio)
    # LeNet-5's fast CPU path computes C1/S2 and C3/S4 as pooling-phase
    # products: 4 D x (k+1)^2 C weights per pooled position instead of k^2 C D
    # per conv output (1.44x), C3's table as a dense kernel; then C5, F6, output.
    phase_macs = 24 * 36 * 14 * 14 + 64 * 216 * 5 * 5 + 48_000 + 10_080 + 840
    assert count(LeNet5(conv_path="fast"), (1, 32, 32, 1)).macs == 326_520
    flops = _xla_flops(LeNet5(conv_path="fast"), (1, 32, 32, 1))
    assert 2 * phase_macs <= flops <= 1.1 * 2 * phase_macs, flops / (2 * phase_macs)


def test_given_variables_give_the_same_count_and_top_level_layer_is_named():
    model, shape = shufflenet_v1_mnist(), (3, 28, 28, 1)
    variables = jax.jit(model.init)(jax.random.key(1), jnp.zeros(shape))
    assert count(model, shape, variables=variables) == count(model, shape)
    assert count(nn.Dense(3), (1, 4)).layers[0].name == "Dense"


def test_format_report_lists_layers_and_total():
    text = format_report(count(LeNet5(), (1, 32, 32, 1)))
    assert "C3" in text and "326,520" in text and "60,850" in text


def test_bad_inputs():
    with pytest.raises(TypeError, match="flax.linen Module"):
        count(lambda x: x, (1, 28, 28, 1))
    with pytest.raises(ValueError, match="input_shape"):
        count(LeNet5(), (1, 32, 0, 1))
    with pytest.raises(ValueError, match="input_shape"):
        count(LeNet5(), (1, 32.0, 32, 1))
    with pytest.raises(ValueError, match="channels"):
        count(MobileNetV2(), (1, 32, 32, 1))
