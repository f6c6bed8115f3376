"""TSPLIB95 reader: symmetric TSP instances and their optimal tours.

Reads the TSPLIB text format (G. Reinelt, "TSPLIB - A Traveling Salesman
Problem Library", ORSA Journal on Computing 3(4):376-384, 1991; format in
TSPLIB95's DOC.PS, section 2) into integer-valued distance matrices with the
library's own rounding rules, so published optimal lengths are reproduced
exactly. Bundled instances live in ``jnn/data/files/tsplib`` (provenance and
checksums in the README there); a bare name such as ``"berlin52"`` loads one.

Supported: ``TYPE: TSP``; ``EDGE_WEIGHT_TYPE`` ``EUC_2D``, ``CEIL_2D``, ``ATT``,
``GEO`` and ``EXPLICIT`` with ``EDGE_WEIGHT_FORMAT`` ``FULL_MATRIX``,
``UPPER_ROW``, ``LOWER_ROW``, ``UPPER_DIAG_ROW``, ``LOWER_DIAG_ROW`` (and their
``*_COL`` twins, identical for a symmetric matrix). Anything else raises a
``ValueError`` that names the unsupported field.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

__all__ = [
    "OPTIMAL_LENGTHS",
    "TSPInstance",
    "TSPLIB_DIR",
    "load_tour",
    "load_tsplib",
    "tsplib_instances",
]

TSPLIB_DIR = Path(__file__).parent / "files" / "tsplib"

# TSPLIB95's published optimal tour lengths (bestSolutions.txt), keyed by NAME.
OPTIMAL_LENGTHS: dict[str, float] = {
    "a280": 2579.0,
    "att48": 10628.0,
    "bayg29": 1610.0,
    "bays29": 2020.0,
    "berlin52": 7542.0,
    "burma14": 3323.0,
    "ch130": 6110.0,
    "ch150": 6528.0,
    "eil101": 629.0,
    "eil51": 426.0,
    "fri26": 937.0,
    "gr24": 1272.0,
    "gr48": 5046.0,
    "gr96": 55209.0,
    "kroC100": 20749.0,
    "kroD100": 21294.0,
    "lin105": 14379.0,
    "st70": 675.0,
    "ulysses16": 6859.0,
    "ulysses22": 7013.0,
}
# The DIMENSION of each of those instances: a file is only credited with the
# published optimum when both its NAME and its DIMENSION match.
_OPTIMUM_DIMENSIONS: dict[str, int] = {
    "a280": 280,
    "att48": 48,
    "bayg29": 29,
    "bays29": 29,
    "berlin52": 52,
    "burma14": 14,
    "ch130": 130,
    "ch150": 150,
    "eil101": 101,
    "eil51": 51,
    "fri26": 26,
    "gr24": 24,
    "gr48": 48,
    "gr96": 96,
    "kroC100": 100,
    "kroD100": 100,
    "lin105": 105,
    "st70": 70,
    "ulysses16": 16,
    "ulysses22": 22,
}

_SECTIONS = {
    "NODE_COORD_SECTION",
    "EDGE_WEIGHT_SECTION",
    "DISPLAY_DATA_SECTION",
    "TOUR_SECTION",
    "DEPOT_SECTION",
    "DEMAND_SECTION",
    "FIXED_EDGES_SECTION",
    "EDGE_DATA_SECTION",
}
_COORD_TYPES = {"EUC_2D", "CEIL_2D", "ATT", "GEO"}
_FORMATS = {  # *_COL of a symmetric matrix lists the same numbers as *_ROW
    "FULL_MATRIX": "FULL_MATRIX",
    "UPPER_ROW": "UPPER_ROW",
    "LOWER_ROW": "LOWER_ROW",
    "UPPER_DIAG_ROW": "UPPER_DIAG_ROW",
    "LOWER_DIAG_ROW": "LOWER_DIAG_ROW",
    "UPPER_COL": "LOWER_ROW",
    "LOWER_COL": "UPPER_ROW",
    "UPPER_DIAG_COL": "LOWER_DIAG_ROW",
    "LOWER_DIAG_COL": "UPPER_DIAG_ROW",
}


class TSPInstance(NamedTuple):
    """One symmetric TSP instance.

    Attributes:
      name: the file's ``NAME``.
      comment: its ``COMMENT`` (empty when absent).
      dimension: number of cities ``n``.
      edge_weight_type: ``EUC_2D``, ``CEIL_2D``, ``ATT``, ``GEO`` or ``EXPLICIT``.
      coordinates: ``(n, 2)`` float64 node (or display) coordinates; None for
        explicit matrices without ``DISPLAY_DATA_SECTION``.
      distances: ``(n, n)`` float64, integer-valued TSPLIB distances,
        symmetric with a zero diagonal.
      optimum: published optimal tour length (from :data:`OPTIMAL_LENGTHS`,
        when both ``name`` and ``dimension`` are those of the published
        instance), or None when unknown.
      optimal_tour: ``(n,)`` int64 0-based optimal tour read from the
        ``<name>.opt.tour`` file next to the instance, or None.
    """

    name: str
    comment: str
    dimension: int
    edge_weight_type: str
    coordinates: np.ndarray | None
    distances: np.ndarray
    optimum: float | None
    optimal_tour: np.ndarray | None


def tsplib_instances() -> tuple[str, ...]:
    """Names of the bundled TSPLIB instances, sorted (e.g. ``"berlin52"``)."""
    return tuple(sorted(p.stem for p in TSPLIB_DIR.glob("*.tsp")))


def _resolve(path_or_name: str | Path, suffix: str, argument: str) -> Path:
    """A file path, or a bundled instance's file for a bare name."""
    if not isinstance(path_or_name, str | os.PathLike):
        raise TypeError(
            f"`{argument}` must be a path or a bundled instance name (str); "
            f"got {type(path_or_name).__name__}."
        )
    path = Path(path_or_name)
    if path.is_file():
        return path
    if isinstance(path_or_name, str) and path.name == path_or_name and not path.suffix:
        bundled = TSPLIB_DIR / f"{path_or_name}{suffix}"
        if bundled.is_file():
            return bundled
        raise ValueError(
            f"`{argument}` = {path_or_name!r} is neither a file nor a bundled "
            f"instance with a {suffix} file; bundled: {', '.join(tsplib_instances())}."
        )
    raise FileNotFoundError(f"`{argument}`: no such file {str(path)!r}.")


