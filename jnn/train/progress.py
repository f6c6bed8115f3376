"""A rich progress bar for :func:`jnn.train.fit`: epoch, loss, val metric, speed.

Shown only when standard output is a terminal (or when forced with
``progress=True``); silent in pipes, CI logs and with ``progress=False``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)


def progress_wanted(progress: bool | None) -> bool:
    """Whether to show the bar: ``progress`` if given, else "stdout is a tty"."""
    return sys.stdout.isatty() if progress is None else bool(progress)


class EpochProgress:
    """Context manager that shows one line of training progress.

    Args:
      total: epochs planned.
      examples_per_epoch: examples processed per epoch (for throughput).
      enabled: True/False to force, None to show only on a terminal.
      start: epochs already done (when resuming).
    """

    def __init__(
        self, total: int, examples_per_epoch: int, enabled: bool | None, start: int = 0
    ):
        self.enabled = progress_wanted(enabled)
        self.examples = examples_per_epoch
        self.total, self.start = total, start
        self._last = time.perf_counter()
        self._bar: Progress | None = None

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            self._bar = Progress(
                TextColumn("[bold]epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
            )
            self._bar.start()
            self._task = self._bar.add_task(
                "fit", total=self.total, completed=self.start, info=""
            )
        self._last = time.perf_counter()
        return self

    def update(self, epoch: int, record: dict[str, Any]) -> None:
        """Advance to ``epoch`` epochs done, showing the epoch's ``record``."""
        if self._bar is None:
            return
        now = time.perf_counter()
        speed = self.examples / max(now - self._last, 1e-9)
        self._last = now
        shown = [f"loss {float(record['loss']):.4g}"] if "loss" in record else []
        shown += [
            f"{k} {float(v):.4g}"
            for k, v in record.items()
            if k.startswith("val_") and getattr(v, "ndim", 0) == 0
        ][:2]
        shown.append(f"{speed:,.0f} ex/s")
        self._bar.update(self._task, completed=epoch, info="  ".join(shown))

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
