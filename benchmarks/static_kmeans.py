"""Benchmark: k-means on digits, jnn (restarts in one vmapped call) vs scikit-learn.

Workload: all 1797 digits (64 features, standardised, float32), k = 10,
``tol=1e-4``, ``max_iter=300``, k-means++ seeding, in one process:

* ``jnn``: :func:`jnn.static.kmeans_fit`, the ``n_init`` restarts as ONE
  jitted ``vmap`` of :func:`jnn.train.run` (the batch runs until its slowest
  restart converges; the best inertia is kept).
* ``scikit-learn``: ``KMeans(n_clusters=10, n_init=..., algorithm="lloyd")``
  with its OpenMP threads at the cores this process may use; also on 1
  thread, and ``algorithm="elkan"`` (all cores), so that jnn is compared with
  scikit-learn at its best (the fastest of these rows).

Rows for ``n_init=10`` and ``n_init=1``. ``median_s``: whole fit (seeding,
iterations, final assignment), median of the timed calls (a new seed per
call) after one warm-up; ``compile_s``: first call minus median (jnn only);
``quality``: mean final inertia of the timed calls; ``iterations``: median
Lloyd iterations of the kept restart.

Measured numbers: ``benchmarks/README.md``, ``benchmarks/results/``.

Run::

    .venv/bin/python benchmarks/static_kmeans.py          # ~20 s
    .venv/bin/python benchmarks/static_kmeans.py --quick  # 5 repeats
    .venv/bin/python benchmarks/static_kmeans.py --smoke
"""

from __future__ import annotations

import argparse
import statistics

import _harness as h
import jax
import numpy as np

import jnn

K, TOL, MAX_ITER = 10, 1e-4, 300


def digits() -> np.ndarray:
    """All 1797 digits, z-scored per feature (constant pixels stay 0)."""
    from sklearn.datasets import load_digits

    x = load_digits().data
    scale = x.std(0)
    return ((x - x.mean(0)) / np.where(scale > 0, scale, 1.0)).astype(np.float32)


def _row(workload, impl, t: h.Timing, inertia, iterations) -> dict:
    return {
        "workload": workload,
        "impl": impl,
        "median_s": t.median,
        "compile_s": t.compile,
        "quality": float(statistics.mean(inertia)),
        "quality_name": "inertia",
        "iterations": int(statistics.median(iterations)),
    }


def bench_jnn(x, n_init: int, repeats: int) -> dict:
    x_dev = jax.device_put(x)

    def fit(i):
        return jnn.static.kmeans_fit(
            x_dev, K, key=jax.random.key(i), n_init=n_init, tol=TOL, max_iter=MAX_ITER
        )

    t = h.time_calls(fit, repeats)
    inertia = [float(r.inertia) for r in t.results]
    iterations = [int(r.iterations) for r in t.results]
    return _row(f"digits k=10 n_init={n_init}", "jnn", t, inertia, iterations)


def bench_sklearn(
    x, n_init: int, repeats: int, threads: int | None = None, algorithm="lloyd"
) -> dict:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    threads = h.cores() if threads is None else threads

    def fit(i):
        model = KMeans(K, n_init=n_init, tol=TOL, max_iter=MAX_ITER, random_state=i,
                       algorithm=algorithm)  # fmt: skip
        with threadpool_limits(threads):
            return model.fit(x)

    t = h.time_calls(fit, repeats)
    t.first = None  # nothing to compile
    inertia = [m.inertia_ for m in t.results]
    iterations = [m.n_iter_ for m in t.results]
    impl = f"scikit-learn {algorithm} ({threads} thread{'s' * (threads > 1)})"
    return _row(f"digits k=10 n_init={n_init}", impl, t, inertia, iterations)


def measure(smoke: bool | str = False) -> list[dict]:
    """Rows for jnn and scikit-learn (lloyd: all cores, 1 thread; elkan), n_init 10, 1.

    ``smoke``: True / "smoke", "quick" or False / "full". The one-thread row is
    steadier on a busy machine, where OpenMP's spinning threads can slow
    scikit-learn's default down by orders of magnitude.
    """
    mode = {True: "smoke", False: "full"}.get(smoke, smoke)
    x = digits()
    repeats = {"smoke": 3, "quick": 5, "full": 15}[mode]
    rows = []
    for n_init in (10, 1):
        rows.append(bench_jnn(x, n_init, repeats))
        rows.append(bench_sklearn(x, n_init, repeats))
        rows.append(bench_sklearn(x, n_init, repeats, threads=1))
        rows.append(bench_sklearn(x, n_init, repeats, algorithm="elkan"))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 repeats")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    mode = h.mode_of(args)
    monitor = h.CpuMonitor().start()
    rows = measure(mode)
    usage = monitor.stop()
    info = h.print_machine()
    print(
        f"{'workload':<22} {'impl':<30} {'median ms':>9} {'compile s':>9} "
        f"{'inertia':>10} {'iter':>5}"
    )
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['workload']:<22} {r['impl']:<30} {1e3 * r['median_s']:9.2f} "
            f"{compile_s:>9} {r['quality']:10.1f} {r['iterations']:5d}"
        )
    compared = h.workload_comparisons(
        rows, jnn_impl="jnn", targets={"digits k=10 n_init=10": 2.0}
    )
    h.print_comparisons(compared)
    h.warn_if_busy(usage)
    name = h.result_name("static_kmeans", mode)
    payload = {
        "mode": mode,
        "machine": {**info, "cpu_usage": usage},
        "rows": rows,
        "vs_fastest_peer": compared,
    }
    print(f"wrote {h.write_json(name, payload)}")
    return rows


if __name__ == "__main__":
    main()
