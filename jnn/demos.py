"""The demo registry behind ``jnn list | run NAME | tour``.

Each chapter registers its demos in the modules of its ``demos`` sub-package with
:func:`register`; a demo is a function ``demo(config) -> DemoResult`` that
trains on real data, writes its plots into ``config.out`` and returns one
headline number. ``config.smoke`` asks for a seconds-long run (used by tests).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


def demo_modules() -> Iterator[str]:
    """Names of the modules that register demos: every ``jnn.<chapter>.demos.*``."""
    import jnn

    for info in pkgutil.walk_packages(jnn.__path__, "jnn."):
        parts = info.name.split(".")
        if len(parts) == 4 and parts[2] == "demos" and not info.ispkg:
            yield info.name


@dataclass(frozen=True)
class DemoConfig:
    """Settings shared by every demo.

    Attributes:
      out: folder for plots (created if missing).
      seed: seed of every PRNG key the demo draws.
      epochs: override of the demo's default number of epochs.
      smoke: tiny sizes, for tests.
    """

    out: Path = field(default_factory=lambda: Path("jnn-output"))
    seed: int = 0
    epochs: int | None = None
    smoke: bool = False

    def epochs_or(self, default: int, smoke: int = 2) -> int:
        """The epochs to run: the override, else the smoke or default size."""
        if self.epochs is not None:
            return self.epochs
        return smoke if self.smoke else default


class DemoResult(NamedTuple):
    """What a demo reports: one headline metric, its plots and a summary."""

    dataset: str
    metric: str
    value: float
    figures: tuple[Path, ...] = ()
    summary: str = ""


class Demo(NamedTuple):
    """A registered demo."""

    name: str
    chapter: str
    description: str
    run: Callable[[DemoConfig], DemoResult]


_REGISTRY: dict[str, Demo] = {}


def register(name: str, chapter: str, description: str):
    """Decorator registering ``fn(config) -> DemoResult`` as demo ``name``."""

    def decorator(fn: Callable[[DemoConfig], DemoResult]):
        _REGISTRY[name] = Demo(name, chapter, description, fn)
        return fn

    return decorator


def registry() -> dict[str, Demo]:
    """All demos of all chapters, by name, in registration order."""
    for module in demo_modules():
        importlib.import_module(module)
    return dict(_REGISTRY)


def get(name: str) -> Demo:
    """The demo called ``name``.

    Raises:
      ValueError: no such demo (the message lists the known ones).
    """
    demos = registry()
    if name not in demos:
        raise ValueError(f"unknown demo {name!r}; known: {', '.join(demos)}.")
    return demos[name]
