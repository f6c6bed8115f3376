r"""The evidence lower bound (ELBO) of a VAE and its loss for gradient_learner.

For one example ``x`` (Kingma & Welling 2014, eq. 3 and 10):

.. math:: \log p(x) \ge \mathcal{L}(x) =
          \mathbb{E}_{q(z \mid x)}[\log p(x \mid z)]
          - \mathrm{KL}(q(z \mid x) \,\|\, p(z)),

estimated with one reparameterised draw ``z = mu + sigma * eps``. The
negative ELBO, in nats per example, is the sum of two terms:

* reconstruction: ``-log p(x | z)`` (:mod:`.decoders`);
* KL: for ``q = N(mu, diag sigma^2)`` and ``p = N(0, I)`` in closed form
  (appendix B),

  .. math:: \mathrm{KL} = \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - 1
            - \log \sigma_j^2\big),

  or sampled, ``log q(z | x) - log p(z)`` at the same ``z`` (the estimator of
  eq. 6, whose ``K = 1`` case is the importance-weighted bound of
  :mod:`.iwae`).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_bool, is_concrete
from jnn.generative.vae.model import VAE, VAEOutput
from jnn.train.learner import Batch, LossFn, PyTree
from jnn.train.modules import Context, apply_model, check_module

LOG_2PI = math.log(2.0 * math.pi)


def gaussian_kl(mean: jax.Array, log_variance: jax.Array) -> jax.Array:
    r"""``KL(N(mean, diag exp(log_variance)) || N(0, I))`` in nats, ``(...)``.

    .. math:: \tfrac12 \sum_j (\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2)

    Args:
      mean: ``(..., L)``.
      log_variance: ``(..., L)``.
    """
    terms = mean**2 + jnp.exp(log_variance) - 1.0 - log_variance
    return 0.5 * jnp.sum(terms, axis=-1)


def log_standard_normal(z: jax.Array) -> jax.Array:
    """``log N(z; 0, I)``, summed over the last axis, ``(...)``."""
    return -0.5 * jnp.sum(LOG_2PI + z**2, axis=-1)


def log_diagonal_normal(
    z: jax.Array, mean: jax.Array, log_variance: jax.Array
) -> jax.Array:
    """``log N(z; mean, diag exp(log_variance))``, summed over the last axis."""
    squared = (z - mean) ** 2 * jnp.exp(-log_variance)
    return -0.5 * jnp.sum(LOG_2PI + log_variance + squared, axis=-1)


def elbo_terms(
    output: VAEOutput, x: jax.Array, *, analytic_kl: bool = True
) -> tuple[jax.Array, jax.Array]:
    """Reconstruction ``-log p(x | z)`` and KL of each example, ``(B,)`` each.

    Args:
      output: ``VAE(x)``'s :class:`VAEOutput` (one draw, ``z: (B, L)``).
      x: ``(B, D)`` the data it encoded.
      analytic_kl: closed-form KL (True) or ``log q(z | x) - log p(z)`` at
        ``output.z`` (False).

    Returns:
      ``(reconstruction, kl)``; the negative ELBO is their sum.
    """
    reconstruction = -output.likelihood.log_prob(x)
    if analytic_kl:
        kl = gaussian_kl(output.mean, output.log_variance)
    else:
        kl = log_diagonal_normal(
            output.z, output.mean, output.log_variance
        ) - log_standard_normal(output.z)
    return reconstruction, kl


def check_data(x, model: VAE, name: str = "x") -> None:
    """Raise unless ``x`` is ``(B, D)`` data in the decoder's range.

    Raises:
      TypeError: not a numeric or boolean array.
      ValueError: wrong rank or width, NaN/inf, or (when concrete) values
        outside ``model.decoder.data_range`` (Bernoulli: ``[0, 1]``).
    """
    check_array(x, name, ndim=2)
    features = getattr(model.decoder, "features", None)
    if features is not None and x.shape[-1] != features:
        raise ValueError(
            f"`{name}` must have {features} columns (the decoder's `features`); "
            f"got shape {tuple(x.shape)}."
        )
    low, high = getattr(model.decoder, "data_range", (-np.inf, np.inf))
    if is_concrete(x) and (np.isfinite(low) or np.isfinite(high)):
        values = np.asarray(x)
        lo, hi = float(values.min()), float(values.max())
        if lo < low or hi > high:
            raise ValueError(
                f"`{name}` must hold values in [{low:g}, {high:g}] for the "
                f"{type(model.decoder).__name__} (its likelihood's support); got "
                f"values in [{lo:g}, {hi:g}] (MNIST pixels: divide by 255, load "
                "with standardize=False)."
            )


def negative_elbo(
    model: VAE, *, input_key: str = "x", analytic_kl: bool = True
) -> LossFn:
    r"""The negative ELBO in nats per example, a loss for ``gradient_learner``.

    .. math:: E = \frac1B \sum_b \big[-\log p(x_b \mid z_b)
              + \mathrm{KL}(q(z \mid x_b) \,\|\, p(z))\big],
              \quad z_b = \mu(x_b) + \sigma(x_b) \odot \varepsilon_b

    ``eps = jax.random.normal(ctx.key, (B, L))``, the step's key;
    without a key (evaluation with ``key=None``) ``z`` is the posterior mean,
    which is then not an unbiased ELBO estimate.

    Args:
      model: a :class:`VAE`.
      input_key: batch entry holding ``x: (B, D)``.
      analytic_kl: closed-form KL (default) or the sampled one.

    Returns:
      ``loss(params, batch, ctx) -> (value, {"reconstruction", "kl"},
      model_state)``: both terms (batch means, nats) land in the fit history,
      ``val_reconstruction`` and ``val_kl`` too. ``loss.check`` refuses data
      outside the decoder's range before tracing.

    Example:
      >>> import optax, jnn
      >>> model = jnn.generative.vae.mlp_vae()
      >>> learner = jnn.train.gradient_learner(
      ...     model, negative_elbo(model), optax.adam(1e-3))
    """
    check_module(model)
    if not isinstance(model, VAE):
        raise TypeError(f"`model` must be a VAE; got {type(model).__name__}.")
    if not isinstance(input_key, str):
        raise TypeError(f"`input_key` must be a string; got {input_key!r}.")
    check_bool(analytic_kl, "analytic_kl")

    def loss(params: PyTree, batch: Batch, ctx: Context):
        x = batch[input_key]
        shape = (x.shape[0], model.latents)
        if ctx.key is None:
            eps = jnp.zeros(shape, jnp.float32)
        else:
            eps = jax.random.normal(ctx.key, shape, jnp.float32)
        output, state = apply_model(model, params, ctx, x, eps=eps)
        reconstruction, kl = elbo_terms(output, x, analytic_kl=analytic_kl)
        reconstruction, kl = jnp.mean(reconstruction), jnp.mean(kl)
        return reconstruction + kl, {"reconstruction": reconstruction, "kl": kl}, state

    def check(data: Batch, name: str) -> None:
        if input_key not in data:
            raise ValueError(
                f"`{name}` has no entry {input_key!r} (the loss reads it); it has "
                f"{sorted(data)}."
            )
        check_data(data[input_key], model, f"{name}[{input_key!r}]")

    loss.check = check
    return loss
