"""Benchmark: the training engine's overhead against hand-written JAX loops.

The issue asks that ``jnn.train`` stay within 15 % of a hand-written loop:

* **MLP**: 64-64-10 (ReLU) ``jnn.static.MLP`` on digits
  (``jnn.data.load("digits", seed=0)``, 1169 standardised training rows),
  Adam 1e-3, batch 64 (the settings of ``benchmarks/mlp.py``).
* **BN-CNN**: conv 3x3, 16 channels, no bias - ``nn.BatchNorm`` - ReLU - 2x2
  average pool - Dense(10) on the same digits as 8x8x1 images, Adam 1e-2,
  batch 64; ``__call__(x, train)``, so the engine carries ``batch_stats``.

Rows of the table (implementations), all trained on the same device-resident
data, in one process:

* ``hand``: a hand-written loop, one ``jax.jit`` of Flax ``model.init`` and a
  ``lax.scan`` over the ``N`` epochs around a ``lax.scan`` over the shuffled
  mini-batches (``jax.value_and_grad`` + Optax; the BN-CNN applies the model
  with ``train=True, mutable=["batch_stats"]``), recording the mean loss of
  every epoch. It derives its keys as the engine does (``init_key, train_key =
  split(key)``; epoch ``e``: ``split(fold_in(train_key, e))[0]`` permutes the
  rows, the first ``n // 64 * 64`` of which make the batches), so it does
  exactly the engine's arithmetic: the script checks that ``jnn.fit`` and
  ``hand`` reach the same parameters (and batch statistics) after one epoch
  and after ``N``.
* ``hand (mlp.py)`` (MLP only): ``benchmarks/mlp.py``'s ``hand_jax_trainer``,
  imported (same work, keys pre-split), a cross-check of ``hand``.
* ``+ step metrics``: ``hand`` also recording every step's accuracy and global
  gradient norm, as ``gradient_learner`` with ``classification_loss`` does.
* ``+ rollback`` (MLP, ``--breakdown``): also keeping an epoch's new state only
  if its metrics are finite (``jnp.where`` over the state: the engine's
  divergence check).
* ``+ while_loop`` (MLP, ``--breakdown``): also a ``lax.while_loop`` over the
  epochs with a stop flag, writing every epoch's means into ``[N]`` history
  buffers, as ``jnn.train.run`` does.
* ``jnn.run``: ``jax.jit(lambda k: jnn.train.run(learner, train, key=k,
  epochs=N, batch_size=64))``, the whole training as one call.
* ``jnn.fit``: ``jnn.train.fit(learner, train, key=k, epochs=N, batch_size=64,
  progress=False)`` (an initialisation call, then compiled chunks of 10 epochs
  driven from Python); ``learner = gradient_learner(model,
  classification_loss(model), optax.adam(lr))`` in both.

Each ``+`` row adds one piece of the engine's work to the row above it, so
the differences of their paired ratios split ``jnn.fit``'s overhead over
``hand`` (printed in % of ``hand``); that ``+ while_loop`` does what
``jnn.run`` does is confirmed by their HLO: the ops/step and ops/epoch
columns count the operations (fusions, copies, dots, ...; one CPU kernel call
each) of the compiled step and epoch loop bodies.

A timed call is one whole training of ``N`` epochs (``--epochs``, default 20),
initialisation included; ms/epoch is its wall time over ``N``. Every
implementation is called once untimed (compilation), then ``--mlp-repeats``
(default 45; an MLP call takes ~20 ms) or ``--repeats`` (default 9, BN-CNN)
rounds call each once, in an order that rotates from round to
round, so that a load change on the shared machine hits all of them; the
figure is the median, ``impl/hand`` the ratio of medians and ``paired`` the
median of the per-round ratios. Compile s is the first call's time minus that
median (for ``jnn.fit`` both of its jitted functions). Results are waited for
with ``jax.block_until_ready``.

No peer library is timed here: the reference is the hand-written JAX loop
(the JSON's ``vs_reference``: ``jnn.fit`` against ``hand``, as a speed ratio;
the target, within 15 %, is a ratio >= 1 / 1.15 = 0.87).

Run::

    .venv/bin/python benchmarks/engine.py            # ~1.5 minutes on 2 cores
    .venv/bin/python benchmarks/engine.py --quick    # 9 / 3 rounds
    .venv/bin/python benchmarks/engine.py --smoke    # ~40 s: runs, not timings
    .venv/bin/python benchmarks/engine.py --workload mlp --epochs 200

Results go to ``benchmarks/results/engine.json`` (other settings:
``engine_<workload>_<epochs>.json``, ``engine_quick.json``,
``engine_smoke.json``).
"""

