"""Benchmark: the shallow static learners of ``jnn.static`` against their peers.

Runs, in one process and on the same data (scikit-learn's digits, 1797 x 64,
standardised) with the same settings and initialisations:

* ``static_kmeans``: k-means, 1 and 10 restarts (jnn: one vmapped call) vs
  scikit-learn ``KMeans``;
* ``static_mixture``: EM (diag, 10 components) vs ``GaussianMixture`` and
  variational Bayes vs ``BayesianGaussianMixture``;
* ``static_som``: a 10 x 10 SOM, 10,000 online iterations, vs MiniSom (and 64
  seeds in one vmapped call).

Each module's ``measure(smoke)`` returns one dict per implementation: median
seconds per whole fit after a warm-up (compile time separate), the quality
reached (inertia, log-likelihood, quantization error) and iterations. This
script prints them together with the speed-up of jnn over the FASTEST peer row
of the same workload (peers run at their best settings: see each module), and
writes ``benchmarks/results/static.json``.

Run::

    .venv/bin/python benchmarks/static.py           # about a minute on 2 cores
    .venv/bin/python benchmarks/static.py --quick   # fewer repeats
    .venv/bin/python benchmarks/static.py --smoke   # seconds
"""

from __future__ import annotations

import argparse
import importlib

import _harness as h

MODULES = ("static_kmeans", "static_mixture", "static_som")


def speedups(rows: list[dict]) -> dict[str, float]:
    """Fastest peer's median over jnn's median, per workload (> 1: jnn faster)."""
    return {c["workload"]: c["ratio"] for c in h.workload_comparisons(rows)}


def print_rows(rows: list[dict]) -> None:
    """Print the rows as a plain table."""
    header = ("workload", "impl", "median s", "compile s", "quality", "iters")
    lines = [header]
    for r in rows:
        compile_s = r.get("compile_s")
        lines.append(
            (
                r["workload"],
                r["impl"],
                f"{r['median_s']:.4f}",
                "-" if compile_s is None else f"{compile_s:.2f}",
                f"{r['quality_name']} {r['quality']:.6g}",
                "-" if r.get("iterations") is None else str(r["iterations"]),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    args = parser.parse_args(argv)
    mode = h.mode_of(args)
    rows: list[dict] = []
    for name in MODULES:
        module = importlib.import_module(name)
        rows.extend(module.measure(mode))
    info = h.print_machine()
    print_rows(rows)
    compared = h.workload_comparisons(rows)
    h.print_comparisons(compared)
    ratios = {c["workload"]: c["ratio"] for c in compared}
    payload = {
        "machine": info,
        "rows": rows,
        "speedups": ratios,
        "vs_fastest_peer": compared,
        "smoke": args.smoke,
        "mode": mode,
    }
    print(f"wrote {h.write_json(h.result_name('static', mode), payload)}")
    return payload


if __name__ == "__main__":
    main()
