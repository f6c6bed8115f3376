r"""Noise schedules of denoising diffusion: betas and what derives from them.

A schedule is ``T`` variances :math:`\beta_1 \ldots \beta_T` of the forward
(noising) Markov chain :math:`q(x_t | x_{t-1}) = \mathcal N(\sqrt{1 - \beta_t}
\, x_{t-1}, \beta_t I)` (Ho, Jain & Abbeel 2020). Everything the model and the
samplers need derives from them:

.. math:: \alpha_t = 1 - \beta_t,\qquad
          \bar\alpha_t = \prod_{s \le t} \alpha_s,\qquad
          \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t}\,\beta_t

(:math:`\tilde\beta_t` is the variance of the posterior
:math:`q(x_{t-1} | x_t, x_0)`, with :math:`\bar\alpha_0 = 1`).

Indices: arrays are indexed by ``t = 0 .. T-1``, entry ``t`` holding the
paper's step ``t + 1``; ``alpha_bar_prev[t]`` is :math:`\bar\alpha_{t}` of the
paper (1 for ``t = 0``).

* :func:`linear_schedule`: betas linear from ``1e-4`` to ``0.02`` over
  ``T = 1000`` steps (Ho et al. 2020).
* :func:`cosine_schedule`: :math:`\bar\alpha_t = f(t)/f(0)`,
  :math:`f(t) = \cos^2\!\big(\frac{t/T + s}{1 + s}\frac{\pi}{2}\big)`,
  ``s = 0.008``, betas clipped at ``0.999`` (Nichol & Dhariwal 2021).
* :func:`schedule_from_betas`: any betas in ``(0, 1)``.

Derived quantities are computed in float64 on the host and stored as float32.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_interval, check_positive_int

#: Ho et al. (2020): T = 1000, betas linear from 1e-4 to 0.02.
DEFAULT_STEPS = 1000


class NoiseSchedule(NamedTuple):
    r"""A diffusion schedule (a pytree of ``(T,)`` float32 arrays).

    Attributes:
      betas: :math:`\beta_t`, the forward-step variances, in ``(0, 1)``.
      alphas: :math:`\alpha_t = 1 - \beta_t`.
      alpha_bar: :math:`\bar\alpha_t = \prod_{s \le t} \alpha_s`.
      alpha_bar_prev: :math:`\bar\alpha_{t-1}` (1 at the first step).
      posterior_variance: :math:`\tilde\beta_t`, the variance of
        :math:`q(x_{t-1} | x_t, x_0)` (0 at the first step).
    """

    betas: jax.Array
    alphas: jax.Array
    alpha_bar: jax.Array
    alpha_bar_prev: jax.Array
    posterior_variance: jax.Array

    @property
    def steps(self) -> int:
        """The number of diffusion steps ``T``."""
        return int(self.betas.shape[0])


def schedule_from_betas(betas) -> NoiseSchedule:
    """The schedule of given betas.

    Args:
      betas: ``(T,)`` forward-step variances, each in the open interval
        ``(0, 1)``.

    Returns:
      A :class:`NoiseSchedule`.

    Raises:
      TypeError: not a concrete real array.
      ValueError: not 1-D, empty, or a beta outside ``(0, 1)``.
    """
    if isinstance(betas, jax.core.Tracer):
        raise TypeError("`betas` must be concrete (build schedules outside jit).")
    if not hasattr(betas, "shape"):
        betas = np.asarray(betas)
    if betas.dtype.kind not in "fiu":
        raise TypeError(f"`betas` must be a real array; got dtype {betas.dtype}.")
    b = np.asarray(betas, np.float64)
    if b.ndim != 1 or b.size == 0:
        raise ValueError(f"`betas` must be a non-empty 1-D array; got shape {b.shape}.")
    if not np.all(np.isfinite(b)) or b.min() <= 0.0 or b.max() >= 1.0:
        raise ValueError(
            "`betas` must lie in the open interval (0, 1); got values in "
            f"[{b.min():g}, {b.max():g}]."
        )
    alphas = 1.0 - b
    alpha_bar = np.cumprod(alphas)
    alpha_bar_prev = np.concatenate([[1.0], alpha_bar[:-1]])
    posterior = b * (1.0 - alpha_bar_prev) / (1.0 - alpha_bar)
    return NoiseSchedule(
        *(
            jnp.asarray(a, jnp.float32)
            for a in (b, alphas, alpha_bar, alpha_bar_prev, posterior)
        )
    )


def linear_schedule(
    steps: int = DEFAULT_STEPS, beta_start: float = 1e-4, beta_end: float = 0.02
) -> NoiseSchedule:
    r"""Betas linear from ``beta_start`` to ``beta_end`` (Ho et al. 2020).

    .. math:: \beta_t = \beta_{\text{start}} + \frac{t - 1}{T - 1}
              (\beta_{\text{end}} - \beta_{\text{start}}),\quad t = 1..T

    Args:
      steps: ``T`` (1000 in the paper).
      beta_start: first beta, in ``(0, 1)``.
      beta_end: last beta, in ``(0, 1)``.

    Raises:
      ValueError: ``steps < 1`` or a beta outside ``(0, 1)``.
    """
    check_positive_int(steps, "steps")
    check_interval(beta_start, "beta_start", 0.0, 1.0, closed=False)
    check_interval(beta_end, "beta_end", 0.0, 1.0, closed=False)
    return schedule_from_betas(np.linspace(beta_start, beta_end, steps))


def cosine_schedule(
    steps: int = DEFAULT_STEPS, offset: float = 0.008, max_beta: float = 0.999
) -> NoiseSchedule:
    r"""The cosine schedule of Nichol & Dhariwal (2021), eq. 17.

    .. math:: \bar\alpha_t = \frac{f(t)}{f(0)},\quad
              f(t) = \cos^2\Big(\frac{t/T + s}{1 + s}\cdot\frac{\pi}{2}\Big),
              \quad \beta_t = \min\Big(1 - \frac{\bar\alpha_t}
              {\bar\alpha_{t-1}},\ 0.999\Big)

    Args:
      steps: ``T``.
      offset: ``s`` (0.008), which keeps :math:`\beta_1` from being tiny.
      max_beta: the clip of the betas near ``t = T``, in ``(0, 1)``.

    Raises:
      ValueError: ``steps < 1``, ``offset < 0``, ``max_beta`` outside ``(0, 1)``.
    """
    check_positive_int(steps, "steps")
    check_interval(offset, "offset", 0.0, np.inf)
    check_interval(max_beta, "max_beta", 0.0, 1.0, closed=False)
    t = np.arange(steps + 1, dtype=np.float64) / steps
    f = np.cos((t + offset) / (1.0 + offset) * np.pi / 2) ** 2
    alpha_bar = f / f[0]
    betas = np.minimum(1.0 - alpha_bar[1:] / alpha_bar[:-1], max_beta)
    return schedule_from_betas(betas)


def check_schedule(schedule, name: str = "schedule") -> NoiseSchedule:
    """Raise a ``TypeError`` unless ``schedule`` is a :class:`NoiseSchedule`."""
    if not isinstance(schedule, NoiseSchedule):
        raise TypeError(
            f"`{name}` must be a NoiseSchedule (linear_schedule(), "
            f"cosine_schedule()); got {type(schedule).__name__}."
        )
    return schedule
