"""Griffe extension: read jnn's docstrings the way their authors wrote them.

Two conventions of the code base that griffe's Google parser does not know:

* ``Example:`` (singular) opens the doctest section in every module; griffe
  only treats ``Examples:`` as code and would render ``>>>`` as nested
  quotes. It is renamed before parsing.
* A paragraph ending in ``::`` (reST's literal block) ends in ``:``; the
  indented block after it is Markdown code already.
* Sphinx roles (``:func:`fit```, ``:class:`Learner```) become inline code;
  ``:math:`...``` and ``.. math::`` blocks become MathJax (arithmatex's
  ``$...$`` and ``$$...$$``).

The source files are not changed; only the text griffe parses.
"""

from __future__ import annotations

import re

import griffe

_EXAMPLE = re.compile(r"^(\s*)Example:[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj|exc):`~?([^`]+)`")
_INLINE_MATH = re.compile(r":math:`([^`]+)`")
_LITERAL = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)
_MATH = re.compile(r"^(\s*)\.\. math::[ \t]*(.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _math_blocks(text: str) -> str:
    """``.. math::`` directives (with their indented lines) as ``$$`` blocks."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        match = _MATH.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        indent, body = match.group(1), [match.group(2).strip()]
        i += 1
        while i < len(lines) and (_indent(lines[i]) > len(indent) and lines[i].strip()):
            body.append(lines[i].strip())
            i += 1
        out += ["", f"{indent}$$", *(indent + b for b in body if b), f"{indent}$$", ""]
    return "\n".join(out)


def normalise(text: str) -> str:
    """The docstring ``text`` with the conventions above rewritten."""
    text = _EXAMPLE.sub(r"\1Examples:", text)
    text = _INLINE_MATH.sub(lambda m: f"${m.group(1)}$", text)
    text = _ROLE.sub(r"`\1`", _math_blocks(text))
    return _LITERAL.sub(r"\1:", text)


class JnnDocstrings(griffe.Extension):
    """Rewrite every docstring griffe loads (see the module docstring)."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: D102
        if obj.docstring is not None:
            obj.docstring.value = normalise(obj.docstring.value)
