"""Character-level text corpora: a vocabulary, token arrays and a fixed split.

The bundled corpus is Tiny Shakespeare (``jnn/data/files/text``, provenance in
the README there), the character-level language-modelling corpus of char-rnn
(Karpathy 2015) and nanoGPT's ``shakespeare_char``. Its vocabulary is the sorted
set of its characters (65 of them), and its split is fixed: the first 90% of
the characters train and the last 10% validate, as in nanoGPT's
``data/shakespeare_char/prepare.py``. The split is contiguous, not shuffled, so
no validation passage leaks into training.

A language model reads a split as one long stream. :func:`next_token_stream`
pairs every token with its successor, and ``jnn.train.sequence_windows`` cuts
the stream into ordered windows for truncated back-propagation through time.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jnn._checks import check_fraction

__all__ = [
    "TEXTS",
    "TEXT_DIR",
    "TextCorpus",
    "Vocabulary",
    "load_text",
    "next_token_stream",
]

TEXT_DIR = Path(__file__).parent / "files" / "text"
TEXTS = ("tinyshakespeare",)


def _codepoints(text: str) -> np.ndarray:
    """The Unicode code points of ``text`` as a ``(len(text),)`` uint32 array."""
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


class Vocabulary(NamedTuple):
    """A character vocabulary: token ``i`` is the character ``chars[i]``.

    Attributes:
      chars: the distinct characters, sorted by code point (``sorted(set(text))``).

    Example:
      >>> vocab = Vocabulary.from_text("hello")
      >>> vocab.chars, vocab.size
      ('ehlo', 4)
      >>> vocab.encode("hole")
      array([1, 3, 2, 0], dtype=int32)
      >>> vocab.decode(vocab.encode("hole"))
      'hole'
    """

    chars: str

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The vocabulary of every distinct character of ``text``."""
        if not isinstance(text, str):
            raise TypeError(f"`text` must be a str; got {type(text).__name__}.")
        if not text:
            raise ValueError("`text` must hold at least one character; got ''.")
        return cls("".join(sorted(set(text))))

    @property
    def size(self) -> int:
        """Number of tokens ``V``."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``: a ``(len(text),)`` int32 array in ``[0, V)``.

        Raises:
          TypeError: ``text`` is not a str.
          ValueError: ``text`` holds a character outside the vocabulary.
        """
        if not isinstance(text, str):
            raise TypeError(f"`text` must be a str; got {type(text).__name__}.")
        table = _codepoints(self.chars)  # sorted, so searchsorted is a lookup
        points = _codepoints(text)
        ids = np.searchsorted(table, points)
        known = table[np.minimum(ids, len(table) - 1)] == points
        if not known.all():
            where = int(np.flatnonzero(~known)[0])
            unknown = sorted({chr(p) for p in points[~known]})
            raise ValueError(
                f"`text` holds characters outside the vocabulary: {unknown[:10]!r} "
                f"(first at index {where})."
            )
        return ids.astype(np.int32)

    def decode(self, ids: Any) -> str:
        """The text of token ids: ``ids`` is an int ``()`` or ``(L,)`` array.

        Raises:
          TypeError: ``ids`` is not of an integer dtype.
          ValueError: ``ids`` has rank above 1 or an id outside ``[0, V)``.
        """
        ids = np.asarray(ids)
        if ids.size == 0 and ids.ndim <= 1:
            return ""
        if not np.issubdtype(ids.dtype, np.integer):
            raise TypeError(f"`ids` must have an integer dtype; got {ids.dtype}.")
        if ids.ndim > 1:
            raise ValueError(f"`ids` must have rank 0 or 1; got shape {ids.shape}.")
        outside = (ids < 0) | (ids >= self.size)
        if outside.any():
            raise ValueError(
                f"`ids` must lie in [0, {self.size}) (the vocabulary size); got "
                f"{ids.reshape(-1)[outside.reshape(-1)][:10].tolist()}."
            )
        points = _codepoints(self.chars)[ids.reshape(-1)]
        return points.astype("<u4").tobytes().decode("utf-32-le")


