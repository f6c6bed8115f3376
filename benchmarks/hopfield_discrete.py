"""Benchmark: discrete Hopfield recall, jnn (one vmapped call) vs a NumPy loop.

Workload (issue 4): N = 100 neurons, M = 10 random patterns, Hebbian weights
``W = (X^T X - M I) / N``, 10,000 probes (pattern ``t % M`` with 10 of the
100 bits flipped), asynchronous updates in a fresh random order per sweep
until a sweep changes nothing. In one process, same W and probes:

* ``jnn``: ``jax.jit(jax.vmap(recall))`` from :mod:`jnn.hopfield.discrete.dhnn`, all
  10,000 probes in ONE call; ``median_s`` per call, compile time apart.
* ``numpy``: the textbook reference written here, a Python loop over probes
  and neurons (``h = W[i] @ s``); timed on the first ``--subset`` probes
  (default 300) and reported per probe.

Reported per implementation: seconds per probe, recall rate (fraction of
probes ending exactly at their stored pattern), mean sweeps (the last being
the sweep without change), and the jnn speed-up per probe. Then the scaling
of one jnn recall with N (100 ... 4000, M = N / 20, 10% flipped bits): one
probe alone, and a batch of probes in one vmapped call (time per probe).

Run::

    .venv/bin/python benchmarks/hopfield_discrete.py          # ~1-2 min
    .venv/bin/python benchmarks/hopfield_discrete.py --smoke
"""

from __future__ import annotations

import argparse

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np

from jnn.hopfield.discrete.dhnn import recall
from jnn.hopfield.discrete.rules import hebbian

WORKLOAD = "N=100 M=10 hebbian 10% flips async-random"


def problem(n: int, m: int, probes: int, seed: int = 0):
    """Patterns (m, n), probes (probes, n) with n/10 flipped bits, targets."""
    rng = np.random.default_rng(seed)
    patterns = np.where(rng.random((m, n)) < 0.5, 1.0, -1.0).astype(np.float32)
    targets = patterns[np.arange(probes) % m]
    flips = np.argsort(rng.random((probes, n)), axis=1) < n // 10
    return patterns, np.where(flips, -targets, targets), targets


def numpy_recall(W: np.ndarray, state: np.ndarray, rng, max_sweeps: int = 100):
    """Textbook asynchronous recall: random order per sweep, h >= 0 -> +1."""
    s = state.copy()
    for sweep in range(1, max_sweeps + 1):
        changed = False
        for i in rng.permutation(len(s)):
            new = 1.0 if W[i] @ s >= 0 else -1.0
            if new != s[i]:
                s[i] = new
                changed = True
        if not changed:
            return s, sweep
    return s, max_sweeps


def bench_numpy(W, probes, targets, repeats: int) -> dict:
    W = np.asarray(W, np.float64)

    def run(i):
        rng = np.random.default_rng(i)
        return [numpy_recall(W, p.astype(np.float64), rng) for p in probes]

    t = h.time_calls(run, repeats, warmup=0)
    out = t.results[0]
    states = np.stack([s for s, _ in out])
    return _row("numpy", t, len(probes), states, targets, [k for _, k in out])


def batched_recall(W):
    """``jax.jit(jax.vmap(recall))`` over (probes, keys), random async order."""
    return jax.jit(
        jax.vmap(lambda s, k: recall(W, s, mode="async", order="random", key=k))
    )


def bench_jnn(W, probes, targets, repeats: int) -> dict:
    fn = batched_recall(jnp.asarray(W))
    probes_dev = jax.device_put(probes)

    def run(i):
        keys = jax.random.split(jax.random.key(i), len(probes))
        return fn(probes_dev, keys)

    t = h.time_calls(run, repeats)
    out = t.results[0]
    return _row("jnn", t, len(probes), np.asarray(out.state), targets, out.sweeps)


def _row(impl, t: h.Timing, probes: int, states, targets, sweeps) -> dict:
    return {
        "workload": WORKLOAD,
        "impl": impl,
        "probes": probes,
        "median_s": t.median,
        "per_probe_s": t.median / probes,
        "compile_s": t.compile,
        "quality": float(np.mean(np.all(states == targets, axis=1))),
        "quality_name": "recall rate",
        "iterations": float(np.mean(np.asarray(sweeps))),
    }


