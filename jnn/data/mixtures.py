"""Gaussian mixtures in the plane: the 8-Gaussian ring of GAN mode-collapse studies.

Metz et al. (2017, unrolled GANs) and Srivastava et al. (2017, VEEGAN) train
GANs on a mixture of 8 isotropic Gaussians with means evenly spaced on a
circle of radius 2 and standard deviation 0.02: a generator that collapses
visits one or a few of the modes (see :mod:`jnn.generative.gan.ring` for the
scores).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jnn._checks import check_key, check_positive_float, check_positive_int


def ring_centres(modes: int = 8, radius: float = 2.0) -> jax.Array:
    r"""Means :math:`\mu_k = r(\cos 2\pi k/K, \sin 2\pi k/K)`, shape ``(K, 2)``.

    Args:
      modes: number of components ``K >= 1``.
      radius: ``r > 0``.
    """
    check_positive_int(modes, "modes")
    check_positive_float(radius, "radius")
    angles = 2 * jnp.pi * jnp.arange(modes) / modes
    return radius * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)


def gaussian_ring(
    key: jax.Array,
    n: int,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.02,
) -> dict[str, jax.Array]:
    r"""Draw ``n`` points of the ring mixture: equal weights, isotropic components.

    .. math:: x = \mu_y + \sigma\varepsilon,\quad y \sim U\{0, \dots, K-1\},
              \quad \varepsilon \sim \mathcal N(0, I_2)

    Args:
      key: PRNG key.
      n: number of points.
      modes: number of components ``K`` (8).
      radius: radius of the circle of means (2.0).
      std: standard deviation ``sigma`` of each component (0.02).

    Returns:
      ``{"x": (n, 2) float32, "y": (n,) int32}``: points and their component;
      the means are :func:`ring_centres` ``(modes, radius)``.

    Raises:
      TypeError, ValueError: a bad key, non-positive ``n``, ``modes``,
        ``radius`` or ``std``.

    Example:
      >>> data = gaussian_ring(jax.random.key(0), 4)
      >>> data["x"].shape, data["y"].shape
      ((4, 2), (4,))
    """
    check_key(key)
    check_positive_int(n, "n")
    check_positive_float(std, "std")
    centres = ring_centres(modes, radius)
    key_mode, key_noise = jax.random.split(key)
    y = jax.random.randint(key_mode, (n,), 0, modes, jnp.int32)
    x = centres[y] + std * jax.random.normal(key_noise, (n, 2), jnp.float32)
    return {"x": x.astype(jnp.float32), "y": y}
