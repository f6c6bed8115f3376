"""Command line: ``jnn list``, ``jnn run NAME``, ``jnn tour``.

``jnn tour`` runs every registered demo at its default size and writes a table
(printed with rich), the demos' PNG plots and a ``report.md`` into ``--out``.
On a CPU-only installation it runs ``--jobs`` demos at once in worker
processes (default: one per core, at most 4); each demo is seeded, so its
result does not depend on the process or the order.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib.metadata
import importlib.util
import multiprocessing
import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from jnn.demos import Demo, DemoConfig, DemoResult, demo_index, get, registry

#: XLA settings for the demos on a CPU-only installation: short programs, where
#: compiling costs more than running. Measured, ``jnn tour`` on 2 cores: 5 min
#: 54 s (346 s of demo time, one demo over 20 s) at XLA's defaults, 4 min 20 s
#: (252 s, every demo under 17 s) with these; the demos' values agree to float
#: rounding. Not applied when ``XLA_FLAGS`` is set (set it, even empty, to
#: keep XLA's defaults) or an accelerator plugin is installed.
CPU_DEMO_XLA_FLAGS = (
    "--xla_backend_optimization_level=1 --xla_cpu_use_fusion_emitters=false"
)


def _cpu_only() -> bool:
    """No accelerator plugin (CUDA, ROCm, TPU) installed for JAX."""
    plugins = importlib.metadata.entry_points(group="jax_plugins")
    return not plugins and importlib.util.find_spec("libtpu") is None


def _demo_compile_settings() -> None:
    """Use :data:`CPU_DEMO_XLA_FLAGS` unless the user chose XLA's flags."""
    if "XLA_FLAGS" not in os.environ and _cpu_only():
        os.environ["XLA_FLAGS"] = CPU_DEMO_XLA_FLAGS


def default_jobs() -> int:
    """Demos the tour runs at once (``--jobs`` default).

    One per core, at most 4, on a CPU-only installation; 1 with an accelerator
    (each worker process would claim the device's memory).
    """
    return min(os.cpu_count() or 1, 4) if _cpu_only() else 1


def _table(rows: list[tuple[Demo, DemoResult, float]]) -> Table:
    table = Table(title="jnn tour")
    for column in ("demo", "chapter", "data set", "metric", "value", "time (s)"):
        table.add_column(
            column, justify="right" if column in ("value", "time (s)") else "left"
        )
    for demo, result, seconds in rows:
        table.add_row(
            demo.name,
            demo.chapter,
            result.dataset,
            result.metric,
            f"{result.value:.4g}",
            f"{seconds:.1f}",
        )
    return table


def _report(
    rows: list[tuple[Demo, DemoResult, float]], out: Path, total: float, jobs: int = 1
):
    at_once = f" ({jobs} demos at a time; each time is its own wall time)"
    lines = [
        "# jnn tour",
        "",
        f"Total time: {total:.1f} s{at_once if jobs > 1 else ''}.",
        "",
        "| demo | chapter | data set | metric | value | time (s) |",
        "|---|---|---|---|---|---|",
    ]
    for demo, r, seconds in rows:
        lines.append(
            f"| {demo.name} | {demo.chapter} | {r.dataset} | {r.metric} | "
            f"{r.value:.4g} | {seconds:.1f} |"
        )
    lines.append("")
    for demo, r, _ in rows:
        lines += [f"## {demo.name}", "", demo.description + ".", "", r.summary, ""]
        lines += [f"![{f.name}]({f.relative_to(out)})" for f in r.figures]
        lines.append("")
    path = out / "report.md"
    path.write_text("\n".join(lines))
    return path


def run_demo(demo: Demo, config: DemoConfig) -> tuple[DemoResult, float]:
    """Run one demo, returning its result and wall time in seconds."""
    config.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = demo.run(config)
    return result, time.perf_counter() - start


