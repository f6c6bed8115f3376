"""Shared helpers for the benchmark scripts: timing, machine info, tables, JSON.

The scripts in this folder import it as a sibling module (``python
benchmarks/mlp.py`` puts ``benchmarks/`` on ``sys.path``).

Conventions:
  * Times are wall-clock (``time.perf_counter``); every JAX result is waited
    for with ``jax.block_until_ready`` before the clock stops.
  * ``time_calls`` runs ``warmup`` untimed calls first; the first call's time
    is kept apart (it holds the JIT compilation), and the steady-state figure
    is the median of the timed calls.
  * Compile time of a JAX implementation = first call - steady-state median.
  * The "jnn/impl" ratio is jnn's samples/s divided by the row's samples/s, so
    a value of 5 means jnn is 5x faster than that implementation.
  * Peers (PyTorch, scikit-learn, NumPy, SciPy, MiniSom) are measured at
    their best settings too (threads = the cores this process may run on,
    ``len(os.sched_getaffinity(0))``; PyTorch also with foreach / fused Adam
    and ``torch.compile``), and every headline ratio is taken against the
    FASTEST peer row (:func:`vs_fastest_peer`), never a chosen one.
  * Every script prints :func:`machine_line` (CPU model, cores, library
    versions) beside its table and stores :func:`machine_info` in its JSON.
  * ``--quick`` (every script): the full-size workload where it is cheap,
    fewer repeats, so that ``benchmarks/run_all.py --quick`` re-measures the
    whole sweep in minutes; ``--smoke`` only checks that a script runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax
import numpy as np

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Timing:
    """Wall-clock times of repeated calls.

    Attributes:
      first: seconds of the first (warm-up) call, compilation included; None
        when there was no warm-up call.
      times: seconds of each timed call, in order.
      results: return values of the timed calls (not serialised).
    """

    first: float | None
    times: list[float]
    results: list[Any] = field(default_factory=list, repr=False)

    @property
    def median(self) -> float:
        """Median of the timed calls."""
        return statistics.median(self.times)

    @property
    def compile(self) -> float | None:
        """First call minus the steady-state median (None without warm-up)."""
        return None if self.first is None else max(self.first - self.median, 0.0)


def _timed(fn: Callable[[int], Any], i: int) -> tuple[float, Any]:
    start = time.perf_counter()
    out = jax.block_until_ready(fn(i))
    return time.perf_counter() - start, out


def time_calls(fn: Callable[[int], Any], repeats: int, warmup: int = 1) -> Timing:
    """Time ``fn(i)`` for ``i = 0, 1, ...``: ``warmup`` untimed calls, then ``repeats``.

    ``fn`` receives the call's index (use it for a fresh seed per call); its
    result is passed through ``jax.block_until_ready`` inside the timed region.

    Args:
      fn: the workload, ``fn(i) -> result``.
      repeats: number of timed calls (>= 1).
      warmup: number of untimed calls before them; the first one's time is
        kept as ``Timing.first``.

    Returns:
      A :class:`Timing`.
    """
    if repeats < 1:
        raise ValueError(f"`repeats` must be >= 1; got {repeats}.")
    first = None
    for i in range(warmup):
        seconds, _ = _timed(fn, i)
        first = seconds if i == 0 else first
    times, results = [], []
    for i in range(warmup, warmup + repeats):
        seconds, out = _timed(fn, i)
        times.append(seconds)
        results.append(out)
    return Timing(first, times, results)


def median_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``repeats`` calls of ``fn()``, after one untimed warm-up."""
    return time_calls(lambda _: fn(), repeats, warmup=1).median


def cores() -> int:
    """CPU cores this process may run on (``os.sched_getaffinity``), >= 1."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def cpu_model() -> str:
    """The CPU's "model name" from ``/proc/cpuinfo`` (else ``platform``'s guess)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: Distributions whose versions go beside every table (those installed).
LIBRARIES = (
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "diffrax",
    "numpy",
    "scipy",
    "scikit-learn",
    "torch",
    "MiniSom",
)


def library_versions() -> dict[str, str | None]:
    """``{distribution: version}`` of :data:`LIBRARIES` (None: not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def thread_pools() -> list[dict[str, Any]]:
    """The native thread pools loaded so far (BLAS, OpenMP), via threadpoolctl."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "prefix", "num_threads", "version")
    return [{k: pool.get(k) for k in keys} for pool in threadpool_info()]


def machine_info() -> dict[str, Any]:
    """CPU model and cores, platform, library versions, JAX backend, threads.

    ``cpu_count`` is ``os.cpu_count()`` (the machine), ``cores`` the CPUs this
    process may run on (what the thread counts are set to).
    """
    versions = library_versions()
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": cores(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "versions": versions,
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "sklearn": versions["scikit-learn"],
        "torch": versions["torch"],
    }
    if versions["torch"] is not None:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    info["thread_pools"] = thread_pools()
    return info


