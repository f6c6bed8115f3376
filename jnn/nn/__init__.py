"""Common building blocks shared by the chapters (DESIGN.md: "a small ``jnn/nn/``").

* :func:`conv_fn` / :func:`conv_general_dilated`: convolutions whose kernel
  gradient is a matrix product, XLA's CPU fast path for layers trained inside
  :func:`jnn.train.fit`'s loop (:mod:`jnn.nn.conv`).
* :func:`flat_dot_general`: ``nn.Dense`` / ``nn.DenseGeneral`` on sequences as
  one 2-D matrix product, whose gradients XLA's CPU backend runs 2x faster
  (:mod:`jnn.nn.dense`).
* :class:`LayerNorm` / :func:`layer_norm`: ``nn.LayerNorm`` with a closed-form
  derivative, fewer passes over the activations on XLA's CPU backend
  (:mod:`jnn.nn.norm`).
* :class:`GroupNorm` / :func:`group_norm`: ``nn.GroupNorm`` with per-channel
  statistics first, 2x faster forward and backward on XLA's CPU backend
  (:mod:`jnn.nn.norm`).
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.nn.conv import PATHS, conv_fn, conv_general_dilated, resolve_path
from jnn.nn.conv_transpose import ConvTranspose, conv_transpose
from jnn.nn.dense import flat_dot_general
from jnn.nn.norm import GroupNorm, LayerNorm, group_norm, layer_norm

__all__ = [
    "PATHS",
    "ConvTranspose",
    "GroupNorm",
    "LayerNorm",
    "conv_fn",
    "conv_general_dilated",
    "conv_transpose",
    "flat_dot_general",
    "group_norm",
    "layer_norm",
    "resolve_path",
]