class TextCorpus(NamedTuple):
    """A character corpus split into training and validation token streams.

    Attributes:
      train: ``(n_train,)`` int32 token ids, the first ``1 - val_fraction`` of
        the text.
      val: ``(n_val,)`` int32 token ids, the rest of the text.
      vocab: the :class:`Vocabulary` of the whole text.
      info: ``name``, ``path``, ``n_characters``, ``val_fraction`` and the
        file's ``sha256``.
    """

    train: np.ndarray
    val: np.ndarray
    vocab: Vocabulary
    info: dict[str, Any]


def _resolve(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, str) and name_or_path in TEXTS:
        return TEXT_DIR / f"{name_or_path}.txt"
    if not isinstance(name_or_path, str | Path):
        raise TypeError(
            f"`name_or_path` must be one of {TEXTS} or a path to a text file; "
            f"got {type(name_or_path).__name__}."
        )
    path = Path(name_or_path)
    if not path.is_file():
        raise ValueError(
            f"`name_or_path` must be one of {TEXTS} or an existing text file; "
            f"got {str(name_or_path)!r}."
        )
    return path


def load_text(
    name_or_path: str | Path = "tinyshakespeare", *, val_fraction: float = 0.1
) -> TextCorpus:
    """Load a character corpus as token ids with a fixed, contiguous split.

    The vocabulary is ``sorted(set(text))`` of the whole text; the first
    ``n_train = int(n (1 - val_fraction))`` characters form the training split
    and the remaining ones the validation split (nanoGPT's shakespeare_char
    split for ``val_fraction=0.1``).

    Args:
      name_or_path: a bundled corpus (see ``TEXTS``) or a UTF-8 text file.
      val_fraction: share of the text, taken from its end, held out for
        validation; in ``(0, 1)``.

    Returns:
      :class:`TextCorpus` of NumPy int32 token arrays.

    Raises:
      ValueError: unknown name, missing file, a file that is not UTF-8 text or
        too short to give both splits a character, or ``val_fraction`` outside
        ``(0, 1)``.

    Example:
      >>> corpus = load_text("tinyshakespeare")
      >>> corpus.vocab.size, corpus.train.shape, corpus.val.shape
      (65, (1003854,), (111540,))
      >>> corpus.vocab.decode(corpus.train[:14])
      'First Citizen:'
    """
    check_fraction(val_fraction, "val_fraction")
    if val_fraction == 0:
        raise ValueError("`val_fraction` must be in (0, 1); got 0.")
    path = _resolve(name_or_path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"`name_or_path` {path} is not UTF-8 text: {error}") from None
    n_train = int(len(text) * (1 - val_fraction))
    if n_train == 0 or n_train == len(text):
        raise ValueError(
            f"`name_or_path` {path} has {len(text)} characters: too few to split "
            f"with val_fraction={val_fraction}."
        )
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text)
    info = {
        "name": path.stem,
        "path": str(path),
        "n_characters": len(text),
        "val_fraction": float(val_fraction),
        "sha256": hashlib.sha256(raw).hexdigest(),
    }
    return TextCorpus(ids[:n_train], ids[n_train:], vocab, info)


def next_token_stream(tokens: Any) -> dict[str, np.ndarray]:
    """Pair every token with its successor: the data of next-token prediction.

    Args:
      tokens: ``(L,)`` integer token ids, ``L >= 2`` (e.g. ``corpus.train``).

    Returns:
      ``{"x": tokens[:-1], "y": tokens[1:]}``, two ``(L - 1,)`` int32 arrays
      whose leading axis is time (walk them with
      ``jnn.train.sequence_windows`` for truncated BPTT).

    Example:
      >>> next_token_stream(np.array([3, 1, 4, 1]))
      {'x': array([3, 1, 4], dtype=int32), 'y': array([1, 4, 1], dtype=int32)}
    """
    if not hasattr(tokens, "shape") or not hasattr(tokens, "dtype"):
        raise TypeError(f"`tokens` must be an array; got {type(tokens).__name__}.")
    tokens = np.asarray(tokens)
    if not np.issubdtype(tokens.dtype, np.integer):
        raise TypeError(f"`tokens` must have an integer dtype; got {tokens.dtype}.")
    if tokens.ndim != 1 or tokens.shape[0] < 2:
        raise ValueError(
            f"`tokens` must have shape (L,) with L >= 2; got {tokens.shape}."
        )
    tokens = tokens.astype(np.int32)
    return {"x": tokens[:-1], "y": tokens[1:]}
