"""BERT pre-training on Tiny Shakespeare: MLM and NSP accuracy on held-out text.

``BERT`` (Devlin et al. 2019) reads ``[CLS] A [SEP] B [SEP]`` where A is a
verse line and B either the next line of the same speech (``is_next = 1``,
half the pairs) or a line of another speech (``jnn.data.sentence_pairs``:
14,861 / 1,826 / 1,771 train / val / test pairs, the split fixed by whole
speeches, so validation and test text is never seen in training). It learns
masked language modelling (15 % of the characters selected, 80/10/10
``[MASK]`` / random / kept) and next-sentence prediction at once, through
``jnn.train.fit`` with ``bert_pretraining_loss``. The training pairs are
masked ``--copies`` times with different keys (BERT's ``dupe_factor``) and
read ``--epochs`` times.

Yardsticks printed next to the model, on the same held-out pairs:

* MLM: predicting the commonest training character (a space) at every
  selected position;
* NSP: chance (0.5), and a logistic regression (scikit-learn) on surface
  cues only — the last character of A, the first and last characters of B,
  the bag of characters of each line and the lengths. NSP between verse lines
  has little to go on beyond such cues (punctuation at the end of A, a
  capital or a lower-case word starting B), so this is the level a model
  that has learnt the cues reaches.

Model: width 128, 2 pre-norm layers, 4 heads, FFN 512, tanh GELU (the exact
erf GELU doubles the step on CPU), dropout 0.1; AdamW 2e-3 (weight decay
0.01, 10 % linear warm-up, cosine decay), clipping by global norm 1, batches
of 64 pairs packed to 96 tokens.

Run:  python examples/transformer/bert_pretraining.py [--epochs 8]
      [--copies 2] [--features 128] [--layers 2] [--lr 2e-3] [--out DIR]
      [--smoke]
Measured: see examples/transformer/README.md. Writes bert_pretraining.json
and bert_pretraining.png (held-out MLM and NSP accuracy per epoch).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import jax
import numpy as np
import optax

from jnn import plotting
from jnn.data import sentence_pairs
from jnn.train import fit, gradient_learner
from jnn.transformer import (
    BERT,
    BertVocabulary,
    bert_pretraining_loss,
    nsp_batch,
    pretraining_batch,
)

BATCH = 64


def surface_features(split: dict, vocab_size: int) -> np.ndarray:
    """Surface cues of each pair: end/start characters, bags of characters, lengths."""
    a, a_len, b, b_len = (
        np.asarray(split[k]) for k in ("a", "a_length", "b", "b_length")
    )
    n, rows = len(a), np.arange(len(a))
    eye = np.eye(vocab_size)

    def bag(x, lengths):
        real = np.arange(x.shape[1])[None] < lengths[:, None]
        counts = np.zeros((n, vocab_size))
        np.add.at(counts, (np.nonzero(real)[0], x[real]), 1.0)
        return counts / np.maximum(lengths, 1)[:, None]

    return np.concatenate(
        [
            eye[a[rows, a_len - 1]],
            eye[b[:, 0]],
            eye[b[rows, b_len - 1]],
            bag(a, a_len),
            bag(b, b_len),
            np.stack([a_len, b_len, np.abs(a_len - b_len)], 1) / 64.0,
        ],
        axis=1,
    )


def surface_baseline(pairs) -> dict:
    """Logistic regression on :func:`surface_features`: val and test accuracy."""
    from sklearn.linear_model import LogisticRegression

    v = pairs.vocab.size
    clf = LogisticRegression(max_iter=2000).fit(
        surface_features(pairs.train, v), pairs.train["is_next"]
    )
    return {
        name: float(clf.score(surface_features(split, v), np.asarray(split["is_next"])))
        for name, split in (("val", pairs.val), ("test", pairs.test))
    }


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--copies", type=int, default=2, help="masks per pair")
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--pair-length", type=int, default=96)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("jnn-output"))
    parser.add_argument("--smoke", action="store_true", help="tiny model and data")
    args = parser.parse_args(argv)
    args.limit = None
    if args.smoke:
        args.epochs, args.copies, args.features, args.layers = 2, 1, 32, 1
        args.heads, args.pair_length, args.limit = 2, 48, 640
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse(argv)
    pairs = sentence_pairs(seed=args.seed)
    vocab = BertVocabulary(pairs.vocab)

    def packed(split):
        split = (
            split
            if args.limit is None
            else {k: v[: args.limit] for k, v in split.items()}
        )
        return nsp_batch(split, args.pair_length)

    keys = jax.random.split(jax.random.key(args.seed), args.copies + 3)
    train = packed(pairs.train)
    copies = [pretraining_batch(k, train, vocab_size=vocab.size) for k in keys[3:]]
    train = {k: np.concatenate([c[k] for c in copies]) for k in copies[0]}
    val = pretraining_batch(keys[1], packed(pairs.val), vocab_size=vocab.size)
    test = pretraining_batch(keys[2], packed(pairs.test), vocab_size=vocab.size)

    model = BERT(
        vocab_size=vocab.size,
        max_length=args.pair_length,
        layers=args.layers,
        heads=args.heads,
        features=args.features,
        ffn_features=4 * args.features,
        dropout_rate=args.dropout,
        activation="gelu_tanh",
        norm_first=True,
    )
    steps = args.epochs * (len(train["tokens"]) // BATCH)
    warmup = max(1, steps // 10)
    schedule = optax.warmup_cosine_decay_schedule(
        0.0, args.lr, warmup, max(steps, warmup + 1), end_value=0.05 * args.lr
    )
    optimizer = optax.chain(
        optax.clip_by_global_norm(1.0), optax.adamw(schedule, weight_decay=0.01)
    )
    learner = gradient_learner(
        model, bert_pretraining_loss(model), optimizer, input_key="tokens"
    )
    start = time.perf_counter()
    result = fit(
        learner,
        train,
        key=keys[0],
        epochs=args.epochs,
        batch_size=BATCH,
        val=val,
        progress=False if args.smoke else None,
    )
    seconds = time.perf_counter() - start
    held_out = jax.jit(learner.evaluate)(result.state, test)
    history = result.history

    # yardsticks on the same held-out pairs
    space = int(vocab.encode(" ")[0])
    weights = test["mlm_weights"] > 0
    space_accuracy = float(np.mean(test["mlm_targets"][weights] == space))
    surface = surface_baseline(pairs)

    summary = {
        "config": {
            k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
        },
        "train_seconds": seconds,
        "steps": steps,
        "tokens_seen": int(steps * BATCH * args.pair_length),
        "val_mlm_accuracy": np.asarray(history["val_mlm_accuracy"]).tolist(),
        "val_nsp_accuracy": np.asarray(history["val_nsp_accuracy"]).tolist(),
        "test_mlm_accuracy": float(held_out["mlm_accuracy"]),
        "test_nsp_accuracy": float(held_out["nsp_accuracy"]),
        "test_pairs": len(test["is_next"]),
        "space_baseline_mlm": space_accuracy,
        "surface_baseline_nsp": surface,
    }
    n = summary["test_pairs"]
    se = 0.5 / np.sqrt(n)
    print(
        f"BERT {args.layers}x{args.features}, {args.epochs} epochs x {args.copies} "
        f"masks ({steps} steps of {BATCH}) in {seconds:.0f} s"
    )
    print("| held-out test | BERT | yardstick |\n|---|---|---|")
    print(
        f"| MLM accuracy | {summary['test_mlm_accuracy']:.3f} | "
        f"{space_accuracy:.3f} (always a space) |"
    )
    print(
        f"| NSP accuracy | {summary['test_nsp_accuracy']:.3f} | 0.500 chance "
        f"(s.e. {se:.3f} on {n} pairs); {surface['test']:.3f} logistic "
        "regression on surface cues |"
    )
    epochs = len(summary["val_nsp_accuracy"])
    figure = plotting.curves(
        {
            "val MLM accuracy": summary["val_mlm_accuracy"],
            "val NSP accuracy": summary["val_nsp_accuracy"],
            "NSP chance": [0.5] * epochs,
            "NSP, surface-cue regression": [surface["val"]] * epochs,
        },
        args.out / "bert_pretraining.png",
        title="BERT pre-training on Tiny Shakespeare line pairs",
        ylabel="held-out accuracy",
    )
    summary["figure"] = str(figure)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bert_pretraining.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
