"""BERT's input layout: special tokens and ``[CLS] a [SEP] b [SEP]`` packing.

Devlin et al. 2019, sec. 3: a pair of segments is packed as
``[CLS] A [SEP] B [SEP]`` with segment ids 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``; a single segment (classification) as ``[CLS] A [SEP]``. Tokens are
the characters of a :class:`jnn.data.Vocabulary` shifted past the four special
tokens (:class:`BertVocabulary`). Re-exported by
:mod:`jnn.transformer.pretraining`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from jnn._checks import check_array, check_positive_int
from jnn.data import Vocabulary

__all__ = [
    "CLS_ID",
    "MASK_ID",
    "PAD_ID",
    "SEP_ID",
    "SPECIAL_TOKENS",
    "BertVocabulary",
    "nsp_batch",
    "pack_pair",
    "pack_pairs",
]

#: The special tokens, in id order.
SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]")
PAD_ID, CLS_ID, SEP_ID, MASK_ID = range(len(SPECIAL_TOKENS))


class BertVocabulary(NamedTuple):
    """A character vocabulary with BERT's special tokens in front.

    Ids ``0..3`` are ``[PAD] [CLS] [SEP] [MASK]``; character id ``c`` of
    ``chars`` is id ``c + 4``.

    Example:
      >>> vocab = BertVocabulary(Vocabulary("abc"))
      >>> vocab.size, vocab.encode("cab").tolist()
      (7, [6, 4, 5])
      >>> vocab.decode([1, 6, 4, 2, 0])
      '[CLS]ca[SEP][PAD]'
    """

    chars: Vocabulary

    @property
    def size(self) -> int:
        """``V``: the characters plus the four special tokens."""
        return self.chars.size + len(SPECIAL_TOKENS)

    @property
    def special_ids(self) -> tuple[int, ...]:
        """The ids of ``[PAD] [CLS] [SEP] [MASK]``."""
        return tuple(range(len(SPECIAL_TOKENS)))

    def from_chars(self, char_ids: Any) -> np.ndarray:
        """Ids of this vocabulary for ids of ``chars`` (an int array, shifted)."""
        return np.asarray(char_ids, np.int32) + len(SPECIAL_TOKENS)

    def encode(self, text: str) -> np.ndarray:
        """``(len(text),)`` int32 ids of the characters of ``text``."""
        return self.from_chars(self.chars.encode(text))

    def decode(self, ids: Any) -> str:
        """The text of ``(L,)`` ids, special tokens written as ``[CLS]`` etc."""
        ids = np.asarray(ids).reshape(-1)
        if ids.size and (ids.min() < 0 or ids.max() >= self.size):
            raise ValueError(f"`ids` must lie in [0, {self.size}); got {ids.tolist()}.")
        names = (*SPECIAL_TOKENS, *self.chars.chars)
        return "".join(names[int(i)] for i in ids)


def _truncated_lengths(la: np.ndarray, lb: np.ndarray, budget: int):
    """BERT's ``truncate_seq_pair`` in closed form, for arrays of lengths.

    The loop ``while la + lb > budget: shorten the longer (b on ties)`` ends
    with the shorter side kept whole when it fits in its half, else with
    ``ceil(budget / 2)`` for ``a`` and ``floor(budget / 2)`` for ``b``.
    """
    half_b = budget // 2
    half_a = budget - half_b
    over = la + lb > budget
    new_a = np.where(lb <= half_b, budget - lb, half_a)
    new_b = np.where(la <= half_a, budget - la, half_b)
    new_a = np.where(la <= half_a, la, new_a)
    new_b = np.where((lb <= half_b) & (la > half_a), lb, new_b)
    return np.where(over, new_a, la), np.where(over, new_b, lb)


def _check_ids(x: Any, name: str, ndim: int) -> np.ndarray:
    check_array(x, name, kind="i", ndim=ndim)
    return np.asarray(x)


def pack_pairs(
    a: Any,
    a_length: Any,
    b: Any | None,
    b_length: Any | None,
    max_length: int,
) -> dict[str, np.ndarray]:
    """Pack segments as ``[CLS] a [SEP] b [SEP] [PAD]...`` (or ``[CLS] a [SEP]``).

    A pair longer than ``max_length`` is cut as BERT's ``truncate_seq_pair``:
    the longer segment loses its last token until the pair fits (``b`` on ties).

    Args:
      a: ``(n, La)`` int ids of the first segments (already in the
        :class:`BertVocabulary`); row ``i`` holds ``a_length[i]`` real ids.
      a_length: ``(n,)`` int lengths.
      b: ``(n, Lb)`` int ids of the second segments, or None for single
        segments (classification inputs).
      b_length: ``(n,)`` int lengths, or None with ``b``.
      max_length: ``L``, the packed length (at least 5 with ``b``, 3 without).

    Returns:
      ``{"tokens": (n, L) int32, "segments": (n, L) int32 (0 for [CLS] a
      [SEP], 1 for b [SEP], 0 on padding), "valid": (n, L) bool}``.

    Raises:
      TypeError, ValueError: arrays of the wrong kind or shape, lengths outside
        ``[0, La]``, ``b`` without ``b_length``, a too small ``max_length``.
    """
    check_positive_int(max_length, "max_length")
    a = _check_ids(a, "a", 2)
    a_length = _check_ids(a_length, "a_length", 1)
    single = b is None
    if single != (b_length is None):
        raise ValueError("`b` and `b_length` must be given together (or neither).")
    segments = [("a", a, a_length)]
    if not single:
        segments.append(
            ("b", _check_ids(b, "b", 2), _check_ids(b_length, "b_length", 1))
        )
    n = a.shape[0]
    for name, ids, length in segments:
        if ids.shape[0] != n or length.shape != (n,):
            raise ValueError(
                f"`{name}` and `{name}_length` must have {n} rows (those of `a`); "
                f"got {ids.shape} and {length.shape}."
            )
        if length.size and (length.min() < 0 or length.max() > ids.shape[1]):
            raise ValueError(
                f"`{name}_length` must lie in [0, {ids.shape[1]}]; got min "
                f"{length.min()} and max {length.max()}."
            )
    specials = 2 if single else 3
    if max_length < specials + 2 - single:
        raise ValueError(
            f"`max_length` must be at least {specials + 2 - single} to hold the "
            f"special tokens and a token of each segment; got {max_length}."
        )
    budget = max_length - specials
    if single:
        la, lb = np.minimum(a_length, budget), np.zeros_like(a_length)
    else:
        la, lb = _truncated_lengths(a_length, segments[1][2], budget)
    position = np.arange(max_length)[None, :]
    start_b = la[:, None] + 2  # [CLS] a [SEP] | b
    tokens = np.full((n, max_length), PAD_ID, np.int32)
    tokens[:, 0] = CLS_ID
    in_a = (position >= 1) & (position < 1 + la[:, None])
    rows = np.broadcast_to(np.arange(n)[:, None], (n, max_length))
    column = (position - 1).clip(0, a.shape[1] - 1)
    tokens[in_a] = a[rows[in_a], np.broadcast_to(column, (n, max_length))[in_a]]
    tokens[np.arange(n), la + 1] = SEP_ID
    segment_ids = np.zeros((n, max_length), np.int32)
    total = la + 2
    if not single:
        b_ids = segments[1][1]
        in_b = (position >= start_b) & (position < start_b + lb[:, None])
        column = np.broadcast_to(
            (position - start_b).clip(0, b_ids.shape[1] - 1), (n, max_length)
        )
        tokens[in_b] = b_ids[rows[in_b], column[in_b]]
        tokens[np.arange(n), la + lb + 2] = SEP_ID
        total = la + lb + 3
        segment_ids = ((position >= start_b) & (position < total[:, None])).astype(
            np.int32
        )
    valid = position < total[:, None]
    return {"tokens": tokens, "segments": segment_ids, "valid": valid}


def pack_pair(a: Any, b: Any | None, max_length: int) -> dict[str, np.ndarray]:
    """Pack one pair as ``[CLS] a [SEP] b [SEP]`` padded to ``max_length``.

    Args:
      a: ``(La,)`` int ids (in the :class:`BertVocabulary`).
      b: ``(Lb,)`` int ids, or None for ``[CLS] a [SEP]``.
      max_length: ``L``; a longer pair is cut as in :func:`pack_pairs`.

    Returns:
      ``{"tokens", "segments", "valid"}``, each ``(L,)``.

    Example:
      >>> vocab = BertVocabulary(Vocabulary("abc"))
      >>> out = pack_pair(vocab.encode("ab"), vocab.encode("c"), 8)
      >>> vocab.decode(out["tokens"]), out["segments"].tolist()
      ('[CLS]ab[SEP]c[SEP][PAD][PAD]', [0, 0, 0, 0, 1, 1, 0, 0])
    """
    a = _check_ids(a, "a", 1)
    b = None if b is None else _check_ids(b, "b", 1)
    packed = pack_pairs(
        a[None],
        np.array([a.shape[0]]),
        None if b is None else b[None],
        None if b is None else np.array([b.shape[0]]),
        max_length,
    )
    return {k: v[0] for k, v in packed.items()}


def nsp_batch(pairs: Mapping[str, Any], max_length: int) -> dict[str, np.ndarray]:
    """Packed next-sentence-prediction data from one split of ``sentence_pairs``.

    Args:
      pairs: ``{"a", "a_length", "b", "b_length", "is_next"}`` with character
        ids (e.g. ``jnn.data.sentence_pairs().train``).
      max_length: ``L`` of the packed sequences.

    Returns:
      ``{"tokens", "segments", "valid"}`` as :func:`pack_pairs` (character
      ids shifted into the :class:`BertVocabulary`) and ``"is_next"`` ``(n,)``.
    """
    missing = {"a", "a_length", "b", "b_length", "is_next"} - set(pairs)
    if not isinstance(pairs, Mapping) or missing:
        raise ValueError(
            f"`pairs` must be a split of sentence_pairs; missing {missing}."
        )
    shift = len(SPECIAL_TOKENS)
    packed = pack_pairs(
        np.asarray(pairs["a"]) + shift,
        pairs["a_length"],
        np.asarray(pairs["b"]) + shift,
        pairs["b_length"],
        max_length,
    )
    return {**packed, "is_next": np.asarray(pairs["is_next"], np.int32)}
