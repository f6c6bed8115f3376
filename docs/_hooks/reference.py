"""MkDocs hook: the API reference, generated from each chapter's ``__all__``.

At build time (``on_files``) this writes one page per chapter,
``reference/<chapter>.md``, with one heading per exported name (the
curriculum id in the heading) followed by a mkdocstrings ``:::`` block. New
exports therefore appear without editing the docs. ``tests/test_docs_site.py``
imports this file to compare the generated pages with the exported names.

The curriculum id of a name comes from the module that defines it
(``MODULE_IDS``, longest prefix wins; ``NAME_IDS`` overrides single names),
read from the chapter's ``__init__.py`` imports; a module not listed gets the
chapter's letter, so a new sub-package is still documented.
"""

from __future__ import annotations

import ast
import importlib
import logging
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[2]


class Chapter(NamedTuple):
    """One reference page: a package, its title and its default id."""

    slug: str
    package: str
    title: str
    default_id: str


CHAPTERS = (
    Chapter("train", "jnn.train", "Engine", "engine"),
    Chapter("data", "jnn.data", "Data", "data"),
    Chapter("nn", "jnn.nn", "Common layers", "engine"),
    Chapter("static", "jnn.static", "Static networks", "S"),
    Chapter("hopfield", "jnn.hopfield", "Hopfield networks", "D"),
    Chapter("cnn", "jnn.cnn", "Convolutional networks", "C"),
    Chapter("rnn", "jnn.rnn", "Recurrent networks", "R"),
    Chapter("transformer", "jnn.transformer", "Transformers", "T"),
    Chapter("graph", "jnn.graph", "Graph networks", "G"),
    Chapter("generative", "jnn.generative", "Generative models", "Gen"),
    Chapter("generative-gan", "jnn.generative.gan", "GANs", "Gen3"),
    Chapter("generative-vae", "jnn.generative.vae", "VAE", "Gen4"),
    Chapter("generative-diffusion", "jnn.generative.diffusion", "Diffusion", "Gen4"),
    Chapter("generative-evaluation", "jnn.generative.evaluation", "MNIST-FID", "Gen5"),
)

