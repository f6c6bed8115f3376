"""Benchmark: jnn's online SOM against MiniSom, 10 x 10 map on digits.

Same data (scikit-learn's digits, 1797 x 64, standardised), same initial
weights (MiniSom's random initialisation, seeds 1, 2, ...), same schedules
(``learning_rate=0.5``, ``sigma=1.5``, MiniSom's default asymptotic decay),
10,000 online iterations, gaussian neighbourhood, in one process:

* ``jnn.run engine``: ``jax.jit`` of :func:`jnn.train.run` with
  :func:`jnn.static.som`, ``batch_size=1``: the engine shuffles and scans one
  sample per step (``ceil(10000 / 1797) = 6`` passes; the 782 steps past
  ``T`` have rate 0 but still run).
* ``jnn.run ordered``: MiniSom's own ``train_random`` sample sequence as one
  full-batch engine epoch whose update scans it (no per-step gather): the
  result equals MiniSom's up to float32 rounding.
* ``MiniSom``: ``MiniSom.train_random`` (float64 NumPy). Its online step is
  element-wise NumPy on a 10 x 10 x 64 map (no BLAS call), so there is no
  thread setting to tune; its batch trainers are another algorithm.
* ``hand-JAX``: the same step in a bare ``lax.scan`` over random indices (a
  gather per step, no engine, no metrics): the floor for the engine path.
* 64 seeds in one ``jax.jit(jax.vmap(run))`` call (:func:`jnn.static.som_fit_seeds`),
  reported as seconds per seed.

jnn's headline ratio is ``jnn.run engine bs=1`` against the fastest peer row
(MiniSom). Measured numbers: ``benchmarks/README.md``, ``benchmarks/results/``.

Run::

    .venv/bin/python benchmarks/static_som.py           # ~30 s on 2 cores
    .venv/bin/python benchmarks/static_som.py --quick   # 3 repeats, 16 seeds
    .venv/bin/python benchmarks/static_som.py --smoke
"""

from __future__ import annotations

import argparse
import math
import warnings

import _harness as h
import jax
import jax.numpy as jnp
import numpy as np

from jnn.static import neighborhood, quantization_error, som, som_fit_seeds
from jnn.train import run

GRID = (10, 10)
SIGMA, RATE = 1.5, 0.5
WORKLOAD = "SOM 10x10 digits, 10k online steps"


def digits() -> np.ndarray:
    from sklearn.datasets import load_digits
    from sklearn.preprocessing import StandardScaler

    return StandardScaler().fit_transform(load_digits().data)  # (1797, 64) f64


def minisom_setup(x, seed: int, iterations: int):
    """A fresh MiniSom, its initial weights and its train_random sequence."""
    from minisom import MiniSom

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = MiniSom(*GRID, x.shape[1], sigma=SIGMA, learning_rate=RATE,
                       random_seed=seed)  # fmt: skip
    rng = np.random.RandomState(seed)
    rng.rand(*GRID, x.shape[1])  # replay MiniSom's draws: weights, then order
    order = np.arange(iterations) % len(x)
    rng.shuffle(order)
    return peer, peer.get_weights().reshape(-1, x.shape[1]).astype(np.float32), order


def row(impl, t, quality, iterations, workload=WORKLOAD, per=1, **extra):
    return {
        "workload": workload,
        "impl": impl,
        "median_s": t.median / per,
        "compile_s": t.compile,
        "quality": float(quality),
        "quality_name": "quantization error",
        "iterations": iterations,
        "times_s": t.times,
        **extra,
    }


def hand_scan(iterations: int):
    """The online step in a bare lax.scan, a gather per step (no engine)."""
    h_fn = neighborhood("gaussian", GRID)
    half = iterations / 2

    def train(w0, x, key):
        idx = jax.random.randint(key, (iterations,), 0, x.shape[0])

        def step(carry, i):
            w, t = carry
            xi = x[i]
            winner = jnp.argmin(jnp.sum(w * w, axis=1) - 2.0 * (w @ xi))
            decay = 1.0 + t.astype(w.dtype) / half
            g = h_fn(winner, SIGMA / decay) * (RATE / decay)
            return (w + g[:, None] * (xi[None, :] - w), t + 1), None

        return jax.lax.scan(step, (w0, jnp.int32(0)), idx)[0][0]

    return jax.jit(train)