from __future__ import annotations

import argparse
import collections
import inspect
import re
import statistics
from collections.abc import Callable
from typing import Any, NamedTuple

import _harness as h
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from mlp import hand_jax_trainer

import jnn

BATCH = 64
TARGET = 1.15  # jnn.fit may take at most 15 % longer than the hand-written loop


class BNCNN(nn.Module):
    """Conv 3x3 (no bias) - BatchNorm - ReLU - 2x2 average pool - Dense."""

    channels: int = 16
    classes: int = 10

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        """Logits of ``x: (B, H, W, C)``; batch statistics when ``train``."""
        x = nn.Conv(self.channels, (3, 3), use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.avg_pool(nn.relu(x), (2, 2), strides=(2, 2))
        return nn.Dense(self.classes)(x.reshape(x.shape[0], -1))


class Workload(NamedTuple):
    """One model, optimiser and data set to train."""

    name: str
    model: nn.Module
    lr: float
    train: dict[str, jax.Array]


def workloads() -> list[Workload]:
    """The MLP and the BatchNorm CNN on digits, data on the device."""
    data = jnn.data.load("digits", seed=0)
    x, y = np.asarray(data.train["x"]), np.asarray(data.train["y"])
    images = x.reshape(-1, 8, 8, 1)
    mlp = jnn.static.MLP(features=(64, 10), activation="relu")
    return [
        Workload("MLP 64-64-10", mlp, 1e-3, jax.device_put({"x": x, "y": y})),
        Workload("BN-CNN 3x3x16", BNCNN(), 1e-2, jax.device_put({"x": images, "y": y})),
    ]


# --- the hand-written loop ------------------------------------------------------


def _train_flag(model: nn.Module, train: bool) -> dict[str, bool]:
    """``{"train": train}`` if the module's ``__call__`` takes it, else ``{}``."""
    takes = "train" in inspect.signature(type(model).__call__).parameters
    return {"train": train} if takes else {}


def hand_step(model: nn.Module, opt, metrics: bool):
    """``step((params, stats, opt_state), batch) -> (carry, out)``: one Adam step.

    ``stats`` are the module's non-parameter collections (``{}`` for the MLP);
    when present the module runs with them mutable and ``train=True``.
    """

    def loss_fn(params, stats, xb, yb):
        variables = {"params": params, **stats}
        flag = _train_flag(model, True)
        if stats:
            logits, stats = model.apply(variables, xb, mutable=list(stats), **flag)
        else:
            logits = model.apply(variables, xb, **flag)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, yb).mean()
        return loss, (dict(stats), logits)

    def step(carry, batch):
        params, stats, opt_state = carry
        grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, (stats, logits)), grads = grad_fn(params, stats, *batch)
        updates, opt_state = opt.update(grads, opt_state, params)
        out = {"loss": loss}
        if metrics:
            accuracy = jnp.mean(jnp.argmax(logits, -1) == batch[1])
            out.update(accuracy=accuracy, grad_norm=optax.tree.norm(grads))
        return (optax.apply_updates(params, updates), stats, opt_state), out

    return step


