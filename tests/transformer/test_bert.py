"""BERT: shapes, padding invariance, a tiny pre-training run, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.data import sentence_pairs, speaker_lines
from jnn.train import Context, classification_loss, fit, gradient_learner
from jnn.transformer import (
    BERT,
    BertClassifier,
    BertVocabulary,
    bert_pretraining_loss,
    nsp_batch,
    pack_pairs,
    pretraining_batch,
)

L = 64
CONFIG = {
    "max_length": L,
    "layers": 2,
    "heads": 2,
    "features": 32,
    "ffn_features": 64,
}


@pytest.fixture(scope="module")
def pairs():
    return sentence_pairs()


@pytest.fixture(scope="module")
def vocab(pairs):
    return BertVocabulary(pairs.vocab)


@pytest.fixture(scope="module")
def model(vocab):
    return BERT(vocab.size, dropout_rate=0.0, **CONFIG)


@pytest.fixture(scope="module")
def packed(pairs):
    return nsp_batch({k: v[:8] for k, v in pairs.val.items()}, L)


def test_shapes_and_parameters(model, packed, vocab):
    tokens, segments = packed["tokens"], packed["segments"]
    variables = model.init(jax.random.key(0), tokens, segments)
    out = model.apply(variables, tokens, segments)
    assert out.mlm_logits.shape == (8, L, vocab.size)
    assert out.nsp_logits.shape == (8, 2)
    params = variables["params"]
    assert sorted(params) == ["encoder", "mlm_bias", "mlm_norm", "mlm_transform", "nsp"]
    # the MLM output is tied to the token embedding: only a (V,) bias of its own
    assert params["mlm_bias"].shape == (vocab.size,)
    assert params["encoder"]["token_embedding"]["embedding"].shape == (vocab.size, 32)
    classifier = BertClassifier(vocab.size, n_classes=10, **CONFIG)
    c_vars = classifier.init(jax.random.key(1), tokens)
    c_vars = {"params": {**c_vars["params"], "encoder": params["encoder"]}}
    assert classifier.apply(c_vars, tokens).shape == (8, 10)


def test_padding_never_changes_the_cls_output(model, packed):
    tokens = jnp.asarray(packed["tokens"])
    segments = jnp.asarray(packed["segments"])
    valid = jnp.asarray(packed["valid"])
    variables = model.init(jax.random.key(0), tokens, segments)

    def encode(t, s, v):
        return model.apply(variables, t, s, v, method=lambda m, *a: m.encoder(*a))

    h, pooled = encode(tokens, segments, valid)
    # garbage ids and segments at padded positions, the same validity
    noise = jax.random.randint(jax.random.key(2), tokens.shape, 4, model.vocab_size)
    h2, pooled2 = encode(
        jnp.where(valid, tokens, noise), jnp.where(valid, segments, 1), valid
    )
    np.testing.assert_array_equal(pooled, pooled2)
    np.testing.assert_array_equal(h[valid], h2[valid])
    # a shorter padded length: the real positions do not notice
    short = int(valid.sum(1).max())
    h3, pooled3 = encode(tokens[:, :short], segments[:, :short], valid[:, :short])
    np.testing.assert_allclose(pooled3, pooled, atol=1e-5)


@pytest.mark.slow  # ~23 s of one core (the suite's 10-minute budget on 2 cores)
def test_tiny_pretraining_beats_the_unigram_baseline(model, pairs, vocab):
    # 300 Adam steps (width 32, 2 layers) on 3,200 training pairs. Measured
    # over seeds 0..6: validation MLM accuracy 0.231-0.255, against 0.172-0.183
    # for always guessing the commonest masked character (the space); NSP
    # stays at chance this early.
    k_train, k_val, k_fit = jax.random.split(jax.random.key(0), 3)
    train = nsp_batch({k: v[:3200] for k, v in pairs.train.items()}, L)
    val = nsp_batch({k: v[:1024] for k, v in pairs.val.items()}, L)
    train = pretraining_batch(k_train, train, vocab_size=vocab.size)
    val = pretraining_batch(k_val, val, vocab_size=vocab.size)
    learner = gradient_learner(
        model, bert_pretraining_loss(model), optax.adam(2e-3), input_key="tokens"
    )
    result = fit(learner, train, key=k_fit, epochs=3, batch_size=32, val=val)
    history = {k: np.asarray(v) for k, v in result.history.items()}
    targets = val["mlm_targets"][val["mlm_weights"] > 0]
    unigram = np.bincount(targets).max() / len(targets)
    assert 0.17 < unigram < 0.19
    accuracy = history["val_mlm_accuracy"][-1]
    assert accuracy > 0.22 and accuracy > unigram + 0.03
    assert history["val_mlm_loss"][-1] < 0.7 * np.log(vocab.size)
    assert 0.4 < history["val_nsp_accuracy"][-1] < 0.6


def test_classifier_plugs_into_classification_loss(vocab):
    task = speaker_lines(max_length=L - 2)
    chars = vocab.from_chars(task.train["tokens"][:16])
    inputs = pack_pairs(chars, task.train["lengths"][:16], None, None, L)
    data = {"tokens": inputs["tokens"], "label": task.train["label"][:16]}
    model = BertClassifier(vocab.size, n_classes=10, **CONFIG)
    loss = classification_loss(model, input_key="tokens", target_key="label")
    loss.check(data, "train")  # labels checked against the model's 10 outputs
    params = model.init(jax.random.key(0), data["tokens"])["params"]
    value, metrics, _ = loss(params, data, Context())
    assert abs(float(value) - np.log(10)) < 0.5 and "accuracy" in metrics


def test_bad_inputs(model, packed):
    tokens = jnp.asarray(packed["tokens"])
    variables = model.init(jax.random.key(0), tokens)
    with pytest.raises(ValueError, match="`tokens` must hold ids in \\[0, 69\\)"):
        model.apply(variables, tokens.at[0, 0].set(69))
    with pytest.raises(
        ValueError, match="`tokens` has length 65.*`max_length` \\(64\\)"
    ):
        model.apply(variables, jnp.ones((1, L + 1), jnp.int32))
    with pytest.raises(TypeError, match="`tokens`"):
        model.apply(variables, tokens.astype(jnp.float32))
    with pytest.raises(ValueError, match="`segments` must hold segment ids 0 or 1"):
        model.apply(variables, tokens, jnp.full(tokens.shape, 2))
    with pytest.raises(ValueError, match="`valid`"):
        model.apply(variables, tokens, None, jnp.ones((8, 3), bool))
    with pytest.raises(ValueError, match="`heads`"):
        BERT(69, features=30, heads=4)
    with pytest.raises(TypeError, match="`model`"):
        bert_pretraining_loss(BertClassifier(69))
    check = bert_pretraining_loss(model).check
    with pytest.raises(ValueError, match="'mlm_weights'"):
        check({"tokens": tokens, "segments": packed["segments"]}, "train")
