"""Benchmark: k-means on digits, jnn (restarts in one vmapped call) vs scikit-learn.

Workload: all 1797 digits (64 features, standardised, float32), k = 10,
``tol=1e-4``, ``max_iter=300``, k-means++ seeding, in one process:

* ``jnn``: :func:`jnn.static.kmeans_fit`, the ``n_init`` restarts as ONE
  jitted ``vmap`` of :func:`jnn.train.run` (the batch runs until its slowest
  restart converges; the best inertia is kept).
* ``scikit-learn``: ``KMeans(n_clusters=10, n_init=..., algorithm="lloyd")``.

Rows for ``n_init=10`` and ``n_init=1``. ``median_s``: whole fit (seeding,
iterations, final assignment), median of the timed calls (a new seed per
call) after one warm-up; ``compile_s``: first call minus median (jnn only);
``quality``: mean final inertia of the timed calls; ``iterations``: median
Lloyd iterations of the kept restart.

Run::

    .venv/bin/python benchmarks/static_kmeans.py          # ~10 s
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
    iterations = [int(r.n_iter) for r in t.results]
    return _row(f"digits k=10 n_init={n_init}", "jnn", t, inertia, iterations)


def bench_sklearn(x, n_init: int, repeats: int, threads: int | None = None) -> dict:
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_limits

    def fit(i):
        model = KMeans(K, n_init=n_init, tol=TOL, max_iter=MAX_ITER, random_state=i)
        with threadpool_limits(threads):
            return model.fit(x)

    t = h.time_calls(fit, repeats)
    t.first = None  # nothing to compile
    inertia = [m.inertia_ for m in t.results]
    iterations = [m.n_iter_ for m in t.results]
    impl = "scikit-learn" if threads is None else f"scikit-learn ({threads} thread)"
    return _row(f"digits k=10 n_init={n_init}", impl, t, inertia, iterations)


def measure(smoke: bool = False) -> list[dict]:
    """Rows for jnn, scikit-learn and scikit-learn on one thread, n_init 10 and 1.

    The one-thread row is steadier on a busy machine, where OpenMP's spinning
    threads can slow scikit-learn's default down by orders of magnitude.
    """
    x = digits()
    repeats = 3 if smoke else 15
    rows = []
    for n_init in (10, 1):
        rows.append(bench_jnn(x, n_init, repeats))
        rows.append(bench_sklearn(x, n_init, repeats))
        rows.append(bench_sklearn(x, n_init, repeats, threads=1))
    return rows


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    monitor = h.CpuMonitor().start()
    rows = measure(args.smoke)
    usage = monitor.stop()
    print(
        f"{'workload':<22} {'impl':<24} {'median ms':>9} {'compile s':>9} "
        f"{'inertia':>10} {'iter':>5}"
    )
    for r in rows:
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['workload']:<22} {r['impl']:<24} {1e3 * r['median_s']:9.2f} "
            f"{compile_s:>9} {r['quality']:10.1f} {r['iterations']:5d}"
        )
    by = {(r["workload"], r["impl"]): r["median_s"] for r in rows}
    for n_init in (10, 1):
        w = f"digits k=10 n_init={n_init}"
        print(
            f"{w}: scikit-learn / jnn = {by[(w, 'scikit-learn')] / by[(w, 'jnn')]:.2f}"
        )
    h.warn_if_busy(usage)
    name = "static_kmeans_smoke" if args.smoke else "static_kmeans"
    payload = {"machine": {**h.machine_info(), "cpu_usage": usage}, "rows": rows}
    print(f"wrote {h.write_json(name, payload)}")
    return rows


if __name__ == "__main__":
    main()