def hand_trainer(
    w: Workload,
    epochs: int,
    *,
    metrics: bool = False,
    rollback: bool = False,
    while_loop: bool = False,
):
    """Jitted ``train(key, x, y) -> (params, stats, mean metrics per epoch)``.

    One ``lax.scan`` over epochs around a ``lax.scan`` over the shuffled
    mini-batches; keys and permutations as the engine derives them. The options
    add what else the engine does (the rows of the breakdown).

    Args:
      w: the workload.
      epochs: epochs per call.
      metrics: also record every step's accuracy and global gradient norm.
      rollback: keep an epoch's new state only if its mean metrics are finite
        (``jnp.where`` over the state, as the engine's divergence check does).
      while_loop: a ``lax.while_loop`` over epochs writing each epoch's means
        into ``[epochs]`` buffers and stopping at a non-finite epoch (as
        ``jnn.train.run``) instead of the ``lax.scan``.
    """
    opt = optax.adam(w.lr)
    step = hand_step(w.model, opt, metrics)

    def train(key, x, y):
        n = x.shape[0]
        steps = n // BATCH
        init_key, train_key = jax.random.split(key)
        variables = w.model.init(init_key, x[:BATCH], **_train_flag(w.model, False))
        params = variables["params"]
        stats = {k: v for k, v in variables.items() if k != "params"}

        def epoch(carry, e):
            perm_key, _ = jax.random.split(jax.random.fold_in(train_key, e))
            rows = jax.random.permutation(perm_key, n)[: steps * BATCH]
            rows = rows.reshape(steps, BATCH)
            new, out = jax.lax.scan(lambda c, r: step(c, (x[r], y[r])), carry, rows)
            out = jax.tree.map(jnp.mean, out)
            if rollback:
                ok = _finite(out)
                new = jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, carry)
            return new, out

        carry = (params, stats, opt.init(params))
        if while_loop:
            carry, history = _while_epochs(epoch, carry, epochs)
        else:
            carry, history = jax.lax.scan(epoch, carry, jnp.arange(epochs))
        return carry[0], carry[1], history

    return jax.jit(train)


def _finite(metrics: dict[str, jax.Array]) -> jax.Array:
    """Whether every metric is finite (a ``[]`` bool)."""
    return jnp.all(jnp.stack([jnp.isfinite(v) for v in metrics.values()]))


def _while_epochs(epoch, carry, epochs: int):
    """``epoch`` in a ``lax.while_loop`` with a history buffer and a stop flag."""
    _, spec = jax.eval_shape(epoch, carry, jnp.zeros((), jnp.int32))
    history = {k: jnp.full((epochs,), jnp.nan, s.dtype) for k, s in spec.items()}

    def body(c):
        state, e, _, hist = c
        state, out = epoch(state, e)
        hist = {k: v.at[e].set(out[k]) for k, v in hist.items()}
        return state, e + 1, ~_finite(out) | (e + 1 >= epochs), hist

    start = (carry, jnp.zeros((), jnp.int32), jnp.array(False), history)
    state, _, _, history = jax.lax.while_loop(lambda c: ~c[2], body, start)
    return state, history


# --- the implementations, as fn(i) -> (params, model state) --------------------


def learner_of(w: Workload) -> jnn.train.Learner:
    """``gradient_learner`` with ``classification_loss`` and Adam."""
    loss = jnn.train.classification_loss(w.model)
    return jnn.train.gradient_learner(w.model, loss, optax.adam(w.lr))


class Impl(NamedTuple):
    """One implementation: ``call(seed) -> (params, model_state)`` of a training.

    ``jitted`` and ``args``: its one jitted function and example arguments,
    whose compiled HLO the breakdown counts (None for ``jnn.fit``).
    """

    call: Callable[[int], Any]
    jitted: Any = None
    args: tuple = ()


def _hand(trainer, w: Workload) -> Impl:
    """A hand-written trainer as an :class:`Impl`."""
    x, y = w.train["x"], w.train["y"]
    return Impl(
        lambda i: trainer(jax.random.key(i), x, y)[:2],
        trainer,
        (jax.random.key(0), x, y),
    )


