r"""Generating with a trained VAE: samples from the prior, reconstructions.

Ancestral sampling (Kingma & Welling 2014, section 3): ``z ~ p(z) = N(0, I)``,
then ``x ~ p(x | z)``. The decoder's mean ``E[x | z]`` (Bernoulli: the pixel
probabilities) is what is usually shown and scored, since Bernoulli draws
are salt-and-pepper versions of it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jnn._checks import check_bool, check_key, check_positive_int
from jnn.generative.vae.elbo import check_data
from jnn.generative.vae.model import VAE, reparameterize
from jnn.train.learner import PyTree
from jnn.train.modules import check_module


def _check_model(model) -> None:
    check_module(model)
    if not isinstance(model, VAE):
        raise TypeError(f"`model` must be a VAE; got {type(model).__name__}.")


@functools.partial(jax.jit, static_argnames=("model", "n", "mean"))
def _prior(model, params, key, n, mean):
    z_key, x_key = jax.random.split(key)
    z = jax.random.normal(z_key, (n, model.latents))
    likelihood = model.apply({"params": params}, z, method=VAE.decode)
    return likelihood.mean_image() if mean else likelihood.sample(x_key)


def sample_prior(
    model: VAE, params: PyTree, key: jax.Array, n: int, *, mean: bool = True
) -> jax.Array:
    """``n`` samples of the generative model, ``(n, D)``.

    Args:
      model: a :class:`VAE`.
      params: its ``params`` collection.
      key: PRNG key.
      n: number of samples.
      mean: return ``E[x | z]`` (True) or a draw ``x ~ p(x | z)``.

    Returns:
      ``(n, D)`` float32 (Bernoulli: in ``[0, 1]``).
    """
    _check_model(model)
    check_key(key)
    check_positive_int(n, "n")
    check_bool(mean, "mean")
    return _prior(model, params, key, n, mean)


@functools.partial(jax.jit, static_argnames=("model",))
def _reconstruct(model, params, x, key):
    variables = {"params": params}
    mu, log_variance = model.apply(variables, x, method=VAE.encode)
    if key is None:
        z = mu
    else:
        z = reparameterize(mu, log_variance, jax.random.normal(key, mu.shape))
    return model.apply(variables, z, method=VAE.decode).mean_image()


def reconstruct(
    model: VAE, params: PyTree, x: jax.Array, key: jax.Array | None = None
) -> jax.Array:
    """``E[x | z]`` at ``z = mu(x)`` (no key) or at a draw of ``q(z | x)``.

    Args:
      model: a :class:`VAE`.
      params: its ``params`` collection.
      x: ``(B, D)`` data in the decoder's range.
      key: None for the posterior mean, else a PRNG key.

    Returns:
      ``(B, D)`` reconstructions.
    """
    _check_model(model)
    check_data(x, model, "x")
    if key is not None:
        check_key(key)
    return _reconstruct(model, params, jnp.asarray(x, jnp.float32), key)
