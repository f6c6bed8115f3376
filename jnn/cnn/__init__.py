"""Convolutional networks, curriculum C1-C2.

Public API:
  LeNet5(variant, c3, num_classes)      LeCun et al. 1998 (paper / modern)
  C3_TABLE, ConnectionTableConv         the paper's C3 partial connections
  Subsampling, squash                   trainable 2x2 subsampling, A tanh(S a)
  pad_mnist(x), parameter_counts(p)     28->32 padding; params per layer
"""

__all__: list[str] = []

from jnn.cnn.lenet import (  # noqa: E402
    C3_TABLE,
    ConnectionTableConv,
    LeNet5,
    Subsampling,
    pad_mnist,
    parameter_counts,
    squash,
)

__all__ += [
    "C3_TABLE",
    "ConnectionTableConv",
    "LeNet5",
    "Subsampling",
    "pad_mnist",
    "parameter_counts",
    "squash",
]