def implementations(w: Workload, epochs: int, breakdown: bool) -> dict[str, Impl]:
    """The implementations, each training ``epochs`` epochs per call.

    In the order of the table: the hand-written loop, then (with ``breakdown``)
    the hand-written loop plus the engine's work, one addition at a time, then
    ``jnn.run`` and ``jnn.fit``.
    """
    learner = learner_of(w)
    kw = dict(epochs=epochs, batch_size=BATCH)
    run = jax.jit(lambda k: jnn.train.run(learner, w.train, key=k, **kw).state)

    def fit(i):
        key = jax.random.key(i)
        s = jnn.train.fit(learner, w.train, key=key, progress=False, **kw).state
        return s.params, s.model_state

    impls = {"hand": _hand(hand_trainer(w, epochs), w)}
    if not isinstance(w.model, BNCNN):
        mlp_hand = hand_jax_trainer(
            w.model, epochs=epochs, batch_size=BATCH, lr=w.lr, metrics=False
        )
        x, y = w.train["x"], w.train["y"]
        impls["hand (mlp.py)"] = Impl(
            lambda i: (mlp_hand(jax.random.key(i), x, y)[0], {}),
            mlp_hand,
            (jax.random.key(0), x, y),
        )
    impls["+ step metrics"] = _hand(hand_trainer(w, epochs, metrics=True), w)
    if breakdown:
        more = dict(metrics=True, rollback=True)
        impls["+ rollback"] = _hand(hand_trainer(w, epochs, **more), w)
        more["while_loop"] = True
        impls["+ while_loop"] = _hand(hand_trainer(w, epochs, **more), w)
    impls["jnn.run"] = Impl(
        lambda i: (lambda s: (s.params, s.model_state))(run(jax.random.key(i))),
        run,
        (jax.random.key(0),),
    )
    impls["jnn.fit"] = Impl(fit)
    return impls


#: HLO instructions that move no data: not counted as operations.
_PLUMBING = {"parameter", "get-tuple-element", "tuple", "constant", "bitcast"}


def _hlo_computations(text: str) -> dict[str, collections.Counter]:
    """``{computation: Counter(opcode)}`` of an HLO module's text."""
    comps, name = {}, None
    for line in text.splitlines():
        head = re.match(r"(?:ENTRY )?%?([\w.\-]+) .*\{$", line)
        if head:
            name = head.group(1)
            comps[name] = collections.Counter()
        elif line.startswith("}"):
            name = None
        elif name and " = " in line:
            op = re.search(r"\s([a-z][\w\-]*)\(", line.split(" = ", 1)[1])
            if op and op.group(1) not in _PLUMBING:
                comps[name][op.group(1)] += 1
    return comps


def loop_ops(impl: Impl) -> dict[str, int]:
    """Operations (fusions, copies, dots, ...) XLA runs per step and per epoch.

    Counted in the compiled HLO: the step is the ``while`` body holding the
    model's ``dot``s, the epoch the one holding the permutation's ``sort``
    (its inner loop counts as one operation). On the CPU every operation is
    a kernel call of a few microseconds at these sizes.
    """
    if impl.jitted is None:
        return {}
    text = impl.jitted.lower(*impl.args).compile().as_text()
    comps = _hlo_computations(text)
    out = {}
    for body in re.findall(r"body=%?([\w.\-]+)", text):
        ops = comps.get(body, collections.Counter())
        kind = "step" if ops["dot"] else "epoch" if ops["sort"] else None
        if kind:
            out[kind] = sum(ops.values())
    return out


def interleaved(impls: dict[str, Impl], repeats: int):
    """One untimed call each, then ``repeats`` rounds in a rotating order.

    Returns:
      ``{name: h.Timing}``; ``results[j]`` is the output of seed ``j + 1``.
    """
    fns = {name: impl.call for name, impl in impls.items()}
    timings = {name: h.time_calls(fn, 1, warmup=1) for name, fn in fns.items()}
    for t in timings.values():
        t.times, t.results = [], []
    names = list(fns)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            t = h.time_calls(lambda _, f=fns[name], i=r + 1: f(i), 1, warmup=0)
            timings[name].times += t.times
            timings[name].results += t.results
    return timings


# --- same work: the engine and the hand-written loop agree ----------------------


def max_difference(a, b) -> float:
    """Largest absolute difference between the leaves of two pytrees."""
    diffs = jax.tree.map(lambda u, v: float(jnp.max(jnp.abs(u - v))), a, b)
    return max(jax.tree.leaves(diffs), default=0.0)


