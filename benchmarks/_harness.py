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
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import jax

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


def machine_info() -> dict[str, Any]:
    """CPU count, platform, library versions, JAX backend/devices, torch threads."""
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
    }
    try:
        import torch
    except ImportError:  # torch is optional (pip install "jnn[benchmarks]")
        info["torch"] = None
    else:
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    try:
        import sklearn
    except ImportError:
        info["sklearn"] = None
    else:
        info["sklearn"] = sklearn.__version__
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
    """Set torch's intra-op threads to the CPU count; return it (None: no torch)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.get_num_threads()


@dataclass
class Row:
    """One line of a results table.

    Attributes:
      workload: what was trained, e.g. ``"digits 64-64-10"``.
      impl: implementation name.
      samples_per_s: steady-state training throughput (median).
      compile_s: compilation seconds (None for non-JIT implementations).
      test_acc: mean test accuracy of the timed runs.
      extra: anything else to keep in the JSON.
    """

    workload: str
    impl: str
    samples_per_s: float
    compile_s: float | None
    test_acc: float | None
    extra: dict[str, Any] = field(default_factory=dict)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table_lines(rows: Sequence[Row], reference: str = "jnn.fit") -> list[list[str]]:
    """Header and formatted cells; the ratio column is ``reference`` / row."""
    header = ["workload", "impl", "samples/s", f"{reference}/impl", "compile s"]
    header.append("test acc")
    ref = {r.workload: r.samples_per_s for r in rows if r.impl == reference}
    lines = [header]
    for r in rows:
        ratio = ref.get(r.workload)
        lines.append(
            [
                r.workload,
                r.impl,
                f"{r.samples_per_s:,.0f}",
                _fmt(None if ratio is None else ratio / r.samples_per_s, ".2f"),
                _fmt(r.compile_s, ".2f"),
                _fmt(None if r.test_acc is None else 100 * r.test_acc, ".2f") + "%",
            ]
        )
    return lines


def print_table(rows: Sequence[Row], title: str, reference: str = "jnn.fit") -> None:
    """Print ``rows`` as a rich table (plain text if rich is missing)."""
    header, *body = table_lines(rows, reference)
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(6)]
        print(title)
        for line in [header, *body]:
            print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))
        return
    table = Table(title=title)
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i < 2 else "right")
    for line in body:
        table.add_row(*line)
    Console(width=max(100, len(title) + 4)).print(table)


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


def torch_fit(
    x,
    y,
    features: Sequence[int],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
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

    Returns:
      The trained ``torch.nn.Module``.
    """
    import torch

    torch.manual_seed(seed)
    model = torch_mlp(x.shape[1], features)
    return torch_train(
        model, x, y, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed
    )


def torch_train(model, x, y, *, epochs: int, batch_size: int, lr: float, seed: int):
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

    Returns:
      ``model``, trained.
    """
    import torch
    import torch.nn.functional as F

    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]
    steps = n // batch_size
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for s in range(steps):
            idx = perm[s * batch_size : (s + 1) * batch_size]
            loss = F.cross_entropy(model(x[idx]), y[idx])
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
    workload: str, impl: str, t: Timing, samples: int, accs: list[float]
) -> Row:
    """The table row of one implementation's timed trainings.

    Args:
      workload: what was trained.
      impl: implementation name.
      t: the timings of its whole trainings (from :func:`time_calls`).
      samples: training examples processed by one training.
      accs: test accuracy of each timed training.
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
    )
