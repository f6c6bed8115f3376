r"""The importance-weighted bound (Burda, Grosse & Salakhutdinov 2016).

With ``K`` draws ``z_k ~ q(z | x)`` and importance weights
``w_k = p(x | z_k) p(z_k) / q(z_k | x)``,

.. math:: \mathcal{L}_K(x) = \log \frac1K \sum_{k=1}^K w_k
          \;\le\; \log p(x),

computed with ``logsumexp`` over ``log w_k``. ``L_1`` is the ELBO with the
sampled KL; ``E[L_K]`` rises with ``K`` to ``log p(x)`` (their theorem 1), so
``L_K`` with ``K = 50`` (their table) or more is the usual estimate of a
VAE's test log-likelihood, tighter than the ELBO.

Draws are per example: ``eps_b = normal(fold_in(key, b), (K, L))``, so an
example's estimate does not depend on the chunk size or its batch-mates.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from jnn._checks import check_key, check_positive_int
from jnn.generative.vae.elbo import check_data, log_diagonal_normal, log_standard_normal
from jnn.generative.vae.model import VAE, reparameterize
from jnn.train.learner import PyTree
from jnn.train.modules import check_module

#: Burda et al.'s number of importance samples for the reported bound.
PAPER_SAMPLES = 50


def log_importance_weights(
    model: VAE, params: PyTree, x: jax.Array, eps: jax.Array
) -> jax.Array:
    r"""``log w = log p(x | z) + log p(z) - log q(z | x)`` at ``z = mu + sigma eps``.

    Args:
      model: a :class:`VAE`.
      params: its ``params`` collection.
      x: ``(B, D)`` data.
      eps: ``(K, B, L)`` standard normal draws.

    Returns:
      ``(K, B)`` log importance weights (nats).
    """
    variables = {"params": params}
    mean, log_variance = model.apply(variables, x, method=VAE.encode)
    z = reparameterize(mean, log_variance, eps)
    likelihood = model.apply(variables, z, method=VAE.decode)
    log_q = log_diagonal_normal(z, mean[None], log_variance[None])
    return likelihood.log_prob(x[None]) + log_standard_normal(z) - log_q


def iwae_from_weights(log_weights: jax.Array) -> jax.Array:
    """``logsumexp_k(log w_k) - log K`` over axis 0: ``(K, B) -> (B,)``."""
    k = log_weights.shape[0]
    return jax.nn.logsumexp(log_weights, axis=0) - math.log(k)


def _example_draws(key: jax.Array, first: jax.Array, n: int, k: int, latents: int):
    """``(K, n, L)`` draws of examples ``first .. first + n - 1`` (module docstring)."""
    index = first + jnp.arange(n)
    draw = jax.vmap(
        lambda i: jax.random.normal(jax.random.fold_in(key, i), (k, latents))
    )
    return jnp.swapaxes(draw(index), 0, 1)


@functools.partial(jax.jit, static_argnames=("model", "k", "chunk"))
def _bound(model, params, x, key, k, chunk):
    n = x.shape[0]
    blocks = -(-n // chunk)
    padded = jnp.pad(x, ((0, blocks * chunk - n), (0, 0)))

    def one(block):
        i, xb = block
        eps = _example_draws(key, i * chunk, chunk, k, model.latents)
        return iwae_from_weights(log_importance_weights(model, params, xb, eps))

    xs = padded.reshape(blocks, chunk, x.shape[1])
    return jax.lax.map(one, (jnp.arange(blocks), xs)).reshape(-1)[:n]


def importance_weighted_bound(
    model: VAE,
    params: PyTree,
    x: jax.Array,
    key: jax.Array,
    *,
    k: int = PAPER_SAMPLES,
    chunk: int = 500,
) -> jax.Array:
    r"""``L_K(x)`` of every example, a lower bound on ``log p(x)`` (nats), ``(B,)``.

    Compiled once per ``(model, k, chunk)`` and input shape; examples go
    through in chunks (``lax.map``) so that ``K x chunk x D`` decoder outputs
    fit in memory.

    Args:
      model: a :class:`VAE`.
      params: its ``params`` collection.
      x: ``(B, D)`` data in the decoder's range.
      key: PRNG key of the draws.
      k: importance samples ``K >= 1`` (50: Burda et al.).
      chunk: examples per chunk.

    Returns:
      ``(B,)`` float32; ``-mean`` is the usual "test NLL (IWAE-K)" figure.

    Raises:
      ValueError: ``k < 1``, ``chunk < 1``, ``x`` outside the decoder's range.
      TypeError: ``model`` not a VAE, ``key`` not a key.
    """
    check_module(model)
    if not isinstance(model, VAE):
        raise TypeError(f"`model` must be a VAE; got {type(model).__name__}.")
    check_positive_int(k, "k")
    check_positive_int(chunk, "chunk")
    check_key(key)
    check_data(x, model, "x")
    x = jnp.asarray(x, jnp.float32)
    return _bound(model, params, x, key, k, min(chunk, x.shape[0]))