def same_work(w: Workload, timed: dict[str, h.Timing]) -> dict[str, Any]:
    """Compare ``jnn.fit`` with ``hand`` after one epoch and after the timed ``N``."""
    learner = learner_of(w)
    key = jax.random.key(0)
    state = jnn.train.fit(
        learner, w.train, key=key, epochs=1, batch_size=BATCH, progress=False
    ).state
    params, stats, _ = hand_trainer(w, 1)(key, w.train["x"], w.train["y"])
    ours, theirs = (state.params, state.model_state), (params, stats)
    close = jax.tree.map(
        lambda u, v: bool(jnp.allclose(u, v, rtol=1e-5, atol=1e-6)), ours, theirs
    )
    return {
        "one_epoch_allclose": all(jax.tree.leaves(close)),
        "one_epoch_max_abs_diff": max_difference(ours, theirs),
        "n_epochs_max_abs_diff": max(
            max_difference(a, b)
            for a, b in zip(
                timed["jnn.fit"].results, timed["hand"].results, strict=True
            )
        ),
    }


# --- rows, table, JSON ------------------------------------------------------------


def rows_of(
    w: Workload, timed: dict[str, h.Timing], epochs: int, ops: dict[str, dict]
) -> list[dict]:
    """One row per implementation: ms/epoch, ratio to ``hand``, compile s, ops.

    ``paired_ratio`` is the median over the rounds of the row's time over
    ``hand``'s time in the same round (less sensitive to load drift).
    """
    hand = timed["hand"]
    return [
        {
            "workload": w.name,
            "impl": name,
            "ms_per_epoch": 1e3 * t.median / epochs,
            "ratio_to_hand": t.median / hand.median,
            "paired_ratio": statistics.median(
                a / b for a, b in zip(t.times, hand.times, strict=True)
            ),
            "compile_s": t.compile,
            "first_call_s": t.first,
            "times_s": t.times,
            "hlo_ops": ops.get(name, {}),
        }
        for name, t in timed.items()
    ]


#: The breakdown's ladder: (row, what it adds to the row before it).
LADDER = [
    ("hand", None),
    ("+ step metrics", "step metrics"),
    ("+ rollback", "rollback"),
    ("+ while_loop", "while_loop+history"),
    ("jnn.run", "rest of run"),
    ("jnn.fit", "fit driver"),
]


def breakdown_of(rows: list[dict]) -> dict[str, float]:
    """What each step of :data:`LADDER` adds, in % of ``hand`` (paired ratios).

    Paired ratios (per-round) rather than medians: on a shared machine the
    differences of medians drift by more than the steps themselves.
    """
    paired = {r["impl"]: r["paired_ratio"] for r in rows}
    if "+ rollback" not in paired:
        return {}
    ladder = [(name, what) for name, what in LADDER if name in paired]
    return {
        what: 100 * (paired[name] - paired[prev])
        for (prev, _), (name, what) in zip(ladder, ladder[1:], strict=False)
    }


def _cell(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict], checks: dict[str, dict], title: str) -> None:
    """The table of ms/epoch, ratios (impl / hand), compile times and op counts."""
    print(title)
    print(
        f"{'workload':14s} {'impl':15s} {'ms/epoch':>9s} {'impl/hand':>9s} "
        f"{'paired':>7s} {'compile s':>9s} {'ops/step':>8s} {'ops/epoch':>9s}"
    )
    for r in rows:
        ops = r["hlo_ops"]
        print(
            f"{r['workload']:14s} {r['impl']:15s} {r['ms_per_epoch']:9.3f} "
            f"{r['ratio_to_hand']:9.3f} {r['paired_ratio']:7.3f} "
            f"{r['compile_s']:9.2f} {_cell(ops.get('step'), 'd'):>8s} "
            f"{_cell(ops.get('epoch'), 'd'):>9s}"
        )
    for name, c in checks.items():
        mine = [r for r in rows if r["workload"] == name]
        fit = next(r for r in mine if r["impl"] == "jnn.fit")
        met = "met" if fit["ratio_to_hand"] <= TARGET else "NOT met"
        print(
            f"{name}: jnn.fit/hand = {fit['ratio_to_hand']:.3f} (paired "
            f"{fit['paired_ratio']:.3f}; target <= {TARGET}: {met}); "
            "same parameters after 1 epoch: "
            f"{c['one_epoch_allclose']} (max |diff| {c['one_epoch_max_abs_diff']:.1e}"
            f", after N epochs {c['n_epochs_max_abs_diff']:.1e})"
        )
        added = breakdown_of(mine)
        if added:
            parts = "; ".join(f"{k} {v:+.1f}" for k, v in added.items())
            print(f"  added, % of hand (paired): {parts}")