#: Per mode: (online iterations, repeats, seeds in the vmapped call).
MODES = {"smoke": (1000, 2, 8), "quick": (10_000, 3, 16), "full": (10_000, 5, 64)}


def measure(smoke: bool | str = False) -> list[dict]:
    """Rows for jnn (engine, ordered, 64 seeds), MiniSom and hand-JAX.

    ``smoke``: True / "smoke", "quick" or False / "full" (:data:`MODES`).
    """
    mode = {True: "smoke", False: "full"}.get(smoke, smoke)
    iterations, repeats, n_seeds = MODES[mode]
    x64 = digits()
    x = jnp.asarray(x64, jnp.float32)
    passes = math.ceil(iterations / len(x64))
    settings = dict(n_iterations=iterations, sigma=SIGMA, learning_rate=RATE)
    setups = [minisom_setup(x64, 1 + i, iterations) for i in range(repeats + 1)]

    engine = jax.jit(
        lambda w0, key: (
            run(
                som(GRID, init_weights=w0, **settings),
                {"x": x},
                key=key,
                epochs=passes,
                batch_size=1,
            ).state.weights
        )
    )
    ordered = jax.jit(
        lambda w0, order: (
            run(
                som(GRID, init_weights=w0, **settings),
                {"x": x[order]},
                key=jax.random.key(0),
                epochs=1,
            ).state.weights
        )
    )
    hand = hand_scan(iterations)

    def qe(results):
        return np.mean([float(quantization_error(w, x)) for w in results])

    rows = []
    t = h.time_calls(lambda i: engine(setups[i][1], jax.random.key(i)), repeats)
    rows.append(row("jnn.run engine bs=1", t, qe(t.results), iterations,
                    steps_run=passes * len(x64)))  # fmt: skip
    t = h.time_calls(lambda i: ordered(setups[i][1], setups[i][2]), repeats)
    rows.append(row("jnn.run ordered", t, qe(t.results), iterations))

    def peer(i):
        setups[i][0].train_random(x64, iterations)
        return setups[i][0]

    t = h.time_calls(peer, repeats)
    t.first = None  # no compilation
    peer_qe = np.mean([p.quantization_error(x64) for p in t.results])
    rows.append(row("MiniSom", t, peer_qe, iterations))
    t = h.time_calls(lambda i: hand(setups[i][1], x, jax.random.key(i)), repeats)
    rows.append(row("hand-JAX scan", t, qe(t.results), iterations))

    def seeds(i):
        result = som_fit_seeds(x, GRID, key=jax.random.key(i), n_seeds=n_seeds,
                               **settings)  # fmt: skip
        return result.state.weights

    t = h.time_calls(seeds, max(2, repeats // 2))
    spread = [float(quantization_error(w, x)) for w in t.results[-1]]
    rows.append(
        row(f"jnn {n_seeds} seeds, one vmap", t, np.mean(spread), iterations,
            workload=f"{WORKLOAD}, per seed", per=n_seeds, n_seeds=n_seeds,
            whole_call_s=t.median, qe_min=min(spread), qe_max=max(spread))
    )  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, 16 seeds")
    parser.add_argument("--smoke", action="store_true", help="1,000 steps, 2 repeats")
    args = parser.parse_args(argv)
    mode = h.mode_of(args)
    monitor = h.CpuMonitor().start()
    rows = measure(mode)
    info = h.print_machine()
    print(f"{'impl':<26}{'median s':>10}{'compile s':>11}{'QE':>8}{'iters':>7}")
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(f"{r['impl']:<26}{r['median_s']:>10.4f}{compile_s:>11}"
              f"{r['quality']:>8.4f}{r['iterations']:>7}")  # fmt: skip
    peer = next(r["median_s"] for r in rows if r["impl"] == "MiniSom")
    for r in rows:
        if r["impl"] != "MiniSom":
            print(f"MiniSom / {r['impl']}: {peer / r['median_s']:.1f}x")
    compared = h.workload_comparisons(
        rows, jnn_impl="jnn.run engine bs=1", targets={WORKLOAD: 20.0}
    )
    h.print_comparisons(compared)
    usage = monitor.stop()
    h.warn_if_busy(usage)
    name = h.result_name("static_som", mode)
    payload = {
        "mode": mode,
        "rows": rows,
        "machine": info,
        "cpu_usage": usage,
        "vs_fastest_peer": compared,
    }
    print(f"wrote {h.write_json(name, payload)}")
    return rows


if __name__ == "__main__":
    main()
