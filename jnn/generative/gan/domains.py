"""Two unpaired image domains built from MNIST, for CycleGAN (Zhu et al. 2017).

CycleGAN learns a translation between two domains from unpaired examples:
no image of domain A is ever shown with its counterpart in domain B. Built
from one data set, the two domains must therefore come from **disjoint**
images: :func:`unpaired_domains` splits the images at random into two halves,
keeps the first half as domain A (plain digits) and transforms the second
half into domain B, so a digit of A never has its own transformed copy in B.

Transforms (:func:`domain_transform`, images ``(n, 28, 28, 1)`` in ``[0, 1]``):

* ``"invert"``: colour inversion ``1 - x`` (white digits on black become
  black digits on white);
* ``"rot90"``: rotation by 90 degrees counter-clockwise (exact, a transpose);
* ``"rotate"``: rotation by ``angle`` degrees about the image centre,
  bilinear interpolation, zero outside.

:func:`inverse_domain_transform` maps B back to the MNIST domain (exactly for
``invert`` and ``rot90``), so an MNIST classifier can read the class of an
image translated into B.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_key

TRANSFORMS = ("invert", "rot90", "rotate")
IMAGE_SHAPE = (28, 28, 1)


def _check_transform(transform: str, angle: float) -> None:
    if transform not in TRANSFORMS:
        raise ValueError(f"`transform` must be one of {TRANSFORMS}; got {transform!r}.")
    if isinstance(angle, bool) or not isinstance(angle, int | float | np.number):
        raise TypeError(f"`angle` must be a number of degrees; got {angle!r}.")
    if not np.isfinite(angle):
        raise ValueError(f"`angle` must be finite; got {angle}.")


def check_domain_images(images, name: str = "images") -> None:
    """Raise unless ``images`` is a float array ``(n, 28, 28, 1)``."""
    check_array(images, name, ndim=4, kind="f")
    if tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise ValueError(
            f"`{name}` must be MNIST images of shape (n, 28, 28, 1); got "
            f"{tuple(images.shape)}."
        )


def _rotate(images: jax.Array, degrees: float) -> jax.Array:
    """Rotate ``(n, H, W, 1)`` images counter-clockwise about their centre."""
    _, h, w, _ = images.shape
    theta = -np.deg2rad(degrees)  # counter-clockwise on screen, like np.rot90
    rows, cols = jnp.meshgrid(jnp.arange(h), jnp.arange(w), indexing="ij")
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # output pixel (r, c) reads the input at the inverse rotation of (r, c)
    y, x = rows - cy, cols - cx
    src_r = cy + jnp.cos(theta) * y - jnp.sin(theta) * x
    src_c = cx + jnp.sin(theta) * y + jnp.cos(theta) * x

    def one(image):
        return jax.scipy.ndimage.map_coordinates(
            image[..., 0], [src_r, src_c], order=1, mode="constant", cval=0.0
        )[..., None]

    return jax.vmap(one)(images)


def domain_transform(images, transform: str = "invert", *, angle: float = 45.0):
    """Map MNIST images into domain B.

    Args:
      images: ``(n, 28, 28, 1)`` float images in ``[0, 1]``.
      transform: ``"invert"`` (``1 - x``), ``"rot90"`` or ``"rotate"``.
      angle: degrees, counter-clockwise, for ``"rotate"``.

    Returns:
      ``(n, 28, 28, 1)`` float32 images in ``[0, 1]``.
    """
    check_domain_images(images)
    _check_transform(transform, angle)
    x = jnp.asarray(images, jnp.float32)
    if transform == "invert":
        return 1.0 - x
    if transform == "rot90":
        return jnp.rot90(x, k=1, axes=(1, 2))
    return jnp.clip(_rotate(x, float(angle)), 0.0, 1.0)


def inverse_domain_transform(images, transform: str = "invert", *, angle: float = 45.0):
    """Map domain-B images back to the MNIST domain (for the classifier).

    Exact inverse of :func:`domain_transform` for ``"invert"`` and ``"rot90"``;
    for ``"rotate"`` the rotation by ``-angle`` (corners cut off by the
    forward rotation stay lost).
    """
    check_domain_images(images)
    _check_transform(transform, angle)
    x = jnp.asarray(images, jnp.float32)
    if transform == "invert":
        return 1.0 - x
    if transform == "rot90":
        return jnp.rot90(x, k=-1, axes=(1, 2))
    return jnp.clip(_rotate(x, -float(angle)), 0.0, 1.0)


class UnpairedDomains(NamedTuple):
    """Two domains drawn from disjoint halves of one image set.

    Attributes:
      a: ``(n_a, 28, 28, 1)`` domain-A images (the plain digits).
      b: ``(n_b, 28, 28, 1)`` domain-B images (transformed digits).
      a_labels: digit classes of ``a`` (for evaluation only: CycleGAN never
        reads them).
      b_labels: digit classes of ``b`` (likewise).
      a_rows: indices of the source images of ``a``.
      b_rows: indices of the source images of ``b`` (disjoint from ``a_rows``).
    """

    a: jax.Array
    b: jax.Array
    a_labels: np.ndarray
    b_labels: np.ndarray
    a_rows: np.ndarray
    b_rows: np.ndarray


def unpaired_domains(
    images,
    labels,
    key: jax.Array,
    transform: str = "invert",
    *,
    angle: float = 45.0,
) -> UnpairedDomains:
    """Split ``images`` at random into domain A and a transformed domain B.

    A random permutation (from ``key``) cuts the ``n`` images into two halves
    (``n // 2`` each; an odd last image is dropped): the first half stays
    as it is (A), the second is transformed (B). No source image appears in
    both domains, so no pairing is available to the learner.

    Args:
      images: ``(n, 28, 28, 1)`` float images in ``[0, 1]``, ``n >= 2``.
      labels: ``(n,)`` integer classes.
      key: PRNG key of the split.
      transform: see :func:`domain_transform`.
      angle: degrees for ``"rotate"``.

    Returns:
      An :class:`UnpairedDomains`.
    """
    check_domain_images(images)
    check_array(labels, "labels", ndim=1, kind="i")
    check_key(key)
    _check_transform(transform, angle)
    n = images.shape[0]
    if labels.shape[0] != n:
        raise ValueError(
            f"`labels` must hold one label per image ({n}); got {labels.shape[0]}."
        )
    if n < 2:
        raise ValueError(f"`images` must hold at least 2 images; got {n}.")
    order = np.asarray(jax.random.permutation(key, n))
    half = n // 2
    a_rows, b_rows = np.sort(order[:half]), np.sort(order[half : 2 * half])
    x = np.asarray(images, np.float32)
    y = np.asarray(labels)
    return UnpairedDomains(
        jnp.asarray(x[a_rows]),
        domain_transform(x[b_rows], transform, angle=angle),
        y[a_rows],
        y[b_rows],
        a_rows,
        b_rows,
    )