def measure(w: Workload, epochs: int, repeats: int, breakdown: bool):
    """Timings, rows and the same-work check of one workload.

    With ``breakdown``, also the HLO op counts of the jitted implementations
    (compiled again after the timing, so that compile times are unaffected).
    """
    impls = implementations(w, epochs, breakdown)
    timed = interleaved(impls, repeats)
    ops = {name: loop_ops(impl) for name, impl in impls.items()} if breakdown else {}
    return rows_of(w, timed, epochs, ops), same_work(w, timed)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs per call")
    parser.add_argument("--repeats", type=int, default=9, help="rounds, BN-CNN")
    parser.add_argument("--mlp-repeats", type=int, default=45, help="rounds, MLP")
    parser.add_argument(
        "--breakdown",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="MLP: also time the hand-written loop plus the engine's rollback "
        "and while_loop (splits jnn.fit's overhead)",
    )
    parser.add_argument(
        "--workload", choices=["all", "mlp", "cnn"], default="all", help="which"
    )
    parser.add_argument("--quick", action="store_true", help="9 (MLP) / 3 rounds")
    parser.add_argument("--smoke", action="store_true", help="10 epochs, 2 rounds")
    args = parser.parse_args(argv)
    if args.smoke:
        args.epochs, args.repeats, args.mlp_repeats = 10, 2, 2
    elif args.quick:
        args.repeats, args.mlp_repeats = 3, 9
    mode = h.mode_of(args)
    monitor = h.CpuMonitor().start()
    rows, checks = [], {}
    chosen = {"all": [0, 1], "mlp": [0], "cnn": [1]}[args.workload]
    for i, w in enumerate(workloads()):
        if i in chosen:
            breakdown = args.breakdown and i == 0
            repeats = args.mlp_repeats if i == 0 else args.repeats
            more, checks[w.name] = measure(w, args.epochs, repeats, breakdown)
            rows += more
    info = h.machine_info()
    info["cpu_usage"] = monitor.stop()
    title = (
        f"digits, batch {BATCH}, {args.epochs} epochs per call; median of "
        f"{args.mlp_repeats} (MLP) / {args.repeats} (BN-CNN) interleaved rounds "
        "after a warm-up"
    )
    h.print_machine(info)
    print_table(rows, checks, title)
    reference = [
        h.vs_fastest_peer(
            name, "jnn.fit",
            next(r["ms_per_epoch"] for r in rows
                 if r["workload"] == name and r["impl"] == "jnn.fit"),
            {"hand": next(r["ms_per_epoch"] for r in rows
                          if r["workload"] == name and r["impl"] == "hand")},
            unit="ms/epoch", higher_is_better=False, target=1 / TARGET,
        )
        for name in checks
    ]  # fmt: skip
    for c in reference:
        print(
            f"vs reference (hand-written JAX): {c['workload']}: jnn.fit "
            f"{c['jnn']:.3f} ms/epoch vs hand {c['peer']:.3f} ms/epoch -> "
            f"{c['ratio']:.2f}x (target >= {1 / TARGET:.2f}x)"
        )
    h.warn_if_busy(info["cpu_usage"])
    payload = {
        "mode": mode,
        "config": {**vars(args), "batch": BATCH, "target_ratio": TARGET},
        "machine": info,
        "rows": rows,
        "same_work": checks,
        "breakdown_percent_of_hand": {
            name: breakdown_of([r for r in rows if r["workload"] == name])
            for name in checks
        },
        "vs_fastest_peer": [],
        "vs_reference": reference,
    }
    name = h.result_name("engine", mode)
    if mode != "smoke" and (args.workload != "all" or args.epochs != 20):
        name += f"_{args.workload}_{args.epochs}"
    print(f"wrote {h.write_json(name, payload)}")
    return payload


if __name__ == "__main__":
    main()