def _parse(path: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Header fields (``KEY: value``) and the tokens of each data section."""
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        text = line.strip()
        if not text:
            continue
        keyword = text.split()[0].rstrip(":").upper()
        if keyword == "EOF":
            break
        if keyword in _SECTIONS:
            current = sections.setdefault(keyword, [])
        elif ":" in text and not text[0].isdigit() and text[0] not in "+-.":
            key, value = (part.strip() for part in text.split(":", 1))
            key = key.upper()
            header[key] = f"{header[key]} {value}" if key in header else value
            current = None
        elif current is not None:
            current.extend(text.split())
        else:
            raise ValueError(
                f"{path.name}: unexpected line outside any section: {text!r}"
            )
    return header, sections


def _field(header: dict[str, str], key: str, path: Path) -> str:
    if key not in header:
        raise ValueError(f"{path.name}: missing TSPLIB field {key}.")
    return header[key].split()[0].upper() if key != "NAME" else header[key]


def _dimension(header: dict[str, str], path: Path) -> int:
    value = _field(header, "DIMENSION", path)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(
            f"{path.name}: DIMENSION must be a positive int; got {value!r}."
        )
    return int(value)


def _numbers(tokens: list[str], count: int, what: str, path: Path) -> np.ndarray:
    if len(tokens) != count:
        raise ValueError(
            f"{path.name}: {what} must hold {count} numbers; got {len(tokens)}."
        )
    try:
        values = np.array(tokens, np.float64)
    except ValueError as error:
        raise ValueError(f"{path.name}: {what} holds a non-number ({error}).") from None
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"{path.name}: {what} must hold finite numbers; got {tokens[bad[0]]!r} "
            f"(number {bad[0] + 1}; {bad.size} non-finite in all)."
        )
    return values


def _node_coordinates(tokens: list[str], n: int, what: str, path: Path) -> np.ndarray:
    """``(n, 2)`` coordinates from ``id x y`` rows, ordered by node id."""
    rows = _numbers(tokens, 3 * n, what, path).reshape(n, 3)
    ids = rows[:, 0].astype(np.int64)
    if sorted(ids.tolist()) != list(range(1, n + 1)):
        raise ValueError(f"{path.name}: {what} node ids must be 1..{n}.")
    return rows[np.argsort(ids), 1:]


def _nint(x: np.ndarray) -> np.ndarray:
    """TSPLIB's ``nint``: round half up, ``(int)(x + 0.5)``."""
    return np.floor(x + 0.5)


def _geo_radians(x: np.ndarray) -> np.ndarray:
    """DDD.MM (degrees.minutes) to radians; degrees TRUNCATED, PI = 3.141592."""
    degrees = np.trunc(x)  # DOC.PS says nint; only truncation gives the optima
    return 3.141592 * (degrees + 5.0 * (x - degrees) / 3.0) / 180.0


def _coordinate_distances(xy: np.ndarray, kind: str) -> np.ndarray:
    """TSPLIB95 DOC section 2 distance functions, integer-valued float64."""
    if kind == "GEO":
        lat, lon = _geo_radians(xy[:, 0]), _geo_radians(xy[:, 1])
        q1 = np.cos(lon[:, None] - lon[None, :])
        q2 = np.cos(lat[:, None] - lat[None, :])
        q3 = np.cos(lat[:, None] + lat[None, :])
        angle = np.arccos(np.clip(0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3), -1, 1))
        d = np.trunc(6378.388 * angle + 1.0)
    else:
        diff = xy[:, None, :] - xy[None, :, :]
        squared = np.sum(diff * diff, axis=-1)
        if kind == "EUC_2D":
            d = _nint(np.sqrt(squared))
        elif kind == "CEIL_2D":
            d = np.ceil(np.sqrt(squared))
        else:  # ATT, pseudo-Euclidean
            r = np.sqrt(squared / 10.0)
            t = _nint(r)
            d = np.where(t < r, t + 1.0, t)
    np.fill_diagonal(d, 0.0)  # GEO's formula gives 1 from a city to itself
    return d


