"""Run every benchmark script and print one summary: workload, jnn, fastest peer.

Each script runs in its own Python process (so that one library's threads or
caches cannot slow another's rows), one after the other, in the mode chosen
here (``--quick``: every script's quick mode, a whole sweep in minutes on 2
cores; ``--smoke``: only checks that they run; default: the full runs). Each
writes its JSON to ``benchmarks/results/`` (``<name>.json``,
``<name>_quick.json``, ``<name>_smoke.json``); this script then reads their
``vs_fastest_peer`` entries (jnn's row against the FASTEST peer row of the same
workload; ``ratio`` > 1: jnn is faster) and ``vs_reference`` (the engine
against a hand-written JAX loop) and prints one table, with the CPU share other
processes used during each script (timings taken with a high share are not to
be trusted). The summary also goes to ``results/summary[_quick|_smoke].json``.

Run::

    .venv/bin/python benchmarks/run_all.py --quick          # the sweep
    .venv/bin/python benchmarks/run_all.py                  # full runs
    .venv/bin/python benchmarks/run_all.py --quick --only cnn,mlp
    .venv/bin/python benchmarks/run_all.py --quick --summary-only   # re-print
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import _harness as h

HERE = Path(__file__).resolve().parent

#: The scripts, in the order they run (``static.py`` is not run: it only
#: gathers the three ``static_*`` scripts in one process); names without a
#: ``<name>.py`` here are left out.
SCRIPTS = tuple(
    name
    for name in (
        "mlp",
        "mlp_mnist",
        "cnn",
        "rnn",
        "transformer",
        "rbm",
        "vae",
        "gan",
        "diffusion",
        "graph",
        "hopfield_discrete",
        "hopfield_continuous",
        "hopfield_tsp",
        "static_kmeans",
        "static_mixture",
        "static_som",
        "engine",
    )
    if (HERE / f"{name}.py").exists()
)


def run_script(name: str, mode: str, timeout: float | None) -> dict:
    """Run ``benchmarks/<name>.py`` in ``mode``; its exit code and wall time."""
    command = [sys.executable, str(HERE / f"{name}.py")]
    if mode != "full":
        command.append(f"--{mode}")
    print(f"\n===== {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # stream into logs
    try:
        code = subprocess.run(
            command, cwd=HERE.parent, timeout=timeout, env=env
        ).returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    return {"script": name, "returncode": code, "wall_s": time.perf_counter() - start}


def load(name: str, mode: str) -> dict | None:
    """The JSON a script wrote in ``mode`` (None if missing)."""
    path = h.RESULTS_DIR / f"{h.result_name(name, mode)}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def other_cpu(payload: dict) -> float | None:
    """The share of the CPUs other processes used during the script."""
    usage = payload.get("machine", {}).get("cpu_usage") or payload.get("cpu_usage")
    return None if not usage else usage.get("other_cpu_fraction")


def summary_rows(mode: str, names=SCRIPTS) -> list[dict]:
    """One row per comparison of every script's JSON (missing JSON: a note)."""
    rows = []
    for name in names:
        payload = load(name, mode)
        if payload is None:
            rows.append({"script": name, "missing": True})
            continue
        busy = other_cpu(payload)
        compared = payload.get("vs_fastest_peer", payload.get("comparisons", []))
        entries = [("peer", c) for c in compared]
        entries += [("reference", c) for c in payload.get("vs_reference", [])]
        if not entries:
            rows.append({"script": name, "no_peer": True, "other_cpu": busy})
        for kind, c in entries:
            rows.append({"script": name, "kind": kind, "other_cpu": busy, **c})
    return rows


def print_summary(rows: list[dict], mode: str) -> None:
    """The table: script, workload, jnn, fastest peer, ratio, target, other CPU."""
    header = ["script", "workload", "jnn", "fastest peer", "ratio", "target", "busy"]
    lines = [header]
    for r in rows:
        if r.get("missing"):
            lines.append([r["script"], "(no results: did it run?)", "", "", "", "", ""])
            continue
        busy = "-" if r.get("other_cpu") is None else f"{100 * r['other_cpu']:.0f}%"
        if r.get("no_peer"):
            lines.append([r["script"], "(no peer timed)", "", "", "", "", busy])
            continue
        peer = r["fastest_peer"] or "-"
        if r["kind"] == "reference":
            peer += " (reference)"
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        target = "-" if r.get("target") is None else f">= {r['target']:.3g}x"
        lines.append(
            [
                r["script"],
                r["workload"],
                f"{r['jnn_impl']}: {h.format_value(r['jnn'], r['unit'])}",
                f"{peer}: {h.format_value(r['peer'], r['unit'])}",
                ratio,
                target,
                busy,
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    print(f"\nSummary ({mode} mode; ratio > 1: jnn faster than the fastest peer row;")
    print("busy: CPU share used by other processes during the script)")
    for i, line in enumerate(lines):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quick", action="store_true", help="each script's --quick")
    group.add_argument("--smoke", action="store_true", help="each script's --smoke")
    parser.add_argument("--only", default="", help="comma-separated script names")
    parser.add_argument(
        "--summary-only",
        action="store_true",
        help="run nothing: print the summary of the JSONs already written",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per script (default none)"
    )
    args = parser.parse_args(argv)
    mode = h.mode_of(args)
    names = [n for n in args.only.split(",") if n] or list(SCRIPTS)
    unknown = sorted(set(names) - set(SCRIPTS))
    if unknown:
        parser.error(f"unknown scripts {unknown}; choose from {', '.join(SCRIPTS)}")
    runs = []
    if not args.summary_only:
        runs = [run_script(name, mode, args.timeout) for name in names]
    print()
    info = h.print_machine()
    rows = summary_rows(mode, names)
    print_summary(rows, mode)
    failed = [r for r in runs if r["returncode"] != 0]
    for r in failed:
        print(f"FAILED: {r['script']} (exit {r['returncode']})")
    if runs:
        print(f"total {sum(r['wall_s'] for r in runs):.0f} s")
    payload = {"mode": mode, "machine": info, "runs": runs, "summary": rows}
    print(f"wrote {h.write_json(h.result_name('summary', mode), payload)}")
    if failed:
        raise SystemExit(1)
    return payload


if __name__ == "__main__":
    main()
