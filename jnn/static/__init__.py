"""Static (shallow) networks, curriculum S0-S9.

Public API (this issue: S1-S3, the MLP trained by back-propagation):
  MLP                      Flax Linen multilayer perceptron with S3 remedies
  kernel_initializer       "lecun" | "xavier" | "he" | scale | callable
  layer_gradient_norms     per-layer ||dE/dW||, a grad_metrics hook
  initial_gradient_norms   per-layer gradient norms at initialisation
  seed_spread              final errors of many seeds trained in one vmap
  compare, mlp_model       S0: errors, sizes, times; Occam's choice; No Free Lunch
"""

from jnn.static.comparison import Comparison, Fitted, compare, mlp_model
from jnn.static.diagnostics import (
    SeedSpread,
    initial_gradient_norms,
    layer_gradient_norms,
    seed_spread,
)
from jnn.static.mlp import ACTIVATIONS, MLP, kernel_initializer

__all__ = [
    "ACTIVATIONS",
    "Comparison",
    "Fitted",
    "MLP",
    "compare",
    "SeedSpread",
    "initial_gradient_norms",
    "kernel_initializer",
    "layer_gradient_norms",
    "mlp_model",
    "seed_spread",
]