def _explicit_distances(tokens: list[str], n: int, fmt: str, path: Path) -> np.ndarray:
    """Matrix from ``EDGE_WEIGHT_SECTION`` in one of the (symmetric) formats."""
    layout = _FORMATS[fmt]
    rows, cols = {
        "FULL_MATRIX": np.indices((n, n)).reshape(2, -1),
        "UPPER_ROW": np.triu_indices(n, 1),
        "LOWER_ROW": np.tril_indices(n, -1),
        "UPPER_DIAG_ROW": np.triu_indices(n),
        "LOWER_DIAG_ROW": np.tril_indices(n),
    }[layout]
    values = _numbers(tokens, len(rows), f"EDGE_WEIGHT_SECTION ({fmt})", path)
    negative = np.flatnonzero(values < 0)
    if negative.size:
        k = negative[0]
        raise ValueError(
            f"{path.name}: EDGE_WEIGHT_SECTION ({fmt}) must hold distances >= 0; "
            f"got {values[k]:g} for cities {rows[k] + 1} and {cols[k] + 1} "
            f"({negative.size} negative in all)."
        )
    d = np.zeros((n, n))
    d[rows, cols] = values
    if layout == "FULL_MATRIX":
        gap = np.abs(d - d.T)
        if gap.max() > 0:
            i, j = np.unravel_index(np.argmax(gap), d.shape)
            raise ValueError(
                f"{path.name}: FULL_MATRIX must be symmetric for TYPE TSP; "
                f"d[{i}, {j}] = {d[i, j]:g} but d[{j}, {i}] = {d[j, i]:g}."
            )
    else:
        d[cols, rows] = values
    np.fill_diagonal(d, 0.0)  # some files put a large value on the diagonal
    return d


def _distances(header, sections, n, path) -> tuple[str, np.ndarray, np.ndarray | None]:
    kind = _field(header, "EDGE_WEIGHT_TYPE", path)
    if kind in _COORD_TYPES:
        if "NODE_COORD_SECTION" not in sections:
            raise ValueError(f"{path.name}: {kind} needs a NODE_COORD_SECTION.")
        xy = _node_coordinates(
            sections["NODE_COORD_SECTION"], n, "NODE_COORD_SECTION", path
        )
        return kind, _coordinate_distances(xy, kind), xy
    if kind != "EXPLICIT":
        raise ValueError(
            f"{path.name}: unsupported EDGE_WEIGHT_TYPE {kind!r}; supported: "
            f"{', '.join(sorted(_COORD_TYPES))}, EXPLICIT."
        )
    fmt = _field(header, "EDGE_WEIGHT_FORMAT", path)
    if fmt not in _FORMATS:
        raise ValueError(
            f"{path.name}: unsupported EDGE_WEIGHT_FORMAT {fmt!r}; supported: "
            f"{', '.join(_FORMATS)}."
        )
    if "EDGE_WEIGHT_SECTION" not in sections:
        raise ValueError(f"{path.name}: EXPLICIT needs an EDGE_WEIGHT_SECTION.")
    d = _explicit_distances(sections["EDGE_WEIGHT_SECTION"], n, fmt, path)
    display = sections.get("DISPLAY_DATA_SECTION")
    xy = (
        None
        if display is None
        else _node_coordinates(display, n, "DISPLAY_DATA_SECTION", path)
    )
    return kind, d, xy


