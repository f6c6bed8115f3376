"""Denoising diffusion, curriculum Gen4: DDPM, DDIM and the probability-flow ODE.

One epsilon-prediction network (:class:`UNet`) trained with DDPM's simple loss
through :mod:`jnn.train` serves three samplers: ancestral (Ho et al. 2020),
DDIM (Song, Meng & Ermon 2021) and the probability-flow ODE on Diffrax.
Images live in ``[-1, 1]``, NHWC.

Public API:
  NoiseSchedule, linear_schedule(T, beta_start, beta_end),
  cosine_schedule(T, offset, max_beta), schedule_from_betas(betas)
                                         the schedules and what derives from them
  forward_marginal(schedule, x0, t), forward_sample(schedule, x0, t, key),
  diffuse(schedule, x0, t, noise), to_model_range(x), to_pixels(x),
  check_model_images(x)                  q(x_t | x_0) in closed form
  UNet, BENCHMARK_UNET, timestep_embedding, parameter_count
                                         the noise predictor
  simple_loss(model, schedule)           L_simple for gradient_learner
  ancestral_sample, ddim_sample, ddim_timesteps, DDIM_SPACINGS,
  probability_flow_sample, FlowSample    the three samplers
"""

from jnn.generative.diffusion.loss import simple_loss
from jnn.generative.diffusion.noising import (
    check_model_images,
    diffuse,
    forward_marginal,
    forward_sample,
    to_model_range,
    to_pixels,
)
from jnn.generative.diffusion.samplers import (
    DDIM_SPACINGS,
    FlowSample,
    ancestral_sample,
    ddim_sample,
    ddim_timesteps,
    probability_flow_sample,
)
from jnn.generative.diffusion.schedules import (
    NoiseSchedule,
    cosine_schedule,
    linear_schedule,
    schedule_from_betas,
)
from jnn.generative.diffusion.unet import (
    BENCHMARK_UNET,
    UNet,
    parameter_count,
    timestep_embedding,
)

__all__ = [
    "BENCHMARK_UNET",
    "DDIM_SPACINGS",
    "FlowSample",
    "NoiseSchedule",
    "UNet",
    "ancestral_sample",
    "check_model_images",
    "cosine_schedule",
    "ddim_sample",
    "ddim_timesteps",
    "diffuse",
    "forward_marginal",
    "forward_sample",
    "linear_schedule",
    "parameter_count",
    "probability_flow_sample",
    "schedule_from_betas",
    "simple_loss",
    "timestep_embedding",
    "to_model_range",
    "to_pixels",
]
