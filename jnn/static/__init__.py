"""Static (shallow) networks, curriculum S0-S9.

Public API (this issue: S1-S3, the MLP trained by back-propagation):
  MLP                      Flax Linen multilayer perceptron with S3 remedies
  kernel_initializer       "lecun" | "xavier" | "he" | scale | callable
  layer_gradient_norms     per-layer ||dE/dW||, a grad_metrics hook
  initial_gradient_norms   per-layer gradient norms at initialisation
  seed_spread              final errors of many seeds trained in one vmap
  compare, mlp_model, rbf_model, pnn_model, prbf_model
                           S0: errors, sizes, times; Occam's choice; No Free Lunch
  kmeans, kmeans_fit, kmeans_predict
                           S9: Lloyd k-means learner; n_init restarts in one vmap
  rbf_fit, rbf_predict     S8/S9: two-stage RBF network (k-means, widths, ridge/LMS)
  RBFNet, rbf_gradient_learner  S8: end-to-end gradient-trained RBF network
  som, som_batch, som_fit, som_predict
                           S1: Kohonen SOM (online/batch learners, MiniSom semantics)
  som_fit_seeds            S1: many SOM seeds in one vmapped call
  som_ring, SOMRingResult  S1: Angeniol's self-organising ring for the TSP
  quantization_error, topographic_error, u_matrix, hit_map, best_matching_unit
                           S1: SOM metrics (MiniSom's definitions)
  gmm_em, gmm_fit, gmm_predict, gmm_predict_proba
                           S6: EM for Gaussian mixtures, with missing data (NaN)
  gmm_log_likelihood       S6: mean/per-row log-likelihood, NaN marginalised out
  vb_gmm, vb_gmm_fit, vb_gmm_predict, vb_gmm_predict_proba
                           S7: variational Bayes mixture, pruned components
  prbf, prbf_fit, prbf_predict_proba, prbf_predict
                           S5: probabilistic RBF network (shared kernels, EM)
  pnn, pnn_fit, pnn_predict_proba, pnn_predict, pnn_select_sigma
                           S5: Specht's probabilistic neural network (Parzen)
  expected_calibration_error, reliability_diagram   S5: calibration (Guo et al.)

One API for the fits (k-means, GMM, VB, PRBF, RBF, PNN, SOM):
  * ``*_fit(x, size, *, key, ...)`` for unsupervised fits and
    ``*_fit(x, y, size, *, key, ...)`` for supervised ones: the model size
    (``n_clusters``, ``n_components``, ``n_kernels``, ``n_centers``, the SOM
    ``grid``) follows the data positionally; PNN has no size (one pattern per
    example). Everything else is keyword-only: ``key``, ``init``, ``tol``,
    ``max_iter`` (a cap, with early stopping by ``tol``), ``n_init``.
  * Every fit returns a NamedTuple with the model's fields, ``params`` (the
    bundled model), ``iterations``, ``converged`` and ``history``.
  * Every predictor is ``*_predict(params, x)`` (and ``*_predict_proba``
    for the probabilistic models) and takes the fit's result or its
    ``params``.
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.static.backprop.calibration import (
    ReliabilityDiagram,
    expected_calibration_error,
    reliability_diagram,
)
from jnn.static.backprop.diagnostics import (
    SeedSpread,
    initial_gradient_norms,
    layer_gradient_norms,
    seed_spread,
)
from jnn.static.backprop.mlp import ACTIVATIONS, MLP, kernel_initializer
from jnn.static.comparison import (
    Comparison,
    Fitted,
    compare,
    mlp_model,
    pnn_model,
    prbf_model,
    rbf_model,
)
from jnn.static.maps.som import SOMState, som, som_batch
from jnn.static.maps.som_fit import SOMResult, som_fit, som_fit_seeds, som_predict
from jnn.static.maps.som_metrics import (
    DECAYS,
    best_matching_unit,
    grid_coordinates,
    hit_map,
    initial_weights,
    neighborhood,
    quantization_error,
    topographic_error,
    u_matrix,
)
from jnn.static.maps.som_ring import SOMRingResult, som_ring
from jnn.static.mixtures.kmeans import (
    KMeansResult,
    KMeansState,
    assign_clusters,
    kmeans,
    kmeans_convergence,
    kmeans_fit,
    kmeans_plus_plus,
    lloyd_step,
)
from jnn.static.mixtures.mixture import GMMParams, GMMResult, gmm_em, gmm_fit
from jnn.static.mixtures.predict import (
    gmm_log_likelihood,
    gmm_predict,
    gmm_predict_proba,
    kmeans_predict,
    vb_gmm_predict,
    vb_gmm_predict_proba,
)
from jnn.static.mixtures.vb import VBState, vb_gmm
from jnn.static.mixtures.vb_fit import VBResult, vb_gmm_fit
from jnn.static.radial.output_layer import LMSState, lms_learner, ridge_weights
from jnn.static.radial.pnn import (
    PNNResult,
    PNNState,
    SigmaSelection,
    pnn,
    pnn_fit,
    pnn_predict,
    pnn_predict_proba,
    pnn_select_sigma,
)
from jnn.static.radial.prbf import PRBFParams, prbf
from jnn.static.radial.prbf_fit import (
    PRBFResult,
    prbf_fit,
    prbf_predict,
    prbf_predict_proba,
)
from jnn.static.radial.rbf import (
    RBFParams,
    RBFResult,
    rbf_classify,
    rbf_fit,
    rbf_predict,
)
from jnn.static.radial.rbf_net import (
    RBFLayer,
    RBFNet,
    rbf_from_net,
    rbf_gradient_learner,
    rbf_net_params,
)
from jnn.static.radial.units import gaussian_activations, rbf_widths

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
    "pnn_model",
    "prbf_model",
    "rbf_model",
    "seed_spread",
    "KMeansResult",
    "KMeansState",
    "assign_clusters",
    "kmeans",
    "kmeans_convergence",
    "kmeans_fit",
    "kmeans_plus_plus",
    "kmeans_predict",
    "lloyd_step",
    "LMSState",
    "RBFLayer",
    "RBFNet",
    "RBFParams",
    "RBFResult",
    "gaussian_activations",
    "lms_learner",
    "rbf_classify",
    "rbf_fit",
    "rbf_from_net",
    "rbf_gradient_learner",
    "rbf_net_params",
    "rbf_predict",
    "rbf_widths",
    "ridge_weights",
    "DECAYS",
    "SOMResult",
    "SOMRingResult",
    "SOMState",
    "best_matching_unit",
    "grid_coordinates",
    "hit_map",
    "initial_weights",
    "neighborhood",
    "quantization_error",
    "som",
    "som_batch",
    "som_fit",
    "som_fit_seeds",
    "som_predict",
    "som_ring",
    "topographic_error",
    "u_matrix",
    "GMMParams",
    "GMMResult",
    "gmm_em",
    "gmm_fit",
    "gmm_log_likelihood",
    "gmm_predict",
    "gmm_predict_proba",
    "VBResult",
    "VBState",
    "vb_gmm",
    "vb_gmm_fit",
    "vb_gmm_predict",
    "vb_gmm_predict_proba",
    "ReliabilityDiagram",
    "expected_calibration_error",
    "reliability_diagram",
    "PNNResult",
    "PNNState",
    "SigmaSelection",
    "pnn",
    "pnn_fit",
    "pnn_predict",
    "pnn_predict_proba",
    "pnn_select_sigma",
    "PRBFParams",
    "PRBFResult",
    "prbf",
    "prbf_fit",
    "prbf_predict",
    "prbf_predict_proba",
]
