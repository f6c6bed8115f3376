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
  flip_bits              basins (D9), capacity (D11), spurious states
                           (basins, capacity, spurious; trials)
  random_patterns, correlated_patterns, orthogonalize, orthogonal_hebbian
                           pattern sets; orthogonalising correlated ones

Continuous Hopfield networks (D1-D5, D7):
  CHNN, chnn, energy_continuous, vector_field, simulate, output,
  state_from_output, leak_integral, reached_steady_state, final_state
                           parameters, energy (chnn), dynamics solved with
                           Diffrax (simulation)
  simulate_ensemble, ensemble_vector_field
                           many starts as one solve with a shared step (ensemble)
  tour_length, held_karp, two_opt, random_tsp, validate_distances,
  MAX_HELD_KARP_CITIES   TSP yardsticks: exact DP, 2-opt, random instances (tsp_exact)
  qubo, qubo_weights, qubo_objective, brute_force_qubo, penalty, one_hot_penalty,
  solve_qubo, QUBOSolution, critical_gain, gain_schedule, MAX_BRUTE_FORCE_VARIABLES
                           problem -> energy -> weights (D5), vmapped restarts (qubo)
  max_cut, max_cut_qubo, cut_value, validate_adjacency, adc, adc_qubo, adc_decode,
  adc_target, MAX_ADC_BITS max-cut and the Tank-Hopfield A/D converter (qubo_problems)
  lyapunov_check, LyapunovReport, chnn_lyapunov
                           dV/dt = grad V . f at states, definiteness (D2, lyapunov)
  fault_tolerance, FaultTolerance
                           noisy starts -> same attractor, per noise level (D4)
  TSPNetwork, TSPResult, hopfield_tank, dense_weights, decode_tour, solve_tsp
                           Hopfield-Tank (1985) TSP network, structured O(n^3) (tsp)
  PottsTSP, potts_tsp, potts_energy, potts_critical_temperature
                           the Potts TSP network, Peterson-Soderberg (tsp_potts)
  anneal_tsp, softassign_tsp, serial_anneal_tsp, sinkhorn
                           its annealers: softassign (default, Gold-Rangarajan,
                           tsp_softassign) and the serial penalty form (tsp_potts)
  elastic_net, ElasticNetResult, ring_tours, classical_scaling
                           the elastic net, Durbin & Willshaw 1987 (elastic_net)
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.hopfield.continuous.chnn import (
    CHNN,
    chnn,
    leak_integral,
    output,
    state_from_output,
    vector_field,
)
from jnn.hopfield.continuous.chnn import energy as energy_continuous
from jnn.hopfield.continuous.ensemble import ensemble_vector_field, simulate_ensemble
from jnn.hopfield.continuous.lyapunov import (
    LyapunovReport,
    chnn_lyapunov,
    lyapunov_check,
)
from jnn.hopfield.continuous.robustness import FaultTolerance, fault_tolerance
from jnn.hopfield.continuous.simulation import (
    final_state,
    reached_steady_state,
    simulate,
)
from jnn.hopfield.discrete.basins import basin_size
from jnn.hopfield.discrete.capacity import CapacityCurve, capacity_curve
from jnn.hopfield.discrete.correlated import (
    correlated_patterns,
    orthogonal_hebbian,
    orthogonalize,
    random_patterns,
)
from jnn.hopfield.discrete.dense import (
    DenseRecall,
    ModernRecall,
    dense_energy,
    dense_recall,
    modern_energy,
    modern_recall,
    modern_update,
)
from jnn.hopfield.discrete.dhnn import Recall, RecallTrace, energy, overlap, recall
from jnn.hopfield.discrete.rules import (
    binary_weights,
    error_correcting,
    hebbian,
    pseudo_inverse,
    repeated_learning,
    storkey,
    to_binary,
    to_bipolar,
)
from jnn.hopfield.discrete.spurious import SpuriousCensus, spurious_census
from jnn.hopfield.discrete.trials import flip_bits
from jnn.hopfield.problems.elastic_net import (
    ElasticNetResult,
    classical_scaling,
    elastic_net,
    ring_tours,
)
from jnn.hopfield.problems.qubo import (
    MAX_BRUTE_FORCE_VARIABLES,
    QUBOSolution,
    brute_force_qubo,
    critical_gain,
    gain_schedule,
    one_hot_penalty,
    penalty,
    qubo,
    qubo_objective,
    qubo_weights,
    solve_qubo,
)
from jnn.hopfield.problems.qubo_problems import (
    MAX_ADC_BITS,
    adc,
    adc_decode,
    adc_qubo,
    adc_target,
    cut_value,
    max_cut,
    max_cut_qubo,
    validate_adjacency,
)
from jnn.hopfield.problems.tsp import (
    TSPNetwork,
    TSPResult,
    dense_weights,
    hopfield_tank,
)
from jnn.hopfield.problems.tsp import decode as decode_tour
from jnn.hopfield.problems.tsp import solve as solve_tsp
from jnn.hopfield.problems.tsp_exact import (
    MAX_HELD_KARP_CITIES,
    held_karp,
    random_tsp,
    tour_length,
    two_opt,
    validate_distances,
)
from jnn.hopfield.problems.tsp_potts import PottsTSP, potts_energy, potts_tsp
from jnn.hopfield.problems.tsp_potts import anneal_serial as serial_anneal_tsp
from jnn.hopfield.problems.tsp_potts import (
    critical_temperature as potts_critical_temperature,
)
from jnn.hopfield.problems.tsp_softassign import anneal as anneal_tsp
from jnn.hopfield.problems.tsp_softassign import sinkhorn
from jnn.hopfield.problems.tsp_softassign import softassign as softassign_tsp

__all__: list[str] = []
__all__ += ["ElasticNetResult", "classical_scaling", "elastic_net", "ring_tours"]
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
__all__ += [
    "MAX_BRUTE_FORCE_VARIABLES",
    "QUBOSolution",
    "brute_force_qubo",
    "critical_gain",
    "gain_schedule",
    "one_hot_penalty",
    "penalty",
    "qubo",
    "qubo_objective",
    "qubo_weights",
    "solve_qubo",
    "MAX_ADC_BITS",
    "adc",
    "adc_decode",
    "adc_qubo",
    "adc_target",
    "cut_value",
    "max_cut",
    "max_cut_qubo",
    "validate_adjacency",
]
__all__ += [
    "FaultTolerance",
    "LyapunovReport",
    "chnn_lyapunov",
    "fault_tolerance",
    "lyapunov_check",
]
__all__ += [
    "PottsTSP",
    "TSPNetwork",
    "TSPResult",
    "anneal_tsp",
    "decode_tour",
    "dense_weights",
    "hopfield_tank",
    "potts_critical_temperature",
    "potts_energy",
    "potts_tsp",
    "serial_anneal_tsp",
    "sinkhorn",
    "softassign_tsp",
    "solve_tsp",
]
__all__ += ["ensemble_vector_field", "simulate_ensemble"]
