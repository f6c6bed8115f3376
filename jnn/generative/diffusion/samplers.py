r"""Three samplers sharing one noise predictor: ancestral, DDIM, probability flow.

Every sampler takes the same ``(model, params)``, an epsilon-prediction module
called as ``model.apply({"params": params}, x_t, t)``, and starts from
:math:`x_T \sim \mathcal N(0, I)`. With :math:`\hat x_0 = (x_t - \sqrt{1 -
\bar\alpha_t}\,\epsilon_\theta) / \sqrt{\bar\alpha_t}` (optionally clipped to
``[-1, 1]``, as Ho et al.'s code does):

* :func:`ancestral_sample` (Ho et al. 2020, algorithm 2): ``T`` steps of
  :math:`p_\theta(x_{t-1} | x_t) = \mathcal N(\tilde\mu_t(x_t, \hat x_0),
  \sigma_t^2 I)`, with the posterior mean :math:`\tilde\mu_t =
  \frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}\hat x_0 +
  \frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t} x_t` and
  :math:`\sigma_t^2 = \tilde\beta_t` (``variance="posterior"``) or
  :math:`\beta_t` (``"beta"``).
* :func:`ddim_sample` (Song, Meng & Ermon 2021, eq. 12) on a sub-sequence
  :math:`\tau_S > \ldots > \tau_1` of ``S <= T`` steps:

  .. math:: x_{\tau_{i-1}} = \sqrt{\bar\alpha_{\tau_{i-1}}}\,\hat x_0 +
            \sqrt{1 - \bar\alpha_{\tau_{i-1}} - \sigma_i^2}\,\hat\epsilon +
            \sigma_i z,\quad \sigma_i = \eta
            \sqrt{\tfrac{1-\bar\alpha_{\tau_{i-1}}}{1-\bar\alpha_{\tau_i}}}
            \sqrt{1 - \tfrac{\bar\alpha_{\tau_i}}{\bar\alpha_{\tau_{i-1}}}}

  ``eta = 0`` is deterministic; ``S = T, eta = 1`` is the ancestral sampler
  (the same noise draws give the same samples).
* :func:`probability_flow_sample`: the deterministic ODE whose marginals are
  the diffusion's (Song et al. 2021, score SDE; in DDIM's variables, their
  eq. 14): with :math:`\sigma = \sqrt{(1 - \bar\alpha)/\bar\alpha}` and
  :math:`\bar x = x / \sqrt{\bar\alpha}`,
  :math:`d\bar x / d\sigma = \epsilon_\theta(\bar x / \sqrt{1 + \sigma^2},
  t(\sigma))`, integrated in :math:`\log\sigma` by Diffrax (Tsit5 with a PID
  step-size controller) from the largest to the smallest :math:`\sigma` of
  the schedule, then one denoising step to :math:`\hat x_0`. The network is
  evaluated between integer steps (``t`` interpolated in :math:`\log\sigma`).

Noise: the initial ``x_T`` comes from ``split(key)[0]``; the noise of step
``t`` from ``fold_in(split(key)[1], t)``, in every sampler.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import diffrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import (
    check_array,
    check_bool,
    check_interval,
    check_key,
    check_positive_int,
)
from jnn.generative.diffusion.schedules import NoiseSchedule, check_schedule
from jnn.train.modules import check_module

VARIANCES = ("posterior", "beta")


def _epsilon(model: nn.Module, params, x: jax.Array, t) -> jax.Array:
    steps = jnp.full(x.shape[:1], t)
    return model.apply({"params": params}, x, steps)


def _denoised(schedule, x, eps, t, clip: bool):
    """``(x0_hat, eps_hat)``: the x0 prediction (clipped) and its epsilon."""
    alpha_bar = schedule.alpha_bar[t]
    x0 = (x - jnp.sqrt(1.0 - alpha_bar) * eps) / jnp.sqrt(alpha_bar)
    if clip:
        x0 = jnp.clip(x0, -1.0, 1.0)
        eps = (x - jnp.sqrt(alpha_bar) * x0) / jnp.sqrt(1.0 - alpha_bar)
    return x0, eps


def _check(model, params, schedule, key, shape, x_start, clip_denoised):
    """Validate the shared arguments; return ``x_T`` (drawn unless given)."""
    check_module(model)
    if not hasattr(params, "keys"):
        raise TypeError(
            "`params` must be the model's params collection (a dict); got "
            f"{type(params).__name__}."
        )
    check_schedule(schedule)
    check_key(key)
    check_bool(clip_denoised, "clip_denoised")
    if x_start is not None:
        check_array(x_start, "x_start", ndim=4, kind="f")
        if shape is not None and tuple(shape) != tuple(x_start.shape):
            raise ValueError(
                f"`shape` {tuple(shape)} must match `x_start`'s {x_start.shape} "
                "(or be None)."
            )
        return jnp.asarray(x_start)
    if not isinstance(shape, tuple | list) or len(shape) != 4:
        raise ValueError(
            f"`shape` must be (n, height, width, channels); got {shape!r}."
        )
    for size in shape:
        check_positive_int(size, "shape")
    return jax.random.normal(jax.random.split(key)[0], tuple(int(s) for s in shape))


@functools.partial(jax.jit, static_argnums=(0, 5, 6, 7))
def _ancestral(model, params, schedule, key, x, clip, beta_variance, path):
    _, step_key = jax.random.split(key)
    shape = x.shape
    steps = schedule.steps
    if beta_variance:
        variance = schedule.betas.at[0].set(0.0)  # no noise on the last step
    else:
        variance = schedule.posterior_variance
    coef_x0 = jnp.sqrt(schedule.alpha_bar_prev) * schedule.betas
    coef_x0 = coef_x0 / (1.0 - schedule.alpha_bar)
    coef_xt = jnp.sqrt(schedule.alphas) * (1.0 - schedule.alpha_bar_prev)
    coef_xt = coef_xt / (1.0 - schedule.alpha_bar)

    def step(x, t):
        x0, _ = _denoised(schedule, x, _epsilon(model, params, x, t), t, clip)
        mean = coef_x0[t] * x0 + coef_xt[t] * x
        z = jax.random.normal(jax.random.fold_in(step_key, t), shape)
        x = mean + jnp.sqrt(variance[t]) * z
        return x, (x if path else None)

    x, xs = jax.lax.scan(step, x, jnp.arange(steps - 1, -1, -1))
    return (x, xs) if path else x


def ancestral_sample(
    model: nn.Module,
    params,
    schedule: NoiseSchedule,
    key: jax.Array,
    shape=None,
    *,
    x_start: jax.Array | None = None,
    clip_denoised: bool = True,
    variance: str = "posterior",
    return_path: bool = False,
):
    r"""DDPM's ancestral sampler: ``T`` reverse steps (a ``lax.scan``).

    Args:
      model: the noise predictor, ``model.apply({"params": params}, x, t)``.
      params: its ``params`` collection (e.g. the EMA average).
      schedule: the schedule it was trained with.
      key: PRNG key.
      shape: ``(n, H, W, C)`` of the samples (None when ``x_start`` is given).
      x_start: optional ``x_T``, ``(n, H, W, C)``; default a draw from
        ``split(key)[0]``.
      clip_denoised: clip each step's ``x0`` prediction to ``[-1, 1]``.
      variance: ``"posterior"`` (:math:`\tilde\beta_t`) or ``"beta"``
        (:math:`\beta_t`), Ho et al.'s two choices.
      return_path: also return every step's ``x_{t-1}``, ``(T, n, H, W, C)``
        (from ``x_{T-1}`` down to ``x_0``).

    Returns:
      ``(n, H, W, C)`` samples in about ``[-1, 1]`` (``(samples, path)`` with
      ``return_path``).

    Raises:
      TypeError, ValueError: bad model, params, schedule, key, shape or flags.
    """
    x = _check(model, params, schedule, key, shape, x_start, clip_denoised)
    if variance not in VARIANCES:
        raise ValueError(f"`variance` must be one of {VARIANCES}; got {variance!r}.")
    check_bool(return_path, "return_path")
    return _ancestral(
        model, params, schedule, key, x, clip_denoised,
        variance == "beta", return_path,
    )  # fmt: skip


#: How :func:`ddim_timesteps` spreads ``S`` steps over ``T``.
DDIM_SPACINGS = ("uniform", "quadratic")


def ddim_timesteps(total: int, steps: int, spacing: str = "uniform") -> np.ndarray:
    """``steps`` of the ``total`` diffusion steps, descending from ``total - 1``.

    Song et al. (2021, app. D.2) select the sub-sequence ``tau`` linearly or
    quadratically in the step index:

    * ``"uniform"``: ``round(linspace(total - 1, 0, steps))``, evenly spaced;
    * ``"quadratic"``: ``tau_i = round((i / (S - 1))^2 (total - 1))``, dense
      near ``t = 0`` where the images form (their choice for CIFAR-10);
      raised where needed to stay strictly increasing in ``i``.

    Both start at ``total - 1`` (pure noise) and end at 0; ``steps = total``
    gives every step, ``steps = 1`` only the last (``total - 1``).

    Raises:
      ValueError: ``steps < 1`` or ``steps > total``; ``spacing`` not one of
        :data:`DDIM_SPACINGS`.
    """
    check_positive_int(total, "total")
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer):
        raise TypeError(f"`steps` must be an int; got {steps!r}.")
    if not 1 <= steps <= total:
        raise ValueError(
            f"`steps` (sampling steps S) must be in [1, {total}] (the schedule's "
            f"T); got {steps}."
        )
    if spacing not in DDIM_SPACINGS:
        raise ValueError(f"`spacing` must be one of {DDIM_SPACINGS}; got {spacing!r}.")
    if steps == 1:
        return np.array([total - 1], np.int32)
    fraction = np.linspace(0.0, 1.0, steps)
    if spacing == "quadratic":
        fraction = fraction**2
    ascending = np.round(fraction * (total - 1)).astype(np.int64)
    # strictly increasing: lift collisions near 0; ends stay 0 and total - 1
    for i in range(1, steps):
        ascending[i] = max(ascending[i], ascending[i - 1] + 1)
    for i in range(steps - 2, -1, -1):
        ascending[i] = min(ascending[i], ascending[i + 1] - 1)
    return ascending[::-1].astype(np.int32)


@functools.partial(jax.jit, static_argnums=(0, 7, 8))
def _ddim(model, params, schedule, key, x, timesteps, eta, clip, path):
    _, step_key = jax.random.split(key)
    shape = x.shape
    previous = jnp.concatenate([timesteps[1:], jnp.array([-1], timesteps.dtype)])

    def step(x, ts):
        t, t_prev = ts
        alpha_bar = schedule.alpha_bar[t]
        alpha_bar_prev = jnp.where(
            t_prev >= 0, schedule.alpha_bar[jnp.maximum(t_prev, 0)], 1.0
        )
        x0, eps = _denoised(schedule, x, _epsilon(model, params, x, t), t, clip)
        sigma = eta * jnp.sqrt(
            (1.0 - alpha_bar_prev)
            / (1.0 - alpha_bar)
            * (1.0 - alpha_bar / alpha_bar_prev)
        )
        direction = jnp.sqrt(jnp.maximum(1.0 - alpha_bar_prev - sigma**2, 0.0)) * eps
        z = jax.random.normal(jax.random.fold_in(step_key, t), shape)
        x = jnp.sqrt(alpha_bar_prev) * x0 + direction + sigma * z
        return x, (x if path else None)

    x, xs = jax.lax.scan(step, x, (timesteps, previous))
    return (x, xs) if path else x


def ddim_sample(
    model: nn.Module,
    params,
    schedule: NoiseSchedule,
    key: jax.Array,
    shape=None,
    *,
    x_start: jax.Array | None = None,
    steps: int = 50,
    eta: float = 0.0,
    spacing: str = "uniform",
    clip_denoised: bool = True,
    return_path: bool = False,
):
    """DDIM (Song, Meng & Ermon 2021) on ``steps`` of the schedule's ``T`` steps.

    Args:
      model: the noise predictor (the DDPM's network, unchanged).
      params: its ``params`` collection.
      schedule: the schedule it was trained with.
      key: PRNG key (unused by the updates when ``eta = 0``, except ``x_T``).
      shape: ``(n, H, W, C)`` (None when ``x_start`` is given).
      x_start: optional ``x_T``; default a draw from ``split(key)[0]``.
      steps: ``S``, in ``[1, T]``; the sub-sequence is :func:`ddim_timesteps`.
      spacing: ``"uniform"`` or ``"quadratic"`` (:func:`ddim_timesteps`).
      eta: ``>= 0``; 0 deterministic (DDIM), 1 the DDPM's posterior variance.
      clip_denoised: clip the ``x0`` predictions to ``[-1, 1]`` (epsilon
        recomputed from the clipped value).
      return_path: also return every step's state, ``(S, n, H, W, C)``.

    Returns:
      ``(n, H, W, C)`` samples (``(samples, path)`` with ``return_path``).

    Raises:
      ValueError: ``steps`` outside ``[1, T]``, ``eta < 0``, an unknown
        ``spacing``; TypeError, ValueError for other bad arguments.
    """
    x = _check(model, params, schedule, key, shape, x_start, clip_denoised)
    timesteps = ddim_timesteps(schedule.steps, steps, spacing)
    check_interval(eta, "eta", 0.0)
    check_bool(return_path, "return_path")
    return _ddim(
        model, params, schedule, key, x, jnp.asarray(timesteps),
        jnp.float32(eta), clip_denoised, return_path,
    )  # fmt: skip


class FlowSample(NamedTuple):
    """Output of :func:`probability_flow_sample`.

    Attributes:
      samples: ``(n, H, W, C)`` images.
      steps: ``[]`` int, solver steps taken (accepted and rejected).
      evaluations: ``[]`` int, network evaluations (each on the whole batch):
        the solver's stages per step from the solution's ``num_steps`` (FSAL
        solvers reuse one), plus the final denoising step.
    """

    samples: jax.Array
    steps: jax.Array
    evaluations: jax.Array


@functools.partial(jax.jit, static_argnums=(0, 5, 6, 7, 8, 9))
def _flow(model, params, schedule, key, x_start, rtol, atol, solver, max_steps, clip):
    alpha_bar = schedule.alpha_bar
    log_sigma = 0.5 * jnp.log((1.0 - alpha_bar) / alpha_bar)  # increasing in t
    steps = jnp.arange(alpha_bar.shape[0], dtype=jnp.float32)

    def field(s, x_bar, params):
        sigma = jnp.exp(s)
        t = jnp.interp(s, log_sigma, steps)
        x = x_bar / jnp.sqrt(1.0 + sigma**2)
        return sigma * _epsilon(model, params, x, t)

    s0, s1 = log_sigma[-1], log_sigma[0]
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        solver,
        t0=s0,
        t1=s1,
        dt0=(s1 - s0) / 64,
        y0=x_start / jnp.sqrt(alpha_bar[-1]),
        args=params,
        saveat=diffrax.SaveAt(t1=True),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=max_steps,
    )
    x = solution.ys[-1] * jnp.sqrt(alpha_bar[0])
    x0, _ = _denoised(schedule, x, _epsilon(model, params, x, 0), 0, clip)
    tableau = solver.tableau
    per_step = tableau.num_stages - (1 if tableau.fsal else 0)
    n_steps = solution.stats["num_steps"]
    evaluations = n_steps * per_step + (1 if tableau.fsal else 0) + 1
    return FlowSample(x0, n_steps, evaluations)


def probability_flow_sample(
    model: nn.Module,
    params,
    schedule: NoiseSchedule,
    key: jax.Array,
    shape=None,
    *,
    x_start: jax.Array | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    solver: diffrax.AbstractERK | None = None,
    max_steps: int = 4096,
    clip_denoised: bool = True,
) -> FlowSample:
    """Samples by solving the probability-flow ODE with Diffrax (adaptive steps).

    Args:
      model: the noise predictor (the DDPM's network, unchanged).
      params: its ``params`` collection.
      schedule: the schedule it was trained with.
      key: PRNG key of ``x_T`` (the only randomness).
      shape: ``(n, H, W, C)`` (None when ``x_start`` is given).
      x_start: optional ``x_T``; default a draw from ``split(key)[0]``.
      rtol: relative tolerance of the PID step-size controller.
      atol: absolute tolerance (on ``x / sqrt(alpha_bar)``).
      solver: an explicit Runge-Kutta solver (default ``diffrax.Tsit5()``).
      max_steps: solver step budget (Diffrax raises when it runs out).
      clip_denoised: clip the final ``x0`` prediction to ``[-1, 1]``.

    Returns:
      A :class:`FlowSample` (samples, solver steps, network evaluations).

    Raises:
      TypeError, ValueError: bad arguments (tolerances must be > 0).
    """
    x = _check(model, params, schedule, key, shape, x_start, clip_denoised)
    check_interval(rtol, "rtol", 0.0, np.inf, closed=False)
    check_interval(atol, "atol", 0.0, np.inf, closed=False)
    check_positive_int(max_steps, "max_steps")
    solver = diffrax.Tsit5() if solver is None else solver
    if not isinstance(solver, diffrax.AbstractERK):
        raise TypeError(
            "`solver` must be an explicit Runge-Kutta solver such as "
            f"diffrax.Tsit5(); got {type(solver).__name__}."
        )
    return _flow(
        model, params, schedule, key, x, float(rtol), float(atol), solver,
        int(max_steps), clip_denoised,
    )  # fmt: skip