def _run_named(name: str, config: DemoConfig) -> tuple[DemoResult, float]:
    """:func:`run_demo` by name, in a tour's worker process."""
    return run_demo(get(name), config)


def _run_all(
    demos: list[Demo], config: DemoConfig, jobs: int, console: Console
) -> list[tuple[Demo, DemoResult, float]]:
    """Run ``demos`` (``jobs`` at once in spawned processes); rows in order."""

    def show(demo: Demo, result: DemoResult, seconds: float) -> None:
        console.print(
            f"[bold]{demo.name}[/bold]: {result.metric} = {result.value:.4g} "
            f"({seconds:.1f} s); {result.summary}"
        )

    if jobs == 1:
        rows = []
        for demo in demos:
            console.print(f"[bold]{demo.name}[/bold]: {demo.description} ...")
            result, seconds = run_demo(demo, config)
            show(demo, result, seconds)
            rows.append((demo, result, seconds))
        return rows
    console.print(f"{len(demos)} demos, {jobs} at a time ...")
    done: dict[str, tuple[DemoResult, float]] = {}
    context = multiprocessing.get_context("spawn")  # JAX is not fork-safe
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {pool.submit(_run_named, d.name, config): d for d in demos}
        for future in concurrent.futures.as_completed(futures):
            demo = futures[future]
            done[demo.name] = future.result()
            show(demo, *done[demo.name])
    return [(demo, *done[demo.name]) for demo in demos]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``jnn`` command."""
    parser = argparse.ArgumentParser(prog="jnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered demos")
    run_p = sub.add_parser("run", help="run one demo")
    run_p.add_argument("name")
    run_p.add_argument("--epochs", type=int, default=None)
    tour_p = sub.add_parser("tour", help="run every demo, write report.md")
    tour_p.add_argument(
        "--chapter",
        default=None,
        help="only the demos whose chapter id starts with this (S, D, C, D3, ...)",
    )
    tour_p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="demos run at once in worker processes (default: one per core, at "
        "most 4, on CPU; 1 with an accelerator)",
    )
    for p in (run_p, tour_p):
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--out", type=Path, default=Path("jnn-output"))
        p.add_argument("--smoke", action="store_true", help="tiny sizes (seconds)")
    args = parser.parse_args(argv)
    console = Console()
    if args.command in ("run", "tour"):
        _demo_compile_settings()  # before JAX starts its backend

    if args.command == "list":
        table = Table(title="jnn demos")
        for column in ("name", "chapter", "description"):
            table.add_column(column)
        for demo in demo_index().values():  # read from the sources: no imports
            table.add_row(demo.name, demo.chapter, demo.description)
        console.print(table)
        return 0

    if args.command == "run":
        if args.epochs is not None and args.epochs <= 0:
            parser.error(f"--epochs must be a positive int; got {args.epochs}")
        try:
            demo = get(args.name)
        except ValueError as err:
            parser.error(str(err))
        config = DemoConfig(args.out, args.seed, args.epochs, args.smoke)
        result, seconds = run_demo(demo, config)
        console.print(_table([(demo, result, seconds)]))
        console.print(result.summary)
        for figure in result.figures:
            console.print(f"wrote {figure}")
        return 0

    demos = [
        demo
        for demo in registry().values()
        if args.chapter is None or demo.chapter.startswith(args.chapter)
    ]
    if not demos:
        parser.error(f"no demo has a chapter id starting with {args.chapter!r}")
    if args.jobs is not None and args.jobs < 1:
        parser.error(f"--jobs must be a positive int; got {args.jobs}")
    jobs = min(default_jobs() if args.jobs is None else args.jobs, len(demos))
    start = time.perf_counter()
    config = DemoConfig(args.out, args.seed, None, args.smoke)
    rows = _run_all(demos, config, jobs, console)
    total = time.perf_counter() - start
    console.print(_table(rows))
    report = _report(rows, args.out, total, jobs)
    console.print(f"total {total:.1f} s; report: {report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
