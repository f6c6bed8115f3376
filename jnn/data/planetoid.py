"""Planetoid citation graphs (Cora, CiteSeer, PubMed) with their public split.

The Planetoid files (Yang, Cohen & Salakhutdinov, "Revisiting Semi-Supervised
Learning with Graph Embeddings", ICML 2016) are the node-classification
benchmark of GCN (Kipf & Welling, ICLR 2017). A folder holds eight files
``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}``: features and one-hot
labels of the labelled training nodes (``x``, ``y``), of the test nodes
(``tx``, ``ty``) and of every non-test node (``allx``, ``ally``), the adjacency
lists (``graph``) and the node owning each test row (``test.index``). Cora ships
in ``jnn/data/files/planetoid`` (provenance and checksums in the README there).

:func:`load_planetoid` reproduces PyTorch Geometric's reference reader
(``torch_geometric.io.planetoid.read_planetoid_data``) value for value:

- features: ``allx`` then the test rows, row ``test.index[i]`` holding
  ``tx[i]``; test indices missing from their range (CiteSeer's isolated nodes)
  become nodes with zero features and all-zero labels (PyG does this for
  ``citeseer``; here it happens whenever the indices have gaps);
- labels: ``argmax`` of the one-hot rows, so an all-zero row gets label 0
  (those nodes lie in no mask);
- edges: the adjacency lists without self loops and duplicates, sorted by
  (receiver, sender) as PyG's ``coalesce``. Each edge is stored in both
  directions (PyG keeps the lists as given; the public files list every edge
  both ways, so the two agree);
- split: train = the first ``len(y)`` nodes (20 per class), validation = the
  next 500, test = the nodes of ``test.index`` (1000).

The ``.x``/``.y``/``.graph`` files are Python pickles. They are read with a
restricted unpickler that resolves only the few NumPy, SciPy and
``collections`` classes the format needs, so a raw file cannot run code.
"""

from __future__ import annotations

import collections
import os
import pickle
from pathlib import Path
from typing import Any, NamedTuple

import jax.numpy as jnp
import jraph
import numpy as np
import scipy.sparse

from jnn._checks import check_array, is_concrete

__all__ = [
    "PLANETOID_DIR",
    "PLANETOIDS",
    "PlanetoidData",
    "load_planetoid",
    "normalize_features",
]

PLANETOID_DIR = Path(__file__).parent / "files" / "planetoid"
PLANETOIDS = ("cora",)  # bundled
_PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
_N_VAL = 500

_core = np._core if hasattr(np, "_core") else np.core


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 only."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise pickle.UnpicklingError(f"_codecs.encode with {encoding!r} is not allowed")
    return text.encode("latin1")


# (module, name) as written in the pickle -> the object it may resolve to: the
# Python 2 originals' globals, and those of the same objects pickled by Python 3
# (NumPy 2 module names, protocol 5's `_frombuffer`, protocol 2's bytes).
_SAFE_GLOBALS = {
    **{
        (module, "csr_matrix"): scipy.sparse.csr_matrix
        for module in ("scipy.sparse.csr", "scipy.sparse._csr", "scipy.sparse")
    },
    **{
        (f"{package}.multiarray", name): getattr(_core.multiarray, name)
        for package in ("numpy.core", "numpy._core")
        for name in ("_reconstruct", "scalar")
    },
    ("numpy.core.numeric", "_frombuffer"): _core.numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _core.numeric._frombuffer,
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("collections", "defaultdict"): collections.defaultdict,
    ("__builtin__", "list"): list,
    ("builtins", "list"): list,
}


