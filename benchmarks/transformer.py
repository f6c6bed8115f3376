"""Benchmark: GPT training, jnn vs a PyTorch GPT of the same configuration (T2, T4).

Workload (issue 14): a character GPT on Tiny Shakespeare's training split
(``jnn.data.load_text``; 65 characters): 4 layers, 4 heads, width 128, context
128, learned positions, pre-norm blocks with a 4x GELU feed-forward net (the
tanh approximation on both sides, GPT-2's), the
output tied to the token embedding; next-character cross-entropy, Adam 1e-3
after clipping by global norm 1; shuffled batches of 32 blocks of 128 + 1
characters (:func:`jnn.transformer.next_token_blocks`). Figure: training
tokens per second (32 x 128 per step), steady state, median of ``--repeats``
calls of ``--steps`` steps each.

Rows:

* ``jnn.fit``: ``jnn.train.fit(gradient_learner(GPT(...), gpt_loss(model),
  optimizer), blocks, batch_size=32, epochs=1)`` on ``32 x steps`` blocks, so
  one call is ``steps`` compiled updates; the learner is reused, so calls after
  the first are not recompiled.
* ``torch eager`` / ``foreach`` / ``fused`` / ``1 thread``: the same network
  in PyTorch (``nn.Embedding``, ``nn.LayerNorm``, ``nn.Linear`` q/k/v/out
  projections with biases, ``F.scaled_dot_product_attention(is_causal=True)``,
  ``nn.GELU(approximate="tanh")`` as Flax's default GELU, tied head),
  ``clip_grad_norm_``, ``torch.optim.Adam`` with each of its kernels.
* ``torch.compile fused``: the model through ``torch.compile`` (inductor);
  skipped with the reason when it fails here.

``--quality N`` also trains each implementation N steps from the same
initial weights' distribution and reports the validation loss (the issue's
reference: 2.12 after 500 iterations in PyTorch).

``--lengths`` adds the T1/T4 study: time and XLA's compiled memory (temporary
+ arguments + outputs) of one training step at batch 8 for sequence lengths
64 ... 4096, for the 2-layer LSTM 256 of the RNN chapter (O(n) sequential)
and a GPT of comparable size (2 layers, width 256, 4 heads; O(n^2) parallel),
with plain attention (``jax.nn.dot_product_attention``), with the
memory-efficient chunked attention, and with the CPU default (the softmax core,
causal attention by query blocks over key prefixes). Plot:
``results/transformer_lengths.png``.

Run::

    .venv/bin/python benchmarks/transformer.py                # ~4 min on 2 cores
    .venv/bin/python benchmarks/transformer.py --quick
    .venv/bin/python benchmarks/transformer.py --lengths 64 256 1024 4096

Results go to ``benchmarks/results/transformer.json`` (``transformer_quick.json``).
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jnn.data import load_text
from jnn.rnn import CharRNN, tbptt_learner
from jnn.train import gradient_learner
from jnn.transformer import GPT, gpt_loss, next_token_blocks

LAYERS, HEADS, FEATURES, CONTEXT, BATCH, LR, MAX_NORM = 4, 4, 128, 128, 32, 1e-3, 1.0


def optimizer():
    """Adam after clipping by global norm (both sides use the same rule)."""
    return optax.chain(optax.clip_by_global_norm(MAX_NORM), optax.adam(LR))


# --- jnn -------------------------------------------------------------------------


def jnn_model(vocab: int, implementation: str = "auto") -> GPT:
    return GPT(
        vocab,
        context=CONTEXT,
        layers=LAYERS,
        heads=HEADS,
        features=FEATURES,
        implementation=implementation,
        activation="gelu_tanh",  # the peer's nn.GELU(approximate="tanh")
    )


def jnn_trainer(vocab: int, tokens: np.ndarray, steps: int):
    """``run(i)``: one ``fit`` epoch of ``steps`` updates, seed ``i``."""
    model = jnn_model(vocab)
    learner = gradient_learner(model, gpt_loss(model), optimizer())
    blocks = next_token_blocks(tokens, CONTEXT)
    data = {k: jnp.asarray(v[: BATCH * steps]) for k, v in blocks.items()}
    run = h.fit_runner(learner, data, _state_and_loss, epochs=1, batch_size=BATCH)
    return run, learner


def _state_and_loss(result):
    return result.state, float(result.history["loss"][-1])


def jnn_val_loss(learner, state, val_tokens: np.ndarray) -> float:
    blocks = next_token_blocks(val_tokens, CONTEXT)
    evaluate = jax.jit(learner.evaluate)
    losses = [
        float(evaluate(state, {k: v[i : i + 64] for k, v in blocks.items()})["loss"])
        for i in range(0, len(blocks["x"]) - 63, 64)
    ]
    return float(np.mean(losses))


# --- PyTorch ---------------------------------------------------------------------


def torch_model(vocab: int):
    """A PyTorch GPT with jnn's architecture (parameters: the same count)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.qkv = nn.Linear(FEATURES, 3 * FEATURES)
            self.out = nn.Linear(FEATURES, FEATURES)

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(x).split(d, dim=2)
            q, k, v = (
                z.view(b, t, HEADS, d // HEADS).transpose(1, 2) for z in (q, k, v)
            )
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.out(y.transpose(1, 2).reshape(b, t, d))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1, self.norm2 = nn.LayerNorm(FEATURES), nn.LayerNorm(FEATURES)
            self.attention = Attention()
            self.ffn = nn.Sequential(
                nn.Linear(FEATURES, 4 * FEATURES),
                nn.GELU(approximate="tanh"),
                nn.Linear(4 * FEATURES, FEATURES),
            )

        def forward(self, x):
            x = x + self.attention(self.norm1(x))
            return x + self.ffn(self.norm2(x))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, FEATURES)
            self.position = nn.Embedding(CONTEXT, FEATURES)
            self.blocks = nn.ModuleList(Block() for _ in range(LAYERS))
            self.norm = nn.LayerNorm(FEATURES)
            for p in (self.embed.weight, self.position.weight):
                nn.init.normal_(p, std=0.02)

        def forward(self, x):
            positions = torch.arange(x.shape[1], device=x.device)
            h = self.embed(x) + self.position(positions)
            for block in self.blocks:
                h = block(h)
            return self.norm(h) @ self.embed.weight.T  # tied output

    torch.manual_seed(0)
    return TorchGPT()


