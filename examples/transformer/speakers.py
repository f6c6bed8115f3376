"""Who speaks this line? BERT, GPT features and an LSTM on the same speaker task.

The seed's claim: an encoder pre-trained by masked language modelling (BERT,
Devlin et al. 2019) suits *understanding* tasks, a causal language model (GPT,
Radford et al. 2018) *generation*. Measured here on one understanding task,
``jnn.data.speaker_lines()``: which of the 10 most talkative speakers of Tiny
Shakespeare says this line (5,122 / 719 / 800 train / val / test lines, the
split fixed by whole speeches; always answering the commonest training speaker
scores 0.100 on test). Every model reads characters; every classifier stops
early on validation accuracy (best epoch kept) and is scored once on test.

1. **BERT, pre-trained**: ``BERT`` (MLM + NSP) on the *training* split's line
   pairs (``sentence_pairs().train``: validation and test text is never seen),
   masked ``--bert-copies`` times with different keys (BERT's ``dupe_factor``)
   and read once; then ``BertClassifier`` with ``params["encoder"]`` copied
   over is fine-tuned on the pooled ``[CLS] line [SEP]``.
2. **BERT, from scratch**: the same classifier and fine-tuning, random encoder.
3. **GPT features**: a ``GPT`` of the same width and depth is pre-trained as a
   causal character model on the lines of the *training* speeches of every
   speaker (the split of ``speech_splits``: no val/test line), cut into blocks
   at ``--gpt-copies`` offsets; then, frozen, it reads a newline and the line and a
   linear classifier is trained on the final layer norm's states (read with
   ``capture_intermediates``, no library change), mean over the line
   concatenated with the last character's state, standardised.
4. **LSTM**: ``RecurrentNet(cell="lstm", head="many-to-one")`` on embedded
   characters with the true lengths, from scratch.

Transformers: width 128, 2 layers, 4 heads, FFN 512, pre-norm; BERT uses the
tanh GELU (GPT-2's; the exact erf GELU doubles the step time on CPU) and
dropout 0.1; the GPT blocks use the exact GELU and no dropout (``GPT``'s
defaults). Pairs are packed to 96 tokens (13 % cut), lines to 64. Optimiser:
AdamW (weight decay 0.01) with warm-up and cosine decay, clipping by global
norm 1, batch 64.

Run:  python examples/transformer/speakers.py [--features 128] [--layers 2]
      [--bert-copies 2] [--gpt-copies 2] [--finetune-epochs 6] [--out DIR]
Expected (one core of a 2-core AMD EPYC, shared; ~11 min; README.md): test
accuracy, majority 0.100: BERT pre-trained 0.166, BERT from scratch 0.146,
GPT features + linear 0.180, LSTM 0.167 (800 lines: +-0.013 standard error).
Writes speakers.json and speakers_accuracy.png to the output folder.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn import plotting
from jnn.data import sentence_pairs, speaker_lines, speech_splits, speeches
from jnn.rnn import RecurrentNet
from jnn.train import classification_loss, fit, gradient_learner, validation_patience
from jnn.transformer import (
    BERT,
    GPT,
    BertClassifier,
    BertVocabulary,
    bert_pretraining_loss,
    gpt_loss,
    next_token_blocks,
    nsp_batch,
    pack_pairs,
    pretraining_batch,
)

BATCH = 64


class CharLSTM(nn.Module):
    """Character ids ``(B, T)`` -> embeddings -> LSTM -> ``(B, classes)`` logits."""

    vocab_size: int
    embed: int = 32
    features: int = 128
    n_classes: int = 10
    dropout: float = 0.1

    @nn.compact
    def __call__(self, tokens, seq_lengths=None, train: bool = False):
        """Logits of ``tokens`` with their ``(B,)`` lengths."""
        x = nn.Embed(self.vocab_size, self.embed)(tokens)
        net = RecurrentNet(
            cell="lstm",
            features=self.features,
            head="many-to-one",
            out_features=self.n_classes,
            dropout=self.dropout,
        )
        return net(x, seq_lengths, train=train)


def count(params) -> int:
    """Number of parameters in a pytree."""
    return int(sum(np.size(p) for p in jax.tree.leaves(params)))


def adamw(peak: float, steps: int, warmup: int) -> optax.GradientTransformation:
    """AdamW, linear warm-up to ``peak`` then cosine decay, clipping at norm 1."""
    warmup = max(1, min(warmup, steps // 2))
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, peak, warmup, max(steps, warmup + 1), end_value=0.05 * peak
    )
    return optax.chain(
        optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.01)
    )


def subset(split: dict, n: int | None) -> dict:
    return split if n is None else {k: v[:n] for k, v in split.items()}


# --------------------------------------------------------------------------
# classifiers: one driver for every model
# --------------------------------------------------------------------------


def classifier_learner(model, *, peak, steps, lengths=False, input_key="tokens"):
    """``(learner, optimizer)`` for a classifier of ``input_key`` to ``label``."""
    optimizer = adamw(peak, steps, steps // 10)
    kwargs = {"seq_lengths": "lengths"} if lengths else None
    loss = classification_loss(
        model, input_key=input_key, target_key="label", model_kwargs=kwargs
    )
    learner = gradient_learner(model, loss, optimizer, input_key=input_key)
    return learner, optimizer


def train_classifier(learner, data, *, key, epochs, stop, init_state=None, progress):
    """Fit with early stopping on validation accuracy; test accuracy of the best."""
    start = time.perf_counter()
    result = fit(
        learner,
        data["train"],
        key=key,
        epochs=epochs,
        batch_size=BATCH,
        val=data["val"],
        stop=stop,
        init_state=init_state,
        progress=progress,
    )
    evaluate = jax.jit(learner.evaluate)
    test = float(evaluate(result.state, data["test"])["accuracy"])
    seconds = time.perf_counter() - start
    best = int(np.argmax(result.history["val_accuracy"]))
    return {
        "test_accuracy": test,
        "val_accuracy": float(result.history["val_accuracy"][best]),
        "epochs": int(result.epochs),
        "best_epoch": best + 1,
        "train_seconds": seconds,
        "state": result.state,
    }


# --------------------------------------------------------------------------
# BERT
# --------------------------------------------------------------------------


def bert_config(args, vocab: BertVocabulary, max_length: int) -> dict:
    return {
        "vocab_size": vocab.size,
        "max_length": max_length,
        "layers": args.layers,
        "heads": args.heads,
        "features": args.features,
        "ffn_features": 4 * args.features,
        "dropout_rate": args.dropout,
        "activation": "gelu_tanh",
        "norm_first": True,
    }


def pretrain_bert(args, vocab, key, progress):
    """MLM + NSP on the training pairs; ``(encoder params, record)``."""
    pairs = sentence_pairs(seed=args.seed)
    train = nsp_batch(subset(pairs.train, args.limit_pairs), args.pair_length)
    val = nsp_batch(subset(pairs.val, args.limit_pairs), args.pair_length)
    keys = jax.random.split(key, args.bert_copies + 2)
    copies = [
        pretraining_batch(k, train, vocab_size=vocab.size) for k in keys[2:]
    ]  # BERT's dupe_factor: the same pairs under different masks
    train = {k: np.concatenate([c[k] for c in copies]) for k in copies[0]}
    val = pretraining_batch(keys[1], val, vocab_size=vocab.size)
    model = BERT(**bert_config(args, vocab, args.pair_length))
    steps = len(train["tokens"]) // BATCH
    optimizer = adamw(args.pretrain_lr, steps, steps // 10)
    learner = gradient_learner(
        model, bert_pretraining_loss(model), optimizer, input_key="tokens"
    )
    start = time.perf_counter()
    result = fit(
        learner,
        train,
        key=keys[0],
        epochs=1,
        batch_size=BATCH,
        val=val,
        progress=progress,
    )
    history = result.history
    record = {
        "pretrain_seconds": time.perf_counter() - start,
        "pretrain_tokens": int(train["mlm_weights"].size),
        "pretrain_steps": steps,
        "val_mlm_accuracy": float(history["val_mlm_accuracy"][-1]),
        "val_nsp_accuracy": float(history["val_nsp_accuracy"][-1]),
    }
    return result.state.params["encoder"], record


def bert_data(lines, vocab: BertVocabulary, length: int) -> dict:
    """``[CLS] line [SEP]`` in the BERT vocabulary, per split."""
    data = {}
    for name in ("train", "val", "test"):
        split = getattr(lines, name)
        packed = pack_pairs(
            vocab.from_chars(split["tokens"]), split["lengths"], None, None, length
        )
        data[name] = {"tokens": packed["tokens"], "label": split["label"]}
    return data


# --------------------------------------------------------------------------
# GPT
# --------------------------------------------------------------------------


def training_text(vocab, limit: int | None) -> np.ndarray:
    """Character ids of every line of the training speeches (all speakers)."""
    found = speeches()
    codes = speech_splits(len(found))
    text = "".join(s.text + "\n" for s, c in zip(found, codes, strict=True) if c == 0)
    return vocab.encode(text[:limit] if limit else text)


def pretrain_gpt(args, vocab, key, progress):
    """Causal LM on the training text; ``(model, params, record)``."""
    stream = training_text(vocab, args.limit_text)
    context = args.line_length
    blocks = [
        next_token_blocks(stream, context, offset=i * (context + 1) // args.gpt_copies)
        for i in range(args.gpt_copies)
    ]
    train = {k: np.concatenate([b[k] for b in blocks]) for k in ("x", "y")}
    model = GPT(vocab.size, context, args.layers, args.heads, args.features)
    steps = len(train["x"]) // BATCH
    optimizer = adamw(args.pretrain_lr, steps, steps // 10)
    learner = gradient_learner(model, gpt_loss(model), optimizer)
    start = time.perf_counter()
    result = fit(learner, train, key=key, epochs=1, batch_size=BATCH, progress=progress)
    record = {
        "pretrain_seconds": time.perf_counter() - start,
        "pretrain_tokens": int(train["x"].size),
        "pretrain_steps": steps,
        "train_bits_per_char": float(result.history["bits_per_token"][-1]),
    }
    return model, result.state.params, record


def gpt_features(model: GPT, params, splits: dict, newline: int) -> dict:
    """Frozen GPT states of a newline + line: ``{split: (n, 2d)}``, [mean, last].

    GPT returns logits only; the final layer norm's output (the states the
    tied projection reads) is captured with ``capture_intermediates``. The
    mean runs over the newline and the line's characters; "last" is the state
    after the line's last character.
    """
    width, chunk = model.context, 512

    @jax.jit
    def pooled(ids, count):
        _, captured = model.apply(
            {"params": params},
            ids,
            capture_intermediates=lambda module, _: module.name == "norm",
            mutable=["intermediates"],
        )
        h = captured["intermediates"]["norm"]["__call__"][0]  # (B, L, d)
        valid = jnp.arange(width)[None, :] < count[:, None]
        mean = (h * valid[..., None]).sum(1) / jnp.maximum(count, 1)[:, None]
        last = h[jnp.arange(h.shape[0]), jnp.maximum(count, 1) - 1]
        return jnp.concatenate([mean, last], axis=1)

    features = {}
    for name, split in splits.items():
        tokens, n = split["tokens"], len(split["tokens"])
        x = np.concatenate(
            [np.full((n, 1), newline, np.int32), tokens[:, : width - 1]], axis=1
        )
        counts = np.minimum(split["lengths"], width - 1) + 1
        x = np.pad(x, ((0, -n % chunk), (0, 0)))  # one compiled shape
        counts = np.pad(counts, (0, -n % chunk))
        out = [
            np.asarray(pooled(x[i : i + chunk], counts[i : i + chunk]))
            for i in range(0, len(x), chunk)
        ]
        features[name] = np.concatenate(out)[:n].astype(np.float32)
    return features


class Linear(nn.Module):
    """A linear classifier ``W x + b``."""

    n_classes: int

    @nn.compact
    def __call__(self, features):
        """Logits of ``(B, F)`` features."""
        return nn.Dense(self.n_classes)(features)


# --------------------------------------------------------------------------
# the comparison
# --------------------------------------------------------------------------


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--pair-length", type=int, default=96)
    parser.add_argument("--line-length", type=int, default=64)
    parser.add_argument("--bert-copies", type=int, default=2)
    parser.add_argument("--gpt-copies", type=int, default=2)
    parser.add_argument(
        "--dropout", type=float, default=0.1, help="of BERT and the LSTM"
    )
    parser.add_argument("--pretrain-lr", type=float, default=2e-3)
    parser.add_argument("--finetune-lr", type=float, default=5e-4)
    parser.add_argument("--finetune-epochs", type=int, default=6)
    parser.add_argument("--patience", type=int, default=3)
    parser.add_argument("--lstm-features", type=int, default=128)
    parser.add_argument("--lstm-epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny models and data")
    args = parser.parse_args(argv)
    args.limit_pairs = args.limit_text = args.limit_lines = None
    if args.smoke:
        args.features, args.layers, args.heads = 32, 1, 2
        args.pair_length, args.line_length = 48, 48
        args.bert_copies = args.gpt_copies = 1
        args.limit_pairs, args.limit_text, args.limit_lines = 640, 20_000, 640
        args.finetune_epochs, args.lstm_epochs, args.patience = 2, 2, 2
        args.lstm_features, args.dropout = 32, 0.0
        args.pretrain_lr = args.finetune_lr = 3e-3
    return args


def table(rows: list[dict], majority: float) -> str:
    head = "| model | pre-training | test accuracy | params | pre-train s | train s |"
    lines = [head, "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['pretraining']} | {r['test_accuracy']:.3f} | "
            f"{r['params']:,} | {r['pretrain_seconds']:.0f} | "
            f"{r['train_seconds']:.0f} |"
        )
    lines.append(f"| majority class | - | {majority:.3f} | 0 | 0 | 0 |")
    return "\n".join(lines)


def bar_chart(rows: list[dict], majority: float, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    names = [f"{r['model']}\n({r['pretraining']})" for r in rows]
    values = [r["test_accuracy"] for r in rows]
    ax.bar(names, values, color=["C0", "C0", "C1", "C2"][: len(rows)])
    ax.axhline(majority, linestyle="--", color="gray", label="majority class")
    for i, v in enumerate(values):
        ax.annotate(f"{v:.3f}", (i, v), ha="center", va="bottom", fontsize=9)
    ax.set(ylabel="test accuracy", title="Which of 10 speakers says this line?")
    ax.set_ylim(0, 1.15 * max(values + [majority]))
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(loc="lower left")
    return plotting.save(fig, path)


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    progress = False if args.smoke else None
    lines = speaker_lines()
    splits = {n: subset(getattr(lines, n), args.limit_lines) for n in ("train", "val")}
    lines = lines._replace(**splits)
    n_classes, majority = len(lines.classes), lines.info["majority_accuracy"]["test"]
    steps = args.finetune_epochs * (len(lines.train["label"]) // BATCH)
    key = jax.random.key(args.seed)
    k_bert, k_gpt, k_fine, k_probe, k_lstm = jax.random.split(key, 5)
    rows = []

    def row(model, pretraining, params, fitted, pretrain=None):
        r = {"model": model, "pretraining": pretraining, "params": params}
        r.update({k: v for k, v in fitted.items() if k != "state"})
        r.update(pretrain or {"pretrain_seconds": 0.0})
        rows.append(r)
        print(
            f"{model:16s} {pretraining:34s} test {r['test_accuracy']:.3f} "
            f"(val {r['val_accuracy']:.3f}, {r['epochs']} epochs, "
            f"{r['pretrain_seconds']:.0f} + {r['train_seconds']:.0f} s)",
            flush=True,
        )

    # BERT: one learner and one stopping rule, so both fine-tunings share the
    # compiled epoch; only the initial encoder differs.
    vocab = BertVocabulary(lines.vocab)
    encoder, pre_record = pretrain_bert(args, vocab, k_bert, progress)
    print(
        f"BERT pre-training: {pre_record['pretrain_seconds']:.0f} s, val MLM "
        f"accuracy {pre_record['val_mlm_accuracy']:.3f}, NSP "
        f"{pre_record['val_nsp_accuracy']:.3f}",
        flush=True,
    )
    data = bert_data(lines, vocab, args.line_length)
    classifier = BertClassifier(
        **bert_config(args, vocab, args.pair_length), n_classes=n_classes
    )
    learner, optimizer = classifier_learner(
        classifier, peak=args.finetune_lr, steps=steps
    )
    stop = validation_patience(args.patience, metric="val_accuracy", mode="max")
    state = learner.init(k_fine, {"tokens": data["train"]["tokens"][:2]})
    params = {**state.params, "encoder": encoder}
    warm = state._replace(params=params, opt_state=optimizer.init(params))
    for name, init in (("MLM+NSP, train pairs", warm), ("none", None)):
        fitted = train_classifier(
            learner,
            data,
            key=k_fine,
            epochs=args.finetune_epochs,
            stop=stop,
            init_state=init,
            progress=progress,
        )
        extra = pre_record if init is not None else None
        row("BERT fine-tuned", name, count(params), fitted, extra)

    # GPT: causal LM, then a linear probe on frozen states
    gpt, gpt_params, gpt_record = pretrain_gpt(args, lines.vocab, k_gpt, progress)
    start = time.perf_counter()
    newline = int(lines.vocab.encode("\n")[0])
    splits = {n: getattr(lines, n) for n in ("train", "val", "test")}
    feats = gpt_features(gpt, gpt_params, splits, newline)
    mean, std = feats["train"].mean(0), feats["train"].std(0) + 1e-6
    probe_data = {
        n: {"features": (f - mean) / std, "label": getattr(lines, n)["label"]}
        for n, f in feats.items()
    }
    feature_seconds = time.perf_counter() - start
    probe = Linear(n_classes)
    probe_epochs = 10 if args.smoke else 100
    probe_steps = probe_epochs * (len(lines.train["label"]) // BATCH)
    probe_learner, _ = classifier_learner(
        probe, peak=1e-3, steps=probe_steps, input_key="features"
    )
    fitted = train_classifier(
        probe_learner,
        probe_data,
        key=k_probe,
        epochs=probe_epochs,
        stop=validation_patience(10, metric="val_accuracy", mode="max"),
        progress=progress,
    )
    fitted["train_seconds"] += feature_seconds
    head_params = count(fitted["state"].params)
    gpt_record["head_params"] = head_params
    row(
        "GPT + linear",
        "causal LM, train lines (frozen)",
        count(gpt_params) + head_params,
        fitted,
        gpt_record,
    )

    # LSTM from scratch
    lstm = CharLSTM(
        lines.vocab.size,
        features=args.lstm_features,
        n_classes=n_classes,
        dropout=args.dropout,
    )
    lstm_steps = args.lstm_epochs * (len(lines.train["label"]) // BATCH)
    lstm_learner, _ = classifier_learner(
        lstm, peak=2e-3, steps=lstm_steps, lengths=True
    )
    lstm_data = {
        n: {k: getattr(lines, n)[k] for k in ("tokens", "lengths", "label")}
        for n in ("train", "val", "test")
    }
    fitted = train_classifier(
        lstm_learner,
        lstm_data,
        key=k_lstm,
        epochs=args.lstm_epochs,
        stop=validation_patience(2 * args.patience, metric="val_accuracy", mode="max"),
        progress=progress,
    )
    row("LSTM", "none", count(fitted["state"].params), fitted)

    text = table(rows, majority)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / "speakers.json"
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    json_path.write_text(
        json.dumps(
            {"rows": rows, "majority_test_accuracy": majority, "config": config},
            indent=2,
        )
    )
    png = bar_chart(rows, majority, args.out / "speakers_accuracy.png")
    return {
        "rows": rows,
        "majority": majority,
        "table": text,
        "json": json_path,
        "png": png,
    }


if __name__ == "__main__":
    main()
