"""TSP networks: cost per restart vs n (structured O(n^3)) and TSPLIB timings.

Scaling: for n = 10 ... 100 random cities in the unit square, (1) one
evaluation of the Hopfield-Tank synaptic input for a vmapped batch of 64
states, applied through its structure (row, column, global sums and one
``d @ rolled V`` product), against the dense ``(n^2, n^2)`` matrix product
where it fits (n <= 40); (2) the Potts mean-field anneal per restart, 16
vmapped restarts: softassign (the default: 132 temperatures x 6 damped
synchronous updates, each an O(n^3) product and 10 log-domain Sinkhorn
iterations) and the serial form (237 sweeps of n serial city updates). Both
should grow as n^3 (the fitted log-log slope is printed); (3) the neural
peers on the same instances, 16 vmapped restarts each: the elastic net
(Durbin & Willshaw 1987; 2,000 iterations over 2.5 n ring points: O(n^2) per
iteration) and Angeniol's SOM ring (1988; n city presentations per survey over
about 3 n nodes: O(n^2) per survey).
TSPLIB: eil51, berlin52, st70 with 256 restarts (neural alone, then the
separate vmapped 2-opt polish), seconds per instance.

No peer library is timed here (the structured field is compared with the
dense matrix product, jnn's own alternative), so there is no "vs fastest
peer" ratio; the JSON's ``vs_fastest_peer`` is empty.

Run:  python benchmarks/hopfield_tsp.py [--quick | --smoke]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _harness as h  # noqa: E402

from jnn.hopfield import (  # noqa: E402
    anneal_tsp,
    dense_weights,
    elastic_net,  # noqa: E402
    hopfield_tank,
    potts_tsp,
    random_tsp,
)
from jnn.hopfield.demos.tsp import tsplib_study  # noqa: E402
from jnn.static import som_ring  # noqa: E402

BATCH, RESTARTS = 64, 16


def _field_rows(n: int, repeats: int) -> list[dict]:
    """Structured (and, for n <= 40, dense) synaptic input of 64 states."""
    network = hopfield_tank(np.asarray(random_tsp(jax.random.key(n), n)[1]))
    v = jax.random.uniform(jax.random.key(1), (BATCH, n, n))
    structured = jax.jit(jax.vmap(network.synaptic_input))
    impls = {"jnn structured": lambda i: structured(v)}
    if n <= 40:
        weights, bias = dense_weights(network)
        dense = jax.jit(lambda x: x.reshape(BATCH, -1) @ weights.T + bias)
        impls["dense W v"] = lambda i: dense(v)
    rows = []
    for impl, fn in impls.items():
        t = h.time_calls(lambda i, fn=fn: jax.block_until_ready(fn(i)), repeats)
        rows.append(_row(f"HT synaptic input, n={n}, batch {BATCH}", impl, t, n))
    return rows


def _anneal_row(n: int, repeats: int, method: str = "softassign") -> dict:
    network = potts_tsp(np.asarray(random_tsp(jax.random.key(n), n)[1]))
    key = jax.random.key(0)
    t = h.time_calls(
        lambda i: jax.block_until_ready(
            anneal_tsp(network, key, method=method, restarts=RESTARTS)
        ),
        repeats,
    )
    row = _row(f"Potts anneal, n={n}, {RESTARTS} restarts", f"jnn {method}", t, n)
    row["quality"] = float(jnp.mean(t.results[0].valid))
    row["quality_name"] = "valid-tour rate"
    row["iterations"] = int(t.results[0].steps[0])
    row["per_restart_s"] = t.median / RESTARTS
    return row


def _peer_rows(n: int, repeats: int) -> list[dict]:
    """Elastic net and SOM ring on n random cities, RESTARTS restarts, per call."""
    points, d = (np.asarray(a) for a in random_tsp(jax.random.key(n), n))
    key = jax.random.key(0)
    rows = []
    for impl, method in (("elastic net", elastic_net), ("SOM ring", som_ring)):
        t = h.time_calls(
            lambda i, method=method: jax.block_until_ready(
                method(points, key, distances=d, restarts=RESTARTS)
            ),
            repeats,
        )
        row = _row(f"{impl}, n={n}, {RESTARTS} restarts", impl, t, n)
        row["per_restart_s"] = t.median / RESTARTS
        rows.append(row)
    return rows


def _row(workload: str, impl: str, t: h.Timing, n: int) -> dict:
    return {
        "workload": workload,
        "impl": impl,
        "n": n,
        "median_s": t.median,
        "compile_s": t.compile,
        "quality": float("nan"),
        "quality_name": "-",
        "iterations": None,
    }


def _tsplib_rows(restarts: int, names) -> list[dict]:
    rows = []
    for name in names:
        r = tsplib_study(name, restarts)
        rows.append(
            {
                "workload": f"TSPLIB {name}, {restarts} restarts",
                "impl": "jnn Potts softassign (neural alone)",
                "n": r["n"],
                "median_s": r["neural_s"],
                "compile_s": None,
                "quality": r["best_gap"],
                "quality_name": "best gap to optimum",
                "iterations": None,
                "valid": r["valid"],
                "polished_gap": r["polished_gap"],
                "polish_s": r["polish_s"],
            }
        )
    return rows


#: Per mode: (sizes, field repeats, anneal repeats, TSPLIB restarts, instances).
MODES = {
    "smoke": ((10, 20), 2, 1, 16, ("eil51",)),
    "quick": ((10, 20, 40, 70), 3, 1, 256, ("eil51",)),
    "full": ((10, 20, 40, 70, 100), 5, 3, 256, ("eil51", "berlin52", "st70")),
}


def measure(smoke: bool | str = False) -> list[dict]:
    """Scaling rows (field and anneal per n) and the TSPLIB rows."""
    mode = {True: "smoke", False: "full"}.get(smoke, smoke)
    sizes, repeats, anneal_repeats, restarts, names = MODES[mode]
    rows = []
    for n in sizes:
        rows += _field_rows(n, repeats)
        rows.append(_anneal_row(n, anneal_repeats))
        rows.append(_anneal_row(n, anneal_repeats, "serial"))
        rows += _peer_rows(n, anneal_repeats)
    return rows + _tsplib_rows(restarts, names)


def _slope(rows: list[dict], impl: str, prefix: str) -> float:
    sel = [r for r in rows if r["impl"] == impl and r["workload"].startswith(prefix)]
    n = np.log([r["n"] for r in sel])
    return float(np.polyfit(n, np.log([r["median_s"] for r in sel]), 1)[0])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n <= 70, eil51 only")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args(argv)
    mode = h.mode_of(args)
    monitor = h.CpuMonitor().start()
    rows = measure(mode)
    info = h.print_machine()
    for r in rows:
        extra = ""
        if "per_restart_s" in r:
            extra = f"  {1e3 * r['per_restart_s']:.1f} ms/restart"
        if "polished_gap" in r:
            extra = (
                f"  valid {r['valid']:.0%}, best gap {100 * r['quality']:.1f}%, "
                f"+2-opt {100 * r['polished_gap']:.1f}% ({r['polish_s']:.2f} s)"
            )
        print(f"{r['workload']:<40} {r['impl']:<26} {r['median_s']:10.5f} s{extra}")
    slopes = {
        "structured field": _slope(rows, "jnn structured", "HT"),
        "Potts softassign": _slope(rows, "jnn softassign", "Potts"),
        "Potts serial": _slope(rows, "jnn serial", "Potts"),
        "elastic net": _slope(rows, "elastic net", "elastic"),
        "SOM ring": _slope(rows, "SOM ring", "SOM"),
    }
    print("log-log slope of time vs n:", {k: round(v, 2) for k, v in slopes.items()})
    usage = monitor.stop()
    h.warn_if_busy(usage)
    name = h.result_name("hopfield_tsp", mode)
    payload = {
        "mode": mode,
        "machine": {**info, "cpu_usage": usage},
        "rows": rows,
        "slopes": slopes,
        "vs_fastest_peer": [],
    }
    print(f"wrote {h.write_json(name, payload)}")
    return payload


if __name__ == "__main__":
    main()