def machine_line(info: dict[str, Any] | None = None) -> str:
    """One line for beside a table: CPU model, cores, library versions, threads."""
    info = machine_info() if info is None else info
    versions = info.get("versions") or {}
    libs = ", ".join(f"{k} {v}" for k, v in versions.items() if v is not None)
    line = (
        f"machine: {info['cpu_model']}, {info['cores']} cores (affinity; "
        f"{info['cpu_count']} CPUs); Python {info['python']}; jax backend "
        f"{info['jax_backend']}; {libs}"
    )
    if info.get("torch_threads") is not None:
        line += f"; torch threads {info['torch_threads']}"
    return line


def print_machine(info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Print :func:`machine_line` (and return the info it was made from)."""
    info = machine_info() if info is None else info
    print(machine_line(info))
    return info


def _busy_seconds() -> float | None:
    """CPU seconds all processes have spent busy since boot (Linux), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class CpuMonitor:
    """Measures how much CPU other processes used while the benchmark ran.

    Other processes on a small machine (a test suite, a build) distort every
    timing; this compares the system's busy CPU time (``/proc/stat``) with this
    process's own (``os.times``) between ``start()`` and ``stop()``.
    """

    def start(self) -> CpuMonitor:
        """Record the counters now."""
        self._t0 = time.perf_counter()
        self._busy0 = _busy_seconds()
        times = os.times()
        self._own0 = times.user + times.system
        return self

    def stop(self) -> dict[str, float | None]:
        """Wall seconds and the fraction of all CPUs used by other processes."""
        wall = time.perf_counter() - self._t0
        busy = _busy_seconds()
        times = os.times()
        own = times.user + times.system - self._own0
        if busy is None or self._busy0 is None:
            return {"wall_s": wall, "other_cpu_fraction": None}
        other = max(busy - self._busy0 - own, 0.0)
        fraction = other / (wall * (os.cpu_count() or 1))
        return {"wall_s": wall, "other_cpu_fraction": round(fraction, 3)}


def warn_if_busy(usage: dict[str, float | None], limit: float = 0.05) -> None:
    """Print a warning if other processes used more than ``limit`` of the CPUs."""
    fraction = usage.get("other_cpu_fraction")
    if fraction is not None and fraction > limit:
        print(
            f"WARNING: other processes used {100 * fraction:.0f}% of the CPUs "
            "during the benchmark: timings are unreliable, rerun on an idle machine."
        )


def set_torch_threads() -> int | None:
    """Set torch's intra-op threads to :func:`cores`; return it (None: no torch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(cores())
    return torch.get_num_threads()


@dataclass
class Row:
    """One line of a results table.

    Attributes:
      workload: what was trained, e.g. ``"digits 64-64-10"``.
      impl: implementation name.
      samples_per_s: steady-state training throughput (median); None for a
        skipped row (the reason in ``extra["skipped"]``).
      compile_s: compilation seconds (None for non-JIT implementations).
      test_acc: mean test accuracy of the timed runs.
      extra: anything else to keep in the JSON.
      peer: whether the row is a peer library (PyTorch, scikit-learn) rather
        than jnn or a hand-written JAX reference.
    """

    workload: str
    impl: str
    samples_per_s: float | None
    compile_s: float | None
    test_acc: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    peer: bool = False


def skipped_row(workload: str, impl: str, reason: str, peer: bool = True) -> Row:
    """A row that could not run here, with the reason."""
    return Row(workload, impl, None, None, None, {"skipped": reason}, peer=peer)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table_lines(rows: Sequence[Row], reference: str = "jnn.fit") -> list[list[str]]:
    """Header and formatted cells.

    ``{reference}/impl`` is the reference's samples/s over the row's; ``vs
    fastest peer`` the row's samples/s over the fastest peer row's (of the
    same workload), so that on jnn's row it is jnn's speed-up.
    """
    header = ["workload", "impl", "samples/s", f"{reference}/impl", "vs fastest peer"]
    header += ["compile s", "test acc"]
    ref = {r.workload: r.samples_per_s for r in rows if r.impl == reference}
    best: dict[str, float] = {}
    for r in rows:
        if r.peer and r.samples_per_s is not None:
            best[r.workload] = max(best.get(r.workload, 0.0), r.samples_per_s)
    lines = [header]
    for r in rows:
        if r.samples_per_s is None:
            lines.append([r.workload, r.impl, "skipped", "-", "-", "-", "-"])
            continue
        ratio, fastest = ref.get(r.workload), best.get(r.workload)
        lines.append(
            [
                r.workload,
                r.impl,
                f"{r.samples_per_s:,.0f}",
                _fmt(None if ratio is None else ratio / r.samples_per_s, ".2f"),
                _fmt(None if fastest is None else r.samples_per_s / fastest, ".2f"),
                _fmt(r.compile_s, ".2f"),
                _fmt(None if r.test_acc is None else 100 * r.test_acc, ".2f") + "%",
            ]
        )
    return lines


def print_table(
    rows: Sequence[Row],
    title: str,
    reference: str = "jnn.fit",
    info: dict[str, Any] | None = None,
) -> None:
    """Print ``rows`` as a rich table (plain text if rich is missing).

    The machine line (:func:`machine_line` of ``info``) is printed above it,
    the reasons of skipped rows below.
    """
    header, *body = table_lines(rows, reference)
    print_machine(info)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(7)]
        print(title)
        for line in [header, *body]:
            print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))
    else:
        table = Table(title=title)
        for i, name in enumerate(header):
            table.add_column(name, justify="left" if i < 2 else "right")
        for line in body:
            table.add_row(*line)
        Console(width=max(160, len(title) + 4)).print(table)
    for r in rows:
        if r.samples_per_s is None:
            print(f"  skipped {r.impl}: {r.extra['skipped']}")


# --- the fastest peer -----------------------------------------------------------


def vs_fastest_peer(
    workload: str,
    jnn_impl: str,
    jnn_value: float,
    peers: dict[str, float | None],
    *,
    unit: str,
    higher_is_better: bool,
    target: float | None = None,
) -> dict[str, Any]:
    """The speed-up of jnn over the FASTEST peer row of one workload.

    Args:
      workload: the workload's name.
      jnn_impl: the jnn row compared (the one users call).
      jnn_value: its figure (samples/s, or seconds per unit of work).
      peers: every peer row's figure, in the same unit; None for skipped rows.
      unit: e.g. ``"samples/s"`` or ``"s/probe"``.
      higher_is_better: True for throughputs, False for times.
      target: the issue's target ratio, if any (kept in the result).

    Returns:
      ``{"workload", "jnn_impl", "jnn", "fastest_peer", "peer", "ratio",
      "unit", "higher_is_better", "target", "peers"}``; ``ratio`` > 1 means
      jnn is faster than the fastest peer (None without any peer row).
    """
    ran = {k: v for k, v in peers.items() if v is not None}
    pick = max if higher_is_better else min
    name = pick(ran, key=ran.__getitem__) if ran else None
    value = ran.get(name) if name else None
    ratio = None
    if value:
        ratio = jnn_value / value if higher_is_better else value / jnn_value
    return {
        "workload": workload,
        "jnn_impl": jnn_impl,
        "jnn": jnn_value,
        "fastest_peer": name,
        "peer": value,
        "ratio": ratio,
        "unit": unit,
        "higher_is_better": higher_is_better,
        "target": target,
        "peers": peers,
    }


def format_value(value: float | None, unit: str) -> str:
    """A figure with its unit, times scaled to s / ms / us."""
    if value is None:
        return "-"
    if unit.endswith("/s"):  # a throughput
        return f"{value:,.0f} {unit}"
    if unit != "s" and not unit.startswith("s/"):
        return f"{value:.4g} {unit}"
    rest = unit[1:]
    for scale, prefix in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us")):
        if abs(value) >= scale or prefix == "us":
            return f"{value / scale:.3g} {prefix}{rest}"
    return f"{value} {unit}"


def comparison_line(c: dict[str, Any]) -> str:
    """``vs fastest peer: <workload>: jnn ... vs <peer> ... -> ratio``."""
    target = "" if c.get("target") is None else f" (target >= {c['target']:g}x)"
    if c["ratio"] is None:
        return f"vs fastest peer: {c['workload']}: no peer row ran"
    return (
        f"vs fastest peer: {c['workload']}: {c['jnn_impl']} "
        f"{format_value(c['jnn'], c['unit'])} vs {c['fastest_peer']} "
        f"{format_value(c['peer'], c['unit'])} -> {c['ratio']:.2f}x{target}"
    )


def print_comparisons(comparisons: Sequence[dict[str, Any]]) -> None:
    """Print :func:`comparison_line` of each comparison."""
    for c in comparisons:
        print(comparison_line(c))


def row_comparisons(
    rows: Sequence[Row], reference: str = "jnn.fit", targets: dict | None = None
) -> list[dict[str, Any]]:
    """:func:`vs_fastest_peer` of ``reference`` for every workload of ``rows``."""
    out = []
    for workload in dict.fromkeys(r.workload for r in rows):
        mine = [r for r in rows if r.workload == workload]
        ours = next((r for r in mine if r.impl == reference), None)
        if ours is None or ours.samples_per_s is None:
            continue
        peers = {r.impl: r.samples_per_s for r in mine if r.peer}
        out.append(
            vs_fastest_peer(
                workload,
                reference,
                ours.samples_per_s,
                peers,
                unit="samples/s",
                higher_is_better=True,
                target=(targets or {}).get(workload),
            )
        )
    return out


def is_peer(row: dict[str, Any]) -> bool:
    """A dict row's ``"peer"`` flag, else: its impl is not jnn / hand-written."""
    if "peer" in row:
        return bool(row["peer"])
    return not row["impl"].startswith(("jnn", "hand"))


def workload_comparisons(
    rows: Sequence[dict[str, Any]],
    *,
    value: str = "median_s",
    unit: str = "s",
    higher_is_better: bool = False,
    jnn_impl: str | dict[str, str] | None = None,
    targets: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """:func:`vs_fastest_peer` for every workload of dict rows.

    Args:
      rows: dicts with ``workload``, ``impl`` and ``value`` (rows without it,
        or with None, are skipped rows).
      value: the key of the figure compared.
      unit: its unit.
      higher_is_better: True for throughputs.
      jnn_impl: the jnn row (per workload if a dict); default: the first row
        whose impl starts with "jnn".
      targets: the issue's target ratio per workload.
    """
    out = []
    for workload in dict.fromkeys(r["workload"] for r in rows):
        mine = [r for r in rows if r["workload"] == workload]
        want = jnn_impl.get(workload) if isinstance(jnn_impl, dict) else jnn_impl
        ours = next(
            (
                r
                for r in mine
                if (r["impl"] == want if want else r["impl"].startswith("jnn"))
                and r.get(value) is not None
            ),
            None,
        )
        peers = {r["impl"]: r.get(value) for r in mine if is_peer(r)}
        if ours is None or not peers:
            continue
        out.append(
            vs_fastest_peer(
                workload,
                ours["impl"],
                ours[value],
                peers,
                unit=unit,
                higher_is_better=higher_is_better,
                target=(targets or {}).get(workload),
            )
        )
    return out


def mode_of(args: Any) -> str:
    """``"smoke"``, ``"quick"`` or ``"full"`` from parsed ``--smoke``/``--quick``."""
    if getattr(args, "smoke", False):
        return "smoke"
    return "quick" if getattr(args, "quick", False) else "full"


def result_name(name: str, mode: str) -> str:
    """JSON name of a run: ``name`` (full), ``name_quick``, ``name_smoke``."""
    return name if mode == "full" else f"{name}_{mode}"


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (rows may be :class:`Row`) to ``results/<name>.json``."""

    def encode(obj: Any) -> Any:
        if isinstance(obj, Row):
            return asdict(obj)
        if hasattr(obj, "item"):  # numpy / jax scalars
            return obj.item()
        raise TypeError(f"cannot serialise {type(obj).__name__}")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=encode) + "\n")
    return path


# --- PyTorch reference (shared by mlp.py and mlp_mnist.py) --------------------


def torch_mlp(n_inputs: int, features: Sequence[int]):
    """``torch.nn.Sequential`` of Linear layers with ReLU between them."""
    from torch import nn

    layers: list[Any] = []
    for i, width in enumerate(features):
        layers.append(nn.Linear(n_inputs, width))
        if i < len(features) - 1:
            layers.append(nn.ReLU())
        n_inputs = width
    return nn.Sequential(*layers)


#: The PyTorch rows: ``name -> (Adam implementation, torch.compile the model,
#: intra-op threads)``, threads None meaning :func:`cores`. ``"for-loop"`` is
#: what ``torch.optim.Adam`` picks by default for CPU tensors (foreach and
#: fused are opt-in there); ``torch.compile`` uses the default inductor
#: backend and mode with fused Adam (one kernel per step). The 1-thread rows
#: are there because small models do not gain from a second thread, and on a
#: busy machine torch's OpenMP threads wait for each other (10x slower).
TORCH_VARIANTS: dict[str, tuple[str, bool, int | None]] = {
    "torch eager": ("for-loop", False, None),
    "torch eager foreach": ("foreach", False, None),
    "torch eager fused": ("fused", False, None),
    "torch.compile fused": ("fused", True, None),
    "torch eager fused 1 thread": ("fused", False, 1),
    "torch.compile fused 1 thread": ("fused", True, 1),
}

#: The :data:`TORCH_VARIANTS` rows of a ``--quick`` and of a ``--smoke`` run.
QUICK_PEERS = ["torch eager", "torch eager fused", "torch.compile fused"]
SMOKE_PEERS = ["torch eager fused"]


@contextmanager
def torch_threads(threads: int | None, compiled: bool = False):
    """Run a torch variant with ``threads`` intra-op threads (None: all cores).

    With ``compiled``, dynamo's caches are reset first: inductor's C++
    kernels bake in the thread count they were compiled for.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(cores() if threads is None else threads)
    if compiled:
        torch._dynamo.reset()
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def torch_adam(params, lr: float, impl: str = "for-loop"):
    """``torch.optim.Adam`` with the for-loop, ``foreach`` or ``fused`` kernels."""
    import torch

    kw = {
        "for-loop": {"foreach": False, "fused": False},
        "foreach": {"foreach": True},
        "fused": {"fused": True},
    }[impl]
    return torch.optim.Adam(params, lr=lr, **kw)


def failure_reason(error: BaseException) -> str:
    """A one-line reason for a skipped row (type and first line of ``error``)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0][:300] if text else ''}".rstrip(": ")


def time_or_skip(fn: Callable[[int], Any], repeats: int, warmup: int = 1):
    """:func:`time_calls`, or the failure's reason (str) if a call raises.

    For the optional peer rows (``torch.compile`` needs a C++ compiler that a
    machine may lack): the row is then reported as skipped, with the reason.
    """
    try:
        return time_calls(fn, repeats, warmup)
    except Exception as error:  # noqa: BLE001 - any failure skips the row
        return failure_reason(error)


def torch_fit(
    x,
    y,
    features: Sequence[int],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    adam: str = "for-loop",
    compile: bool = False,
):
    """Train a fresh PyTorch MLP (``torch_mlp``) with :func:`torch_train`.

    Args:
      x: ``(n, d)`` float32 tensor.
      y: ``(n,)`` int64 tensor of labels.
      features: layer widths, the last being the number of classes.
      epochs: passes over the data.
      batch_size: examples per step.
      lr: Adam learning rate.
      seed: seeds the initialisation and the shuffling.
      adam: Adam's kernels, ``"for-loop"``, ``"foreach"`` or ``"fused"``.
      compile: run the model through ``torch.compile``.

    Returns:
      The trained ``torch.nn.Module``.
    """
    import torch

    torch.manual_seed(seed)
    model = torch_mlp(x.shape[1], features)
    return torch_train(
        model,
        x,
        y,
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        adam=adam,
        compile=compile,
    )


def torch_train(
    model,
    x,
    y,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    adam: str = "for-loop",
    compile: bool = False,
):
    """A plain PyTorch CPU training loop (Adam, softmax cross-entropy).

    Each epoch draws a permutation (generator seeded with ``seed``) and steps
    over its ``n // batch_size`` full mini-batches (the remaining examples are
    skipped, as in jnn), gathering the batches from the tensors by index: no
    DataLoader.

    Args:
      model: the ``torch.nn.Module`` to train in place.
      x: ``(n, ...)`` float32 tensor.
      y: ``(n,)`` int64 tensor of labels.
      epochs: passes over the data.
      batch_size: examples per step.
      lr: Adam learning rate.
      seed: seeds the shuffling.
      adam: Adam's kernels (:func:`torch_adam`).
      compile: call the model through ``torch.compile(model)`` (forward and
        backward compiled by inductor; one graph, reused by later models of
        the same structure, so only the first training compiles).

    Returns:
      ``model``, trained.
    """
    import torch
    import torch.nn.functional as F

    opt = torch_adam(model.parameters(), lr, adam)
    forward = torch.compile(model) if compile else model
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    steps = n // batch_size
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(steps):
            idx = perm[s * batch_size : (s + 1) * batch_size]
            loss = F.cross_entropy(forward(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


def torch_accuracy(model, x, y) -> float:
    """Test accuracy of a torch classifier on tensors ``x``, ``y``."""
    import torch

    model.eval()
    with torch.no_grad():
        return float((model(x).argmax(dim=1) == y).float().mean())


def training_row(
    workload: str,
    impl: str,
    t: Timing,
    samples: int,
    accs: list[float],
    peer: bool = False,
) -> Row:
    """The table row of one implementation's timed trainings.

    Args:
      workload: what was trained.
      impl: implementation name.
      t: the timings of its whole trainings (from :func:`time_calls`).
      samples: training examples processed by one training.
      accs: test accuracy of each timed training.
      peer: whether it is a peer library's row.
    """
    return Row(
        workload,
        impl,
        samples / t.median,
        t.compile,
        statistics.mean(accs),
        extra={
            "samples_per_run": samples,
            "first_call_s": t.first,
            "times_s": t.times,
            "test_accs": accs,
        },
        peer=peer,
    )


def torch_mlp_rows(
    workload: str,
    train: dict[str, Any],
    test: dict[str, Any],
    features: Sequence[int],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    repeats: int,
) -> list[Row]:
    """One row per :data:`TORCH_VARIANTS` training a PyTorch MLP (:func:`torch_fit`).

    A variant that fails is a skipped row; an eager one's warm-up call is just
    excluded (no compile time). Without torch installed: no rows (says so).

    Args:
      workload: the rows' workload.
      train: ``{"x": (n, d) float32, "y": (n,) int}`` NumPy arrays.
      test: the same for the test accuracy.
      features: layer widths, the last being the number of classes.
      epochs: passes over ``train`` per timed call.
      batch_size: examples per step (each epoch's partial batch is skipped).
      lr: Adam's learning rate.
      repeats: timed calls of each variant.
    """
    try:
        import torch
    except ImportError:
        print("torch not installed: pip install torch==2.13.0 (skipping)")
        return []
    x, y = torch.from_numpy(train["x"]), torch.from_numpy(train["y"]).long()
    xt, yt = torch.from_numpy(test["x"]), torch.from_numpy(test["y"]).long()
    samples = epochs * (len(y) // batch_size) * batch_size
    rows = []
    for name, (adam, compiled, threads) in TORCH_VARIANTS.items():
        kw = dict(epochs=epochs, batch_size=batch_size, lr=lr)
        kw.update(adam=adam, compile=compiled)
        with torch_threads(threads, compiled):
            t = time_or_skip(
                lambda i, kw=kw: torch_fit(x, y, features, seed=i, **kw), repeats
            )
        if isinstance(t, str):
            rows.append(skipped_row(workload, name, t))
            continue
        if not compiled:
            t.first = None  # no compilation: the warm-up is just excluded
        accs = [torch_accuracy(m, xt, yt) for m in t.results]
        rows.append(training_row(workload, name, t, samples, accs, peer=True))
    return rows


def interleaved(workloads: dict, repeats: int) -> dict[str, Timing | str]:
    """Time several workloads round-robin: one warm-up call each, then rounds.

    On a shared machine the load drifts; alternating the calls makes every
    implementation see the same load (a median over the rounds). A workload
    whose warm-up or timed call raises gets the reason (a str) instead of a
    :class:`Timing` and leaves the rounds.
    """
    timings = {name: time_or_skip(fn, 1, warmup=1) for name, fn in workloads.items()}
    for i in range(2, repeats + 1):
        for name, fn in workloads.items():
            if isinstance(timings[name], str):
                continue
            t = time_or_skip(lambda _, fn=fn, i=i: fn(i), 1, warmup=0)
            if isinstance(t, str):
                timings[name] = t
                continue
            timings[name].times += t.times
            timings[name].results += t.results
    return timings


def with_threads(run: Callable[[int], Any], threads: int | None):
    """``run`` run with ``threads`` torch threads (see :func:`torch_threads`)."""

    def call(i: int):
        with torch_threads(threads):
            return run(i)

    return call


# --- the parts the training scripts share (rbm, vae, gan, rnn, transformer, ...) ---


def fit_runner(
    learner, train: dict, output: Callable[[Any], Any] | None = None, **settings
) -> Callable[[int], Any]:
    """``run(i)``: one ``jnn.train.fit`` of ``learner`` on ``train`` from seed ``i``.

    The call is ``fit(learner, train, key=jax.random.key(i), progress=False,
    **settings)``; the learner is reused, so calls after the first are not
    recompiled.

    Args:
      learner: a ``jnn.train`` learner.
      train: the training arrays (already on the device).
      output: what ``run`` returns, from fit's result; default: its ``state``.
      **settings: the rest of fit's keywords (``epochs``, ``batch_size`` or
        ``plan``).
    """
    from jnn.train import fit

    def run(i: int):
        result = fit(learner, train, key=jax.random.key(i), progress=False, **settings)
        return result.state if output is None else output(result)

    return run


def torch_workloads(
    make: Callable[[str | None, bool], Callable[[int], Any]],
    peers: Sequence[str],
    variants: dict[str, tuple[str | None, bool, int | None]] = TORCH_VARIANTS,
) -> dict[str, Callable[[int], Any]]:
    """The PyTorch rows named in ``peers``, ready for :func:`interleaved`.

    Args:
      make: ``make(adam, compiled) -> run(i)``: one training of a variant.
      peers: the names of the rows wanted.
      variants: ``name -> (adam, compiled, threads)`` as :data:`TORCH_VARIANTS`
        (``adam`` None where the workload has no Adam).

    Returns:
      ``{name: run}`` in ``variants``' order, each run with its thread count
      (:func:`with_threads`). Before a compiled variant, dynamo's caches are
      reset once (its compilation then happens in its warm-up call).
    """
    out = {}
    for name, (adam, compiled, threads) in variants.items():
        if name not in peers:
            continue
        if compiled:
            with torch_threads(threads, True):
                pass
        out[name] = with_threads(make(adam, compiled), threads)
    return out


def interleaved_with_torch(
    workloads: dict[str, Callable[[int], Any]],
    make: Callable[[str | None, bool], Callable[[int], Any]],
    peers: Sequence[str],
    repeats: int,
) -> dict[str, Timing | str]:
    """Time jnn's ``workloads`` and the PyTorch rows of :data:`TORCH_VARIANTS`.

    The eager variants named in ``peers`` are timed round-robin with
    ``workloads`` (:func:`interleaved`); the ``torch.compile`` ones after them,
    one at a time (inductor bakes the thread count into its kernels).

    Args:
      workloads: ``{name: run(i)}`` of the jnn rows.
      make: ``make(adam, compiled) -> run(i)``: one PyTorch training.
      peers: the PyTorch rows wanted (names of :data:`TORCH_VARIANTS`).
      repeats: timed calls of each row.

    Returns:
      ``{name: Timing}`` (a str: the reason a row failed), jnn rows first.
    """
    eager = {k: v for k, v in TORCH_VARIANTS.items() if not v[1]}
    timings = interleaved({**workloads, **torch_workloads(make, peers, eager)}, repeats)
    for name, (adam, compiled, threads) in TORCH_VARIANTS.items():
        if compiled and name in peers:
            with torch_threads(threads, True):
                timings[name] = time_or_skip(make(adam, True), repeats)
    return timings


def compiles(impl: str) -> bool:
    """Whether a row's first call compiles: jnn rows and ``torch.compile`` rows."""
    return impl.startswith("jnn") or "compile" in impl


def timing_rows(
    workload: str,
    timings: dict[str, Timing | str],
    samples: int,
    extra: Callable[[str, Timing], dict[str, Any]] | None = None,
) -> list[Row]:
    """The table rows of timed trainings, one per implementation.

    A row's samples/s is ``samples / median``; its compile time is kept for
    the rows that compile (:func:`compiles`), None for eager ones; rows whose
    impl does not start with "jnn" are peers; a str timing gives a
    :func:`skipped_row`.

    Args:
      workload: the rows' workload.
      timings: ``{impl: Timing or the reason it failed}``.
      samples: samples (images, tokens) one call trains on.
      extra: ``extra(impl, timing) -> dict`` kept after ``median_s``.
    """
    rows = []
    for name, result in timings.items():
        peer = not name.startswith("jnn")
        if isinstance(result, str):
            rows.append(skipped_row(workload, name, result, peer=peer))
            continue
        more = {} if extra is None else extra(name, result)
        rows.append(
            Row(
                workload,
                name,
                samples / result.median,
                result.compile if compiles(name) else None,
                None,
                {"median_s": result.median, **more},
                peer=peer,
            )
        )
    return rows


def cpu_timed(fn: Callable[[int], Any], seconds: list[float]) -> Callable[[int], Any]:
    """``fn`` that appends its process CPU seconds (result awaited) to ``seconds``."""

    def call(i: int):
        start = time.process_time()
        out = jax.block_until_ready(fn(i))
        seconds.append(time.process_time() - start)
        return out

    return call


def cpu_timed_rows(
    workload: str,
    workloads: dict[str, Callable[[int], Any]],
    repeats: int,
    images: int,
    quality: Callable[[str, Timing], dict[str, Any]],
    first_call: bool = True,
) -> list[Row]:
    """Rows of ``workloads`` timed round-robin, with each call's CPU seconds too.

    On a shared core other processes inflate the wall time, not this
    process's CPU time (:func:`cpu_timed`). Each row's extra holds
    ``median_s``, ``times_s``, ``first_call_s`` (with ``first_call``), the
    ``quality(impl, timing)`` entries, ``cpu_s`` (of the timed calls) and
    ``cpu_images_per_s`` (``images`` over their median).

    Args:
      workload: the rows' workload.
      workloads: ``{impl: run(i)}``, timed by :func:`interleaved`.
      repeats: timed calls of each.
      images: training images of one call.
      quality: ``quality(impl, timing) -> dict``: what the trained result scores.
      first_call: keep the warm-up call's seconds.
    """
    cpu: dict[str, list[float]] = {name: [] for name in workloads}
    timed = {name: cpu_timed(fn, cpu[name]) for name, fn in workloads.items()}

    def extra(name: str, t: Timing) -> dict[str, Any]:
        out: dict[str, Any] = {"times_s": t.times}
        if first_call:
            out["first_call_s"] = t.first
        out.update(quality(name, t))
        out["cpu_s"] = cpu[name][1:]  # the first call is the warm-up
        out["cpu_images_per_s"] = images / float(np.median(cpu[name][1:]))
        return out

    return timing_rows(workload, interleaved(timed, repeats), images, extra)


def print_cpu_rates(rows: Sequence[Row], detail: Callable[[Row], str]) -> None:
    """Print the images per CPU second of each row that ran, then ``detail(row)``."""
    for r in rows:
        if r.samples_per_s is not None:
            print(
                f"  {r.impl}: {r.extra['cpu_images_per_s']:,.0f} images per CPU "
                f"second; {detail(r)}"
            )


def monitored(
    info: dict[str, Any], run: Callable[[], Any], quiet: bool = False
) -> tuple[Any, float]:
    """``run()`` under a :class:`CpuMonitor`, its usage into ``info["cpu_usage"]``.

    Args:
      info: the :func:`machine_info` of the run (updated in place).
      run: the measurements.
      quiet: silence warnings while it runs.

    Returns:
      ``run()``'s result and the ``time.perf_counter()`` it started at (for
      :func:`results`' ``seconds``).
    """
    start = time.perf_counter()
    monitor = CpuMonitor().start()
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore")
        out = run()
    info["cpu_usage"] = monitor.stop()
    return out, start


def results(
    info: dict[str, Any],
    args: Any,
    rows: Sequence[Any],
    comparisons: Sequence[dict[str, Any]],
    start: float,
    **extra: Any,
) -> dict[str, Any]:
    """A run's JSON payload, in the order the scripts have always written it.

    ``machine`` (``info``), ``settings`` (``vars(args)``), ``rows``,
    ``comparisons``, then ``extra``'s entries, then ``seconds`` since ``start``.
    """
    return {
        "machine": info,
        "settings": vars(args),
        "rows": rows,
        "comparisons": comparisons,
        **extra,
        "seconds": time.perf_counter() - start,
    }


def report(
    name: str,
    args: Any,
    payload: dict[str, Any],
    *comparisons: Sequence[dict[str, Any]],
    usage: dict[str, float | None] | None = None,
) -> Path:
    """The end of a script: comparisons, busy warning, JSON.

    Prints each list of ``comparisons``, warns if other processes were busy
    (:func:`warn_if_busy` of ``usage``, if given), writes ``payload`` to
    ``results/<result_name(name, mode)>.json`` and prints its path.

    Returns:
      The path written.
    """
    for compared in comparisons:
        print_comparisons(compared)
    if usage is not None:
        warn_if_busy(usage)
    path = write_json(result_name(name, mode_of(args)), payload)
    print(f"wrote {path}")
    return path


def finish(
    name: str,
    args: Any,
    info: dict[str, Any],
    rows: Sequence[Any],
    comparisons: Sequence[dict[str, Any]],
    start: float,
    **extra: Any,
) -> Path:
    """:func:`report` of the :func:`results` payload, usage ``info["cpu_usage"]``."""
    payload = results(info, args, rows, comparisons, start, **extra)
    return report(name, args, payload, comparisons, usage=info.get("cpu_usage"))


def compiled_bytes(compiled) -> int | None:
    """Temporary + argument + output bytes of a compiled XLA executable.

    None where the backend gives no memory analysis.
    """
    memory = compiled.memory_analysis()
    if memory is None:
        return None
    return (
        memory.temp_size_in_bytes
        + memory.argument_size_in_bytes
        + memory.output_size_in_bytes
    )


def update_step_cost(learner, batch: dict[str, Any]) -> tuple[float, int | None]:
    """Seconds (median of 3, after a warm-up) and compiled bytes of one update.

    ``learner.update`` is compiled ahead of time for its state on ``batch``
    (:func:`compiled_bytes`), then timed on the same state and batch with a
    fresh key per call.
    """
    state = learner.init(jax.random.key(0), batch)
    compiled = jax.jit(learner.update).lower(state, batch, jax.random.key(1)).compile()
    nbytes = compiled_bytes(compiled)

    def step(i: int):
        return compiled(state, batch, jax.random.key(i))[1]["loss"]

    return time_calls(step, repeats=3).median, nbytes


def add_run_arguments(
    parser: argparse.ArgumentParser, peers: list[str], quick_help: str
) -> argparse.ArgumentParser:
    """Add ``--repeats`` (5), ``--peers`` (default ``peers``), ``--quick``, ``--smoke``.

    Returns:
      ``parser``.
    """
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--peers", nargs="+", default=peers, help=f"of {peers}")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--smoke", action="store_true", help="runs, not timings")
    return parser


def add_torch_peers(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--peers``: the :data:`TORCH_VARIANTS` rows to run (default: all).

    Returns:
      ``parser``.
    """
    parser.add_argument(
        "--peers",
        nargs="+",
        default=list(TORCH_VARIANTS),
        help=f"PyTorch rows, of {list(TORCH_VARIANTS)}",
    )
    return parser


def subset_args(
    doc: str, argv: list[str] | None, quick_help: str, subset_help: str
) -> tuple[argparse.Namespace, str]:
    """Parse ``--quick``, ``--smoke`` and ``--subset N`` (the peer loop's sample).

    Args:
      doc: the script's docstring (its first line describes the parser).
      argv: the arguments (None: ``sys.argv``).
      quick_help: ``--quick``'s help.
      subset_help: ``--subset``'s help.

    Returns:
      The parsed arguments and their :func:`mode_of`.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--subset", type=int, default=None, help=subset_help)
    args = parser.parse_args(argv)
    return args, mode_of(args)
