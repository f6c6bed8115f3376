"""Small matplotlib helpers shared by the demos (PNG files, no display)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save(fig, path: Path) -> Path:
    """Save ``fig`` as a PNG at ``path`` (folders created) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def curves(
    series: Mapping[str, Sequence[float]],
    path: Path,
    *,
    title: str,
    ylabel: str,
    log: bool = False,
    marks: Mapping[str, int] | None = None,
) -> Path:
    """Plot named per-epoch curves (e.g. train and val loss) with epoch marks.

    Args:
      series: ``{label: values per epoch}``.
      path: PNG file to write.
      title: figure title.
      ylabel: y-axis label.
      log: logarithmic y axis.
      marks: ``{label: epoch}`` drawn as vertical dashed lines.
    """
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=label)
    for label, epoch in (marks or {}).items():
        ax.axvline(epoch + 1, linestyle="--", color="gray")
        ax.annotate(
            label,
            (epoch + 1, ax.get_ylim()[1]),
            rotation=90,
            va="top",
            ha="right",
            fontsize=8,
        )
    ax.set(xlabel="epoch", ylabel=ylabel, title=title)
    if log:
        ax.set_yscale("log")
    ax.legend()
    return save(fig, path)


def loss_history(
    history: Mapping[str, Sequence[float]],
    path: Path,
    *,
    title: str,
    ylabel: str = "cross-entropy",
    log: bool = True,
    marks: Mapping[str, int] | None = None,
) -> Path:
    """Plot a ``fit`` history's training loss and, if recorded, validation loss."""
    series = {"train": history["loss"]}
    if "val_loss" in history:
        series["validation"] = history["val_loss"]
    return curves(series, path, title=title, ylabel=ylabel, log=log, marks=marks)
