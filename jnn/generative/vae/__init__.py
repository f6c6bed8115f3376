"""Variational auto-encoders, curriculum Gen4 (Kingma & Welling 2014).

A VAE is a Flax Linen module (encoder ``q(z | x)``, decoder ``p(x | z)``)
trained through :func:`jnn.train.gradient_learner` with the loss
:func:`negative_elbo`, whose reconstruction and KL terms land in the fit
history. The importance-weighted bound (Burda et al. 2016) estimates the test
log-likelihood; latents interpolate linearly or spherically.

Public API:
  mlp_vae(latents, hidden, features, likelihood, learned_variance, variance),
  VAE(encoder, decoder), GaussianEncoder(latents, hidden), VAEOutput,
  reparameterize(mean, log_variance, eps), LATENT_STREAM
                                         the model (default 784-400-20)
  BernoulliDecoder(features, hidden), GaussianDecoder(features, hidden,
  learned_variance, variance), Bernoulli, Gaussian
                                         likelihoods p(x | z)
  negative_elbo(model, input_key, analytic_kl), elbo_terms(output, x),
  gaussian_kl(mean, log_variance), log_standard_normal, log_diagonal_normal,
  check_data(x, model)                   the ELBO and its loss
  importance_weighted_bound(model, params, x, key, k), log_importance_weights,
  iwae_from_weights, PAPER_SAMPLES       IWAE-K (K = 50)
  sample_prior(model, params, key, n), reconstruct(model, params, x, key)
  interpolate(z0, z1, steps, method), latent_interpolation(model, params, x0,
  x1, steps, method)                     linear and spherical paths
"""

from jnn.generative.vae.decoders import (
    Bernoulli,
    BernoulliDecoder,
    Gaussian,
    GaussianDecoder,
)
from jnn.generative.vae.elbo import (
    check_data,
    elbo_terms,
    gaussian_kl,
    log_diagonal_normal,
    log_standard_normal,
    negative_elbo,
)
from jnn.generative.vae.interpolation import interpolate, latent_interpolation
from jnn.generative.vae.iwae import (
    PAPER_SAMPLES,
    importance_weighted_bound,
    iwae_from_weights,
    log_importance_weights,
)
from jnn.generative.vae.model import (
    LATENT_STREAM,
    VAE,
    GaussianEncoder,
    VAEOutput,
    mlp_vae,
    reparameterize,
)
from jnn.generative.vae.sampling import reconstruct, sample_prior

__all__ = [
    "LATENT_STREAM",
    "PAPER_SAMPLES",
    "VAE",
    "Bernoulli",
    "BernoulliDecoder",
    "Gaussian",
    "GaussianDecoder",
    "GaussianEncoder",
    "VAEOutput",
    "check_data",
    "elbo_terms",
    "gaussian_kl",
    "importance_weighted_bound",
    "interpolate",
    "iwae_from_weights",
    "latent_interpolation",
    "log_diagonal_normal",
    "log_importance_weights",
    "log_standard_normal",
    "negative_elbo",
    "reconstruct",
    "reparameterize",
    "sample_prior",
    "mlp_vae",
]
