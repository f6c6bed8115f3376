"""Tiny Shakespeare as speeches: parse counts, speaker task, NSP pairs, bad input."""

from collections import Counter

import numpy as np
import pytest

from jnn.data import (
    SentencePairs,
    SpeakerLines,
    Speech,
    sentence_pairs,
    speaker_lines,
    speech_splits,
    speeches,
)
from jnn.data.plays import BLOCK, SPLITS
from jnn.data.text import TEXT_DIR

TOP10 = (
    "GLOUCESTER",
    "DUKE VINCENTIO",
    "KING RICHARD II",
    "LEONTES",
    "CORIOLANUS",
    "ROMEO",
    "MENENIUS",
    "PETRUCHIO",
    "JULIET",
    "QUEEN MARGARET",
)


@pytest.fixture(scope="module")
def found():
    return speeches()


@pytest.fixture(scope="module")
def task():
    return speaker_lines()


@pytest.fixture(scope="module")
def pairs():
    return sentence_pairs()


def test_speeches_of_tiny_shakespeare(found):
    assert len(found) == 7097
    assert all(isinstance(s, Speech) for s in found)
    assert found[0] == (
        "First Citizen",
        "Before we proceed any further, hear me speak.",
    )
    assert found[-1].speaker == "ANTONIO"
    assert found[-1].text.endswith("Whiles thou art waking.")
    assert len({s.speaker for s in found}) == 299
    lines = sum(len(s.text.split("\n")) for s in found)
    assert lines == 25555
    # Every character of the text is a heading, a speech line or a separator:
    # 7,097 headings plus 125 headings with no speech (dropped).
    raw = (TEXT_DIR / "tinyshakespeare.txt").read_text()
    headings = sum(
        1
        for block in raw.split("\n\n")
        if block.strip("\n") and block.strip("\n").split("\n")[0].endswith(":")
    )
    assert headings == 7097 + 125
    top = Counter(s.speaker for s in found).most_common(3)
    assert top == [("GLOUCESTER", 211), ("DUKE VINCENTIO", 189), ("MENENIUS", 161)]


def test_parser_rules_on_a_small_play():
    text = "A:\none\ntwo:\n\nB:\n\n\nC:\nthree\n\nno heading\nhere\n"
    assert speeches(text) == [("A", "one\ntwo:"), ("C", "three")]


def test_split_is_fixed_blocks_of_speeches():
    codes = speech_splits(100 * BLOCK)
    assert np.bincount(codes).tolist() == [80 * BLOCK, 10 * BLOCK, 10 * BLOCK]
    blocks = codes.reshape(-1, BLOCK)
    assert (blocks == blocks[:, :1]).all()  # a block never straddles splits
    assert blocks[:10, 0].tolist() == [0] * 8 + [1, 2]


def test_speaker_lines_classes_counts_and_baseline(task, found):
    assert isinstance(task, SpeakerLines)
    assert task.classes == TOP10
    counts = {k: v.tolist() for k, v in task.info["counts"].items()}
    assert counts == {
        "train": [758, 669, 545, 467, 544, 392, 474, 438, 428, 407],
        "val": [64, 67, 80, 133, 65, 66, 74, 54, 63, 53],
        "test": [80, 86, 133, 79, 65, 146, 37, 76, 60, 38],
    }
    assert task.info["majority_class"] == "GLOUCESTER"
    majority = task.info["majority_accuracy"]
    assert majority["train"] == pytest.approx(758 / 5122)
    assert majority["val"] == pytest.approx(64 / 719)
    assert majority["test"] == pytest.approx(80 / 800)
    assert task.info["max_length"] == 63 and task.info["n_truncated"] == 0
    for name in SPLITS:
        split = getattr(task, name)
        n = len(split["label"])
        assert split["tokens"].shape == (n, 63) and split["tokens"].dtype == np.int32
        assert split["lengths"].dtype == split["label"].dtype == np.int32
        past = np.arange(63)[None] >= split["lengths"][:, None]
        assert (split["tokens"][past] == 0).all()
    first = task.train
    assert task.vocab.decode(first["tokens"][0, : first["lengths"][0]]) == (
        "What work's, my countrymen, in hand? where go you"
    )
    assert task.classes[first["label"][0]] == "MENENIUS"


