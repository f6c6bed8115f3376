r"""The forward (noising) process in closed form, and the data convention.

Any step of the forward chain can be drawn directly from the data
(Ho et al. 2020, eq. 4):

.. math:: q(x_t | x_0) = \mathcal N\big(\sqrt{\bar\alpha_t}\,x_0,\
          (1 - \bar\alpha_t) I\big),\qquad
          x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1 - \bar\alpha_t}\,\epsilon,
          \quad \epsilon \sim \mathcal N(0, I).

Data convention: images live in ``[-1, 1]`` (Ho et al. scale pixels
``[0, 255]`` linearly there), NHWC ``(B, H, W, C)``; :func:`to_model_range`
and :func:`to_pixels` convert from and to ``[0, 1]`` pixels.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key, is_concrete
from jnn.generative.diffusion.schedules import NoiseSchedule, check_schedule


def check_model_images(x, name: str = "x") -> None:
    """Raise unless ``x`` is a float ``(B, H, W, C)`` array in ``[-1, 1]``.

    The range is checked when ``x`` is concrete (a small tolerance allows
    rounding).

    Raises:
      TypeError: not a floating array.
      ValueError: not rank 4, NaN/inf, or values outside ``[-1, 1]``.
    """
    check_array(x, name, ndim=4, kind="f")
    if is_concrete(x):
        values = np.asarray(x)
        low, high = float(values.min()), float(values.max())
        if low < -1.0 - 1e-6 or high > 1.0 + 1e-6:
            raise ValueError(
                f"`{name}` must hold images in the model's range [-1, 1]; got "
                f"values in [{low:g}, {high:g}] (map [0, 1] pixels with "
                "to_model_range(x) = 2 x - 1)."
            )


def to_model_range(pixels: jax.Array) -> jax.Array:
    """``[0, 1]`` pixels to the model's ``[-1, 1]``: ``2 x - 1``."""
    return 2.0 * jnp.asarray(pixels, jnp.float32) - 1.0


def to_pixels(x: jax.Array) -> jax.Array:
    """Model-range images to ``[0, 1]`` pixels, clipped: ``clip((x + 1) / 2)``."""
    return jnp.clip((x + 1.0) / 2.0, 0.0, 1.0)


def _per_example(values: jax.Array, t: jax.Array, x: jax.Array) -> jax.Array:
    """``values[t]`` shaped to broadcast against ``x`` ``(B, ...)``."""
    return values[t].reshape((-1,) + (1,) * (x.ndim - 1))


def forward_marginal(
    schedule: NoiseSchedule, x0: jax.Array, t: jax.Array
) -> tuple[jax.Array, jax.Array]:
    r"""Mean and variance of :math:`q(x_t | x_0)`.

    Args:
      schedule: the noise schedule.
      x0: ``(B, H, W, C)`` clean images in ``[-1, 1]``.
      t: ``(B,)`` integer steps in ``[0, T)`` (index ``t`` is the paper's
        ``t + 1``).

    Returns:
      ``(mean, variance)``: ``(B, H, W, C)`` and ``(B, 1, 1, 1)``,
      :math:`\sqrt{\bar\alpha_t}\,x_0` and :math:`1 - \bar\alpha_t`.
    """
    _check(schedule, x0, t)
    alpha_bar = _per_example(schedule.alpha_bar, t, x0)
    return jnp.sqrt(alpha_bar) * x0, 1.0 - alpha_bar


def diffuse(
    schedule: NoiseSchedule, x0: jax.Array, t: jax.Array, noise: jax.Array
) -> jax.Array:
    r""":math:`x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon`.

    The reparameterised draw from :math:`q(x_t | x_0)` with given noise (no
    checks: the compiled training step calls it).

    Args:
      schedule: the noise schedule.
      x0: ``(B, ...)`` clean images.
      t: ``(B,)`` integer steps in ``[0, T)``.
      noise: ``epsilon``, shaped like ``x0``.
    """
    alpha_bar = _per_example(schedule.alpha_bar, t, x0)
    return jnp.sqrt(alpha_bar) * x0 + jnp.sqrt(1.0 - alpha_bar) * noise


def forward_sample(
    schedule: NoiseSchedule, x0: jax.Array, t: jax.Array, key: jax.Array
) -> tuple[jax.Array, jax.Array]:
    r"""Draw :math:`x_t \sim q(x_t | x_0)`: ``(x_t, epsilon)``.

    Args:
      schedule: the noise schedule.
      x0: ``(B, H, W, C)`` clean images in ``[-1, 1]``.
      t: ``(B,)`` integer steps in ``[0, T)``.
      key: PRNG key of the noise.

    Returns:
      ``(x_t, noise)``, both ``(B, H, W, C)``.

    Raises:
      TypeError, ValueError: bad schedule, images, steps or key.
    """
    _check(schedule, x0, t)
    check_key(key)
    noise = jax.random.normal(key, x0.shape, x0.dtype)
    return diffuse(schedule, x0, t, noise), noise


def _check(schedule, x0, t) -> None:
    check_schedule(schedule)
    check_model_images(x0, "x0")
    check_steps(t, schedule.steps, x0.shape[0])


def check_steps(t, steps: int, batch: int, name: str = "t") -> None:
    """Raise unless ``t`` is ``(batch,)`` integers in ``[0, steps)`` (if concrete)."""
    check_array(t, name, ndim=1, kind="i")
    if t.shape[0] != batch:
        raise ValueError(
            f"`{name}` must hold one step per image ({batch}); got shape {t.shape}."
        )
    if is_concrete(t):
        values = np.asarray(t)
        if values.min() < 0 or values.max() >= steps:
            raise ValueError(
                f"`{name}` must hold steps in [0, {steps}) (the schedule's T); got "
                f"[{values.min()}, {values.max()}]."
            )
