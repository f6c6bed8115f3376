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


def image_grid(
    images: np.ndarray,
    path: Path,
    title: str,
    *,
    signed: bool = False,
    limit: int = 100,
) -> Path:
    """Up to ``limit`` 28 x 28 images tiled 10 per row into one PNG.

    Args:
      images: ``(n, 784)`` or ``(n, 28, 28)``; values in [0, 1] (grey), or any
        sign with ``signed=True`` (a diverging map symmetric about 0, e.g.
        filters).
      path: the PNG to write.
      title: the figure's title.
      signed: draw signed values (filters) instead of intensities.
      limit: the most images drawn.

    Returns:
      ``path``.
    """
    images = np.asarray(images)[:limit].reshape(-1, 28, 28)
    rows = -(-len(images) // 10)
    tiles = np.full((rows * 10, 28, 28), np.nan)
    tiles[: len(images)] = images
    mosaic = tiles.reshape(rows, 10, 28, 28).transpose(0, 2, 1, 3)
    mosaic = np.pad(mosaic, ((0, 0), (1, 1), (0, 0), (1, 1)), constant_values=np.nan)
    mosaic = mosaic.reshape(rows * 30, 10 * 30)
    top = float(np.nanmax(np.abs(mosaic))) if signed else 1.0
    fig, ax = plt.subplots(figsize=(6, 0.6 * rows + 0.4))
    ax.imshow(
        mosaic,
        cmap="RdBu_r" if signed else "gray",
        vmin=-top if signed else 0.0,
        vmax=top,
    )
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return save(fig, path)