def test_no_speech_crosses_splits(task, found):
    codes = speech_splits(len(found))
    owners = {}
    for code, name in enumerate(SPLITS):
        split = getattr(task, name)
        owners[name] = set(split["speech"].tolist())
        assert (codes[split["speech"]] == code).all()
        rows = zip(split["tokens"], split["lengths"], split["speech"], strict=True)
        for row, n, speech in rows:
            assert task.vocab.decode(row[:n]) in found[speech].text.split("\n")
    assert not owners["train"] & owners["test"]
    assert not owners["train"] & owners["val"] and not owners["val"] & owners["test"]
    # every line of every speech of the ten speakers is an example, once
    n_lines = sum(len(s.text.split("\n")) for s in found if s.speaker in task.classes)
    assert sum(len(getattr(task, name)["label"]) for name in SPLITS) == n_lines


def test_truncation_and_fewer_speakers():
    small = speaker_lines(3, max_length=10)
    assert small.classes == TOP10[:3]
    assert small.train["tokens"].shape[1] == 10
    assert small.train["lengths"].max() == 10 and small.info["n_truncated"] > 0


def test_sentence_pairs_are_half_true_successors(pairs, found):
    assert isinstance(pairs, SentencePairs)
    sizes = [len(getattr(pairs, name)["is_next"]) for name in SPLITS]
    assert sizes == [14861, 1826, 1771]
    lines_by_split = {name: Counter() for name in SPLITS}
    successors = {name: set() for name in SPLITS}
    codes = speech_splits(len(found))
    for speech, code in zip(found, codes, strict=True):
        lines = speech.text.split("\n")
        lines_by_split[SPLITS[code]].update(lines)
        successors[SPLITS[code]].update(zip(lines[:-1], lines[1:], strict=True))
    for name, n in zip(SPLITS, sizes, strict=True):
        split = getattr(pairs, name)
        assert split["is_next"].sum() == n // 2
        a, b = (
            [pairs.vocab.decode(r[:k]) for r, k in zip(ids, n, strict=True)]
            for ids, n in (
                (split["a"], split["a_length"]),
                (split["b"], split["b_length"]),
            )
        )
        for x, y, label in zip(a, b, split["is_next"], strict=True):
            if label:
                assert (x, y) in successors[name]
            # held-out pairs, negatives included, come from their own split
            assert x in lines_by_split[name] and y in lines_by_split[name]
    again = sentence_pairs()
    np.testing.assert_array_equal(again.val["b"], pairs.val["b"])
    other = sentence_pairs(seed=1)
    assert (other.train["is_next"] != pairs.train["is_next"]).any()


def test_bad_inputs():
    with pytest.raises(TypeError, match="`text`"):
        speeches(b"ROMEO:\nhi")
    with pytest.raises(ValueError, match="`text` holds no speech"):
        speeches("no headings here\n")
    with pytest.raises(ValueError, match="`n_speakers`"):
        speaker_lines(1)
    with pytest.raises(ValueError, match="`n_speakers` must be in \\[2, 299\\]"):
        speaker_lines(300)
    with pytest.raises(TypeError, match="`n_speakers`"):
        speaker_lines(2.5)
    with pytest.raises(ValueError, match="`max_length`"):
        speaker_lines(max_length=0)
    with pytest.raises(TypeError, match="`seed`"):
        sentence_pairs(seed=1.0)
    with pytest.raises(ValueError, match="`seed`"):
        sentence_pairs(seed=-1)
    with pytest.raises(ValueError, match="`n_speeches`"):
        speech_splits(0)
    with pytest.raises(ValueError, match="too short"):
        sentence_pairs(text="A:\none\ntwo\n\nB:\nthree\nfour\n")
