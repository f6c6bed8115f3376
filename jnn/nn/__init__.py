"""Common building blocks shared by the chapters (DESIGN.md: "a small ``jnn/nn/``").

* :func:`conv_fn` / :func:`conv_general_dilated`: convolutions whose kernel
  gradient is a matrix product, XLA's CPU fast path for layers trained inside
  :func:`jnn.train.fit`'s loop (:mod:`jnn.nn.conv`).
"""

from jnn.nn.conv import (
    PATHS,
    ConvTranspose,
    conv_fn,
    conv_general_dilated,
    conv_transpose,
    resolve_path,
)

__all__ = [
    "PATHS",
    "ConvTranspose",
    "conv_fn",
    "conv_general_dilated",
    "conv_transpose",
    "resolve_path",
]
