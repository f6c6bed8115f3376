"""Generative models, curriculum Gen: BM, RBM, DBN, GAN, VAE, diffusion.

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
  gan: gan_learner(generator, discriminator, *, latent_size, loss, penalty,
  clip, n_critic), wgan, wgan_gp, MLPGenerator, MLPDiscriminator,
  DCGANGenerator, DCGANDiscriminator, dcgan_sizes, the losses
  (discriminator_loss, non_saturating_generator_loss, minimax_generator_loss,
  wasserstein_critic_loss, wasserstein_generator_loss, gradient_penalty,
  clip_weights), ring_scores (and, in jnn.generative.gan: generate, ...)
                                         Gen3: GAN, DCGAN, WGAN, WGAN-GP
  diffusion: linear_schedule, cosine_schedule, UNet, simple_loss,
  ancestral_sample, ddim_sample, probability_flow_sample, forward_sample, ...
                                         Gen4: DDPM (Ho et al. 2020), DDIM (Song
                                         et al. 2021), the probability-flow ODE
                                         on Diffrax (Song et al. 2021)
  vae: mlp_vae(latents, hidden, features, likelihood), VAE, GaussianEncoder,
  BernoulliDecoder, GaussianDecoder, negative_elbo(model),
  importance_weighted_bound(model, params, x, key, k), latent_interpolation
  (and, in jnn.generative.vae: elbo_terms, gaussian_kl, sample_prior,
  reconstruct, interpolate, ...)         Gen4: VAE (Kingma & Welling 2014)
                                         and IWAE-K (Burda et al. 2016)
  mnist_fid(samples, reference), real_floor(n), sample_quality(samples, labels),
  mnist_scores, mode_coverage, frechet_distance, feature_statistics,
  load_mnist_classifier(cache_dir)       the MNIST-FID yardstick shared by every
                                         generative model (jnn.generative.evaluation)
  BoltzmannMachine(weights, bias), init_boltzmann_machine, check_boltzmann_machine,
  check_binary                           Gen1: fully connected binary units,
                                         visible first (Ackley et al. 1985)
  boltzmann_energy(bm, s), local_field(bm, s)
                                         E(s) = -1/2 s.W s - b.s, energy gaps
  sequential_gibbs(bm, key, start, sweeps, n_clamped, random_order),
  block_gibbs(bm, key, start, sweeps, blocks), gibbs_sweeps
                                         compiled Gibbs samplers
  exact_distribution, boltzmann_log_partition, boltzmann_log_likelihood,
  exact_statistics, statistics_gradient, log_likelihood_gradient,
  PhaseStatistics, MAX_EXACT_UNITS       exact sums over 2^N states
  boltzmann_learning(H, positive, negative, k, ...), BoltzmannState,
  sampled_statistics                     the AHS rule as a jnn.train learner
  DBN, PretrainResult, pretrain_dbn(x, sizes, key, epochs, labels, ...),
  check_dbn, dbn_layer_sizes, dbn_label_count
                                         Gen2: greedy layer-wise DBN (Hinton,
                                         Osindero & Teh 2006)
  dbn_up_pass, dbn_down_pass, dbn_generate(dbn, key, n, sweeps, labels, start)
                                         recognition, generation
  up_down(dbn, learning_rate, k), UpDownState, dbn_log_likelihood,
  MAX_EXACT_PAIR                         up-down (wake-sleep) fine-tuning;
                                         exact log p(x) of tiny DBNs
  dbn_predict, DBNClassifier, dbn_classifier(dbn, n_outputs, key)
                                         generative classifier; the stack as
                                         an MLP for gradient_learner
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.generative import diffusion, evaluation, gan, vae
from jnn.generative.boltzmann.dbn import (
    DBN,
    PretrainResult,
    check_dbn,
    dbn_down_pass,
    dbn_generate,
    dbn_label_count,
    dbn_layer_sizes,
    dbn_up_pass,
    pretrain_dbn,
)
from jnn.generative.boltzmann.dbn_classifier import (
    DBNClassifier,
    dbn_classifier,
    dbn_predict,
)
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
from jnn.generative.boltzmann.machine import (
    BoltzmannMachine,
    block_gibbs,
    boltzmann_energy,
    check_binary,
    check_boltzmann_machine,
    gibbs_sweeps,
    init_boltzmann_machine,
    local_field,
    sequential_gibbs,
)
from jnn.generative.boltzmann.machine_exact import (
    MAX_EXACT_UNITS,
    PhaseStatistics,
    boltzmann_log_likelihood,
    boltzmann_log_partition,
    exact_distribution,
    exact_statistics,
    log_likelihood_gradient,
    statistics_gradient,
)
from jnn.generative.boltzmann.machine_learning import (
    BoltzmannState,
    boltzmann_learning,
    sampled_statistics,
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
from jnn.generative.boltzmann.up_down import (
    MAX_EXACT_PAIR,
    UpDownState,
    dbn_log_likelihood,
    up_down,
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
from jnn.generative.gan import (
    PENALTY_WEIGHT,
    DCGANDiscriminator,
    DCGANGenerator,
    MLPDiscriminator,
    MLPGenerator,
    RingScores,
    clip_weights,
    dcgan_sizes,
    discriminator_loss,
    gan_learner,
    gradient_penalty,
    minimax_generator_loss,
    non_saturating_generator_loss,
    ring_scores,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
    wgan,
    wgan_gp,
)
from jnn.generative.vae import (
    VAE,
    BernoulliDecoder,
    GaussianDecoder,
    GaussianEncoder,
    importance_weighted_bound,
    latent_interpolation,
    mlp_vae,
    negative_elbo,
)

__all__ = [
    "DBN",
    "MAX_EXACT_HIDDEN",
    "MAX_EXACT_PAIR",
    "MAX_EXACT_UNITS",
    "PAPER_SCHEDULE",
    "PENALTY_WEIGHT",
    "RBM",
    "VAE",
    "AISEstimate",
    "BernoulliDecoder",
    "BoltzmannMachine",
    "BoltzmannState",
    "CDState",
    "DBNClassifier",
    "DCGANDiscriminator",
    "DCGANGenerator",
    "GaussianDecoder",
    "GaussianEncoder",
    "GaussianRBM",
    "MLPDiscriminator",
    "MLPGenerator",
    "MnistScores",
    "PhaseStatistics",
    "PretrainResult",
    "RingScores",
    "SampleQuality",
    "UpDownState",
    "annealed_importance_sampling",
    "annealing_schedule",
    "base_rate_bias",
    "binarize",
    "block_gibbs",
    "boltzmann_energy",
    "boltzmann_learning",
    "boltzmann_log_likelihood",
    "boltzmann_log_partition",
    "check_binary",
    "check_boltzmann_machine",
    "check_dbn",
    "check_rbm",
    "check_visible",
    "clip_weights",
    "contrastive_divergence",
    "dbn_classifier",
    "dbn_down_pass",
    "dbn_generate",
    "dbn_label_count",
    "dbn_layer_sizes",
    "dbn_log_likelihood",
    "dbn_predict",
    "dbn_up_pass",
    "dcgan_sizes",
    "diffusion",
    "discriminator_loss",
    "energy",
    "evaluation",
    "exact_distribution",
    "exact_statistics",
    "feature_statistics",
    "frechet_distance",
    "free_energy",
    "free_energy_gradient",
    "gan",
    "gan_learner",
    "gibbs_chain",
    "gibbs_step",
    "gibbs_sweeps",
    "gradient_penalty",
    "hidden_input",
    "hidden_log_marginal",
    "hidden_probabilities",
    "importance_weighted_bound",
    "init_boltzmann_machine",
    "init_rbm",
    "latent_interpolation",
    "load_mnist_classifier",
    "local_field",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_partition",
    "minimax_generator_loss",
    "mlp_vae",
    "mnist_fid",
    "mnist_scores",
    "mode_coverage",
    "negative_elbo",
    "negative_samples",
    "non_saturating_generator_loss",
    "persistent_contrastive_divergence",
    "pretrain_dbn",
    "pseudo_likelihood",
    "real_floor",
    "reconstruction_error",
    "ring_scores",
    "sample",
    "sample_hidden",
    "sample_quality",
    "sample_visible",
    "sampled_statistics",
    "sequential_gibbs",
    "statistics_gradient",
    "up_down",
    "vae",
    "visible_mean",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
    "wgan",
    "wgan_gp",
]
