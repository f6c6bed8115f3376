"""The demo registry behind ``jnn list | run NAME | tour``.

Each chapter registers its demos in the modules of its ``demos`` sub-package with
:func:`register`; a demo is a function ``demo(config) -> DemoResult`` that
trains on real data, writes its plots into ``config.out`` and returns one
headline number. ``config.smoke`` asks for a seconds-long run (used by tests).

:func:`demo_index` reads the ``@register(...)`` lines of those modules without
importing them, so ``jnn list`` answers at once and ``jnn run NAME`` imports
one chapter's demo module, not every chapter (about a second less on a CPU).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple


def demo_modules() -> Iterator[str]:
    """Names of the modules that register demos: every ``jnn.<chapter>.demos.*``.

    Found on disk, in name order, without importing the chapters.
    """
    root = Path(__file__).parent
    for chapter in pkgutil.iter_modules([str(root)]):
        folder = root / chapter.name / "demos"
        if chapter.ispkg and (folder / "__init__.py").is_file():
            for info in pkgutil.iter_modules([str(folder)]):
                if not info.ispkg:
                    yield f"jnn.{chapter.name}.demos.{info.name}"


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


class DemoEntry(NamedTuple):
    """A demo as its module's source declares it (nothing imported)."""

    name: str
    chapter: str
    description: str
    module: str


def _is_literal_register(decorator: ast.expr) -> bool:
    """``register("name", "chapter", "description")`` with three literal strings."""
    return (
        isinstance(decorator, ast.Call)
        and isinstance(decorator.func, ast.Name)
        and decorator.func.id == "register"
        and len(decorator.args) == 3
        and all(
            isinstance(a, ast.Constant) and isinstance(a.value, str)
            for a in decorator.args
        )
    )


def _declared(module: str) -> list[DemoEntry]:
    """The module-level ``@register(...)`` demos of ``module``, in source order.

    Source order is the order in which importing the module registers them.
    """
    path = Path(__file__).parent.joinpath(*module.split(".")[1:]).with_suffix(".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        DemoEntry(*(a.value for a in decorator.args), module)
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if _is_literal_register(decorator)
    ]


def demo_index() -> dict[str, DemoEntry]:
    """Every demo declared by literal ``@register`` arguments, by name, in order.

    Read from the sources of :func:`demo_modules` (``ast``), so nothing is
    imported; the order is :func:`registry`'s (module, then line).
    """
    return {e.name: e for m in demo_modules() for e in _declared(m)}


def registry() -> dict[str, Demo]:
    """All demos of all chapters, by name, in :func:`demo_index`'s order."""
    for module in demo_modules():
        importlib.import_module(module)
    order = {name: i for i, name in enumerate(demo_index())}
    names = sorted(_REGISTRY, key=lambda n: order.get(n, len(order)))
    return {name: _REGISTRY[name] for name in names}


def get(name: str) -> Demo:
    """The demo called ``name``.

    Raises:
      ValueError: no such demo (the message lists the known ones).
    """
    entry = demo_index().get(name)
    if entry is not None:  # import that demo's module only
        importlib.import_module(entry.module)
        if name in _REGISTRY:
            return _REGISTRY[name]
    demos = registry()  # demos registered some other way
    if name not in demos:
        raise ValueError(f"unknown demo {name!r}; known: {', '.join(demos)}.")
    return demos[name]
