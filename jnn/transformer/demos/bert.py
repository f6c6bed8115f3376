"""Demo of curriculum T3: masked-language-model pre-training of a tiny BERT.

``bert-mlm``: a character BERT (:class:`jnn.transformer.BERT`: 1 post-norm
encoder layer of width 32, 2 heads, sequences of 64) pre-trained on pairs of
Tiny Shakespeare lines (``sentence_pairs``: half of the second lines follow
the first in its speech, half are random lines of other speeches) packed as
``[CLS] a [SEP] b [SEP]`` (``nsp_batch``) and corrupted once as BERT does
(``pretraining_batch``: 15 % of the characters selected, 80 % of those become
``[MASK]``, 10 % a random character, 10 % stay), on the sum of the MLM and NSP
losses (``bert_pretraining_loss``) through ``jnn.train.fit`` (Adam 2e-3,
mini-batches of 32). The headline is the MLM accuracy on held-out pairs (the
validation split's first 1,024, masked with a fixed key) against always
guessing the commonest masked character (the space); the summary shows the
model's guesses for the masked characters of a few held-out lines. NSP stays
near chance this early.
"""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
import optax

from jnn import plotting
from jnn.data import sentence_pairs
from jnn.demos import DemoConfig, DemoResult, register
from jnn.train import fit, gradient_learner
from jnn.transformer import (
    BERT,
    SPECIAL_TOKENS,
    BertVocabulary,
    bert_pretraining_loss,
    nsp_batch,
    pretraining_batch,
)

LENGTH = 64
SHOWN = 4  # held-out lines whose masked characters are printed


def _subset(split: dict[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
    return {k: v[:n] for k, v in split.items()}


def _show(vocab: BertVocabulary, tokens, targets, weights, predicted) -> str:
    """Three aligned lines: the input, the guesses ``[x]`` and the original."""
    names = (*SPECIAL_TOKENS, *vocab.chars.chars)
    shown, guess, truth, hits = [], [], [], 0
    for t, y, w, p in zip(tokens, targets, weights, predicted, strict=True):
        if y == 0:  # [PAD]: the sequence has ended
            break
        if w > 0:
            hits += int(p == y)
            shown.append(names[t])
            guess.append(f"[{names[p]}]")
            truth.append(f"[{names[y]}]")
        else:
            shown.append(names[y])
            guess.append(names[y])
            truth.append(names[y])
    selected = int((weights > 0).sum())
    return (
        f"input:     {''.join(shown)!r}\n"
        f"predicted: {''.join(guess)!r}\n"
        f"original:  {''.join(truth)!r}   ({hits}/{selected} right)"
    )


@register("bert-mlm", "T3", "tiny BERT, MLM + NSP on line pairs, masked guesses")
def bert_mlm(config: DemoConfig) -> DemoResult:
    """Short MLM + NSP pre-training; held-out MLM accuracy and guesses."""
    pairs = sentence_pairs(seed=config.seed)
    vocab = BertVocabulary(pairs.vocab)
    n_train, n_val = (320, 256) if config.smoke else (3200, 1024)
    width, layers = (16, 1) if config.smoke else (32, 1)
    k_mask, k_fit = jax.random.split(jax.random.key(config.seed))
    # One masking call (one compilation) for both splits: train rows, then val.
    packed = [
        nsp_batch(_subset(s, n), LENGTH)
        for s, n in ((pairs.train, n_train), (pairs.val, n_val))
    ]
    both = pretraining_batch(
        k_mask,
        {k: np.concatenate([p[k] for p in packed]) for k in packed[0]},
        vocab_size=vocab.size,
    )
    train = {k: v[:n_train] for k, v in both.items()}
    val = {k: v[n_train:] for k, v in both.items()}
    model = BERT(
        vocab.size,
        max_length=LENGTH,
        layers=layers,
        heads=2,
        features=width,
        ffn_features=2 * width,
        # A few hundred steps do not overfit; dropout's random bits slow the compile.
        dropout_rate=0.0,
    )
    learner = gradient_learner(
        model, bert_pretraining_loss(model), optax.adam(2e-3), input_key="tokens"
    )
    epochs = config.epochs_or(3, smoke=1)
    result = fit(
        learner, train, key=k_fit, epochs=epochs, batch_size=32, val=val, progress=False
    )
    history = {k: np.asarray(v) for k, v in result.history.items()}
    selected = val["mlm_weights"] > 0
    targets = val["mlm_targets"][selected]
    commonest = int(np.bincount(targets).argmax())
    baseline = float(np.mean(targets == commonest))
    accuracy = float(history["val_mlm_accuracy"][-1])

    shown = {k: v[:SHOWN] for k, v in val.items()}
    logits = jax.jit(model.apply)(
        {"params": result.state.params}, shown["tokens"], shown["segments"]
    ).mlm_logits
    predicted = np.asarray(logits.argmax(-1))
    examples = "\n\n".join(
        _show(vocab, *row)
        for row in zip(
            shown["tokens"],
            shown["mlm_targets"],
            shown["mlm_weights"],
            predicted,
            strict=True,
        )
    )
    (config.out / "bert_mlm_predictions.txt").write_text(examples + "\n")

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    epoch = np.arange(1, len(history["loss"]) + 1)
    for name, label in (("mlm_loss", "MLM"), ("nsp_loss", "NSP")):
        (line,) = ax_loss.plot(epoch, history[name], label=f"{label}, training")
        ax_loss.plot(
            epoch,
            history[f"val_{name}"],
            "--",
            color=line.get_color(),
            label="held out",
        )
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy (nats)", title="BERT losses")
    ax_loss.legend()
    ax_acc.plot(epoch, history["val_mlm_accuracy"], "o-", label="BERT, held out")
    ax_acc.axhline(baseline, linestyle="--", color="gray", label="commonest character")
    ax_acc.plot(epoch, history["val_nsp_accuracy"], "s-", label="NSP, held out")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="masked characters and NSP")
    ax_acc.legend()
    path = plotting.save(fig, config.out / "bert_mlm.png")
    char = repr(vocab.decode([commonest]))
    return DemoResult(
        f"Tiny Shakespeare line pairs, {n_train:,} training / {n_val:,} held out",
        "held-out MLM accuracy",
        accuracy,
        (path,),
        f"Held-out MLM accuracy {accuracy:.3f} against {baseline:.3f} for always "
        f"guessing {char}; NSP accuracy {history['val_nsp_accuracy'][-1]:.3f} "
        f"(chance 0.5) after {result.epochs} epochs. Masked characters of "
        f"held-out lines, guesses in brackets:\n\n```\n{examples}\n```",
    )
