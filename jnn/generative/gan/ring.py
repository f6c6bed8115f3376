"""Mode coverage and sample quality on a Gaussian mixture (the 8-Gaussian ring).

The two numbers of Srivastava et al. (2017, VEEGAN, section 5.1), also used
by Metz et al. (2017, unrolled GANs) and Lin et al. (2018, PacGAN):

* **high-quality samples**: the share of samples within 3 standard
  deviations of the nearest mode;
* **modes covered**: the modes that the high-quality samples visit. A mode
  counts when at least ``min_share`` of all samples are high-quality samples
  of it (PacGAN counts a mode when 20 of 2,500 samples, 0.8%, fall in it).
  The default is a fifth of the uniform share, ``1 / (5 K)`` (2.5% for 8
  modes), the rule of the MNIST yardstick's class coverage: a collapsed
  generator's stray samples do not count as coverage.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jnn._checks import check_array, check_fraction, check_positive_float


class RingScores(NamedTuple):
    """Coverage of a mixture by samples (jax scalars/arrays: vmappable).

    Attributes:
      modes_covered: ``[]`` int32, modes with at least ``min_share`` of the
        samples as high-quality samples.
      high_quality: ``[]`` float32, share of samples within ``3 std`` of a
        mode.
      mode_counts: ``(K,)`` int32, high-quality samples per mode.
    """

    modes_covered: jax.Array
    high_quality: jax.Array
    mode_counts: jax.Array


def ring_scores(
    samples: jax.Array,
    centres: jax.Array,
    std: float,
    *,
    min_share: float | None = None,
    radius: float = 3.0,
) -> RingScores:
    """Modes covered and high-quality fraction of ``samples`` (module docstring).

    Args:
      samples: ``(n, d)`` generated points.
      centres: ``(K, d)`` mode means (:func:`jnn.data.ring_centres`).
      std: the components' standard deviation.
      min_share: share of the ``n`` samples a mode needs to be covered; None
        for ``1 / (5 K)``.
      radius: the high-quality radius in standard deviations (3).

    Returns:
      A :class:`RingScores`. Works under ``jit``/``vmap`` (the checks read
      only shapes when traced).
    """
    check_array(samples, "samples", ndim=2, kind="f")
    check_array(centres, "centres", ndim=2, kind="f")
    if samples.shape[1] != centres.shape[1]:
        raise ValueError(
            f"`samples` and `centres` must have the same dimension; got "
            f"{samples.shape[1]} and {centres.shape[1]}."
        )
    check_positive_float(std, "std")
    check_positive_float(radius, "radius")
    modes = centres.shape[0]
    if min_share is None:
        min_share = 1.0 / (5 * modes)
    check_fraction(min_share, "min_share")
    d2 = jnp.sum((samples[:, None, :] - centres[None, :, :]) ** 2, axis=-1)
    nearest = jnp.argmin(d2, axis=1)
    good = jnp.min(d2, axis=1) <= (radius * std) ** 2
    counts = jnp.zeros(modes, jnp.int32).at[nearest].add(good.astype(jnp.int32))
    covered = jnp.sum(counts >= min_share * samples.shape[0]).astype(jnp.int32)
    return RingScores(covered, jnp.mean(good.astype(jnp.float32)), counts)
