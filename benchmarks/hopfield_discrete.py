"""Benchmark: discrete Hopfield recall, jnn (one vmapped call) vs a NumPy loop.

Workload (issue 4): N = 100 neurons, M = 10 random patterns, Hebbian weights
``W = (X^T X - M I) / N``, 10,000 probes (pattern ``t % M`` with 10 of the
100 bits flipped), asynchronous updates in a fresh random order per sweep
until a sweep changes nothing. In one process, same W and probes:

* ``jnn``: ``jax.jit(jax.vmap(recall))`` from :mod:`jnn.hopfield.discrete.dhnn`, all
  10,000 probes in ONE call; ``median_s`` per call, compile time apart.
* ``numpy loop``: the textbook reference written here, a Python loop over
  probes and neurons (``h = W[i] @ s``); timed on the first ``--subset``
  probes (default 300) and reported per probe.
* ``numpy vectorised``: NumPy at its best, written here: all probes at once,
  each with its own random order per sweep; the local fields ``h = S W^T`` are
  computed once (one BLAS product, all BLAS threads) and then updated only
  where a neuron flips (``h_p += 2 s_new W[:, i]``), so a step of all probes
  costs O(probes) instead of O(probes x N); a probe leaves after its sweep
  without change. Same semantics as the loop, on all the probes.

Reported per implementation: seconds per probe, recall rate (fraction of
probes ending exactly at their stored pattern), mean sweeps (the last being
the sweep without change), and jnn's speed-up per probe over each row and over
the FASTEST NumPy row (the headline; the issue's target, >= 100x, was set
against the loop). Then the scaling of one jnn recall with N (100 ... 4000,
M = N / 20, 10% flipped bits): one probe alone, and a batch of probes in one
vmapped call (time per probe). Measured numbers: ``benchmarks/README.md`` and
``benchmarks/results/hopfield_discrete.json``.

Run::

    .venv/bin/python benchmarks/hopfield_discrete.py          # ~1-2 min
    .venv/bin/python benchmarks/hopfield_discrete.py --quick  # ~20 s
    .venv/bin/python benchmarks/hopfield_discrete.py --smoke
"""

from __future__ import annotations

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
    return _row("numpy loop", t, len(probes), states, targets, [k for _, k in out])


def numpy_recall_batch(W: np.ndarray, probes: np.ndarray, rng, max_sweeps: int = 100):
    """All probes at once, incremental local fields (see the module docstring).

    Returns:
      ``(states, sweeps)``: final states ``(P, N)`` and sweeps per probe.
    """
    s = probes.astype(np.float64)
    fields = s @ W.T  # fields[p, j] = W[j] @ s_p
    n = s.shape[1]
    sweeps = np.zeros(len(s), np.int64)
    active = np.arange(len(s))
    for sweep in range(1, max_sweeps + 1):
        if active.size == 0:
            break
        sa, ha = s[active], fields[active]  # copies, C-contiguous
        order = rng.permuted(np.tile(np.arange(n), (active.size, 1)), axis=1)
        starts = np.arange(active.size) * n  # flat index of each probe's row
        sa_flat, ha_flat = sa.reshape(-1), ha.reshape(-1)  # views
        changed = np.zeros(active.size, bool)
        for k in range(n):
            i = order[:, k]
            at = starts + i
            new = np.where(ha_flat[at] >= 0, 1.0, -1.0)
            flip = np.flatnonzero(new != sa_flat[at])
            if flip.size:
                j, sign = i[flip], new[flip]
                sa_flat[at[flip]] = sign
                ha[flip] += (2.0 * sign)[:, None] * W[:, j].T
                changed[flip] = True
        s[active], fields[active] = sa, ha
        sweeps[active] = sweep
        active = active[changed]
    return s, sweeps


def bench_numpy_vectorised(W, probes, targets, repeats: int) -> dict:
    W = np.asarray(W, np.float64)

    def run(i):
        return numpy_recall_batch(W, probes, np.random.default_rng(i))

    t = h.time_calls(run, repeats)
    t.first = None  # nothing to compile
    states, sweeps = t.results[0]
    return _row("numpy vectorised", t, len(probes), states, targets, sweeps)


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
        "peer": impl.startswith("numpy"),
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


#: Per mode: (probes, NumPy-loop probes, jnn repeats, loop repeats, vectorised
#: repeats, scaling sizes, scaling batch, scaling repeats).
MODES = {
    "smoke": (1_000, 50, 3, 1, 1, (100, 200), 16, 2),
    "quick": (10_000, 100, 5, 1, 3, (100, 1000), 64, 2),
    "full": (10_000, 300, 7, 3, 5, (100, 250, 500, 1000, 2000, 4000), 64, 3),
}


def measure(mode: str = "full", subset: int | None = None) -> list[dict]:
    """The jnn and NumPy rows of the 10,000-probe workload (smoke: 1,000)."""
    if mode is True or mode is False:  # the former measure(smoke: bool)
        mode = "smoke" if mode else "full"
    n_probes, loop_probes, jnn_reps, loop_reps, vec_reps = MODES[mode][:5]
    patterns, probes, targets = problem(100, 10, n_probes)
    W = np.asarray(hebbian(jnp.asarray(patterns)))
    subset = loop_probes if subset is None else subset
    jnn_row = bench_jnn(W, probes, targets, repeats=jnn_reps)
    numpy_row = bench_numpy(W, probes[:subset], targets[:subset], repeats=loop_reps)
    vector_row = bench_numpy_vectorised(W, probes, targets, repeats=vec_reps)
    return [jnn_row, numpy_row, vector_row]


def main(argv: list[str] | None = None) -> dict:
    args, mode = h.subset_args(
        __doc__, argv, "fewer repeats/sizes", "NumPy-loop probes"
    )
    monitor = h.CpuMonitor().start()
    rows = measure(mode, args.subset)
    info = h.print_machine()
    print(f"{WORKLOAD}")
    print(
        f"{'impl':<16} {'probes':>6} {'per probe us':>12} {'compile s':>9} "
        f"{'recall':>7} {'sweeps':>6} {'jnn speed-up':>12}"
    )
    ours = rows[0]["per_probe_s"]
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['impl']:<16} {r['probes']:6d} {1e6 * r['per_probe_s']:12.2f} "
            f"{compile_s:>9} {r['quality']:7.4f} {r['iterations']:6.2f} "
            f"{r['per_probe_s'] / ours:11.1f}x"
        )
    speedup = rows[1]["per_probe_s"] / ours
    print(f"speed-up per probe, numpy loop / jnn: {speedup:.0f}x (target >= 100x)")
    compared = h.workload_comparisons(
        rows,
        value="per_probe_s",
        unit="s/probe",
        jnn_impl="jnn",
        targets={WORKLOAD: 100},
    )
    h.print_comparisons(compared)
    sizes, batch, repeats = MODES[mode][5:]
    scale = scaling(sizes, batch=batch, repeats=repeats)
    usage = monitor.stop()
    payload = {
        "mode": mode,
        "machine": {**info, "cpu_usage": usage},
        "rows": rows,
        "speedup": speedup,
        "vs_fastest_peer": compared,
        "scaling": scale,
    }
    h.report("hopfield_discrete", args, payload, usage=usage)
    return payload


if __name__ == "__main__":
    main()
