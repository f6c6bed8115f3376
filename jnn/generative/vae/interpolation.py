r"""Latent interpolation between two images (Kingma & Welling 2014, fig. 4; White 2016).

Two images are encoded to their posterior means ``z_0, z_1``; points between
them are decoded to ``E[x | z]``:

* linear: ``z_t = (1 - t) z_0 + t z_1``;
* spherical (slerp, White 2016, "Sampling generative networks"): with
  ``cos theta = z_0 . z_1 / (|z_0| |z_1|)``,

  .. math:: z_t = \frac{\sin((1 - t)\theta)}{\sin\theta} z_0
            + \frac{\sin(t\theta)}{\sin\theta} z_1,

  which keeps intermediate points at norms typical of a Gaussian prior in
  high dimension instead of cutting through the low-density centre (it falls
  back to linear when ``z_0`` and ``z_1`` are parallel).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jnn._checks import check_array, check_positive_int
from jnn.generative.vae.elbo import check_data
from jnn.generative.vae.model import VAE
from jnn.generative.vae.sampling import _check_model
from jnn.train.learner import PyTree

METHODS = ("linear", "spherical")


def _check_method(method) -> None:
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}; got {method!r}.")


def _path(z0, z1, steps: int, method: str):
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    linear = (1.0 - t) * z0[None] + t * z1[None]
    if method == "linear":
        return linear
    norms = jnp.linalg.norm(z0) * jnp.linalg.norm(z1)
    cos = jnp.clip(jnp.dot(z0, z1) / jnp.maximum(norms, 1e-12), -1.0, 1.0)
    theta = jnp.arccos(cos)
    sin = jnp.sin(theta)
    safe = jnp.where(sin > 1e-6, sin, 1.0)
    slerp = (jnp.sin((1.0 - t) * theta) * z0[None] + jnp.sin(t * theta) * z1[None]) / (
        safe
    )
    return jnp.where(sin > 1e-6, slerp, linear)


def interpolate(
    z0: jax.Array, z1: jax.Array, steps: int = 10, method: str = "linear"
) -> jax.Array:
    """``steps`` points from ``z0`` to ``z1`` (both ends included), ``(steps, L)``.

    Args:
      z0: ``(L,)`` start.
      z1: ``(L,)`` end.
      steps: number of points (>= 2).
      method: ``"linear"`` or ``"spherical"`` (module docstring).

    Example:
      >>> interpolate(jnp.zeros(2), jnp.ones(2), 3).tolist()
      [[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]
    """
    check_array(z0, "z0", ndim=1, kind="f")
    check_array(z1, "z1", ndim=1, kind="f")
    if z0.shape != z1.shape:
        raise ValueError(
            f"`z0` and `z1` must have the same shape; got {z0.shape} and {z1.shape}."
        )
    check_positive_int(steps, "steps")
    if steps < 2:
        raise ValueError(f"`steps` must be >= 2 (both ends); got {steps}.")
    _check_method(method)
    return _path(jnp.asarray(z0), jnp.asarray(z1), steps, method)


@functools.partial(jax.jit, static_argnames=("model", "steps", "method"))
def _images(model, params, pair, steps, method):
    variables = {"params": params}
    mean, _ = model.apply(variables, pair, method=VAE.encode)
    z = _path(mean[0], mean[1], steps, method)
    return model.apply(variables, z, method=VAE.decode).mean_image()


def latent_interpolation(
    model: VAE,
    params: PyTree,
    x0: jax.Array,
    x1: jax.Array,
    steps: int = 10,
    method: str = "linear",
) -> jax.Array:
    """Decoded path between the posterior means of two images, ``(steps, D)``.

    Args:
      model: a :class:`VAE`.
      params: its ``params`` collection.
      x0: ``(D,)`` first image (in the decoder's range).
      x1: ``(D,)`` second image.
      steps: points on the path (>= 2), ends included.
      method: ``"linear"`` or ``"spherical"``.

    Returns:
      ``(steps, D)`` mean images ``E[x | z_t]``.
    """
    _check_model(model)
    check_positive_int(steps, "steps")
    if steps < 2:
        raise ValueError(f"`steps` must be >= 2 (both ends); got {steps}.")
    _check_method(method)
    for name, x in (("x0", x0), ("x1", x1)):
        check_array(x, name, ndim=1)
    if x0.shape != x1.shape:
        raise ValueError(
            f"`x0` and `x1` must have the same shape; got {x0.shape} and {x1.shape}."
        )
    pair = jnp.stack([jnp.asarray(x0, jnp.float32), jnp.asarray(x1, jnp.float32)])
    check_data(pair, model, "x0, x1")
    return _images(model, params, pair, steps, method)