def torch_trainer(
    vocab: int, tokens: np.ndarray, steps: int, adam: str, compiled: bool
):
    """``run(i)``: ``steps`` updates of a fresh PyTorch GPT; returns the model too."""
    import torch

    blocks = next_token_blocks(tokens, CONTEXT)
    x_all = torch.from_numpy(blocks["x"][: BATCH * steps].astype(np.int64))
    y_all = torch.from_numpy(blocks["y"][: BATCH * steps].astype(np.int64))
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(i: int):
        model = torch_model(vocab)
        forward = torch.compile(model) if compiled else model
        adam_ = h.torch_adam(model.parameters(), LR, adam)
        order = torch.randperm(len(x_all), generator=torch.Generator().manual_seed(i))
        for s in range(steps):
            rows = order[s * BATCH : (s + 1) * BATCH]
            logits = forward(x_all[rows])
            loss = loss_fn(logits.reshape(-1, vocab), y_all[rows].reshape(-1))
            adam_.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
            adam_.step()
        return model, loss.item()

    return run


def torch_val_loss(model, vocab: int, val_tokens: np.ndarray) -> float:
    import torch

    blocks = next_token_blocks(val_tokens, CONTEXT)
    x = torch.from_numpy(blocks["x"].astype(np.int64))
    y = torch.from_numpy(blocks["y"].astype(np.int64))
    with torch.no_grad():
        losses = [
            torch.nn.functional.cross_entropy(
                model(x[i : i + 64]).reshape(-1, vocab), y[i : i + 64].reshape(-1)
            ).item()
            for i in range(0, len(x) - 63, 64)
        ]
    return float(np.mean(losses))


# --- the throughput table --------------------------------------------------------


def throughput_rows(vocab, tokens, steps, repeats, peers) -> list[h.Row]:
    workload = f"GPT {LAYERS}L/{HEADS}H/{FEATURES}, context {CONTEXT}, B={BATCH}"
    per_call = BATCH * CONTEXT * steps
    run, _ = jnn_trainer(vocab, tokens, steps)
    workloads: dict[str, Any] = {"jnn.fit": run}

    def make(adam: str, compiled: bool):
        return torch_trainer(vocab, tokens, steps, adam, compiled)

    timings = h.interleaved_with_torch(workloads, make, peers, repeats)

    def final_loss(name: str, t: h.Timing) -> dict[str, float]:
        return {"final_loss": t.results[-1][1]}

    return h.timing_rows(workload, timings, per_call, final_loss)


def quality(vocab: int, corpus, steps: int) -> dict[str, float]:
    """Validation loss after ``steps`` updates: jnn and PyTorch eager fused."""
    run, learner = jnn_trainer(vocab, corpus.train, steps)
    state, _ = run(0)
    model, _ = h.with_threads(
        torch_trainer(vocab, corpus.train, steps, "fused", False), None
    )(0)
    out = {
        "steps": steps,
        "jnn_val_loss": jnn_val_loss(learner, state, corpus.val),
        "torch_val_loss": torch_val_loss(model, vocab, corpus.val),
    }
    print(
        f"validation loss after {steps} steps: jnn {out['jnn_val_loss']:.3f}, "
        f"torch {out['torch_val_loss']:.3f}"
    )
    return out


# --- T1 / T4: time and memory against the sequence length ------------------------


