"""Energy-based generative models, curriculum Gen: restricted Boltzmann machines.

Energy first, as in the Hopfield chapter: a model is an energy function
``E(params, v, h)``; its free energy, Gibbs conditionals, samplers, learning
rules and likelihood estimates derive from it. Parameters are NamedTuples
(pytrees) passed first to pure functions, so a deep belief net can stack them.

Public API:
  RBM(weights, visible_bias, hidden_bias), GaussianRBM(..., sigma)
                                         Bernoulli–Bernoulli / Gaussian–Bernoulli
                                         parameters (pytrees)
  init_rbm(key, V, H, visible_bias, gaussian, sigma, scale), base_rate_bias(x),
  binarize(key, x), check_rbm, check_visible
                                         construction (Hinton 2010), stochastic
                                         binarisation (Salakhutdinov & Murray 2008)
  energy(rbm, v, h), free_energy(rbm, v), hidden_input(rbm, v),
  hidden_probabilities(rbm, v), visible_mean(rbm, h)
                                         the energy and what derives from it
  sample_hidden, sample_visible, gibbs_step, gibbs_chain, sample(rbm, key,
  start, steps)                          block Gibbs sampling
  contrastive_divergence(H, k, persistent, learning_rate, momentum,
    weight_decay, n_chains, sample_last, gaussian, ...),
  persistent_contrastive_divergence(H, ...), CDState
                                         CD-k (Hinton 2002) and PCD (Tieleman
                                         2008) as jnn.train learners
  free_energy_gradient(rbm, positive, negative), negative_samples(rbm, start,
  key, k)                                the learners' two halves
  log_partition(rbm), hidden_log_marginal, MAX_EXACT_HIDDEN
                                         exact log Z over 2^H hidden states
  annealed_importance_sampling(rbm, key, base_bias, n_chains, betas),
  AISEstimate, annealing_schedule(n), PAPER_SCHEDULE
                                         AIS (Salakhutdinov & Murray 2008)
  log_likelihood(rbm, v, log_z), pseudo_likelihood(rbm, v, key),
  reconstruction_error(rbm, v, key)      nats per example and stand-ins
  mnist_fid(samples, reference), real_floor(n), sample_quality(samples, labels),
  mnist_scores, mode_coverage, frechet_distance, feature_statistics,
  load_mnist_classifier(cache_dir)       the MNIST-FID yardstick shared by every
                                         generative model (jnn.generative.evaluation)
"""

from jnn.generative import evaluation
from jnn.generative.boltzmann.learning import (
    CDState,
    contrastive_divergence,
    free_energy_gradient,
    negative_samples,
    persistent_contrastive_divergence,
)
from jnn.generative.boltzmann.likelihood import (
    MAX_EXACT_HIDDEN,
    PAPER_SCHEDULE,
    AISEstimate,
    annealed_importance_sampling,
    annealing_schedule,
    hidden_log_marginal,
    log_likelihood,
    log_partition,
    pseudo_likelihood,
    reconstruction_error,
)
from jnn.generative.boltzmann.rbm import (
    RBM,
    GaussianRBM,
    base_rate_bias,
    binarize,
    check_rbm,
    check_visible,
    energy,
    free_energy,
    gibbs_chain,
    gibbs_step,
    hidden_input,
    hidden_probabilities,
    init_rbm,
    sample,
    sample_hidden,
    sample_visible,
    visible_mean,
)
from jnn.generative.evaluation import (
    MnistScores,
    SampleQuality,
    feature_statistics,
    frechet_distance,
    load_mnist_classifier,
    mnist_fid,
    mnist_scores,
    mode_coverage,
    real_floor,
    sample_quality,
)

__all__ = [
    "MnistScores",
    "SampleQuality",
    "evaluation",
    "feature_statistics",
    "frechet_distance",
    "load_mnist_classifier",
    "mnist_fid",
    "mnist_scores",
    "mode_coverage",
    "real_floor",
    "sample_quality",
    "MAX_EXACT_HIDDEN",
    "PAPER_SCHEDULE",
    "RBM",
    "AISEstimate",
    "CDState",
    "GaussianRBM",
    "annealed_importance_sampling",
    "annealing_schedule",
    "base_rate_bias",
    "binarize",
    "check_rbm",
    "check_visible",
    "contrastive_divergence",
    "energy",
    "free_energy",
    "free_energy_gradient",
    "gibbs_chain",
    "gibbs_step",
    "hidden_input",
    "hidden_log_marginal",
    "hidden_probabilities",
    "init_rbm",
    "log_likelihood",
    "log_partition",
    "negative_samples",
    "persistent_contrastive_divergence",
    "pseudo_likelihood",
    "reconstruction_error",
    "sample",
    "sample_hidden",
    "sample_visible",
    "visible_mean",
]
