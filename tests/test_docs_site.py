"""The documentation site (docs/, mkdocs.yml): code runs, names and links resolve.

1. Every fenced ``python`` block of docs/*.md runs; a page's blocks run in order
   in one fresh namespace. A block whose fence carries more than the language
   (```` ```python title="..." ````) or that follows a ``<!-- skip -->`` line is
   shown, not run.
2. Every name each chapter exports (``__all__``) is on its generated reference
   page, under a heading with its curriculum id; every chapter is documented.
3. Relative links and their anchors in docs/*.md resolve (generated reference
   pages included).
4. ``mkdocs build --strict`` succeeds and renders every static name (skipped
   when MkDocs is not installed).
"""

import importlib
import importlib.util
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if not p.name.startswith("README"))
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,})(?P<info>[^`\n]*)$")
# A chapter's letter alone is the id of a module MODULE_IDS does not list yet.
CURRICULUM_ID = re.compile(r"^(engine|data|(S|D|C|R|T|G|Gen)\d*)(, |$)")


def _hook():
    spec = importlib.util.spec_from_file_location(
        "docs_reference_hook", DOCS / "_hooks" / "reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HOOK = _hook()


def code_blocks(text: str) -> list[tuple[str, str, bool]]:
    """``(info, code, skipped)`` for every fenced block of a Markdown text."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, info = match["indent"], match["fence"], match["info"].strip()
        before = next((s.strip() for s in reversed(lines[:i]) if s.strip()), "")
        body, i = [], i + 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i][len(indent) :])
            i += 1
        blocks.append((info, "\n".join(body), before == "<!-- skip -->"))
        i += 1
    return blocks


def runnable(page: Path) -> list[str]:
    """The page's ``python`` blocks that are meant to run, in order."""
    return [
        code
        for info, code, skipped in code_blocks(page.read_text())
        if info == "python" and not skipped
    ]


def test_parser_finds_and_skips_blocks():
    text = (
        "```python\na = 1\n```\n\n<!-- skip -->\n```python\nboom()\n```\n"
        '```python title="x.py"\nboom()\n```\n  ```bash\nls\n  ```\n'
    )
    blocks = code_blocks(text)
    assert [b[0] for b in blocks] == ["python", "python", 'python title="x.py"', "bash"]
    assert [b[2] for b in blocks] == [False, True, False, False]
    assert blocks[0][1] == "a = 1"


CODE_PAGES = [p for p in PAGES if runnable(p)]


@pytest.mark.parametrize(
    "page", CODE_PAGES, ids=[str(p.relative_to(DOCS)) for p in CODE_PAGES]
)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # blocks that write files write them here
    namespace = {"__name__": f"docs_{page.stem}"}
    for n, code in enumerate(runnable(page)):
        try:
            exec(
                compile(code, f"{page.relative_to(DOCS)}[block {n}]", "exec"), namespace
            )
        except Exception as err:  # pragma: no cover - the message is the point
            raise AssertionError(
                f"{page.relative_to(DOCS)}, python block {n} failed:\n{code}"
            ) from err


def test_every_chapter_has_a_reference_page():
    import jnn

    documented = {chapter.package for chapter in HOOK.CHAPTERS}
    packages = {
        f"jnn.{name}"
        for name in jnn.__all__
        if type(getattr(jnn, name)).__name__ == "module"
    }
    assert packages <= documented, f"no reference page for {packages - documented}"
    nav = (ROOT / "mkdocs.yml").read_text()
    for chapter in HOOK.CHAPTERS:
        assert f"reference/{chapter.slug}.md" in nav


@pytest.mark.parametrize("chapter", HOOK.CHAPTERS, ids=lambda c: c.slug)
def test_reference_lists_every_exported_name(chapter):
    exported = importlib.import_module(chapter.package).__all__
    page = HOOK.reference_page(chapter)
    # Headings are "<name> · <curriculum id>": mkdocstrings' ``heading`` option
    # for ::: blocks, a Markdown heading for names rendered by value.
    headings = dict(re.findall(r'heading: "([^"]+) · ([^"]+)"', page))
    headings.update(re.findall(r"^### (\S+) · (.+?) \{#", page, re.MULTILINE))
    assert sorted(headings) == sorted(exported)
    for name in exported:
        target = f"{chapter.package}.{name}"
        assert f"::: {target}\n" in page or f"{{#{target}}}" in page, name
        assert CURRICULUM_ID.match(headings[name]), (name, headings[name])


def test_reference_ids_follow_the_defining_module():
    by_slug = {chapter.slug: chapter for chapter in HOOK.CHAPTERS}
    static = {e.name: e.ids for e in HOOK.entries(by_slug["static"])}
    assert static["kmeans_fit"] == "S9" and static["gmm_fit"] == "S6"
    assert static["compare"] == "S0" and static["vb_gmm_predict"] == "S7"
    hopfield = {e.name: e.ids for e in HOOK.entries(by_slug["hopfield"])}
    assert hopfield["lyapunov_check"] == "D2" and hopfield["capacity_curve"] == "D11"


# ---- links ---------------------------------------------------------------

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*(?:\{#([^}]+)\})?\s*$", re.MULTILINE)


def slugify(text: str) -> str:
    """Python-Markdown's ``toc`` slug of a heading's text."""
    text = re.sub(r"[`*]", "", text)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def anchors(markdown: str) -> set[str]:
    """Heading ids of a Markdown page (explicit ``{#id}`` or the toc slug)."""
    found = set()
    for title, explicit in HEADING.findall(
        re.sub(r"```.*?```", "", markdown, flags=re.S)
    ):
        found.add(explicit or slugify(title))
    found.update(re.findall(r"^::: (\S+)$", markdown, re.MULTILINE))
    return found


def site_pages() -> dict[str, str]:
    """Every page of the site by path under docs/, generated ones included."""
    pages = {str(p.relative_to(DOCS)): p.read_text() for p in PAGES}
    for chapter in HOOK.CHAPTERS:
        pages[f"reference/{chapter.slug}.md"] = HOOK.reference_page(chapter)
    return pages


def test_internal_links_resolve():
    pages = site_pages()
    page_anchors = {path: anchors(text) for path, text in pages.items()}
    broken = []
    for path, text in pages.items():
        text = re.sub(r"```.*?```|<!--.*?-->", "", text, flags=re.S)
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+://|^mailto:", target):
                continue
            file, _, anchor = target.partition("#")
            resolved = (DOCS / path).parent / file if file else DOCS / path
            rel = str(resolved.resolve().relative_to(DOCS.resolve())) if file else path
            if file and rel not in pages and not resolved.exists():
                broken.append(f"{path}: {target} (no such file)")
            elif anchor and rel in pages and anchor not in page_anchors[rel]:
                broken.append(f"{path}: {target} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_link_checker_catches_broken_links():
    assert slugify("`kmeans_fit` · S9") == "kmeans_fit-s9"
    assert slugify("Data parallelism and several processes") == (
        "data-parallelism-and-several-processes"
    )
    assert anchors("# A b\n## `x` · S1\n### c {#jnn.x}\n") == {"a-b", "x-s1", "jnn.x"}


# ---- the build -----------------------------------------------------------


def test_mkdocs_build_strict(tmp_path):
    # ~12 s of CPU on one core; skipped unless the `docs` extra is installed
    # (CI builds the site with `make docs`).
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    pytest.importorskip("material")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    html = (site / "reference" / "static" / "index.html").read_text()
    for name in importlib.import_module("jnn.static").__all__:
        assert f'id="jnn.static.{name}"' in html, name
