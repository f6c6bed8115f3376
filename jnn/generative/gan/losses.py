r"""Adversarial losses, the WGAN-GP gradient penalty and WGAN's weight clipping.

Every loss takes the discriminator's raw outputs: logits ``D(x) = sigmoid(l)``
for the classic GAN, unbounded scores for a Wasserstein critic. Shapes:
``(n,)`` (or any shape; means are over every entry).

* :func:`discriminator_loss`: binary cross-entropy, real labelled 1, fake 0
  (Goodfellow et al. 2014, eq. 1),
  :math:`-\mathbb{E}\log D(x) - \mathbb{E}\log(1 - D(G(z)))`.
* :func:`minimax_generator_loss`: :math:`\mathbb{E}\log(1 - D(G(z)))`, the
  generator's side of the minimax game; it saturates (vanishing gradient)
  when the discriminator rejects the samples confidently.
* :func:`non_saturating_generator_loss`: :math:`-\mathbb{E}\log D(G(z))`, the
  heuristic of Goodfellow et al. (2014, section 3): the same fixed point,
  strong gradients early on.
* :func:`wasserstein_critic_loss`, :func:`wasserstein_generator_loss`: the
  Kantorovich-Rubinstein dual of the Wasserstein-1 distance (Arjovsky,
  Chintala & Bottou 2017, eq. 3), :math:`\mathbb{E} f(G(z)) - \mathbb{E} f(x)`
  for the critic and :math:`-\mathbb{E} f(G(z))` for the generator.
* :func:`gradient_penalty`: WGAN-GP's soft Lipschitz constraint (Gulrajani et
  al. 2017, Algorithm 1).
* :func:`clip_weights`: WGAN's hard constraint, an Optax transformation that
  projects every parameter onto ``[-c, c]`` after the update.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn._checks import check_positive_float

#: Gulrajani et al. (2017): lambda = 10 in every experiment.
PENALTY_WEIGHT = 10.0


def discriminator_loss(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    r"""Binary cross-entropy of the discriminator from logits.

    .. math:: L_D = \operatorname{mean}\,\mathrm{softplus}(-l_{\text{real}})
              + \operatorname{mean}\,\mathrm{softplus}(l_{\text{fake}}),

    i.e. :math:`-\log\sigma(l)` for real and :math:`-\log(1-\sigma(l))` for
    fake samples, computed stably.

    Args:
      real_logits: logits on real samples.
      fake_logits: logits on generated samples.

    Returns:
      A scalar.
    """
    return jnp.mean(jax.nn.softplus(-real_logits)) + jnp.mean(
        jax.nn.softplus(fake_logits)
    )


def non_saturating_generator_loss(fake_logits: jax.Array) -> jax.Array:
    r"""The generator's non-saturating loss, ``mean(softplus(-l_fake))``.

    .. math:: -\operatorname{mean}\log\sigma(l_{\text{fake}})
    """
    return jnp.mean(jax.nn.softplus(-fake_logits))


def minimax_generator_loss(fake_logits: jax.Array) -> jax.Array:
    r"""The generator's minimax loss, ``-mean(softplus(l_fake))``.

    .. math:: \operatorname{mean}\log(1 - \sigma(l_{\text{fake}}))
    """
    return -jnp.mean(jax.nn.softplus(fake_logits))


def wasserstein_critic_loss(
    real_scores: jax.Array, fake_scores: jax.Array
) -> jax.Array:
    r"""The critic's loss, ``mean(f(fake)) - mean(f(real))``.

    Its negative estimates :math:`W_1` (up to the Lipschitz constant) when the
    critic is near optimal.
    """
    return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wasserstein_generator_loss(fake_scores: jax.Array) -> jax.Array:
    """The generator's Wasserstein loss, ``-mean(f(G(z)))``."""
    return -jnp.mean(fake_scores)


def gradient_penalty(
    critic: Callable[[jax.Array], jax.Array],
    real: jax.Array,
    fake: jax.Array,
    key: jax.Array,
) -> tuple[jax.Array, jax.Array]:
    r"""WGAN-GP's penalty on the critic's gradient norm at interpolates.

    .. math:: \hat x_i = \epsilon_i x_i + (1 - \epsilon_i)\tilde x_i,\quad
              \epsilon_i \sim U[0, 1],\qquad
              P = \frac1n \sum_i \big(\lVert\nabla_{\hat x} f(\hat x_i)
              \rVert_2 - 1\big)^2

    (Gulrajani et al. 2017, Algorithm 1; the critic loss adds
    :math:`\lambda P`, :math:`\lambda = 10`). The per-sample gradients are the
    gradient of :math:`\sum_i f(\hat x_i)`, which is exact only when the
    critic treats samples independently: no batch normalisation in the critic
    (the paper uses layer normalisation or none).

    Args:
      critic: ``f(x) -> scores`` of shape ``(n,)`` (or ``(n, 1)``), traced
        with the parameters closed over (gradients reach them through the
        penalty: double back-propagation).
      real: ``(n, ...)`` real samples.
      fake: ``(n, ...)`` generated samples, same shape.
      key: PRNG key for the interpolation weights.

    Returns:
      ``(penalty, mean_gradient_norm)``, two scalars.
    """
    if real.shape != fake.shape:
        raise ValueError(
            f"`real` and `fake` must have the same shape; got {real.shape} and "
            f"{fake.shape}."
        )
    n = real.shape[0]
    epsilon = jax.random.uniform(key, (n,) + (1,) * (real.ndim - 1), real.dtype)
    interpolates = epsilon * real + (1 - epsilon) * fake
    grads = jax.grad(lambda x: jnp.sum(critic(x)))(interpolates)
    # the tiny constant keeps the gradient of the norm finite at 0
    norms = jnp.sqrt(jnp.sum(grads.reshape(n, -1) ** 2, axis=1) + 1e-12)
    return jnp.mean((norms - 1.0) ** 2), jnp.mean(norms)


class ClipWeightsState(NamedTuple):
    """Weight clipping keeps no state."""


def clip_weights(clip: float) -> optax.GradientTransformation:
    r"""WGAN's weight clipping as an Optax transformation (Arjovsky et al. 2017).

    Chained after the optimiser, it changes the update ``u`` so that the new
    parameters are the old ones moved by ``u`` and projected onto the box
    ``[-c, c]`` (the projection of :func:`optax.projections.projection_box`,
    turned into an update)::

        optax.chain(optax.rmsprop(5e-5), clip_weights(0.01))

    .. math:: u' = \operatorname{clip}(\theta + u, -c, c) - \theta

    Args:
      clip: ``c > 0`` (0.01 in the paper).

    Returns:
      An ``optax.GradientTransformation`` that needs ``params`` in ``update``.

    Raises:
      ValueError: ``clip <= 0``.
    """
    check_positive_float(clip, "clip")
    c = float(clip)

    def init(params):
        del params
        return ClipWeightsState()

    def update(updates, state, params=None):
        if params is None:
            raise ValueError("clip_weights needs the parameters: pass `params`.")
        moved = optax.apply_updates(params, updates)
        clipped = jax.tree.map(lambda w: jnp.clip(w, -c, c), moved)
        return jax.tree.map(jnp.subtract, clipped, params), state

    return optax.GradientTransformation(init, update)
