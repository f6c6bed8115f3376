"""Neural TSP on TSPLIB: Potts mean-field annealing beside its peers, one table.

Measurement, per instance: ``--restarts`` vmapped restarts of
:func:`jnn.hopfield.anneal_tsp` on :func:`jnn.hopfield.potts_tsp` (default
settings: softassign annealing), decoded without any repair: the fraction of
valid tours, the best and median gap to the published optimum; the same
restarts of the serial Peterson-Soderberg form (``method="serial"``, its
defaults; ``serial_gap``, ``serial_median_gap``; ``--no-serial`` skips it);
then, as a separate and clearly
labelled step, 2-opt (``jnn.hopfield.two_opt``, vmapped) applied to every
valid neural tour, best polished gap reported. Beside it, the neural TSP
methods a user would pick instead, each with ``--peer-restarts`` restarts and
its paper's settings: the elastic net (Durbin & Willshaw 1987,
:func:`jnn.hopfield.problems.elastic_net.elastic_net`) and Angéniol's
self-organising ring (1988, :func:`jnn.static.som_ring.som_ring`). Both need
coordinates: the instance's own for EUC_2D/CEIL_2D/ATT, else a classical
(Torgerson) embedding of the distance matrix; every length is measured on the
TSPLIB distances. Times are wall seconds of a second, identical call (compile excluded;
``--cold``: of the first call); ``network_s`` is the host-side set-up of
:func:`potts_tsp` (the spectra behind ``T_c`` and the penalty).

Run:  python examples/hopfield/tsp_tsplib.py [--all] [--instances NAME ...]
      [--restarts 256] [--peer-restarts 32] [--seeds 1] [--smoke]
``--all``: every bundled instance with n <= 101, then a280 from
``../shared/data/tsplib`` (or ``--a280 PATH``) with ``--a280-restarts``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import jax
import numpy as np

from jnn.data import load_tsplib, tsplib_instances
from jnn.hopfield import anneal_tsp, classical_scaling, elastic_net, potts_tsp, two_opt
from jnn.hopfield.demos.tsp import format_rows
from jnn.static import som_ring

INSTANCES = ("eil51", "berlin52", "st70")
A280 = Path(__file__).resolve().parents[3] / "shared" / "data" / "tsplib" / "a280.tsp"
COORDINATE_TYPES = ("EUC_2D", "CEIL_2D", "ATT")


def _timed(fn, warm: bool = True):
    """``(fn(), seconds)``; with ``warm`` a second call is timed (no compile)."""
    if warm:
        jax.block_until_ready(fn())
    start = time.perf_counter()
    out = jax.block_until_ready(fn())
    return out, time.perf_counter() - start


def study(
    path_or_name: str,
    restarts: int,
    peer_restarts: int,
    seed: int,
    warm: bool,
    serial: bool = True,
) -> dict:
    """One row of the table (gaps as fractions, times in seconds)."""
    instance = load_tsplib(path_or_name)
    d, optimum = instance.distances, instance.optimum
    key = jax.random.key(seed)
    network, network_s = _timed(lambda: potts_tsp(d), warm=False)
    result, neural_s = _timed(lambda: anneal_tsp(network, key, restarts=restarts), warm)
    lengths = np.asarray(result.lengths)
    polish = jax.jit(jax.vmap(lambda t: two_opt(d, t)))
    polished, polish_s = _timed(lambda: polish(result.tours), warm)
    polished = np.asarray(polished)
    polished_lengths = d[polished, np.roll(polished, -1, axis=1)].sum(axis=1)
    polished_lengths = np.where(np.asarray(result.valid), polished_lengths, np.inf)
    row = {
        "instance": instance.name,
        "n": instance.dimension,
        "optimum": int(optimum),
        "seed": seed,
        "valid": float(np.mean(result.valid)),
        "best_gap": lengths.min() / optimum - 1.0,
        "median_gap": float(np.median(lengths)) / optimum - 1.0,
        "polished_gap": polished_lengths.min() / optimum - 1.0,
        "network_s": network_s,
        "neural_s": neural_s,
        "polish_s": polish_s,
    }
    if serial:
        out, seconds = _timed(
            lambda: anneal_tsp(network, key, method="serial", restarts=restarts), warm
        )
        serial_lengths = np.asarray(out.lengths)
        row["serial_valid"] = float(np.mean(out.valid))
        row["serial_gap"] = serial_lengths.min() / optimum - 1.0
        row["serial_median_gap"] = float(np.median(serial_lengths)) / optimum - 1.0
        row["serial_s"] = seconds
    if peer_restarts:
        if instance.edge_weight_type in COORDINATE_TYPES:
            points = instance.coordinates
        else:
            points = classical_scaling(d)
        peer_key = jax.random.fold_in(key, 1)
        for name, method in (("elastic", elastic_net), ("som", som_ring)):
            out, seconds = _timed(
                lambda method=method: method(
                    points, peer_key, distances=d, restarts=peer_restarts
                ),
                warm,
            )
            row[f"{name}_gap"] = float(np.min(out.lengths)) / optimum - 1.0
            row[f"{name}_median_gap"] = float(np.median(out.lengths)) / optimum - 1.0
            row[f"{name}_s"] = seconds
    return row


def growth(rows: list[dict], column: str = "neural_s") -> float:
    """Fitted log-log slope of ``column`` against n (time ~ n^slope)."""
    n = np.log([r["n"] for r in rows])
    return float(np.polyfit(n, np.log([r[column] for r in rows]), 1)[0])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", nargs="+", default=list(INSTANCES))
    parser.add_argument("--all", action="store_true", help="n <= 101, then a280")
    parser.add_argument("--restarts", type=int, default=256)
    parser.add_argument("--peer-restarts", type=int, default=32)
    parser.add_argument("--a280", default=str(A280))
    parser.add_argument("--a280-restarts", type=int, default=32)
    parser.add_argument("--seeds", type=int, default=1, help="repeat with seeds 0..")
    parser.add_argument(
        "--smoke", action="store_true", help="eil51, 8 restarts (peers 4)"
    )
    parser.add_argument(
        "--cold", action="store_true", help="time first calls (compile included)"
    )
    parser.add_argument(
        "--no-serial", action="store_true", help="skip the serial Potts annealer"
    )
    args = parser.parse_args(argv)
    jobs = [(name, args.restarts) for name in args.instances]
    if args.all:
        small = [n for n in tsplib_instances() if load_tsplib(n).dimension <= 101]
        small.sort(key=lambda n: load_tsplib(n).dimension)
        jobs = [(name, args.restarts) for name in small]
        if Path(args.a280).is_file():
            jobs.append((args.a280, args.a280_restarts))
    if args.smoke:
        jobs, args.peer_restarts, args.seeds, args.cold = [("eil51", 8)], 4, 1, True
    rows = []
    for name, restarts in jobs:
        for seed in range(args.seeds):
            peers = min(args.peer_restarts, restarts)
            row = study(name, restarts, peers, seed, not args.cold, not args.no_serial)
            rows.append({**row, "restarts": restarts})
            print(format_rows(rows[-1:], list(rows[-1])[:10]), flush=True)
    columns = ["instance", "n", "optimum", "restarts", "valid", "best_gap"]
    columns += ["median_gap", "polished_gap", "network_s", "neural_s"]
    if not args.no_serial:
        columns += ["serial_gap", "serial_median_gap", "serial_s"]
    if args.peer_restarts:
        columns += ["elastic_gap", "som_gap", "elastic_s", "som_s"]
    print(
        f"\nPotts mean-field annealing, softassign (neural alone), restarts as "
        f"listed; serial: Peterson-Soderberg's serial form, same restarts; "
        f"polished_gap: best after the separate 2-opt of every neural tour; "
        f"elastic net and SOM ring: best of {args.peer_restarts} restarts"
    )
    print(format_rows(rows, columns))
    if len({r["n"] for r in rows}) > 2:
        same = [r for r in rows if r["restarts"] == args.restarts]
        print(f"time ~ n^{growth(same):.2f} (Potts, {args.restarts} restarts)")
    return rows


if __name__ == "__main__":
    main()
