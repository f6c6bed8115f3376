"""BERT's pre-training data: MLM corruption statistics, packing, special tokens."""

import jax
import numpy as np
import pytest

from jnn.data import Vocabulary, sentence_pairs
from jnn.transformer import (
    CLS_ID,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    BertVocabulary,
    mlm_mask,
    nsp_batch,
    pack_pair,
    pack_pairs,
    pretraining_batch,
)
from jnn.transformer.packing import _truncated_lengths

V = 69  # Tiny Shakespeare's 65 characters + 4 special tokens
SPECIALS = (PAD_ID, CLS_ID, SEP_ID, MASK_ID)


@pytest.fixture(scope="module")
def sample():
    """10^6 positions: [CLS] chars [SEP] [PAD]..., and one corruption of them."""
    rng = np.random.default_rng(0)
    tokens = rng.integers(4, V, (1000, 1000)).astype(np.int32)
    lengths = rng.integers(500, 1001, 1000).astype(np.int32)
    tokens[:, 0] = CLS_ID
    tokens[np.arange(1000), lengths - 1] = SEP_ID
    tokens[np.arange(1000)[None, :] >= lengths[:, None]] = PAD_ID
    masked = mlm_mask(jax.random.key(0), tokens, lengths, vocab_size=V)
    return tokens, lengths, jax.tree.map(np.asarray, masked)


def within(count, n, p, k=4.0):
    """``count / n`` is within ``k`` binomial standard errors of ``p``."""
    return abs(count / n - p) <= k * np.sqrt(p * (1 - p) / n)


def test_selection_and_replacement_rates(sample):
    tokens, lengths, (inputs, targets, weights) = sample
    valid = np.arange(1000)[None, :] < lengths[:, None]
    eligible = valid & (tokens >= 4)
    selected = weights > 0
    assert not selected[~eligible].any()  # padding and specials never selected
    np.testing.assert_array_equal(inputs[~selected], tokens[~selected])
    np.testing.assert_array_equal(targets, tokens)
    assert within(selected.sum(), eligible.sum(), 0.15)
    n = selected.sum()
    got, was = inputs[selected], tokens[selected]
    # a random replacement equals the original with probability 1/65
    assert within((got == MASK_ID).sum(), n, 0.8)
    assert within(((got != MASK_ID) & (got != was)).sum(), n, 0.1 * 64 / 65)
    assert within((got == was).sum(), n, 0.1 + 0.1 / 65)
    assert weights.dtype == np.float32 and inputs.dtype == np.int32


def test_random_replacements_are_uniform_over_characters():
    tokens = np.full((500, 1000), 4, np.int32)  # one character everywhere
    valid = np.ones_like(tokens, bool)
    inputs = np.asarray(mlm_mask(jax.random.key(1), tokens, valid, vocab_size=V).inputs)
    drawn = inputs[(inputs != MASK_ID) & (inputs != 4)]
    assert drawn.min() >= 5 and drawn.max() < V  # never a special token
    counts = np.bincount(drawn, minlength=V)[5:]
    expected = len(drawn) / 64
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 120  # 63 degrees of freedom: P(chi2 > 120) < 1e-5


def test_masking_is_deterministic_and_jittable(sample):
    tokens, lengths, masked = sample
    again = mlm_mask(jax.random.key(0), tokens[:4], lengths[:4], vocab_size=V)
    other = mlm_mask(jax.random.key(9), tokens[:4], lengths[:4], vocab_size=V)
    np.testing.assert_array_equal(again.inputs, masked.inputs[:4])
    assert (np.asarray(other.weights) != masked.weights[:4]).any()
    jitted = jax.jit(lambda k, t, n: mlm_mask(k, t, n, vocab_size=V))
    out = jitted(jax.random.key(0), tokens[:4], lengths[:4])
    np.testing.assert_array_equal(out.inputs, masked.inputs[:4])


