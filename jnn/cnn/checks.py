"""Input checks of the convolutional chapter, at the public boundary (C1-C2).

NHWC images (:func:`check_images`, the one that checks values), a block's
input (rank and dtype only inside a model), padding, window and stride sizes,
and the ``input_size`` of a model. They run before tracing: clear
``ValueError``s and ``TypeError``s naming the argument.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int

__all__ = ["check_images"]


def check_images(
    x,
    *,
    height: int | None = None,
    width: int | None = None,
    channels: int | None = None,
    name: str = "images",
) -> None:
    """Check a batch of NHWC images at a public boundary, before tracing.

    Args:
      x: ``(batch, H, W, C)`` float array.
      height: the expected ``H`` (None: any).
      width: the expected ``W`` (None: any).
      channels: the expected ``C`` (None: any).
      name: the argument's name in error messages.

    Raises:
      TypeError: not a floating array.
      ValueError: rank is not 4, a size differs from the expected one, or
        (when concrete) a pixel is NaN or infinite.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string; got {name!r}.")
    for side, value in (("height", height), ("width", width), ("channels", channels)):
        check_positive_int(value, side, allow_none=True)
    check_array(x, name, kind="f")
    if len(x.shape) != 4:
        raise ValueError(
            f"`{name}` must have shape (batch, height, width, channels) (NHWC); "
            f"got shape {tuple(x.shape)}."
        )
    expected = (None, height, width, channels)
    if any(e is not None and e != s for e, s in zip(expected, x.shape, strict=True)):
        want = tuple("batch" if e is None else e for e in expected)
        raise ValueError(
            f"`{name}` must have shape (batch, height, width, channels) = {want}; "
            f"got {tuple(x.shape)}."
        )


def check_rank4(x, name: str, owner: str) -> None:
    """Check that a block's input is an NHWC array (shape only, no values).

    The models check their images' values with :func:`check_images`; their
    inner blocks check only the rank, which costs nothing.

    Raises:
      TypeError: ``x`` is not an array.
      ValueError: its rank is not 4.
    """
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(
            f"`{name}` of {owner} must be an array; got {type(x).__name__}."
        )
    if len(x.shape) != 4:
        raise ValueError(
            f"`{name}` of {owner} must have shape (batch, height, width, channels) "
            f"(NHWC); got shape {tuple(x.shape)}."
        )


def check_block_input(module: nn.Module, x, owner: str, name: str = "x") -> None:
    """Check a layer's NHWC input on its static shape and dtype.

    Rank 4 and a floating dtype always (free at trace time); a layer called
    by the user (top level, not inside another module) also checks that the
    batch is non-empty and, when concrete, finite (:func:`check_images`).
    Inside a model only the model checks values, once.

    Raises:
      TypeError: not an array, or not floating.
      ValueError: rank not 4; at top level an empty batch or NaN/inf values.
    """
    check_rank4(x, name, owner)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(
            f"`{name}` of {owner} must have a floating dtype; got {x.dtype}."
        )
    if not isinstance(module.parent, nn.Module):
        check_array(x, name, ndim=4, kind="f")


def check_padding(padding, name: str = "padding") -> None:
    """``"VALID"``, ``"SAME"`` or ``((top, bottom), (left, right))`` of ints >= 0."""
    if isinstance(padding, str):
        if padding not in ("VALID", "SAME"):
            raise ValueError(
                f"`{name}` must be 'VALID', 'SAME' or ((top, bottom), (left, "
                f"right)); got {padding!r}."
            )
        return
    if not isinstance(padding, tuple | list):
        raise TypeError(
            f"`{name}` must be 'VALID', 'SAME' or ((top, bottom), (left, right)); "
            f"got {padding!r}."
        )
    if len(padding) != 2 or any(
        not isinstance(p, tuple | list) or len(p) != 2 for p in padding
    ):
        raise ValueError(
            f"`{name}` must be two (low, high) pairs, ((top, bottom), (left, "
            f"right)); got {padding!r}."
        )
    for pair in padding:
        for p in pair:
            if isinstance(p, bool) or not isinstance(p, int | np.integer) or p < 0:
                raise ValueError(f"`{name}` must hold ints >= 0; got {padding!r}.")


def _check_fits(x, window, padding, name: str) -> None:
    """A ``window`` that fits in ``x``'s (padded) height and width."""
    if padding == "SAME":
        return
    pads = ((0, 0), (0, 0)) if padding == "VALID" else padding
    for axis, k, (low, high) in zip(("height", "width"), window, pads, strict=True):
        size = x.shape[1 if axis == "height" else 2]
        if k > size + low + high:
            raise ValueError(
                f"`{name}` {tuple(window)} does not fit in the input's {axis} "
                f"{size} (padding {low} + {high}): the output would be empty; "
                f"got input shape {tuple(x.shape)}."
            )


def check_size(value, name: str) -> None:
    """Raise unless ``value`` is a positive int or a pair of positive ints."""
    if isinstance(value, tuple | list) and len(value) == 2:
        for v in value:
            check_positive_int(v, name)
        return
    if isinstance(value, tuple | list):
        raise ValueError(
            f"`{name}` must be a positive int or a pair of them; got {value!r}."
        )
    check_positive_int(value, name)


def check_input_size(size) -> None:
    """``input_size``: None or a pair of positive ints ``(H, W)``."""
    if size is None:
        return
    if not isinstance(size, tuple | list) or len(size) != 2:
        raise ValueError(
            f"`input_size` must be None or a pair (height, width); got {size!r}."
        )
    for side in size:
        check_positive_int(side, "input_size")