class _PlanetoidUnpickler(pickle.Unpickler):
    """An unpickler that resolves only the globals of :data:`_SAFE_GLOBALS`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"global {module}.{name} is not allowed in a Planetoid file"
            ) from None


class PlanetoidData(NamedTuple):
    """A Planetoid graph with its public split.

    Attributes:
      graph: a ``jraph.GraphsTuple`` with one graph: ``nodes`` the ``(N, F)``
        float32 features, ``edges`` None, ``senders``/``receivers`` ``(E,)``
        int32 with every undirected edge in both directions, ``n_node = [N]``,
        ``n_edge = [E]``.
      labels: ``(N,)`` int32 classes in ``[0, n_classes)``.
      train_mask: ``(N,)`` bool, the labelled training nodes.
      val_mask: ``(N,)`` bool, the validation nodes.
      test_mask: ``(N,)`` bool, the test nodes.
      name: the data set's name, e.g. ``"cora"``.
      n_classes: number of classes ``C``.
    """

    graph: jraph.GraphsTuple
    labels: np.ndarray
    train_mask: np.ndarray
    val_mask: np.ndarray
    test_mask: np.ndarray
    name: str
    n_classes: int


def _folder_and_name(name_or_folder: Any, name: str | None) -> tuple[Path, str]:
    """Resolve the argument to a folder and the file prefix ``<name>``."""
    if not isinstance(name_or_folder, str | os.PathLike):
        raise TypeError(
            "`name_or_folder` must be a bundled name or a folder path; got "
            f"{type(name_or_folder).__name__}."
        )
    if name is not None and not isinstance(name, str):
        raise TypeError(f"`name` must be a str or None; got {type(name).__name__}.")
    if isinstance(name_or_folder, str) and name_or_folder.lower() in PLANETOIDS:
        return PLANETOID_DIR, name_or_folder.lower()
    folder = Path(name_or_folder)
    if not folder.is_dir():
        raise ValueError(
            f"`name_or_folder` must be a bundled name {PLANETOIDS} or a folder "
            f"holding ind.<name>.* files; got {str(name_or_folder)!r}."
        )
    if name is not None:
        return folder, name.lower()
    found = {
        f.name[len("ind.") : -len(f".{part}")]
        for f in folder.iterdir()
        for part in _PARTS
        if f.name.startswith("ind.") and f.name.endswith(f".{part}")
    }
    found.discard("")
    if len(found) != 1:
        raise ValueError(
            f"`name_or_folder` {str(folder)!r} must hold the files of exactly one "
            f"data set (or pass `name`); found names {sorted(found)}."
        )
    return folder, found.pop()


def _read(path: Path, part: str) -> Any:
    """One raw file: ``test.index`` as int64 ``(n,)``, the others unpickled."""
    if not path.is_file():
        raise ValueError(f"missing Planetoid file {str(path)!r} (ind.<name>.{part}).")
    if part == "test.index":
        try:
            return np.array(path.read_text().split(), dtype=np.int64)
        except (ValueError, UnicodeDecodeError):
            raise ValueError(
                f"file {str(path)!r} must hold one integer node index per line."
            ) from None
    try:
        with path.open("rb") as f:
            out = _PlanetoidUnpickler(f, encoding="latin1").load()
    except Exception as error:  # a corrupt pickle raises many kinds of error
        raise ValueError(
            f"file {str(path)!r} is not a Planetoid pickle: {error}"
        ) from None
    if part == "graph":
        if not isinstance(out, dict) or not all(
            isinstance(v, list) for v in out.values()
        ):
            raise ValueError(
                f"file {str(path)!r} must hold a dict {{node: [neighbours]}}; got "
                f"{type(out).__name__}."
            )
        return out
    if scipy.sparse.issparse(out):
        try:
            out = out.toarray()
        except Exception as error:  # a forged matrix: inconsistent attributes
            raise ValueError(
                f"file {str(path)!r} holds a broken matrix: {error}"
            ) from None
    if not isinstance(out, np.ndarray) or out.ndim != 2 or out.dtype.kind not in "biuf":
        raise ValueError(
            f"file {str(path)!r} must hold a 2-D numeric matrix; got "
            f"{type(out).__name__}."
        )
    return out


def _edges(graph: dict, n: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Senders and receivers of the adjacency lists: symmetric, coalesced."""
    try:
        senders = np.array([k for k, v in graph.items() for _ in v], dtype=np.int64)
        receivers = np.array([u for v in graph.values() for u in v], dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(
            f"file {str(path)!r} must map int nodes to int lists."
        ) from None
    for ends in (senders, receivers):
        if ends.size and (ends.min() < 0 or ends.max() >= n):
            raise ValueError(
                f"file {str(path)!r} has an edge outside the {n} nodes [0, {n}) "
                f"(min {ends.min()}, max {ends.max()})."
            )
    senders, receivers = (
        np.concatenate([senders, receivers]),
        np.concatenate([receivers, senders]),
    )
    keep = senders != receivers
    code = np.unique(
        receivers[keep] * n + senders[keep]
    )  # sorted by (receiver, sender)
    return (code % n).astype(np.int32), (code // n).astype(np.int32)


def load_planetoid(
    name_or_folder: str | os.PathLike, *, name: str | None = None
) -> PlanetoidData:
    """Read a Planetoid data set: features, labels, citation graph, public split.

    Args:
      name_or_folder: a bundled name (``"cora"``) or a folder holding
        ``ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}``.
      name: the ``<name>`` of the files, needed only when the folder holds
        several data sets (it is lower-cased, as PyG does).

    Returns:
      :class:`PlanetoidData`. Cora: 2708 nodes, 1433 binary features, 10556
      directed edges (5278 undirected), 7 classes, 140/500/1000 nodes in
      train/validation/test.

    Raises:
      TypeError: an argument of the wrong type.
      ValueError: an unknown name or missing folder, a missing file, a file of
        the wrong kind (not a pickle, a forbidden global, the wrong object),
        files of inconsistent sizes, or a test index or edge outside the nodes.

    Example:
      >>> data = load_planetoid("cora")
      >>> data.graph.nodes.shape, int(data.graph.n_edge[0]), data.n_classes
      ((2708, 1433), 10556, 7)
      >>> [int(mask.sum()) for mask in (data.train_mask, data.val_mask, data.test_mask)]
      [140, 500, 1000]
    """
    folder, name = _folder_and_name(name_or_folder, name)
    raw = {part: _read(folder / f"ind.{name}.{part}", part) for part in _PARTS}
    x, y, tx, ty, allx, ally = (raw[p] for p in ("x", "y", "tx", "ty", "allx", "ally"))
    test_index = raw["test.index"]
    for a, b in (("x", "y"), ("tx", "ty"), ("allx", "ally"), ("tx", "test.index")):
        if raw[a].shape[0] != raw[b].shape[0]:
            raise ValueError(
                f"ind.{name}.{a} and ind.{name}.{b} must have one row per node; got "
                f"{raw[a].shape[0]} and {raw[b].shape[0]} rows."
            )
    for group in (("x", "tx", "allx"), ("y", "ty", "ally")):
        widths = {p: raw[p].shape[1] for p in group}
        if len(set(widths.values())) != 1:
            raise ValueError(f"ind.{name}.* must agree on their columns; got {widths}.")
    n_train, n_rest = y.shape[0], allx.shape[0]
    if n_train + _N_VAL > n_rest:
        raise ValueError(
            f"ind.{name}.allx must hold the {n_train} training and {_N_VAL} "
            f"validation nodes; got {n_rest} rows."
        )
    if (
        test_index.size == 0
        or np.unique(test_index).size != test_index.size
        or test_index.min() != n_rest
    ):
        raise ValueError(
            f"ind.{name}.test.index must hold distinct node indices starting at "
            f"len(allx) = {n_rest} (the test nodes follow the others); got min "
            f"{test_index.min() if test_index.size else None} over "
            f"{test_index.size} indices ({np.unique(test_index).size} distinct)."
        )
    n = int(test_index.max()) + 1  # gaps: nodes without features or label
    features = np.zeros((n, allx.shape[1]), np.float32)
    features[:n_rest], features[test_index] = allx, tx
    one_hot = np.zeros((n, ally.shape[1]), np.float32)
    one_hot[:n_rest], one_hot[test_index] = ally, ty
    senders, receivers = _edges(raw["graph"], n, folder / f"ind.{name}.graph")
    graph = jraph.GraphsTuple(
        nodes=features,
        edges=None,
        senders=senders,
        receivers=receivers,
        globals=None,
        n_node=np.array([n], np.int32),
        n_edge=np.array([senders.size], np.int32),
    )
    masks = np.zeros((3, n), bool)
    masks[0, :n_train] = True
    masks[1, n_train : n_train + _N_VAL] = True
    masks[2, test_index] = True
    labels = one_hot.argmax(axis=1).astype(np.int32)
    return PlanetoidData(graph, labels, *masks, name, one_hot.shape[1])


def normalize_features(x: Any) -> Any:
    r"""Row-normalise node features: each non-zero row sums to one.

    .. math:: \tilde x_i = x_i / \textstyle\sum_j x_{ij}, \qquad
              \tilde x_i = 0 \text{ when } \textstyle\sum_j x_{ij} = 0,

    the preprocessing of Kipf & Welling (2017, ``gcn/utils.py``
    ``preprocess_features``). PyG's ``NormalizeFeatures`` subtracts the global
    minimum and divides by ``max(row sum, 1)``: the same for non-negative
    features whose non-zero rows sum to at least 1 (bag-of-words counts such
    as Cora's and CiteSeer's), not for PubMed's TF-IDF rows that sum below 1.

    Args:
      x: ``(N, F)`` non-negative features (NumPy or JAX).

    Returns:
      ``(N, F)`` float32, NumPy for a NumPy input, else JAX (jittable).

    Raises:
      TypeError: ``x`` not a numeric array.
      ValueError: ``x`` not 2-D, or (when concrete) with a negative entry.
    """
    check_array(x, "x", ndim=2, kind="n")
    if is_concrete(x) and bool((np.asarray(x) < 0).any()):
        raise ValueError(
            "`x` must be non-negative (counts or weights) to row-normalise."
        )
    xp = np if isinstance(x, np.ndarray) else jnp
    x = xp.asarray(x, dtype=np.float32)
    total = x.sum(axis=1, keepdims=True)
    return xp.where(total > 0, x / xp.where(total > 0, total, 1.0), 0.0).astype(
        np.float32
    )
