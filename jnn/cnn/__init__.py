"""Convolutional networks, curriculum C1-C2.

Public API:
  LeNet5(variant, c3, num_classes, output, conv_path)
                                        LeCun et al. 1998 (paper / modern;
                                        reference path or the fast CPU path)
  C3_TABLE, ConnectionTableConv         the paper's C3 partial connections
  Subsampling, squash                   trainable 2x2 subsampling, A tanh(S a)
  EuclideanRBF, DIGIT_BITMAPS, rbf_map_loss
                                        the paper's RBF output and MAP loss
  pad_mnist(x), parameter_counts(p)     28->32 padding; params per layer
  random_affine(key, images, ...)       jit-compiled random affine distortions
  affine_warp, augmented_loss           bilinear warp; loss that distorts batches
  check_images, conv2d, avg_pool, max_pool
                                        NHWC checks; F = I * K + b; pooling
  SeparableConv, GroupConv, channel_shuffle, InvertedResidual, ShuffleUnit,
  GlobalAvgPool, normalization, make_divisible
                                        efficient blocks (C2)
  MobileNetV2, mobilenet_v2_mnist, separable_mnist
                                        Sandler et al. 2018 (+ small MNIST nets)
  ShuffleNetV1, shufflenet_v1_mnist     Zhang et al. 2018 (+ small MNIST net)
  count, CostReport, LayerCost, format_report
                                        params and MACs per layer
"""

__all__: list[str] = []

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.cnn.lenet.layers import (  # noqa: E402
    C3_TABLE,
    ConnectionTableConv,
    Subsampling,
    squash,
)
from jnn.cnn.lenet.model import LeNet5, pad_mnist, parameter_counts  # noqa: E402
from jnn.cnn.lenet.rbf_output import (  # noqa: E402
    DIGIT_BITMAPS,
    EuclideanRBF,
    rbf_map_loss,
)

__all__ += [
    "C3_TABLE",
    "DIGIT_BITMAPS",
    "ConnectionTableConv",
    "EuclideanRBF",
    "LeNet5",
    "Subsampling",
    "pad_mnist",
    "parameter_counts",
    "rbf_map_loss",
    "squash",
]

from jnn.cnn.checks import check_images  # noqa: E402
from jnn.cnn.counting import CostReport, LayerCost, count, format_report  # noqa: E402
from jnn.cnn.efficient.blocks import InvertedResidual, ShuffleUnit  # noqa: E402
from jnn.cnn.efficient.convs import (  # noqa: E402
    GroupConv,
    SeparableConv,
    make_divisible,
    normalization,
)
from jnn.cnn.efficient.mobilenet import (  # noqa: E402
    MobileNetV2,
    mobilenet_v2_mnist,
    separable_mnist,
)
from jnn.cnn.efficient.shufflenet import (  # noqa: E402
    ShuffleNetV1,
    shufflenet_v1_mnist,
)
from jnn.cnn.functional import channel_shuffle, conv2d  # noqa: E402
from jnn.cnn.pooling import GlobalAvgPool, avg_pool, max_pool  # noqa: E402

__all__ += [
    "CostReport",
    "GlobalAvgPool",
    "GroupConv",
    "InvertedResidual",
    "LayerCost",
    "MobileNetV2",
    "SeparableConv",
    "ShuffleNetV1",
    "ShuffleUnit",
    "avg_pool",
    "channel_shuffle",
    "check_images",
    "conv2d",
    "count",
    "format_report",
    "make_divisible",
    "max_pool",
    "mobilenet_v2_mnist",
    "normalization",
    "separable_mnist",
    "shufflenet_v1_mnist",
]

from jnn.cnn.augment import affine_warp, augmented_loss, random_affine  # noqa: E402

__all__ += ["affine_warp", "augmented_loss", "random_affine"]