def step_at_length(kind: str, vocab: int, length: int, batch: int):
    """Seconds and compiled bytes of one training step of ``kind`` at ``length``."""
    x = jnp.zeros((batch, length), jnp.int32)
    data = {"x": x, "y": x}
    if kind == "lstm":
        model = CharRNN(vocab, features=256, layers=2, cell="lstm")
        return h.update_step_cost(tbptt_learner(model, learning_rate=LR), data)
    implementation = {"gpt": "xla", "gpt chunked": "chunked", "gpt blocks": "softmax"}[
        kind
    ]
    model = GPT(
        vocab,
        context=length,
        layers=2,
        heads=4,
        features=256,
        implementation=implementation,
        activation="gelu_tanh",
    )
    return h.update_step_cost(
        gradient_learner(model, gpt_loss(model), optimizer()), data
    )


LENGTH_KINDS = ("lstm", "gpt", "gpt chunked", "gpt blocks")


def length_study(vocab: int, lengths: list[int], batch: int) -> list[dict[str, Any]]:
    rows = []
    for length in lengths:
        row: dict[str, Any] = {"length": length}
        for kind in LENGTH_KINDS:
            try:
                seconds, nbytes = step_at_length(kind, vocab, length, batch)
            except Exception as error:  # noqa: BLE001 - e.g. out of memory
                seconds, nbytes = None, None
                row[f"{kind} error"] = h.failure_reason(error)
            row[f"{kind} s"], row[f"{kind} bytes"] = seconds, nbytes
        rows.append(row)
        print(
            f"T={length:5d}: "
            + " | ".join(
                f"{k} {_ms(row[f'{k} s'])} ms {_mib(row[f'{k} bytes'])} MiB"
                for k in LENGTH_KINDS
            ),
            flush=True,
        )
    return rows


def _ms(seconds):
    return "  -" if seconds is None else f"{1e3 * seconds:8.1f}"


def _mib(nbytes):
    return "  -" if nbytes is None else f"{nbytes / 2**20:8.1f}"


def plot_lengths(rows: list[dict[str, Any]], batch: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [r["length"] for r in rows]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    styles = {"lstm": "o-", "gpt": "s--", "gpt chunked": "^-.", "gpt blocks": "d:"}
    labels = {
        "lstm": "LSTM 2x256 (O(n), sequential)",
        "gpt": "GPT 2x256, plain attention (O(n^2))",
        "gpt chunked": "GPT 2x256, chunked attention",
        "gpt blocks": "GPT 2x256, causal query blocks (CPU default)",
    }
    for kind in LENGTH_KINDS:
        pts = [(r["length"], r[f"{kind} s"], r[f"{kind} bytes"]) for r in rows]
        ax_t.loglog(
            [p[0] for p in pts if p[1]],
            [p[1] for p in pts if p[1]],
            styles[kind],
            label=labels[kind],
        )
        ax_m.loglog(
            [p[0] for p in pts if p[2]],
            [p[2] / 2**20 for p in pts if p[2]],
            styles[kind],
            label=labels[kind],
        )
    ax_t.set(xlabel="sequence length", ylabel="s / training step", title="time")
    ax_m.set(xlabel="sequence length", ylabel="MiB (XLA compiled)", title="memory")
    for ax in (ax_t, ax_m):
        ax.set_xticks(lengths, [str(n) for n in lengths])
        ax.legend(fontsize=8)
    fig.suptitle(f"T1/T4: one training step at batch {batch} (jnn, {h.cpu_model()})")
    fig.tight_layout()
    h.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(h.RESULTS_DIR / "transformer_lengths.png", dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    h.add_torch_peers(parser)
    parser.add_argument("--quality", type=int, default=0, help="steps of the val check")
    parser.add_argument("--lengths", type=int, nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="fewer steps and rows")
    parser.add_argument("--smoke", action="store_true", help="runs, not timings")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 8, 3
        args.peers = h.QUICK_PEERS
    if args.smoke:
        args.steps, args.repeats = 2, 1
        args.peers = h.SMOKE_PEERS
    info = h.machine_info()
    h.set_torch_threads()
    corpus = load_text("tinyshakespeare")
    vocab = corpus.vocab.size
    start = time.perf_counter()
    rows = throughput_rows(vocab, corpus.train, args.steps, args.repeats, args.peers)
    h.print_table(rows, "GPT training, tokens/s", info=info)
    comparisons = h.row_comparisons(rows, targets={r.workload: 1.5 for r in rows})
    h.print_comparisons(comparisons)
    checked = quality(vocab, corpus, args.quality) if args.quality else None
    lengths = None
    if args.lengths:
        lengths = length_study(vocab, args.lengths, batch=8)
        plot_lengths(lengths, batch=8)
    payload = h.results(
        info,
        args,
        rows,
        comparisons,
        start,
        quality=checked,
        lengths=lengths,
        parameters=_parameter_count(vocab),
    )
    h.report("transformer", args, payload)


def _parameter_count(vocab: int) -> int:
    model = jnn_model(vocab)
    shapes = jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 8), jnp.int32))
    return int(sum(math.prod(x.shape) for x in jax.tree.leaves(shapes)))


if __name__ == "__main__":
    main()