def _scale_row(n: int, batch: int, repeats: int) -> dict:
    patterns, probes, targets = problem(n, n // 20, batch, seed=n)
    W = hebbian(jnp.asarray(patterns))
    one = jax.jit(lambda s, k: recall(W, s, order="random", key=k))
    many = batched_recall(W)
    keys = jax.random.split(jax.random.key(0), batch)
    t_one = h.time_calls(lambda i: one(probes[i % batch], keys[i % batch]), repeats)
    t_many = h.time_calls(lambda i: many(probes, keys), repeats)
    out = t_many.results[0]
    return {
        "n": n,
        "m": n // 20,
        "one_probe_s": t_one.median,
        "one_probe_compile_s": t_one.compile,
        "batch": batch,
        "batch_s": t_many.median,
        "batch_per_probe_s": t_many.median / batch,
        "mean_sweeps": float(np.mean(np.asarray(out.sweeps))),
        "recall_rate": float(np.mean(np.all(out.state == targets, axis=1))),
        "mean_overlap": float(np.mean(np.asarray(out.state) * targets)),
    }


def scaling(sizes, batch: int, repeats: int) -> list[dict]:
    """Seconds of one jnn recall (one probe; a vmapped batch) for each N."""
    rows = []
    for n in sizes:
        r = _scale_row(n, batch, repeats)
        rows.append(r)
        print(
            f"N={n:5d} M={n // 20:4d}: one probe {1e3 * r['one_probe_s']:9.3f} ms, "
            f"batch of {batch} {1e3 * r['batch_s']:9.2f} ms "
            f"({1e6 * r['batch_per_probe_s']:9.1f} us/probe), "
            f"sweeps {r['mean_sweeps']:.2f}, recall {r['recall_rate']:.3f}, "
            f"overlap {r['mean_overlap']:.4f}"
        )
    return rows


def measure(smoke: bool = False, subset: int = 300) -> list[dict]:
    """The jnn and NumPy rows of the 10,000-probe workload (smoke: 1,000)."""
    patterns, probes, targets = problem(100, 10, 1_000 if smoke else 10_000)
    W = np.asarray(hebbian(jnp.asarray(patterns)))
    subset = 50 if smoke else subset
    jnn_row = bench_jnn(W, probes, targets, repeats=3 if smoke else 7)
    numpy_row = bench_numpy(
        W, probes[:subset], targets[:subset], repeats=1 if smoke else 3
    )
    return [jnn_row, numpy_row]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--subset", type=int, default=300)
    args = parser.parse_args(argv)
    monitor = h.CpuMonitor().start()
    rows = measure(args.smoke, args.subset)
    print(f"{WORKLOAD}")
    print(
        f"{'impl':<6} {'probes':>6} {'per probe us':>12} {'compile s':>9} "
        f"{'recall':>7} {'sweeps':>6}"
    )
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['impl']:<6} {r['probes']:6d} {1e6 * r['per_probe_s']:12.2f} "
            f"{compile_s:>9} {r['quality']:7.4f} {r['iterations']:6.2f}"
        )
    speedup = rows[1]["per_probe_s"] / rows[0]["per_probe_s"]
    print(f"speed-up per probe, numpy / jnn: {speedup:.0f}x (target >= 100x)")
    sizes = (100, 200) if args.smoke else (100, 250, 500, 1000, 2000, 4000)
    scale = scaling(
        sizes, batch=16 if args.smoke else 64, repeats=2 if args.smoke else 3
    )
    usage = monitor.stop()
    h.warn_if_busy(usage)
    name = "hopfield_discrete_smoke" if args.smoke else "hopfield_discrete"
    payload = {
        "machine": {**h.machine_info(), "cpu_usage": usage},
        "rows": rows,
        "speedup": speedup,
        "scaling": scale,
    }
    print(f"wrote {h.write_json(name, payload)}")
    return payload


if __name__ == "__main__":
    main()