def test_truncation_matches_bert_loop():
    def loop(la, lb, budget):
        while la + lb > budget:
            if la > lb:
                la -= 1
            else:
                lb -= 1
        return la, lb

    grid = np.array([(a, b) for a in range(15) for b in range(15)])
    for budget in range(1, 12):
        got = _truncated_lengths(grid[:, 0], grid[:, 1], budget)
        want = np.array([loop(a, b, budget) for a, b in grid])
        np.testing.assert_array_equal(np.stack(got, 1), want)


def test_vocabulary_and_packing():
    vocab = BertVocabulary(Vocabulary("abc"))
    assert vocab.size == 7 and vocab.special_ids == SPECIALS
    assert vocab.encode("cab").tolist() == [6, 4, 5]
    out = pack_pair(vocab.encode("ab"), vocab.encode("c"), 8)
    assert vocab.decode(out["tokens"]) == "[CLS]ab[SEP]c[SEP][PAD][PAD]"
    assert out["segments"].tolist() == [0, 0, 0, 0, 1, 1, 0, 0]
    assert out["valid"].tolist() == [True] * 6 + [False] * 2
    cut = pack_pair(vocab.encode("abcabc"), vocab.encode("cc"), 8)
    assert vocab.decode(cut["tokens"]) == "[CLS]abc[SEP]cc[SEP]"
    single = pack_pairs(np.array([[4, 5, 6]]), np.array([2]), None, None, 6)
    assert vocab.decode(single["tokens"][0]) == "[CLS]ab[SEP][PAD][PAD]"
    assert not single["segments"].any()


def test_nsp_and_pretraining_batch_on_real_pairs():
    pairs = sentence_pairs()
    packed = nsp_batch({k: v[:64] for k, v in pairs.val.items()}, 48)
    assert packed["tokens"].shape == (64, 48)
    vocab = BertVocabulary(pairs.vocab)
    row = vocab.decode(packed["tokens"][0][packed["valid"][0]])
    a = pairs.vocab.decode(pairs.val["a"][0][: pairs.val["a_length"][0]])
    assert row.startswith("[CLS]" + a[:20]) and row.endswith("[SEP]")
    batch = pretraining_batch(jax.random.key(0), packed, vocab_size=vocab.size)
    assert set(batch) == {"tokens", "segments", "mlm_targets", "mlm_weights", "is_next"}
    assert (batch["mlm_targets"][batch["mlm_weights"] > 0] >= 4).all()


def test_bad_inputs():
    tokens = np.full((2, 5), 4, np.int32)
    valid = np.ones((2, 5), bool)
    with pytest.raises(TypeError, match="`key`"):
        mlm_mask(0, tokens, valid, vocab_size=V)
    with pytest.raises(ValueError, match="`tokens` must hold ids in \\[0, 5\\)"):
        mlm_mask(jax.random.key(0), tokens + 1, valid, vocab_size=5)
    with pytest.raises(TypeError, match="`tokens`"):
        mlm_mask(jax.random.key(0), tokens.astype(float), valid, vocab_size=V)
    with pytest.raises(ValueError, match="`valid`"):
        mlm_mask(jax.random.key(0), tokens, valid[:, :3], vocab_size=V)
    with pytest.raises(ValueError, match="`select_rate`"):
        mlm_mask(jax.random.key(0), tokens, valid, vocab_size=V, select_rate=0.0)
    with pytest.raises(ValueError, match="mask_rate \\+ random_rate"):
        mlm_mask(jax.random.key(0), tokens, valid, vocab_size=V, mask_rate=0.95)
    with pytest.raises(ValueError, match="`special_ids`"):
        mlm_mask(jax.random.key(0), tokens, valid, vocab_size=V, special_ids=(70,))
    with pytest.raises(ValueError, match="`max_length`"):
        pack_pair(np.array([4]), np.array([5]), 4)
    with pytest.raises(ValueError, match="`a_length`"):
        pack_pairs(np.array([[4, 5]]), np.array([3]), None, None, 8)
    with pytest.raises(ValueError, match="`b` and `b_length`"):
        pack_pairs(np.array([[4, 5]]), np.array([2]), np.array([[4]]), None, 8)
    with pytest.raises(ValueError, match="`ids`"):
        BertVocabulary(Vocabulary("ab")).decode([7])