# Defining module (prefix) -> curriculum id(s); see /CURRICULUM ids in the docs.
MODULE_IDS = {
    "jnn.train": "engine",
    "jnn.train.stopping": "S2",
    "jnn.data": "data",
    "jnn.nn": "engine",
    "jnn.static.backprop.mlp": "S1, S3",
    "jnn.static.backprop.diagnostics": "S3",
    "jnn.static.backprop.calibration": "S5",
    "jnn.static.comparison": "S0",
    "jnn.static.maps": "S1",
    "jnn.static.som_ring": "S1",
    "jnn.static.mixtures.mixture_data": "S6",
    "jnn.static.mixtures.kmeans": "S9",
    "jnn.static.mixtures.mixture": "S6",
    "jnn.static.mixtures.predict": "S6",
    "jnn.static.mixtures.vb": "S7",
    "jnn.static.mixtures.vb_fit": "S7",
    "jnn.static.radial.output_layer": "S4",
    "jnn.static.radial.pnn": "S1, S5",
    "jnn.static.radial.prbf": "S5",
    "jnn.static.radial.prbf_fit": "S5",
    "jnn.static.radial.rbf": "S4, S8",
    "jnn.static.radial.rbf_net": "S8",
    "jnn.static.radial.units": "S4",
    "jnn.hopfield.discrete.rules": "D6",
    "jnn.hopfield.discrete.dhnn": "D6, D8",
    "jnn.hopfield.discrete.dense": "D11",
    "jnn.hopfield.discrete.basins": "D9",
    "jnn.hopfield.discrete.trials": "D9",
    "jnn.hopfield.discrete.capacity": "D11",
    "jnn.hopfield.discrete.spurious": "D11",
    "jnn.hopfield.discrete.correlated": "D11",
    "jnn.hopfield.continuous": "D3",
    "jnn.hopfield.continuous.lyapunov": "D2",
    "jnn.hopfield.continuous.robustness": "D4",
    "jnn.hopfield.problems": "D5",
    "jnn.cnn": "C1",
    "jnn.cnn.efficient": "C2",
    "jnn.cnn.counting": "C2",
    "jnn.rnn": "R3",
    "jnn.rnn.gradients": "R1",
    "jnn.rnn.dropout": "R2",
    "jnn.rnn.layernorm": "R2",
    "jnn.rnn.language_model": "R2, R3",
    "jnn.transformer": "T2",
    "jnn.transformer.efficient": "T1, T4",
    "jnn.transformer.gpt": "T3",
    "jnn.transformer.generate": "T3",
    "jnn.transformer.bert": "T3",
    "jnn.transformer.packing": "T3",
    "jnn.transformer.pretraining": "T3",
    "jnn.graph": "G2",
    "jnn.graph.adjacency": "G1",
    "jnn.graph.embeddings": "G1",
    "jnn.graph.smoothing": "G3",
    "jnn.graph.inductive": "G4",
    "jnn.generative": "Gen",
    "jnn.generative.boltzmann": "Gen2",
    "jnn.generative.boltzmann.machine": "Gen1",
    "jnn.generative.boltzmann.machine_exact": "Gen1",
    "jnn.generative.boltzmann.machine_learning": "Gen1",
    "jnn.generative.evaluation": "Gen5",
    "jnn.generative.gan": "Gen3",
    "jnn.generative.vae": "Gen4",
    "jnn.generative.diffusion": "Gen4",
}
NAME_IDS = {
    "jnn.static.kmeans_predict": "S9",
    "jnn.static.vb_gmm_predict": "S7",
    "jnn.static.vb_gmm_predict_proba": "S7",
    "jnn.hopfield.storkey": "D11",
    "jnn.hopfield.pseudo_inverse": "D11",
    "jnn.hopfield.error_correcting": "D11",
    "jnn.hopfield.repeated_learning": "D11",
    "jnn.cnn.channel_shuffle": "C2",
    "jnn.cnn.GlobalAvgPool": "C2",
}

# Griffe docstring warnings tolerated (logged at INFO, not failing --strict)
# for modules being rewritten; keep it empty (see docs/README.md).
TOLERATED_WARNING_MODULES: tuple[str, ...] = ()


def exported_names(package: str) -> list[str]:
    """The package's ``__all__``, in its order (the module is imported)."""
    return list(importlib.import_module(package).__all__)


def defining_modules(package: str) -> dict[str, tuple[str, str]]:
    """Exported name -> (module, name there), read from ``__init__.py`` imports."""
    init = ROOT / Path(*package.split(".")) / "__init__.py"
    origin: dict[str, tuple[str, str]] = {}
    for node in ast.walk(ast.parse(init.read_text())):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:  # relative to the package (``from .gan import GAN``)
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            module = f"{base}.{node.module}" if node.module else base
        else:
            module = node.module
        for alias in node.names:
            source = module
            if source == package:  # ``from jnn.x import submodule``
                source = f"{package}.{alias.name}"
            origin[alias.asname or alias.name] = (source, alias.name)
    return origin


def curriculum_id(chapter: Chapter, name: str, module: str) -> str:
    """The curriculum id(s) of ``chapter.package.name`` defined in ``module``."""
    qualified = f"{chapter.package}.{name}"
    if qualified in NAME_IDS:
        return NAME_IDS[qualified]
    best = ""
    for prefix in MODULE_IDS:
        if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(
            best
        ):
            best = prefix
    return MODULE_IDS[best] if best else chapter.default_id


class Entry(NamedTuple):
    """One exported name on a reference page."""

    name: str
    module: str
    ids: str
    is_module: bool
    static: bool  # griffe can read its definition (else: rendered by value)


