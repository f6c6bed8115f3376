"""Benchmark: char-level recurrent LMs, jnn vs PyTorch nn.LSTM / nn.GRU / nn.RNN.

Workload (issue 13): a character language model on Tiny Shakespeare's training
split (``jnn.data.load_text``; 65 characters): embedding 256 -> 2 recurrent
layers of 256 units -> dense 65, next-character cross-entropy, Adam 2e-3 after
clipping by global norm 5, truncated BPTT over 64 parallel streams in ordered
windows of 100 characters, the state carried from window to window (batch 64,
sequence 100). Figure: training tokens per second (64 x 100 per step),
steady state, median of ``--repeats`` calls of ``--steps`` steps each.

Rows, per cell (``lstm``, ``gru``, ``elman``):

* ``jnn.fit``: ``jnn.train.fit(tbptt_learner(CharRNN(65, 256, 2, cell)), data,
  plan=sequence_windows(64, 100), epochs=1)`` on ``64 x 100 x steps + 1``
  characters, i.e. one epoch = ``steps`` compiled updates; the learner is
  reused, so calls after the first are not recompiled.
* ``torch eager`` / ``torch eager foreach`` / ``torch eager fused``:
  ``nn.Embedding`` + ``nn.LSTM``/``nn.GRU``/``nn.RNN(tanh)`` (2 layers,
  batch-first; PyTorch's fused CPU kernels) + ``nn.Linear``,
  ``clip_grad_norm_``, ``torch.optim.Adam`` with its three kernels, the state
  detached between windows, ``torch.set_num_threads(len(sched_getaffinity))``.
* ``torch eager fused 1 thread``: the same on one thread.
* ``torch.compile fused``: the model through ``torch.compile`` (inductor);
  skipped with the reason when it fails here.

The ``vs fastest peer`` column divides a row's tokens/s by the fastest PyTorch
row's; compile time (first call minus the median) is reported apart.

``--lengths`` adds the T1 study (RNN side): time and memory of one training
step of the 2-layer LSTM at batch 8 for sequence lengths 64 ... 4096 (jnn:
``jax.jit(learner.update)`` and XLA's ``memory_analysis`` of it, temporary +
argument + output bytes; PyTorch: time, and the peak of
``torch.profiler``'s CPU memory events). Plot: ``results/rnn_lengths.png``.

Run::

    .venv/bin/python benchmarks/rnn.py                 # ~5 min on 2 cores
    .venv/bin/python benchmarks/rnn.py --quick         # ~1.5 min
    .venv/bin/python benchmarks/rnn.py --cells lstm --lengths 64 256 1024 4096

Results go to ``benchmarks/results/rnn.json`` (``rnn_quick.json``).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np

from jnn.data import load_text, next_token_stream
from jnn.rnn import CharRNN, tbptt_learner
from jnn.train import sequence_windows

FEATURES, LAYERS, STREAMS, WINDOW, LR, MAX_NORM = 256, 2, 64, 100, 2e-3, 5.0
TORCH_CELLS = {"lstm": "LSTM", "gru": "GRU", "elman": "RNN"}


# --- jnn -------------------------------------------------------------------------


def jnn_trainer(cell: str, vocab: int, tokens: np.ndarray, steps: int, path="auto"):
    """``run(i)``: one ``fit`` epoch of ``steps`` TBPTT windows, seed ``i``."""
    model = CharRNN(vocab, features=FEATURES, layers=LAYERS, cell=cell, path=path)
    learner = tbptt_learner(model, learning_rate=LR, max_norm=MAX_NORM)
    data = next_token_stream(tokens[: STREAMS * WINDOW * steps + 1])
    data = {k: jnp.asarray(v) for k, v in data.items()}
    plan = sequence_windows(STREAMS, WINDOW)
    return h.fit_runner(learner, data, _params_and_loss, epochs=1, plan=plan)


def _params_and_loss(result):
    return result.state.params, float(result.history["loss"][-1])


# --- PyTorch ---------------------------------------------------------------------


def torch_model(cell: str, vocab: int):
    import torch
    from torch import nn

    class CharModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab, FEATURES)
            kind = getattr(nn, TORCH_CELLS[cell])
            self.rnn = kind(FEATURES, FEATURES, LAYERS, batch_first=True)
            self.head = nn.Linear(FEATURES, vocab)

        def forward(self, x, state):
            out, state = self.rnn(self.embed(x), state)
            return self.head(out), state

    torch.manual_seed(0)
    return CharModel()


def torch_trainer(
    cell: str, vocab: int, tokens: np.ndarray, steps: int, adam: str, compiled: bool
):
    """``run(i)``: ``steps`` TBPTT windows of a fresh PyTorch model."""
    import torch

    data = next_token_stream(tokens[: STREAMS * WINDOW * steps + 1])
    length = len(data["x"]) // STREAMS
    x = torch.from_numpy(data["x"][: STREAMS * length].reshape(STREAMS, length).copy())
    y = torch.from_numpy(data["y"][: STREAMS * length].reshape(STREAMS, length).copy())
    x, y = x.long(), y.long()
    loss_fn = torch.nn.CrossEntropyLoss()

    def run(i: int):
        model = torch_model(cell, vocab)
        forward = torch.compile(model) if compiled else model
        optimizer = h.torch_adam(model.parameters(), LR, adam)
        state = None
        for s in range(steps):
            window = slice(s * WINDOW, (s + 1) * WINDOW)
            logits, state = forward(x[:, window], state)
            loss = loss_fn(logits.reshape(-1, vocab), y[:, window].reshape(-1))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), MAX_NORM)
            optimizer.step()
            state = (
                tuple(t.detach() for t in state)
                if isinstance(state, tuple)
                else state.detach()
            )
        return loss.item()

    return run


# --- the throughput table --------------------------------------------------------


def throughput_rows(cell, vocab, tokens, steps, repeats, peers) -> list[h.Row]:
    """Rows of one cell: jnn and the eager torch rows timed round-robin.

    jnn on its default path and on the Flax path, and the eager PyTorch rows,
    alternate call by call; the ``torch.compile`` rows run after them, one at a
    time (inductor bakes in the thread count).
    """
    workload = f"{cell} 2x{FEATURES}, B={STREAMS}, T={WINDOW}"
    per_call = STREAMS * WINDOW * steps
    workloads = {
        "jnn.fit": jnn_trainer(cell, vocab, tokens, steps),
        "jnn.fit (flax path)": jnn_trainer(cell, vocab, tokens, steps, "flax"),
    }

    def make(adam: str, compiled: bool):
        return torch_trainer(cell, vocab, tokens, steps, adam, compiled)

    timings = h.interleaved_with_torch(workloads, make, peers, repeats)

    def final_loss(name: str, t: h.Timing) -> dict[str, float]:
        last = t.results[-1]
        return {"final_loss": last if name.startswith("torch") else last[1]}

    return h.timing_rows(workload, timings, per_call, final_loss)


def profile_update(cell: str, path: str, top: int = 12) -> None:
    """Print where one compiled training step spends its time (XLA thunks).

    ``jax.profiler.trace`` of three steps; the thunks outside any loop and, per
    ``while`` loop (the scans), the thunks of its body, in ms per step.
    """
    import collections
    import gzip
    import json
    import tempfile
    from pathlib import Path

    model = CharRNN(65, features=FEATURES, layers=LAYERS, cell=cell, path=path)
    learner = tbptt_learner(model, learning_rate=LR, max_norm=MAX_NORM)
    x = jnp.asarray(np.random.default_rng(0).integers(0, 65, (STREAMS, WINDOW)))
    batch = {"x": x.astype(jnp.int32), "y": x.astype(jnp.int32)}
    state = learner.init(jax.random.key(0), batch)
    update = jax.jit(learner.update).lower(state, batch, jax.random.key(1)).compile()
    jax.block_until_ready(update(state, batch, jax.random.key(1)))
    steps = 3
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            for i in range(steps):
                jax.block_until_ready(update(state, batch, jax.random.key(i)))
        trace = next(Path(folder).rglob("*.trace.json.gz"))
        events = json.load(gzip.open(trace))["traceEvents"]
    events = [e for e in events if e.get("ph") == "X"]
    loops = [e for e in events if e["name"].startswith("while")]
    thunks = [e for e in events if not e["name"].startswith(("Thunk", "$", "Pjit"))]
    outside, inside = (
        collections.Counter(),
        collections.defaultdict(collections.Counter),
    )
    for e in thunks:
        end = e["ts"] + e["dur"]
        owner = [
            w
            for w in loops
            if w is not e and w["ts"] <= e["ts"] and end <= w["ts"] + w["dur"]
        ]
        if not owner:
            outside[e["name"]] += e["dur"] / 1e3 / steps
        elif len(owner) == 1:
            inside[owner[0]["name"]][e["name"]] += e["dur"] / 1e3 / steps
    print(
        f"\n{cell}, path {path!r}: {sum(outside.values()):.1f} ms/step in "
        "top-level thunks"
    )
    for name, ms in outside.most_common(top):
        body = inside.get(name)
        detail = ""
        if body:
            detail = " | " + ", ".join(f"{n} {t:.1f}" for n, t in body.most_common(4))
        print(f"  {ms:8.1f} ms  {name}{detail}")


# --- T1: time and memory against the sequence length -----------------------------


def jnn_step_at_length(vocab: int, length: int, batch: int):
    """Seconds per step and compiled bytes of one LSTM training step."""
    model = CharRNN(vocab, features=FEATURES, layers=LAYERS, cell="lstm")
    learner = tbptt_learner(model, learning_rate=LR, max_norm=MAX_NORM)
    x = jnp.zeros((batch, length), jnp.int32)
    return h.update_step_cost(learner, {"x": x, "y": x})


def torch_step_at_length(vocab: int, length: int, batch: int):
    import torch
    from torch.profiler import ProfilerActivity, profile

    model = torch_model("lstm", vocab)
    optimizer = h.torch_adam(model.parameters(), LR, "fused")
    x = torch.zeros((batch, length), dtype=torch.long)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(_):
        logits, _ = model(x, None)
        loss = loss_fn(logits.reshape(-1, vocab), x.reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.item()

    seconds = h.time_calls(step, repeats=3).median
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step(0)
    peak = current = 0
    events = sorted(
        (e for e in prof.events() if e.cpu_memory_usage),
        key=lambda e: e.time_range.start,
    )
    for event in events:
        current += event.cpu_memory_usage
        peak = max(peak, current)
    return seconds, peak


def length_study(vocab: int, lengths: list[int], batch: int) -> list[dict[str, Any]]:
    rows = []
    for length in lengths:
        jnn_s, jnn_bytes = jnn_step_at_length(vocab, length, batch)
        with h.torch_threads(None):
            torch_s, torch_bytes = torch_step_at_length(vocab, length, batch)
        rows.append(
            {
                "length": length,
                "jnn_s": jnn_s,
                "jnn_bytes": jnn_bytes,
                "torch_s": torch_s,
                "torch_peak_bytes": torch_bytes,
            }
        )
        print(
            f"T={length:5d}: jnn {1e3 * jnn_s:8.1f} ms/step "
            f"{(jnn_bytes or 0) / 2**20:8.1f} MiB | torch {1e3 * torch_s:8.1f} "
            f"ms/step {torch_bytes / 2**20:8.1f} MiB peak",
            flush=True,
        )
    return rows


def plot_lengths(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lengths = [r["length"] for r in rows]
    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    ax_t.loglog(lengths, [r["jnn_s"] for r in rows], "o-", label="jnn LSTM")
    ax_t.loglog(lengths, [r["torch_s"] for r in rows], "s--", label="torch LSTM")
    ax_t.set(xlabel="sequence length", ylabel="s / training step", title="time")
    ax_m.loglog(
        lengths, [(r["jnn_bytes"] or 0) / 2**20 for r in rows], "o-", label="jnn (XLA)"
    )
    ax_m.loglog(
        lengths,
        [r["torch_peak_bytes"] / 2**20 for r in rows],
        "s--",
        label="torch (profiler peak)",
    )
    ax_m.set(xlabel="sequence length", ylabel="MiB", title="memory")
    for ax in (ax_t, ax_m):
        ax.legend()
    fig.suptitle(f"T1, RNN side: 2-layer LSTM {FEATURES}, batch 8, one training step")
    fig.tight_layout()
    h.RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    fig.savefig(h.RESULTS_DIR / "rnn_lengths.png", dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "gru", "elman"])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    h.add_torch_peers(parser)
    parser.add_argument("--lengths", type=int, nargs="*", default=None)
    parser.add_argument("--quick", action="store_true", help="fewer steps and rows")
    parser.add_argument("--smoke", action="store_true", help="runs, not timings")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="print a per-thunk breakdown of one training step per cell and path",
    )
    args = parser.parse_args(argv)
    if args.profile:
        for cell in args.cells:
            for path in ("auto", "flax"):
                profile_update(cell, path)
        return
    if args.quick:
        args.steps, args.repeats = 8, 3
        args.peers = h.QUICK_PEERS
    if args.smoke:
        args.steps, args.repeats, args.cells = 2, 1, ["lstm"]
        args.peers = h.SMOKE_PEERS
    info = h.machine_info()
    h.set_torch_threads()
    corpus = load_text("tinyshakespeare")
    rows: list[h.Row] = []
    start = time.perf_counter()
    for cell in args.cells:
        rows += throughput_rows(
            cell, corpus.vocab.size, corpus.train, args.steps, args.repeats, args.peers
        )
    h.print_table(rows, "Char-RNN training, tokens/s", info=info)
    comparisons = h.row_comparisons(rows, targets={r.workload: 1.5 for r in rows})
    h.print_comparisons(comparisons)
    lengths = None
    if args.lengths:
        lengths = length_study(corpus.vocab.size, args.lengths, batch=8)
        plot_lengths(lengths)
    payload = h.results(info, args, rows, comparisons, start, lengths=lengths)
    h.report("rnn", args, payload)


if __name__ == "__main__":
    main()
