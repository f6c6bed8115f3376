r"""GAN training as one :mod:`jnn.train` learner: both players in one update.

One ``update`` of :func:`gan_learner` is one round of Goodfellow et al.'s
(2014) Algorithm 1: ``n_critic`` steps of the discriminator (critic) on real
samples against fresh generated ones, then one step of the generator against
the updated discriminator, each player with its own Optax optimiser
(:func:`jnn.train.players_learner`). ``fit``/``run`` then drive it like any
learner: epochs compiled as one ``lax.scan``, ``vmap`` over seeds,
checkpoints. BatchNorm statistics of both networks travel in the learner
state (``state.model_state = {"generator": ..., "discriminator": ...}``);
each network is applied to the real and the generated batch separately, as
PyTorch's DCGAN example does, so batch statistics never mix the two. By
default the generator step draws fresh ``z`` (Algorithm 1); with
``reuse_fakes=True`` it reuses the discriminator step's generated batch and
the generator's forward pass, as PyTorch's DCGAN example does (the generator
runs forward once per round).

Constructors, with the papers' defaults:

* :func:`gan_learner`: any of the losses (``"non_saturating"``,
  ``"minimax"``, ``"wasserstein"``), optional gradient penalty and weight
  clipping; Adam(2e-4, b1=0.5) for both players (DCGAN, Radford et al. 2016).
* :func:`wgan`: Wasserstein loss, weight clipping at 0.01, RMSProp(5e-5),
  ``n_critic = 5`` (Arjovsky et al. 2017, Algorithm 1).
* :func:`wgan_gp`: Wasserstein loss with gradient penalty ``lambda = 10``,
  Adam(1e-4, b1=0, b2=0.9), ``n_critic = 5`` (Gulrajani et al. 2017,
  Algorithm 1).

With ``split_batch=True`` (the default of :func:`wgan` and :func:`wgan_gp`)
each critic step sees its own ``1/n_critic`` of the batch, as the papers draw
a fresh real batch per critic iteration: ``fit(..., batch_size=n_critic *
m)`` then trains with critic batches of ``m``, and the generator draws ``m``
samples.
"""

from __future__ import annotations

from collections.abc import Mapping

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jnn._checks import check_key, check_positive_float, check_positive_int
from jnn.generative.gan import losses as L
from jnn.train import (
    Context,
    Learner,
    Player,
    PlayersState,
    apply_model,
    init_model,
    players_learner,
)
from jnn.train.modules import check_module

LOSSES = ("non_saturating", "minimax", "wasserstein")
PLAYERS = ("discriminator", "generator")
#: Model-state entry that carries the discriminator step's generated batch and
#: the generator's pullback to the generator step (``reuse_fakes``); it lives
#: within one update only.
GENERATED = "_generated"


@jax.custom_vjp
def _generated(g_params, fake, pullback):
    """``fake``, whose cotangent reaches ``g_params`` through ``pullback``.

    ``fake, pullback = jax.vjp(G, g_params)`` was computed once (the
    discriminator step); differentiating through this function w.r.t.
    ``g_params`` gives ``pullback(cotangent)`` without running ``G`` again.
    """
    del g_params, pullback
    return fake


def _generated_fwd(g_params, fake, pullback):
    del g_params
    return fake, pullback


def _generated_bwd(pullback, cotangent):
    (d_params,) = pullback(cotangent)
    return d_params, None, None


_generated.defvjp(_generated_fwd, _generated_bwd)


def _optimizer(value, name: str, default) -> optax.GradientTransformation:
    if value is None:
        return default
    if not isinstance(value, optax.GradientTransformation):
        raise TypeError(
            f"`{name}` must be an Optax transformation (or None); got "
            f"{type(value).__name__}."
        )
    return value


def _apply(model, name, params, model_state, ctx: Context, x):
    """Apply player ``name``'s module in training mode; thread its state."""
    out, new = apply_model(
        model, params[name], Context(ctx.key, ctx.train, model_state[name]), x
    )
    return out, {**model_state, name: new}


