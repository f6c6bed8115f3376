"""Tiny Shakespeare as plays: speeches, a speaker-classification task, line pairs.

The bundled corpus (``jnn/data/files/text/tinyshakespeare.txt``) is a run of
speeches, each a speaker heading such as ``ROMEO:`` followed by the lines of the
speech, and separated by blank lines::

    First Citizen:
    Before we proceed any further, hear me speak.

    All:
    Speak, speak.

:func:`speeches` parses it: a block of non-blank lines whose first line ends
with ``:`` is a speech by that speaker; 125 headings with no lines under them
(stage business the corpus dropped) give no speech.

Two tasks for the encoders of the Transformer chapter (BERT, Devlin et al.
2019) are built on it, both on the same **fixed split** of the speeches:

* :func:`speaker_lines`, an understanding task: which of the ``K`` most
  talkative speakers says this line?
* :func:`sentence_pairs`, next-sentence prediction: is line ``b`` the line that
  follows ``a`` in the same speech, or a random line?

The split. Speeches are cut, in order, into blocks of :data:`BLOCK` consecutive
speeches; in every run of ten blocks the first eight train, the ninth validates
and the tenth tests. A split of the text by position alone (first 80%, ...)
would put whole plays in one split, so a play's speakers (LEONTES only speaks
in *The Winter's Tale*, near the end) would be missing from training; the
interleaved blocks keep every speaker in every split, while a speech, and the
scene around it up to the block's edge, stays inside one split (no line of a
test speech is ever trained on). No seed is involved: the split is a fact of
the file.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any, NamedTuple

import numpy as np

from jnn._checks import check_positive_int
from jnn.data.text import TEXT_DIR, Vocabulary

__all__ = [
    "BLOCK",
    "SPLITS",
    "SentencePairs",
    "SpeakerLines",
    "Speech",
    "sentence_pairs",
    "speaker_lines",
    "speech_splits",
    "speeches",
]

#: The split names, in the order of :func:`speech_splits`' codes 0, 1, 2.
SPLITS = ("train", "val", "test")
#: Consecutive speeches that go to one split together.
BLOCK = 10
_PATTERN = np.array([0] * 8 + [1, 2])  # per run of ten blocks: train x8, val, test


class Speech(NamedTuple):
    """One speech of a play.

    Attributes:
      speaker: the heading without its colon, e.g. ``"ROMEO"``.
      text: the speech's lines joined by newlines (no trailing newline).
    """

    speaker: str
    text: str


@functools.lru_cache(maxsize=1)
def _bundled_text() -> str:
    return (TEXT_DIR / "tinyshakespeare.txt").read_text(encoding="utf-8")


def _check_text(text: Any) -> str:
    if text is None:
        return _bundled_text()
    if not isinstance(text, str):
        raise TypeError(
            f"`text` must be a str (or None for Tiny Shakespeare); got "
            f"{type(text).__name__}."
        )
    return text


@functools.lru_cache(maxsize=8)
def _parse(text: str) -> tuple[Speech, ...]:
    found = []
    block: list[str] = []
    for line in [*text.split("\n"), ""]:
        if line.strip():
            block.append(line)
            continue
        if len(block) > 1 and block[0].endswith(":"):
            found.append(Speech(block[0][:-1].strip(), "\n".join(block[1:])))
        block = []
    return tuple(found)


def speeches(text: str | None = None) -> list[Speech]:
    """The speeches of a play text, in order.

    A speaker heading is a line ending with ``:`` that starts a block (it
    follows a blank line or opens the text); the speech is the lines after it
    up to the next blank line. Blocks without a heading, and headings without
    lines, are skipped.

    Args:
      text: the play text; None reads the bundled Tiny Shakespeare.

    Returns:
      A list of :class:`Speech` ``(speaker, text)`` tuples; 7,097 for Tiny
      Shakespeare (299 distinct speakers).

    Raises:
      TypeError: ``text`` is not a str.
      ValueError: ``text`` holds no speech.

    Example:
      >>> speaker, text = speeches()[0]
      >>> speaker, text[:25]
      ('First Citizen', 'Before we proceed any fur')
    """
    found = _parse(_check_text(text))
    if not found:
        raise ValueError(
            "`text` holds no speech (a line ending with ':' after a blank line, "
            "followed by at least one line)."
        )
    return list(found)


def speech_splits(n_speeches: int) -> np.ndarray:
    """The fixed split of ``n_speeches`` speeches: ``(n,)`` int codes 0/1/2.

    Code ``c`` is ``SPLITS[c]`` (train, val, test); speech ``i`` goes with its
    block ``i // BLOCK``, and block ``k`` to ``[0]*8 + [1, 2]`` at ``k % 10``.

    Example:
      >>> np.bincount(speech_splits(200)).tolist()
      [160, 20, 20]
    """
    check_positive_int(n_speeches, "n_speeches")
    return _PATTERN[(np.arange(n_speeches) // BLOCK) % len(_PATTERN)]


def _pad(lines: list[str], vocab: Vocabulary, max_length: int):
    """``(n, max_length)`` int32 ids (0 after the end) and ``(n,)`` lengths."""
    tokens = np.zeros((len(lines), max_length), np.int32)
    lengths = np.zeros(len(lines), np.int32)
    if lines:
        ids = vocab.encode("".join(line[:max_length] for line in lines))
        lengths[:] = [min(len(line), max_length) for line in lines]
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        for i, (start, n) in enumerate(zip(starts, lengths, strict=True)):
            tokens[i, :n] = ids[start : start + n]
    return tokens, lengths


def _lines(found: list[Speech]):
    """Every line of every speech: ``(lines, speech index of each line)``."""
    lines, owner = [], []
    for i, speech in enumerate(found):
        for line in speech.text.split("\n"):
            lines.append(line)
            owner.append(i)
    return lines, np.asarray(owner, np.int64)


def _vocab_and_length(text: str, lines: list[str], max_length: int | None):
    check_positive_int(max_length, "max_length", allow_none=True)
    longest = max(len(line) for line in lines)
    return Vocabulary.from_text(text), longest if max_length is None else max_length


class SpeakerLines(NamedTuple):
    """Speaker identification, one example per line of speech.

    Attributes:
      train, val, test: ``{"tokens": (n, L) int32 character ids (0 past the
        end), "lengths": (n,) int32, "label": (n,) int32 in [0, K),
        "speech": (n,) int32 index of the line's speech in speeches()}``.
      classes: the ``K`` speaker names; label ``k`` is ``classes[k]``.
      vocab: the character :class:`Vocabulary` of the text (Tiny
        Shakespeare's 65 characters, as ``load_text``).
      info: ``counts`` (``{split: (K,) examples per class}``),
        ``majority_class`` (the commonest class in training) and
        ``majority_accuracy`` (``{split: accuracy of always answering it}``),
        ``max_length`` and ``n_truncated`` (lines cut to ``max_length``).
    """

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    classes: tuple[str, ...]
    vocab: Vocabulary
    info: dict[str, Any]


def speaker_lines(
    n_speakers: int = 10, *, max_length: int | None = None, text: str | None = None
) -> SpeakerLines:
    """Which of the ``K`` most talkative speakers says this line?

    The classes are the ``K = n_speakers`` speaker headings with the most lines
    of speech in the whole text (ties broken by first appearance); every line
    they speak is one example, labelled with its speaker, and goes to the split
    of its speech (:func:`speech_splits`). One example per *line* rather than
    per speech: a line is at most 63 characters, so every example fits one
    short fixed-length window of a character model, whereas speeches run from
    a word to thousands of characters; and the split keeps all the lines of a
    speech together, so no test line's neighbours are trained on.

    Tiny Shakespeare, ``K = 10``: GLOUCESTER, DUKE VINCENTIO, KING RICHARD II,
    LEONTES, CORIOLANUS, ROMEO, MENENIUS, PETRUCHIO, JULIET, QUEEN MARGARET;
    5,122 / 719 / 800 train / val / test lines (every class has at least 37
    in each split); always answering the commonest training class
    (GLOUCESTER) scores 0.148 / 0.089 / 0.100.

    Args:
      n_speakers: ``K``, the number of classes (at least 2).
      max_length: ``L``, the padded length; longer lines are cut to it (None:
        the longest line, 63 for Tiny Shakespeare).
      text: the play text; None reads the bundled Tiny Shakespeare.

    Returns:
      :class:`SpeakerLines`.

    Raises:
      TypeError: ``n_speakers`` or ``max_length`` not an int, ``text`` not a str.
      ValueError: ``n_speakers < 2`` or more than the text's speakers, or a
        non-positive ``max_length``.
    """
    check_positive_int(n_speakers, "n_speakers")
    text = _check_text(text)
    found = speeches(text)
    lines, owner = _lines(found)
    vocab, max_length = _vocab_and_length(text, lines, max_length)
    line_counts = Counter(found[i].speaker for i in owner)
    if not 2 <= n_speakers <= len(line_counts):
        raise ValueError(
            f"`n_speakers` must be in [2, {len(line_counts)}] (the text's "
            f"speakers); got {n_speakers}."
        )
    classes = tuple(name for name, _ in line_counts.most_common(n_speakers))
    index = {name: k for k, name in enumerate(classes)}
    speaker = np.array([index.get(found[i].speaker, -1) for i in owner])
    split = speech_splits(len(found))[owner]
    chosen = np.flatnonzero(speaker >= 0)
    data, counts = {}, {}
    for code, name in enumerate(SPLITS):
        rows = np.flatnonzero((split == code) & (speaker >= 0))
        tokens, lengths = _pad([lines[r] for r in rows], vocab, max_length)
        label = speaker[rows].astype(np.int32)
        data[name] = {
            "tokens": tokens,
            "lengths": lengths,
            "label": label,
            "speech": owner[rows].astype(np.int32),
        }
        counts[name] = np.bincount(label, minlength=n_speakers)
    majority = int(np.argmax(counts["train"]))
    info = {
        "counts": counts,
        "majority_class": classes[majority],
        "majority_accuracy": {
            name: float(counts[name][majority] / max(counts[name].sum(), 1))
            for name in SPLITS
        },
        "max_length": max_length,
        "n_truncated": int(sum(len(lines[r]) > max_length for r in chosen)),
    }
    return SpeakerLines(data["train"], data["val"], data["test"], classes, vocab, info)


class SentencePairs(NamedTuple):
    """Line pairs for next-sentence prediction.

    Attributes:
      train, val, test: ``{"a": (n, L) int32 character ids, "a_length": (n,),
        "b": (n, L), "b_length": (n,), "is_next": (n,) int32}``; ``is_next``
        is 1 when ``b`` is the line after ``a`` in the same speech and 0 when
        ``b`` is a random line of the same split from another speech.
      vocab: the character :class:`Vocabulary` of the text.
      info: ``{"max_length": L, "seed": seed}``.
    """

    train: dict[str, np.ndarray]
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    vocab: Vocabulary
    info: dict[str, Any]


def sentence_pairs(
    *, seed: int = 0, max_length: int | None = None, text: str | None = None
) -> SentencePairs:
    """Next-sentence prediction pairs of lines (BERT's NSP, Devlin et al. 2019).

    Every line that has a successor in its speech anchors one pair ``(a, b)``:
    in exactly half of each split's pairs (``floor(n / 2)``, chosen at random)
    ``b`` is that successor (``is_next = 1``); in the others it is a line drawn
    uniformly from the same split's lines of *other* speeches (``is_next = 0``).
    BERT pairs sentences; here a verse line is the sentence, which keeps both
    halves short (at most 63 characters each in Tiny Shakespeare). Pairs follow
    the speeches' fixed split (:func:`speech_splits`): validation and test
    pairs, negatives included, come from held-out text only.

    Tiny Shakespeare: 14,861 / 1,826 / 1,771 train / val / test pairs.

    Args:
      seed: seed of the choice of positives and of the random lines.
      max_length: ``L``, the padded length of ``a`` and of ``b``; longer lines
        are cut (None: the longest line).
      text: the play text; None reads the bundled Tiny Shakespeare.

    Returns:
      :class:`SentencePairs`.

    Raises:
      TypeError: a non-int ``seed`` or ``max_length``, ``text`` not a str.
      ValueError: a negative ``seed``, a non-positive ``max_length``, or a
        split without two speeches that have a line pair.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"`seed` must be a non-negative int; got {seed!r}.")
    if seed < 0:
        raise ValueError(f"`seed` must be a non-negative int; got {seed}.")
    text = _check_text(text)
    found = speeches(text)
    lines, owner = _lines(found)
    vocab, max_length = _vocab_and_length(text, lines, max_length)
    split = speech_splits(len(found))[owner]
    rng = np.random.default_rng(seed)
    data = {}
    for code, name in enumerate(SPLITS):
        pool = np.flatnonzero(split == code)
        anchors = pool[:-1][owner[pool[:-1]] == owner[pool[:-1] + 1]]
        if len(anchors) == 0 or len(np.unique(owner[pool])) < 2:
            raise ValueError(
                f"`text` gives the {name} split no line pairs from two speeches; "
                "it is too short to split."
            )
        n = len(anchors)
        is_next = (rng.permutation(n) < n // 2).astype(np.int32)
        partner = anchors + 1
        negative = np.flatnonzero(is_next == 0)
        while len(negative):
            partner[negative] = rng.choice(pool, size=len(negative))
            negative = negative[owner[partner[negative]] == owner[anchors[negative]]]
        a, a_length = _pad([lines[i] for i in anchors], vocab, max_length)
        b, b_length = _pad([lines[i] for i in partner], vocab, max_length)
        data[name] = {
            "a": a,
            "a_length": a_length,
            "b": b,
            "b_length": b_length,
            "is_next": is_next,
        }
    info = {"max_length": max_length, "seed": int(seed)}
    return SentencePairs(data["train"], data["val"], data["test"], vocab, info)