def load_tsplib(path_or_name: str | Path) -> TSPInstance:
    """Read a symmetric TSPLIB instance (``.tsp``) and its optimal tour if any.

    Distances follow TSPLIB95 DOC section 2, all integer-valued:
    ``EUC_2D`` ``nint(sqrt(dx^2 + dy^2))``; ``CEIL_2D`` its ceiling; ``ATT``
    ``r = sqrt((dx^2 + dy^2) / 10)``, ``t = nint(r)``, ``t + 1 if t < r else
    t``; ``GEO`` great-circle ``int(RRR acos(...) + 1)`` on a sphere of radius
    RRR = 6378.388 km, with coordinates DDD.MM whose degrees are truncated and
    PI = 3.141592; ``EXPLICIT`` the listed matrix.

    Args:
      path_or_name: a ``.tsp`` file, or the name of a bundled instance (see
        :func:`tsplib_instances`), e.g. ``"berlin52"``.

    Returns:
      :class:`TSPInstance`. ``optimal_tour`` comes from the ``.opt.tour`` file
      with the same stem in the same folder (its ``DIMENSION`` line, which
      several official tour files omit, is optional: the tour must be a
      permutation of the instance's cities); ``optimum`` from TSPLIB's list
      of optimal lengths by ``NAME`` and ``DIMENSION``.

    Raises:
      ValueError: unknown bundled name, unsupported ``TYPE`` (e.g. ``ATSP``),
        ``EDGE_WEIGHT_TYPE`` or ``EDGE_WEIGHT_FORMAT`` (named in the message),
        or a malformed file: NaN or infinite numbers, negative explicit
        weights, a tour that is not a permutation of ``1..DIMENSION``.
      FileNotFoundError: ``path_or_name`` is a path that does not exist.

    Example:
      >>> berlin = load_tsplib("berlin52")
      >>> berlin.dimension, berlin.optimum
      (52, 7542.0)
    """
    path = _resolve(path_or_name, ".tsp", "path_or_name")
    header, sections = _parse(path)
    kind = _field(header, "TYPE", path)
    if kind != "TSP":
        raise ValueError(f"{path.name}: unsupported TYPE {kind!r}; supported: TSP.")
    n = _dimension(header, path)
    weight_type, distances, coordinates = _distances(header, sections, n, path)
    name = _field(header, "NAME", path).removesuffix(".tsp")  # ulysses16.tsp
    tour_file = path.with_name(path.name.removesuffix(".tsp") + ".opt.tour")
    tour = _read_tour(tour_file, (n, path.name)) if tour_file.is_file() else None
    published = _OPTIMUM_DIMENSIONS.get(name) == n
    return TSPInstance(
        name=name,
        comment=header.get("COMMENT", ""),
        dimension=n,
        edge_weight_type=weight_type,
        coordinates=coordinates,
        distances=distances,
        optimum=OPTIMAL_LENGTHS.get(name) if published else None,
        optimal_tour=tour,
    )


def load_tour(path: str | Path) -> np.ndarray:
    """Read the first tour of a TSPLIB tour file (e.g. ``berlin52.opt.tour``).

    Args:
      path: a tour file, or the name of a bundled instance with an optimal tour.

    Returns:
      ``(n,)`` int64 tour, 0-based (TSPLIB numbers cities from 1), a
      permutation of ``0..n-1``. ``n`` is the file's ``DIMENSION``, or, for
      the official tour files without that line, the number of cities listed
      before the closing ``-1``.

    Raises:
      ValueError: not ``TYPE: TOUR``, no ``TOUR_SECTION``, or not a
        permutation of ``1..n``.
    """
    return _read_tour(_resolve(path, ".opt.tour", "path"))


def _read_tour(path: Path, instance: tuple[int, str] | None = None) -> np.ndarray:
    """The first tour of ``path``, checked against ``instance = (n, file name)``.

    TSPLIB95's DOC makes a tour file's ``DIMENSION`` optional; when given it
    must equal the instance's, and the tour must be a permutation of its
    ``1..n`` either way.
    """
    header, sections = _parse(path)
    kind = _field(header, "TYPE", path)
    if kind != "TOUR":
        raise ValueError(f"{path.name}: unsupported TYPE {kind!r}; expected TOUR.")
    if "TOUR_SECTION" not in sections:
        raise ValueError(f"{path.name}: missing TOUR_SECTION.")
    tokens = sections["TOUR_SECTION"]
    if "-1" in tokens:
        tokens = tokens[: tokens.index("-1")]
    n = _dimension(header, path) if "DIMENSION" in header else None
    if instance is not None and n is not None and n != instance[0]:
        raise ValueError(
            f"{path.name} has {n} cities; {instance[1]} has {instance[0]}."
        )
    n = instance[0] if instance is not None else n if n is not None else len(tokens)
    if not all(t.isdigit() for t in tokens):
        raise ValueError(f"{path.name}: TOUR_SECTION must hold city numbers 1..{n}.")
    tour = np.array([int(t) for t in tokens], np.int64) - 1
    if sorted(tour.tolist()) != list(range(n)):
        raise ValueError(
            f"{path.name}: TOUR_SECTION must be a permutation of 1..{n}; got "
            f"{len(tour)} entries, {len(set(tour.tolist()))} distinct."
        )
    return tour
