r"""Calibration of predicted class probabilities: ECE and reliability diagrams.

A classifier is calibrated when, among the examples it predicts with
confidence ``p``, a fraction ``p`` is classified correctly. Guo, Pleiss, Sun &
Weinberger (2017), "On calibration of modern neural networks", ICML, measure
the gap with ``M`` equal-width confidence bins ``B_m = ((m-1)/M, m/M]``:

.. math:: \mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{n}
          \,\bigl|\mathrm{acc}(B_m) - \mathrm{conf}(B_m)\bigr|

where the confidence of an example is its largest class probability and the
prediction is its arg-max. The functions are pure ``jnp`` code (usable inside
a learner's ``evaluate``); the public ones check their input when concrete.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int, is_concrete


class ReliabilityDiagram(NamedTuple):
    """Per-bin statistics of a reliability diagram.

    Attributes:
      edges: ``(n_bins + 1,)`` bin edges ``0, 1/M, ..., 1``.
      confidence: ``(n_bins,)`` mean confidence of each bin (NaN when empty).
      accuracy: ``(n_bins,)`` accuracy of each bin (NaN when empty).
      counts: ``(n_bins,)`` examples per bin.
    """

    edges: jax.Array
    confidence: jax.Array
    accuracy: jax.Array
    counts: jax.Array


@functools.partial(jax.jit, static_argnums=2)
def _bins(probs: jax.Array, labels: jax.Array, n_bins: int):
    """Counts, summed confidences and summed hits per confidence bin."""
    confidence = jnp.max(probs, axis=-1)
    correct = (jnp.argmax(probs, axis=-1) == labels).astype(probs.dtype)
    # Bins are closed on the right, ((m-1)/M, m/M], as in Guo et al. (2017).
    index = jnp.clip(jnp.ceil(confidence * n_bins).astype(jnp.int32) - 1, 0, n_bins - 1)
    counts = jax.ops.segment_sum(jnp.ones_like(confidence), index, n_bins)
    conf_sum = jax.ops.segment_sum(confidence, index, n_bins)
    hit_sum = jax.ops.segment_sum(correct, index, n_bins)
    return counts, conf_sum, hit_sum


def calibration_error(probs: jax.Array, labels: jax.Array, n_bins: int = 15):
    """ECE without input checks (for compiled code); see the module docstring."""
    counts, conf_sum, hit_sum = _bins(probs, labels, n_bins)
    return jnp.sum(jnp.abs(hit_sum - conf_sum)) / labels.shape[0]


def check_labels(
    labels,
    name: str,
    n_rows: int,
    n_classes: int | None = None,
    *,
    classes_name: str = "n_classes",
    require_all: bool = False,
) -> int:
    """Check ``(n_rows,)`` int class labels in ``[0, n_classes)``.

    Args:
      labels: the labels.
      name: the argument's name for the error messages.
      n_rows: the number of labels expected (rows of the matching inputs).
      n_classes: ``K``, or None to infer ``max(labels) + 1`` (concrete only).
      classes_name: what the messages call a given ``n_classes`` (the
        argument it came from), blamed when a label reaches it.
      require_all: also require every class ``0..K-1`` to occur (concrete
        only), e.g. for class-conditional density estimates.

    Returns:
      ``K``.

    Raises:
      TypeError, ValueError: wrong dtype, shape or range, or (``require_all``)
        a class without any label.
    """
    check_array(labels, name, ndim=1, kind="i")
    if labels.shape[0] != n_rows:
        raise ValueError(
            f"`{name}` must have {n_rows} labels (one per input row); got "
            f"{labels.shape[0]}."
        )
    if n_classes is not None:
        check_positive_int(n_classes, classes_name)
    if not is_concrete(labels):
        return n_classes
    y = np.asarray(labels)
    if y.min() < 0:
        raise ValueError(
            f"`{name}` must hold class labels >= 0; got {y.min()} "
            f"(at index {int(np.argmin(y))})."
        )
    if n_classes is None:
        n_classes = int(y.max()) + 1
    elif y.max() >= n_classes:
        raise ValueError(
            f"`{classes_name}` ({n_classes}) must exceed every label; `{name}` "
            f"holds label {y.max()} (labels lie in [0, {classes_name}))."
        )
    if require_all:
        missing = np.setdiff1d(np.arange(n_classes), y)
        if missing.size:
            raise ValueError(
                f"`{name}` has no example of class {missing[:5].tolist()} of "
                f"{classes_name}={n_classes}; every class needs at least one "
                f"training example (drop the empty classes or lower "
                f"`{classes_name}`)."
            )
    return n_classes


def _check(probs, labels, n_bins) -> None:
    check_array(probs, "probs", ndim=2, kind="f")
    check_positive_int(n_bins, "n_bins")
    check_labels(
        labels, "labels", probs.shape[0], probs.shape[1], classes_name="probs.shape[1]"
    )
    if is_concrete(probs):
        p = np.asarray(probs, np.float64)
        if p.min() < 0 or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
            raise ValueError(
                "`probs` must hold probabilities (>= 0, rows summing to 1); got "
                f"min {p.min():.3g}, row sums in [{p.sum(1).min():.4g}, "
                f"{p.sum(1).max():.4g}]."
            )


def expected_calibration_error(
    probs: jax.Array, labels: jax.Array, n_bins: int = 15
) -> jax.Array:
    """Expected calibration error with equal-width bins (Guo et al. 2017).

    Args:
      probs: ``(n, K)`` float class probabilities (rows sum to 1).
      labels: ``(n,)`` int true classes in ``[0, K)``.
      n_bins: ``M``, the number of equal-width confidence bins on ``[0, 1]``.

    Returns:
      ``[]`` float, ``sum_m |B_m|/n |acc(B_m) - conf(B_m)|`` in ``[0, 1]``.

    Raises:
      ValueError, TypeError: bad shapes, dtypes or values (when concrete).
    """
    _check(probs, labels, n_bins)
    return calibration_error(jnp.asarray(probs), jnp.asarray(labels), n_bins)


def reliability_diagram(
    probs: jax.Array, labels: jax.Array, n_bins: int = 15
) -> ReliabilityDiagram:
    """The data of a reliability diagram: accuracy against confidence per bin.

    Args:
      probs: ``(n, K)`` float class probabilities.
      labels: ``(n,)`` int true classes.
      n_bins: number of equal-width confidence bins.

    Returns:
      A :class:`ReliabilityDiagram`; a calibrated model has ``accuracy ≈
      confidence`` in every non-empty bin.
    """
    _check(probs, labels, n_bins)
    counts, conf_sum, hit_sum = _bins(jnp.asarray(probs), jnp.asarray(labels), n_bins)
    safe = jnp.maximum(counts, 1.0)
    empty = counts == 0
    return ReliabilityDiagram(
        edges=jnp.linspace(0.0, 1.0, n_bins + 1),
        confidence=jnp.where(empty, jnp.nan, conf_sum / safe),
        accuracy=jnp.where(empty, jnp.nan, hit_sum / safe),
        counts=counts.astype(jnp.int32),
    )
