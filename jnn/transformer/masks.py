"""Attention masks: which key each query may attend to (True = may attend).

Masks are boolean arrays broadcastable to the attention logits' shape
``(B, H, L_q, L_k)`` (batch, heads, queries, keys), the layout of
``jax.nn.dot_product_attention``. A causal mask lets position ``i`` see keys
``j <= i`` only (the autoregressive factorisation of a decoder, Vaswani et al.
2017, sec. 3.2.3); a padding mask hides the padded ends of variable-length
sequences; :func:`combine_masks` intersects them.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np

from jnn._checks import check_array, check_positive_int, is_concrete

__all__ = ["causal_mask", "check_mask", "combine_masks", "padding_mask"]


def causal_mask(length: int) -> jnp.ndarray:
    """The ``(1, 1, L, L)`` lower-triangular mask: query ``i`` sees keys ``j <= i``.

    Example:
      >>> causal_mask(3)[0, 0].astype(int)
      Array([[1, 0, 0],
             [1, 1, 0],
             [1, 1, 1]], dtype=int32)
    """
    check_positive_int(length, "length")
    return jnp.tril(jnp.ones((length, length), bool))[None, None]


def padding_mask(
    lengths_or_valid: Any, length: int | None = None, *, query: bool = False
) -> jnp.ndarray:
    """The mask hiding the padded keys (and, with ``query``, padded queries).

    Args:
      lengths_or_valid: ``(B,)`` int lengths ``n_b`` (positions ``< n_b`` are
        real), or a ``(B, L)`` bool validity array (True = a real token).
      length: ``L``, the padded length; required with lengths, optional (and
        checked) with a validity array.
      query: also hide padded queries: ``mask[b, 0, i, j] = valid[b, i] and
        valid[b, j]``, shape ``(B, 1, L, L)``; False gives the keys-only mask
        ``(B, 1, 1, L)`` (padded queries then attend to the real keys; their
        outputs are ignored downstream).

    Example:
      >>> padding_mask(jnp.array([2, 3]), 3)[:, 0, 0].astype(int)
      Array([[1, 1, 0],
             [1, 1, 1]], dtype=int32)
    """
    x = lengths_or_valid
    check_array(x, "lengths_or_valid")
    if np.dtype(x.dtype) == np.bool_:
        if len(x.shape) != 2:
            raise ValueError(
                "`lengths_or_valid` as a validity array must have shape (B, L); "
                f"got {tuple(x.shape)}."
            )
        if length is not None and length != x.shape[1]:
            raise ValueError(
                f"`length` ({length}) must equal the validity array's length "
                f"({x.shape[1]})."
            )
        valid = jnp.asarray(x)
    else:
        if not np.issubdtype(np.dtype(x.dtype), np.integer) or len(x.shape) != 1:
            raise ValueError(
                "`lengths_or_valid` must be (B,) int lengths or a (B, L) bool "
                f"validity array; got dtype {x.dtype} and shape {tuple(x.shape)}."
            )
        check_positive_int(length, "length")
        if is_concrete(x):
            n = np.asarray(x)
            if n.min() < 0 or n.max() > length:
                raise ValueError(
                    f"`lengths_or_valid` must hold lengths in [0, {length}] "
                    f"(`length`); got min {n.min()} and max {n.max()}."
                )
        valid = jnp.arange(length)[None, :] < jnp.asarray(x)[:, None]
    if query:
        return valid[:, None, :, None] & valid[:, None, None, :]
    return valid[:, None, None, :]


def check_mask(mask: Any, shape: tuple[int, ...], name: str = "mask") -> None:
    """Raise unless ``mask`` is a bool array broadcastable to ``shape`` (rank 4).

    Args:
      mask: the mask, or None (accepted).
      shape: the logits' shape ``(B, H, L_q, L_k)``.
      name: the argument's name in the error message.
    """
    if mask is None:
        return
    if not hasattr(mask, "shape") or not hasattr(mask, "dtype"):
        raise TypeError(f"`{name}` must be a bool array; got {type(mask).__name__}.")
    if np.dtype(mask.dtype) != np.bool_:
        raise TypeError(f"`{name}` must be a bool array; got dtype {mask.dtype}.")
    check_logits_shape(mask, shape, name)


def check_logits_shape(array: Any, shape: tuple[int, ...], name: str) -> None:
    """Raise a ``ValueError`` unless ``array`` is rank 4 and broadcasts to ``shape``."""
    ok = len(array.shape) == len(shape) and all(
        m in (1, s) for m, s in zip(array.shape, shape, strict=True)
    )
    if not ok:
        raise ValueError(
            f"`{name}` must have rank 4 and broadcast to the logits' shape "
            f"(batch, heads, queries, keys) = {tuple(shape)}; got "
            f"{tuple(array.shape)}."
        )


def combine_masks(*masks: Any) -> jnp.ndarray | None:
    """The logical and of ``masks`` (None entries skipped; None if all are).

    Raises:
      TypeError: a mask that is not a bool array.
      ValueError: masks whose shapes do not broadcast together.

    Example:
      >>> m = combine_masks(causal_mask(3), None, padding_mask(jnp.array([2]), 3))
      >>> m.shape, m[0, 0].astype(int).tolist()
      ((1, 1, 3, 3), [[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    """
    given = [m for m in masks if m is not None]
    if not given:
        return None
    for i, m in enumerate(given):
        if not hasattr(m, "dtype") or np.dtype(m.dtype) != np.bool_:
            raise TypeError(
                f"`masks[{i}]` must be a bool array; got "
                f"{getattr(m, 'dtype', type(m).__name__)}."
            )
    try:
        np.broadcast_shapes(*(tuple(m.shape) for m in given))
    except ValueError:
        shapes = [tuple(m.shape) for m in given]
        raise ValueError(
            f"`masks` must have shapes that broadcast together; got {shapes}."
        ) from None
    out = given[0]
    for m in given[1:]:
        out = jnp.logical_and(out, m)
    return out