def gan_learner(
    generator: nn.Module,
    discriminator: nn.Module,
    *,
    latent_size: int,
    loss: str = "non_saturating",
    penalty: float | None = None,
    clip: float | None = None,
    n_critic: int = 1,
    split_batch: bool = False,
    reuse_fakes: bool = False,
    generator_optimizer: optax.GradientTransformation | None = None,
    discriminator_optimizer: optax.GradientTransformation | None = None,
    input_key: str = "x",
) -> Learner:
    r"""A GAN as a two-player :class:`jnn.train.Learner`.

    Discriminator (critic) step, on real ``x`` and ``z ~ N(0, I)``:

    .. math:: L_D = \ell_D\big(D(x), D(G(z))\big) + \lambda\,P

    with :math:`\ell_D` the cross-entropy (:func:`.losses.discriminator_loss`)
    or the Wasserstein critic loss, and :math:`P` the gradient penalty
    (:func:`.losses.gradient_penalty`) when ``penalty`` is given; the
    generator step minimises :math:`\ell_G(D(G(z)))` (non-saturating, minimax
    or Wasserstein). Clipping projects the discriminator's weights onto
    ``[-clip, clip]`` after each of its steps.

    Args:
      generator: Flax module ``G(z)``: ``(m, latent_size) -> (m, ...)``, e.g.
        :class:`.MLPGenerator` or :class:`.DCGANGenerator`.
      discriminator: Flax module ``D(x)``: ``(m, ...) -> (m,)`` logits or
        critic scores.
      latent_size: dimension of ``z`` (> 0).
      loss: ``"non_saturating"`` (default), ``"minimax"`` or
        ``"wasserstein"``.
      penalty: gradient-penalty weight :math:`\lambda > 0`, or None. Needs a
        discriminator without batch normalisation.
      clip: weight-clipping bound ``c > 0``, or None.
      n_critic: discriminator steps per generator step (>= 1).
      split_batch: give each discriminator step its own ``1/n_critic`` of the
        batch (else each sees the whole batch, with fresh ``z``).
      reuse_fakes: the generator step reuses the discriminator step's ``z``,
        generated batch and the generator's forward pass (its pullback), as
        PyTorch's DCGAN example does: ``G`` runs forward once per round and
        its BatchNorm statistics are updated once (needs ``n_critic == 1``).
        Default False: fresh ``z`` and a forward pass of its own
        (Goodfellow et al. 2014, Algorithm 1).
      generator_optimizer: default Adam(2e-4, b1=0.5).
      discriminator_optimizer: default Adam(2e-4, b1=0.5); ``clip`` is chained
        after it.
      input_key: the batch entry holding the real samples.

    Returns:
      A learner with state :class:`jnn.train.PlayersState` (``params`` and
      ``model_state`` keyed ``"generator"``, ``"discriminator"``) and metrics
      ``discriminator_loss``, ``generator_loss``, their ``*_grad_norm``,
      ``discriminator_real`` and ``discriminator_fake`` (mean ``D`` on real
      and generated samples: probabilities, or critic scores), and
      ``discriminator_penalty``, ``discriminator_gradient_norm`` with a
      penalty.

    Raises:
      TypeError: modules or optimisers of the wrong type.
      ValueError: ``latent_size <= 0``, unknown ``loss``, ``penalty`` or
        ``clip <= 0``, ``n_critic < 1``, a penalty with batch normalisation,
        ``reuse_fakes`` with ``n_critic > 1``.
    """
    check_module(generator, "generator")
    check_module(discriminator, "discriminator")
    check_positive_int(latent_size, "latent_size")
    if loss not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}; got {loss!r}.")
    if penalty is not None:
        check_positive_float(penalty, "penalty")
        if getattr(discriminator, "normalization", None) == "batch":
            raise ValueError(
                "a gradient `penalty` needs a discriminator that treats samples "
                "independently; got one with batch normalisation (use "
                "normalization='layer' or None, as Gulrajani et al. 2017 do)."
            )
    if clip is not None:
        check_positive_float(clip, "clip")
    check_positive_int(n_critic, "n_critic")
    if not isinstance(reuse_fakes, bool):
        raise TypeError(f"`reuse_fakes` must be a bool; got {reuse_fakes!r}.")
    if reuse_fakes and n_critic != 1:
        raise ValueError(
            "`reuse_fakes=True` hands the one discriminator step's generated batch "
            f"to the generator step; it needs n_critic=1, got {n_critic}."
        )
    if not isinstance(input_key, str):
        raise TypeError(f"`input_key` must be a string; got {input_key!r}.")
    adam = optax.adam(2e-4, b1=0.5)
    g_opt = _optimizer(generator_optimizer, "generator_optimizer", adam)
    d_opt = _optimizer(discriminator_optimizer, "discriminator_optimizer", adam)
    if clip is not None:
        d_opt = optax.chain(d_opt, L.clip_weights(clip))
    wasserstein = loss == "wasserstein"

    def init(key, batch):
        if input_key not in batch:
            raise ValueError(
                f"the batch has no entry {input_key!r} (`input_key`); it has "
                f"{sorted(batch)}."
            )
        kg, kd = jax.random.split(key)
        z = jnp.zeros((1, latent_size), jnp.float32)
        g_params, g_state = init_model(generator, kg, z)
        d_params, d_state = init_model(discriminator, kd, batch[input_key][:1])
        params = {"discriminator": d_params, "generator": g_params}
        return params, {"discriminator": d_state, "generator": g_state}

    def fakes(params, model_state, ctx, m):
        z = jax.random.normal(ctx.key, (m, latent_size), jnp.float32)
        return _apply(generator, "generator", params, model_state, ctx, z)

    def discriminator_step(params, batch, ctx):
        real = batch[input_key]
        m = real.shape[0]
        key_z, key_penalty = jax.random.split(ctx.key)
        state = ctx.model_state
        if reuse_fakes:  # the generator's forward pass, kept for its step
            fake, pullback, state = jax.vjp(
                lambda g: fakes({"generator": g}, state, ctx.replace(key=key_z), m),
                params["generator"],
                has_aux=True,
            )
        else:
            fake, state = fakes(params, state, ctx.replace(key=key_z), m)
        fake = jax.lax.stop_gradient(fake)
        real_out, state = _apply(
            discriminator, "discriminator", params, state, ctx, real
        )
        fake_out, state = _apply(
            discriminator, "discriminator", params, state, ctx, fake
        )
        if wasserstein:
            value = L.wasserstein_critic_loss(real_out, fake_out)
            aux = {"real": jnp.mean(real_out), "fake": jnp.mean(fake_out)}
        else:
            value = L.discriminator_loss(real_out, fake_out)
            aux = {
                "real": jnp.mean(jax.nn.sigmoid(real_out)),
                "fake": jnp.mean(jax.nn.sigmoid(fake_out)),
            }
        if penalty is not None:
            frozen = ctx.replace(model_state=state)

            def critic(x):
                return _apply(
                    discriminator,
                    "discriminator",
                    params,
                    frozen.model_state,
                    frozen,
                    x,
                )[0]

            gp, norm = L.gradient_penalty(critic, real, fake, key_penalty)
            value = value + penalty * gp
            aux.update(penalty=gp, gradient_norm=norm)
        if reuse_fakes:
            state = {**state, GENERATED: (fake, pullback)}
        return value, aux, state

    def generator_step(params, batch, ctx):
        if reuse_fakes:
            state = dict(ctx.model_state)
            fake, pullback = state.pop(GENERATED)
            fake = _generated(params["generator"], fake, pullback)
        else:
            m = batch[input_key].shape[0] // (n_critic if split_batch else 1)
            fake, state = fakes(params, ctx.model_state, ctx, m)
        out, state = _apply(discriminator, "discriminator", params, state, ctx, fake)
        if wasserstein:
            value = L.wasserstein_generator_loss(out)
        elif loss == "minimax":
            value = L.minimax_generator_loss(out)
        else:
            value = L.non_saturating_generator_loss(out)
        return value, {}, state

    return players_learner(
        init,
        {
            "discriminator": Player(discriminator_step, d_opt, n_critic, split_batch),
            "generator": Player(generator_step, g_opt),
        },
    )


