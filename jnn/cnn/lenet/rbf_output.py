r"""LeNet-5's output layer as in the paper: Euclidean RBF units and the MAP loss.

LeCun, Bottou, Bengio & Haffner (1998), Section II-B, Eq. (7): output unit
``i`` computes the squared Euclidean distance between its 84 inputs (F6) and a
fixed parameter vector,

.. math:: y_i = \sum_j (x_j - w_{ij})^2,

a *penalty*: the smaller, the better the input matches class ``i``; the
prediction is ``argmin_i y_i``. The ``w_i`` are not learnt: their components
are ``-1`` or ``+1`` and draw a stylised image of character ``i`` on a 7x12
bitmap (hence F6's 84 units), so that F6 is trained to output those images.
F6's squashing function ranges over ``+-1.7159``, so the targets sit where it
is steepest, and confusable characters get close codes.

The training criterion is the paper's MAP criterion, Section II-C, Eq. (9),

.. math:: E = \frac{1}{P} \sum_p \Big( y_{D^p}(Z^p)
          + \log\big(e^{-j} + \sum_i e^{-y_i(Z^p)}\big) \Big),

with ``D^p`` the class of pattern ``p`` and ``j > 0`` a constant: the first
term pulls the correct penalty down (alone, it is the maximum-likelihood /
MSE criterion, Eq. 8), the second pushes the other penalties up, and
``e^{-j}`` (a "rubbish" class) stops it from pushing penalties that are
already large. It is the cross-entropy of a softmax over the scores
``-y_i`` and one extra fixed score ``-j``: :func:`rbf_map_loss`.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_float
from jnn.train.losses import _checker
from jnn.train.modules import Context, apply_model

# Fig. 3 of the paper draws the RBF codes of the whole ASCII set on 7x12
# bitmaps but gives no table of them. These digits are a reconstruction in
# that style ('#' = +1, ink; '.' = -1, background): a 7-wide, 10-high glyph
# with a blank top and bottom row.
# fmt: off
_DIGIT_ROWS = {
    0: (".......", "..###..", ".#...#.", "#.....#", "#.....#", "#.....#",
        "#.....#", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    1: (".......", "...#...", "..##...", ".#.#...", "...#...", "...#...",
        "...#...", "...#...", "...#...", "...#...", ".#####.", "......."),
    2: (".......", "..###..", ".#...#.", "#.....#", "......#", ".....#.",
        "....#..", "...#...", "..#....", ".#.....", "#######", "......."),
    3: (".......", "#######", ".....#.", "....#..", "...#...", "..###..",
        ".....#.", "......#", "......#", "#....#.", ".####..", "......."),
    4: (".......", "....#..", "...##..", "..#.#..", ".#..#..", "#...#..",
        "#######", "....#..", "....#..", "....#..", "....#..", "......."),
    5: (".......", "#######", "#......", "#......", "#.###..", "##...#.",
        "......#", "......#", "......#", ".#...#.", "..###..", "......."),
    6: (".......", "...##..", "..#....", ".#.....", "#......", "#.###..",
        "##...#.", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    7: (".......", "#######", "......#", ".....#.", "....#..", "....#..",
        "...#...", "...#...", "..#....", "..#....", "..#....", "......."),
    8: (".......", "..###..", ".#...#.", "#.....#", ".#...#.", "..###..",
        ".#...#.", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    9: (".......", "..###..", ".#...#.", "#.....#", "#.....#", ".#...##",
        "..###.#", "......#", ".....#.", "....#..", ".##....", "......."),
}
# fmt: on

#: ``(10, 12, 7)`` float32 of ``+-1``: the fixed RBF centres of digits 0-9 as
#: 12-row, 7-column bitmaps (+1 = ink), a reconstruction of Fig. 3 of LeCun et
#: al. (1998). ``DIGIT_BITMAPS.reshape(10, 84)`` are the ``w_i`` of Eq. (7),
#: row-major. Any two differ in at least 12 of the 84 pixels.
DIGIT_BITMAPS = np.array(
    [
        [[1.0 if c == "#" else -1.0 for c in row] for row in _DIGIT_ROWS[d]]
        for d in range(10)
    ],
    dtype=np.float32,
)


class EuclideanRBF(nn.Module):
    r"""Euclidean RBF units with fixed centres: ``y_i = sum_j (x_j - w_ij)^2``.

    No trainable parameters (the paper keeps the centres fixed), so the
    ``params`` collection has no entry for this layer.

    Attributes:
      centres: ``(n_classes, d)`` fixed parameter vectors ``w_i``; None: the
        digit bitmaps :data:`DIGIT_BITMAPS` as ``(10, 84)``.

    Call:
      ``x: (batch, d)`` -> ``(batch, n_classes)`` penalties ``y`` (>= 0;
      predict ``argmin``).
    """

    centres: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.centres is not None:
            check_array(self.centres, "centres", ndim=2, kind="n")
        super().__post_init__()

    def weights(self) -> np.ndarray:
        """The ``(n_classes, d)`` centres as a float32 NumPy array."""
        if self.centres is None:
            return DIGIT_BITMAPS.reshape(10, 84)
        return np.asarray(self.centres, np.float32)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Squared distances of ``x: (batch, d)`` to every centre."""
        w = self.weights()
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise TypeError(f"`x` of EuclideanRBF must be an array; got {x!r}.")
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(
                f"`x` of EuclideanRBF must have a floating dtype; got {x.dtype}."
            )
        if x.ndim != 2 or x.shape[-1] != w.shape[1]:
            raise ValueError(
                f"`x` of EuclideanRBF must have shape (batch, {w.shape[-1]}) (it "
                f"maps them to {w.shape[0]} penalties, `centres` {w.shape}); got "
                f"input shape {tuple(x.shape)}."
            )
        if not isinstance(self.parent, nn.Module):
            check_array(x, "x", kind="f")
        diff = x[:, None, :] - jnp.asarray(w, x.dtype)[None, :, :]
        return jnp.sum(diff * diff, axis=-1)


