"""Hopfield networks, curriculum D1-D11.

Public API (discrete Hopfield networks, D6-D11):
  recall, Recall, RecallTrace, energy, overlap
                           compiled async/sync recall, energy, overlap (dhnn)
  hebbian, storkey, pseudo_inverse, error_correcting, repeated_learning
                           storage rules (patterns -> W)
  to_bipolar, to_binary, binary_weights
                           ±1 <-> 0/1 conventions
  dense_recall, dense_energy, DenseRecall
                           dense associative memory (Krotov & Hopfield 2016)
  modern_update, modern_recall, modern_energy, ModernRecall
                           modern Hopfield network = attention (Ramsauer et al. 2020)
  basin_size, capacity_curve, CapacityCurve, spurious_census, SpuriousCensus,
  flip_bits              basins (D9), capacity (D11), spurious states (analysis)
  random_patterns, correlated_patterns, orthogonalize, orthogonal_hebbian
                           pattern sets; orthogonalising correlated ones

Continuous Hopfield networks (D1-D5, D7):
  CHNN, chnn, energy_continuous, vector_field, simulate, output,
  state_from_output, leak_integral, reached_steady_state, final_state
                           parameters, energy, dynamics solved with Diffrax (chnn)
  tour_length, held_karp, two_opt, random_tsp, validate_distances,
  MAX_HELD_KARP_CITIES   TSP yardsticks: exact DP, 2-opt, random instances (tsp_exact)
"""

from jnn.hopfield.analysis import (
    CapacityCurve,
    SpuriousCensus,
    basin_size,
    capacity_curve,
    flip_bits,
    spurious_census,
)
from jnn.hopfield.chnn import (
    CHNN,
    chnn,
    final_state,
    leak_integral,
    output,
    reached_steady_state,
    simulate,
    state_from_output,
    vector_field,
)
from jnn.hopfield.chnn import energy as energy_continuous
from jnn.hopfield.correlated import (
    correlated_patterns,
    orthogonal_hebbian,
    orthogonalize,
    random_patterns,
)
from jnn.hopfield.dense import (
    DenseRecall,
    ModernRecall,
    dense_energy,
    dense_recall,
    modern_energy,
    modern_recall,
    modern_update,
)
from jnn.hopfield.dhnn import Recall, RecallTrace, energy, overlap, recall
from jnn.hopfield.tsp_exact import (
    MAX_HELD_KARP_CITIES,
    held_karp,
    random_tsp,
    tour_length,
    two_opt,
    validate_distances,
)
from jnn.hopfield.rules import (
    binary_weights,
    error_correcting,
    hebbian,
    pseudo_inverse,
    repeated_learning,
    storkey,
    to_binary,
    to_bipolar,
)

__all__: list[str] = []
__all__ += [
    "Recall",
    "RecallTrace",
    "binary_weights",
    "energy",
    "error_correcting",
    "hebbian",
    "overlap",
    "pseudo_inverse",
    "recall",
    "repeated_learning",
    "storkey",
    "to_binary",
    "to_bipolar",
]
__all__ += [
    "DenseRecall",
    "ModernRecall",
    "dense_energy",
    "dense_recall",
    "modern_energy",
    "modern_recall",
    "modern_update",
]
__all__ += [
    "CapacityCurve",
    "SpuriousCensus",
    "basin_size",
    "capacity_curve",
    "correlated_patterns",
    "flip_bits",
    "orthogonal_hebbian",
    "orthogonalize",
    "random_patterns",
    "spurious_census",
]
__all__ += [
    "CHNN",
    "chnn",
    "energy_continuous",
    "final_state",
    "leak_integral",
    "output",
    "reached_steady_state",
    "simulate",
    "state_from_output",
    "vector_field",
]
__all__ += [
    "MAX_HELD_KARP_CITIES",
    "held_karp",
    "random_tsp",
    "tour_length",
    "two_opt",
    "validate_distances",
]