def wgan(
    generator: nn.Module,
    critic: nn.Module,
    *,
    latent_size: int,
    clip: float = 0.01,
    n_critic: int = 5,
    learning_rate: float = 5e-5,
    split_batch: bool = True,
) -> Learner:
    """WGAN with weight clipping (Arjovsky, Chintala & Bottou 2017, Algorithm 1).

    RMSProp (PyTorch's form: decay 0.99, ``eps`` outside the root) with the
    paper's ``alpha = 5e-5`` for both players, clipping ``c = 0.01``,
    ``n_critic = 5`` critic steps on fresh real batches per generator step.
    Arguments and result as in :func:`gan_learner`.
    """
    check_positive_float(learning_rate, "learning_rate")
    rmsprop = optax.rmsprop(learning_rate, decay=0.99, eps=1e-8, eps_in_sqrt=False)
    return gan_learner(
        generator,
        critic,
        latent_size=latent_size,
        loss="wasserstein",
        clip=clip,
        n_critic=n_critic,
        split_batch=split_batch,
        generator_optimizer=rmsprop,
        discriminator_optimizer=rmsprop,
    )


def wgan_gp(
    generator: nn.Module,
    critic: nn.Module,
    *,
    latent_size: int,
    penalty: float = L.PENALTY_WEIGHT,
    n_critic: int = 5,
    learning_rate: float = 1e-4,
    split_batch: bool = True,
) -> Learner:
    """WGAN-GP (Gulrajani et al. 2017, Algorithm 1).

    Adam(``learning_rate`` = 1e-4, b1 = 0, b2 = 0.9) for both players, penalty
    weight ``lambda = 10``, ``n_critic = 5``. The critic must not use batch
    normalisation (:class:`.DCGANDiscriminator` with
    ``normalization="layer"``). Arguments and result as in
    :func:`gan_learner`.
    """
    check_positive_float(learning_rate, "learning_rate")
    adam = optax.adam(learning_rate, b1=0.0, b2=0.9)
    return gan_learner(
        generator,
        critic,
        latent_size=latent_size,
        loss="wasserstein",
        penalty=penalty,
        n_critic=n_critic,
        split_batch=split_batch,
        generator_optimizer=adam,
        discriminator_optimizer=adam,
    )


