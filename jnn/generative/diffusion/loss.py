r"""DDPM's training objective as a :mod:`jnn.train` loss.

Ho et al. (2020, eq. 14, algorithm 1) train the noise predictor with the
"simple" loss, the variational bound's terms without their weights:

.. math:: L_\text{simple}(\theta) = \mathbb E_{t \sim U\{1..T\},\,
          x_0,\, \epsilon \sim \mathcal N(0, I)}
          \big\lVert \epsilon - \epsilon_\theta\big(\sqrt{\bar\alpha_t}\,x_0
          + \sqrt{1 - \bar\alpha_t}\,\epsilon,\ t\big)\big\rVert^2

(here the mean over pixels, so that the value is about 1 for a network that
predicts 0). One draw of ``t`` and ``epsilon`` per image per step.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jnn.generative.diffusion.noising import check_model_images, diffuse
from jnn.generative.diffusion.schedules import NoiseSchedule, check_schedule
from jnn.train import Context, apply_model
from jnn.train.modules import check_module

#: Key of the evaluation loss when the engine gives none (fixed draws).
_EVAL_KEY = 0x64646D


def simple_loss(model: nn.Module, schedule: NoiseSchedule, *, input_key: str = "x"):
    """``L_simple`` of ``model`` under ``schedule``, for :func:`gradient_learner`.

    Args:
      model: a Flax module called as ``model(x_t, t) -> epsilon`` (e.g.
        :class:`UNet`).
      schedule: the noise schedule (``T`` steps).
      input_key: the batch entry holding ``(B, H, W, C)`` images in
        ``[-1, 1]``.

    Returns:
      ``loss(params, batch, ctx) -> (value, {}, model_state)``; it draws ``t``
      and ``epsilon`` from ``ctx.key`` (a fixed key when evaluation has none)
      and carries ``check(data, name)``, which refuses images outside
      ``[-1, 1]`` before tracing.

    Example:
      >>> model = UNet(channels=16)
      >>> learner = jnn.train.gradient_learner(
      ...     model, simple_loss(model, linear_schedule()), optax.adam(2e-4))
    """
    check_module(model)
    check_schedule(schedule)
    steps = schedule.steps

    def loss(params, batch, ctx: Context):
        x0 = batch[input_key]
        key = ctx.key if ctx.key is not None else jax.random.key(_EVAL_KEY)
        t_key, noise_key = jax.random.split(key)
        t = jax.random.randint(t_key, x0.shape[:1], 0, steps)
        noise = jax.random.normal(noise_key, x0.shape, x0.dtype)
        x_t = diffuse(schedule, x0, t, noise)
        predicted, model_state = apply_model(model, params, ctx, x_t, t)
        return jnp.mean((predicted - noise) ** 2), {}, model_state

    def check(data, name: str) -> None:
        if input_key not in data:
            raise ValueError(
                f"`{name}` must hold the images under {input_key!r}; got "
                f"{sorted(data)}."
            )
        check_model_images(data[input_key], f"{name}[{input_key!r}]")

    loss.check = check
    return loss
