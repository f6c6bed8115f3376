"""Character corpora: bundled Tiny Shakespeare, vocabulary, fixed split, bad input."""

import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jnn
from jnn.data import TEXTS, TextCorpus, Vocabulary, load_text, next_token_stream
from jnn.data.text import TEXT_DIR

SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
# The 65 characters nanoGPT's shakespeare_char/prepare.py reports, in order.
SHAKESPEARE_CHARS = "\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def corpus():
    return load_text("tinyshakespeare")


def test_bundled_file_is_the_documented_one():
    assert TEXTS == ("tinyshakespeare",)
    path = TEXT_DIR / "tinyshakespeare.txt"
    raw = path.read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHAKESPEARE_SHA256
    assert len(raw) == 1_115_394
    readme = (TEXT_DIR / "README.md").read_text()
    assert SHAKESPEARE_SHA256 in readme and "karpathy/char-rnn" in readme
    # Ships in the wheel: inside the package folder, which hatch packages whole.
    assert TEXT_DIR.is_relative_to(next(iter(jnn.__path__)))


def test_shakespeare_split_and_vocabulary_match_nanogpt(corpus):
    assert isinstance(corpus, TextCorpus)
    assert corpus.vocab.chars == SHAKESPEARE_CHARS and corpus.vocab.size == 65
    # nanoGPT: train has 1,003,854 tokens, val has 111,540 (first 90% / last 10%).
    assert corpus.train.shape == (1_003_854,) and corpus.val.shape == (111_540,)
    assert corpus.train.dtype == corpus.val.dtype == np.int32
    assert corpus.vocab.decode(corpus.train[:14]) == "First Citizen:"
    text = (TEXT_DIR / "tinyshakespeare.txt").read_text()
    assert corpus.vocab.decode(np.concatenate([corpus.train, corpus.val])) == text
    assert corpus.info["sha256"] == SHAKESPEARE_SHA256
    assert corpus.info["n_characters"] == 1_115_394
    # Ids are positions in the sorted character set (nanoGPT's stoi).
    np.testing.assert_array_equal(corpus.vocab.encode("\n Aa"), [0, 1, 13, 39])
    counts = np.bincount(corpus.train, minlength=65)
    assert counts.argmax() == 1  # the space is the commonest character
    assert (counts > 0).all()  # every character occurs in training


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=SHAKESPEARE_CHARS, max_size=40))
def test_encode_decode_round_trip(text):
    vocab = Vocabulary(SHAKESPEARE_CHARS)
    ids = vocab.encode(text)
    assert ids.shape == (len(text),) and ids.dtype == np.int32
    assert ((ids >= 0) & (ids < 65)).all()
    assert vocab.decode(ids) == text
    assert "".join(SHAKESPEARE_CHARS[i] for i in ids) == text


def test_any_utf8_file_loads_with_its_own_vocabulary(tmp_path):
    path = tmp_path / "poem.txt"
    text = "héllo wörld, ça va? 東京\n" * 10
    path.write_text(text, encoding="utf-8")
    corpus = load_text(path, val_fraction=0.25)
    assert corpus.vocab.chars == "".join(sorted(set(text)))
    n_train = int(len(text) * 0.75)
    assert len(corpus.train) == n_train and len(corpus.val) == len(text) - n_train
    assert corpus.vocab.decode(corpus.val) == text[n_train:]
    assert corpus.vocab.decode(np.int64(2)) == corpus.vocab.chars[2]
    assert corpus.vocab.decode([]) == "" and corpus.vocab.encode("").shape == (0,)


def test_next_token_stream_feeds_ordered_windows(corpus):
    stream = next_token_stream(corpus.val[:1001])
    np.testing.assert_array_equal(stream["x"][1:], stream["y"][:-1])
    assert stream["x"].shape == stream["y"].shape == (1000,)
    plan = jnn.train.sequence_windows(4, 25)
    index = np.asarray(plan.indices(None, 1000))  # (steps, streams, window)
    x, y = stream["x"][index], stream["y"][index]
    np.testing.assert_array_equal(x[..., 1:], y[..., :-1])  # y is x one step on
    # Windows continue each other, so a carried hidden state reads on.
    np.testing.assert_array_equal(x[1:, :, 0], y[:-1, :, -1])


def test_bad_input_names_the_argument(tmp_path, corpus):
    vocab = corpus.vocab
    with pytest.raises(ValueError, match="`text`.*'é'"):
        vocab.encode("café")
    with pytest.raises(TypeError, match="`text`"):
        vocab.encode(b"abc")
    with pytest.raises(ValueError, match=r"`ids`.*\[0, 65\).*\[65\]"):
        vocab.decode(np.array([3, 65]))
    with pytest.raises(ValueError, match="`ids`"):
        vocab.decode(np.array([-1]))
    with pytest.raises(ValueError, match="`ids`"):
        vocab.decode(np.zeros((2, 2), np.int32))
    with pytest.raises(TypeError, match="`ids`"):
        vocab.decode(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="`name_or_path`"):
        load_text("tiny_shakespeare")
    with pytest.raises(TypeError, match="`name_or_path`"):
        load_text(42)
    for fraction in (0, 1.0, -0.1):
        with pytest.raises(ValueError, match="`val_fraction`"):
            load_text(val_fraction=fraction)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00abc")
    with pytest.raises(ValueError, match="not UTF-8"):
        load_text(binary)
    short = tmp_path / "short.txt"
    short.write_text("a")
    with pytest.raises(ValueError, match="too few"):
        load_text(short)
    with pytest.raises(ValueError, match="`text`"):
        Vocabulary.from_text("")
    with pytest.raises(ValueError, match="`tokens`"):
        next_token_stream(np.array([1]))
    with pytest.raises(TypeError, match="`tokens`"):
        next_token_stream(np.array([1.0, 2.0]))