def generate(
    generator: nn.Module,
    state,
    key: jax.Array,
    n: int,
    *,
    latent_size: int,
    train: bool = False,
    model_state: Mapping | None = None,
) -> jax.Array:
    """Draw ``n`` samples ``G(z)``, ``z ~ N(0, I)``, from a trained generator.

    Args:
      generator: the generator module the learner was built with.
      state: a :class:`jnn.train.PlayersState` from :func:`gan_learner`
        (its ``"generator"`` parameters and model state), or the generator's
        ``params`` collection itself.
      key: PRNG key of the latent vectors.
      n: number of samples.
      latent_size: dimension of ``z``.
      train: BatchNorm with the statistics of the ``n`` samples (as the
        generator ran in training) instead of its running averages.
      model_state: the generator's model state when ``state`` is a params
        collection (``{"batch_stats": ...}``; default none).

    Returns:
      ``(n, ...)`` samples (the generator's output, e.g. images in
      ``[-1, 1]``).
    """
    check_module(generator, "generator")
    check_key(key)
    check_positive_int(n, "n")
    check_positive_int(latent_size, "latent_size")
    if isinstance(state, PlayersState):
        params = state.params["generator"]
        model_state = state.model_state.get("generator", {})
    elif isinstance(state, Mapping):
        params, model_state = state, dict(model_state or {})
    else:
        raise TypeError(
            "`state` must be a PlayersState from gan_learner or the generator's "
            f"params; got {type(state).__name__}."
        )
    z = jax.random.normal(key, (n, latent_size), jnp.float32)
    out, _ = apply_model(generator, params, Context(None, train, model_state), z)
    return out