def statically_defined(module: str, name: str) -> bool:
    """Whether ``module`` defines ``name`` in a form griffe resolves.

    A top-level ``def``, ``class``, ``name = ...``, ``name: T = ...`` or an
    import; tuple unpacking (``A, B = range(2)``) is not, and such names are
    rendered from their value instead of failing the build.
    """
    path = ROOT / Path(*module.split("."))
    path = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    if not path.exists():
        return True
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Assign):
            if any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
                return True
        elif isinstance(node, ast.AnnAssign):
            if isinstance(node.target, ast.Name) and node.target.id == name:
                return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            if any((a.asname or a.name.split(".")[0]) == name for a in node.names):
                return True
    return False


def entries(chapter: Chapter) -> list[Entry]:
    """Every exported name of ``chapter`` with its module and curriculum id."""
    package = importlib.import_module(chapter.package)
    origin = defining_modules(chapter.package)
    out = []
    for name in exported_names(chapter.package):
        module, original = origin.get(name, (chapter.package, name))
        is_module = type(getattr(package, name, None)).__name__ == "module"
        out.append(
            Entry(
                name,
                module,
                curriculum_id(chapter, name, module),
                is_module,
                is_module or statically_defined(module, original),
            )
        )
    return out


def _group_key(ids: str) -> tuple:
    head = ids.split(",")[0].strip()
    letters = head.rstrip("0123456789")
    digits = head[len(letters) :]
    return (letters, int(digits) if digits else -1, ids)


def reference_page(chapter: Chapter) -> str:
    """The Markdown of ``reference/<slug>.md``: one ``:::`` block per name.

    Each block's heading is ``<name> · <curriculum id>`` and its anchor the
    qualified name (``reference/static.md#jnn.static.MLP``).
    """
    items = entries(chapter)
    lines = [
        f"# {chapter.title} (`{chapter.package}`)",
        "",
        f"Generated from `{chapter.package}.__all__` when the site is built "
        f"({len(items)} names); the curriculum id follows each name. "
        "Import every name from the chapter package.",
        "",
    ]
    groups: dict[str, list[Entry]] = {}
    for item in items:
        groups.setdefault(item.ids, []).append(item)
    for ids in sorted(groups, key=_group_key):
        lines += [f"## {ids}", ""]
        for item in groups[ids]:
            target = f"{chapter.package}.{item.name}"
            heading = f"{item.name} · {item.ids}"
            if not item.static:
                value = repr(
                    getattr(importlib.import_module(chapter.package), item.name)
                )
                lines += [
                    f"### {heading} {{#{target}}}",
                    "",
                    f"`{target} = {value[:200]}` (defined in `{item.module}`).",
                    "",
                ]
                continue
            lines += [
                f"::: {target}",
                "    options:",
                "      show_root_heading: true",
                "      heading_level: 3",
                f'      heading: "{heading}"',
                f'      toc_label: "{heading}"',
            ]
            if item.is_module:
                lines.append("      members: false")
            lines.append("")
    return "\n".join(lines)


class _TolerateModules(logging.Filter):
    """Turn griffe's docstring warnings on tolerated modules into INFO records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and any(
            part in record.getMessage() for part in TOLERATED_WARNING_MODULES
        ):
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def on_startup(command, dirty):  # noqa: D103 (MkDocs hook)
    for name in (
        "griffe",
        "mkdocs.plugins.griffe",
        "mkdocs.plugins.mkdocstrings",
        "mkdocs.plugins.mkdocs_autorefs",
        "mkdocs_autorefs",
    ):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _TolerateModules) for f in logger.filters):
            logger.addFilter(_TolerateModules())


def on_files(files, config):  # noqa: D103 (MkDocs hook)
    from mkdocs.structure.files import File

    for chapter in CHAPTERS:
        files.append(
            File.generated(
                config,
                f"reference/{chapter.slug}.md",
                content=reference_page(chapter),
            )
        )
    return files