def map_criterion(penalties: jax.Array, labels: jax.Array, j: float) -> jax.Array:
    """Per-example MAP criterion ``y_D + log(e^{-j} + sum_i e^{-y_i})``: ``(B,)``.

    Args:
      penalties: ``(B, n)`` RBF outputs ``y``.
      labels: ``(B,)`` int classes ``D``.
      j: the positive constant of Eq. (9).
    """
    correct = jnp.take_along_axis(penalties, labels[:, None], axis=1)[:, 0]
    rubbish = jnp.full((penalties.shape[0], 1), -j, penalties.dtype)
    scores = jnp.concatenate([-penalties, rubbish], axis=1)
    return correct + jax.nn.logsumexp(scores, axis=1)


def rbf_map_loss(
    model: nn.Module,
    *,
    j: float = 0.1,
    input_key: str = "x",
    target_key: str = "y",
):
    r"""The paper's MAP criterion (Eq. 9) for a model that outputs RBF penalties.

    .. math:: E = \frac{1}{B} \sum_b \Big( y_{b, D_b}
              + \log\big(e^{-j} + \sum_i e^{-y_{b,i}}\big) \Big)

    Args:
      model: a module mapping ``x: (B, ...)`` to penalties ``(B, n_classes)``,
        e.g. ``LeNet5(output="rbf")``.
      j: the positive constant ``j`` (the paper gives no value; 0.1 here).
      input_key: batch entry holding the inputs.
      target_key: batch entry holding ``(B,)`` int class labels.

    Returns:
      ``loss(params, batch, ctx) -> (E, {"accuracy": ...}, model_state)`` for
      :func:`jnn.train.gradient_learner`; accuracy counts ``argmin_i y_i``
      equal to the label.

    Raises:
      ValueError: ``j`` not a finite number > 0, or ``model`` is a LeNet-5
        whose output layer is not ``"rbf"`` (its outputs are logits).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"`model` must be a flax.linen Module; got {type(model)}.")
    check_positive_float(j, "j")
    for name, value in (("input_key", input_key), ("target_key", target_key)):
        if not isinstance(value, str):
            raise TypeError(f"`{name}` must be a string; got {value!r}.")
    output = getattr(model, "output", None)
    if type(model).__name__ == "LeNet5" and output != "rbf":
        raise ValueError(
            "`model` must output RBF penalties (LeNet5(output='rbf')); got "
            f"output={output!r}, whose outputs are logits "
            "(use jnn.train.classification_loss)."
        )

    def loss(params, batch, ctx: Context):
        penalties, model_state = apply_model(model, params, ctx, batch[input_key])
        labels = batch[target_key]
        value = jnp.mean(map_criterion(penalties, labels, float(j)))
        accuracy = jnp.mean(jnp.argmin(penalties, axis=-1) == labels)
        return value, {"accuracy": accuracy}, model_state

    # the entries, integer (n,) labels, each in [0, n_classes)
    check = _checker(input_key, target_key, "i", model)

    loss.check = check
    return loss
