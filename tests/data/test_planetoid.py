"""Planetoid reader: equal to PyTorch Geometric's reader, bad input, pickle safety."""

import collections
import hashlib
import os
import pickle
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from torch_geometric.data import Data
from torch_geometric.io.planetoid import read_planetoid_data
from torch_geometric.transforms import NormalizeFeatures

from jnn.data.planetoid import (
    PLANETOID_DIR,
    PlanetoidData,
    load_planetoid,
    normalize_features,
)

PARTS = ("x", "y", "tx", "ty", "allx", "ally", "graph", "test.index")
# sha256 of the upstream files (kimiyoung/planetoid, shared/data/planetoid/README.md)
SHA256 = {
    "allx": "9419ba2f26f5c35243db64aba110e0f35a04851609e0dc5433450676ca6b8543",
    "ally": "2b998f5cc7fedc86e7f97ca2498f47a1ffc1462c29e2d578b23bf3f62b6e7d71",
    "graph": "58f13302f39dde8852dad6fe6d15b89b077b6d7f837626bce671ef80344b383d",
    "test.index": "297ce89af2b51a6a194181c7dbe1796c6a1cf9cd9349a88383b1b1e227867875",
    "tx": "b9afbaa4a400df991f6f02ef677e1e44da55ffc04801fd02f9e673987829226a",
    "ty": "41f5ac76596a1699cc33f53084a2419e92961c42bb75f36fc38e616d348532ad",
    "x": "23cfa55d91c6f624233f5eb7b6e3f141f1bd2b2ae39608a63cf5d084bb27baab",
    "y": "94465c14eb53e04ca262198dcbb2521ee8af60fb3f3d546cd6ca24a511b0e7d1",
}


def assert_equals_pyg(data, reference, *, symmetric=True):
    np.testing.assert_array_equal(data.graph.nodes, reference.x.numpy())
    assert data.graph.nodes.dtype == np.float32
    np.testing.assert_array_equal(data.labels, reference.y.numpy())
    for mask in ("train_mask", "val_mask", "test_mask"):
        np.testing.assert_array_equal(
            getattr(data, mask), getattr(reference, mask).numpy()
        )
    ours = set(
        zip(data.graph.senders.tolist(), data.graph.receivers.tolist(), strict=True)
    )
    theirs = set(map(tuple, reference.edge_index.t().tolist()))
    if not symmetric:  # PyG keeps one-way lists one way; jnn stores both ways
        theirs |= {(r, s) for s, r in theirs}
    assert ours == theirs and len(ours) == data.graph.senders.size  # no duplicates
    assert all(s != r for s, r in ours)


def test_bundled_cora_equals_pytorch_geometric():
    data = load_planetoid("cora")
    assert isinstance(data, PlanetoidData)
    assert data.name == "cora" and data.n_classes == 7
    graph = data.graph
    assert graph.nodes.shape == (2708, 1433) and graph.edges is None
    assert graph.n_node.tolist() == [2708] and graph.n_edge.tolist() == [10556]
    assert graph.senders.dtype == graph.receivers.dtype == np.int32
    assert data.labels.dtype == np.int32
    assert [int(m.sum()) for m in data[2:5]] == [140, 500, 1000]
    assert np.bincount(data.labels[data.train_mask]).tolist() == [20] * 7
    reference = read_planetoid_data(str(PLANETOID_DIR), "cora")
    assert_equals_pyg(data, reference)
    # PyG's coalesced order too: sorted by (receiver, sender)
    np.testing.assert_array_equal(graph.senders, reference.edge_index[0].numpy())
    np.testing.assert_array_equal(graph.receivers, reference.edge_index[1].numpy())


def test_bundled_files_are_the_upstream_bytes():
    for part, digest in SHA256.items():
        path = PLANETOID_DIR / f"ind.cora.{part}"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, part


def write_planetoid(folder, name, *, test_index, protocol=2, graph=None, seed=0):
    """A small Planetoid-format folder: 6 train, 510 non-test, 3 features."""
    rng = np.random.default_rng(seed)
    n_rest, n_test, n_features, n_classes = 510, len(test_index), 4, 3

    def features(rows):
        dense = (rng.random((rows, n_features)) < 0.4).astype(np.float32)
        return sp.csr_matrix(dense * rng.integers(1, 4, dense.shape))

    def one_hot(rows):
        return np.eye(n_classes, dtype=np.int32)[rng.integers(0, n_classes, rows)]

    allx, ally = features(n_rest), one_hot(n_rest)
    ally[300] = 0  # an unlabelled row: PyG's argmax gives class 0
    n = max(test_index) + 1
    if graph is None:
        graph = collections.defaultdict(list)
        for _ in range(2 * n):
            u, v = rng.integers(0, n, 2).tolist()
            if u != v:
                graph[u].append(v)
                graph[v].append(u)
        graph[3] += [7, 7, 3]  # a duplicate edge and a self loop
        graph[7] += [3]
    pieces = {
        "x": allx[:6],
        "y": ally[:6],
        "allx": allx,
        "ally": ally,
        "tx": features(n_test),
        "ty": one_hot(n_test),
        "graph": graph,
    }
    folder.mkdir(exist_ok=True)
    for part, value in pieces.items():
        with open(folder / f"ind.{name}.{part}", "wb") as f:
            pickle.dump(value, f, protocol=protocol)
    lines = "".join(f"{i}\n" for i in test_index)
    (folder / f"ind.{name}.test.index").write_text(lines)
    return folder


GAPPY = [513, 510, 516, 511, 514]  # 512 and 515 missing: CiteSeer's quirk


@pytest.mark.parametrize(
    "name, test_index, protocol",
    [("citeseer", GAPPY, 2), ("citeseer", GAPPY, 5), ("pubmed", [512, 510, 511], 2)],
)
def test_synthetic_folder_equals_pytorch_geometric(
    tmp_path, name, test_index, protocol
):
    folder = write_planetoid(
        tmp_path / "raw", name, test_index=test_index, protocol=protocol
    )
    data = load_planetoid(folder)  # the name is inferred from the files
    assert data.name == name and data.n_classes == 3
    n = max(test_index) + 1
    assert data.graph.nodes.shape == (n, 4) and data.labels.shape == (n,)
    assert_equals_pyg(data, read_planetoid_data(str(folder), name))
    if name == "citeseer":  # the missing test indices: zero features, label 0
        np.testing.assert_array_equal(data.graph.nodes[[512, 515]], 0.0)
        assert data.labels[[512, 515]].tolist() == [0, 0]
        assert not (data.train_mask | data.val_mask | data.test_mask)[[512, 515]].any()
    assert data.labels[300] == 0


def test_one_way_lists_become_undirected(tmp_path):
    graph = collections.defaultdict(list, {0: [1, 2], 2: [5], 5: [2]})
    folder = write_planetoid(tmp_path, "cora", test_index=[510, 511], graph=graph)
    data = load_planetoid(folder, name="CORA")
    assert_equals_pyg(data, read_planetoid_data(str(folder), "cora"), symmetric=False)
    assert data.graph.n_edge.tolist() == [6]


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory):
    return write_planetoid(
        tmp_path_factory.mktemp("planetoid"), "toy", test_index=GAPPY
    )


def copy_of(good_folder, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(good_folder, folder)
    return folder


def test_unknown_name_or_folder(tmp_path):
    with pytest.raises(ValueError, match="name_or_folder"):
        load_planetoid("citeseer")  # not bundled, not a folder
    with pytest.raises(ValueError, match="name_or_folder"):
        load_planetoid(tmp_path)  # a folder without Planetoid files
    with pytest.raises(TypeError, match="name_or_folder"):
        load_planetoid(3)


def test_folder_with_two_data_sets_needs_a_name(good_folder, tmp_path):
    folder = copy_of(good_folder, tmp_path)
    for path in folder.glob("ind.toy.*"):
        shutil.copy(path, folder / path.name.replace("toy", "other"))
    with pytest.raises(ValueError, match=r"exactly one.*\['other', 'toy'\]"):
        load_planetoid(folder)
    assert load_planetoid(folder, name="other").name == "other"


def test_missing_file(good_folder, tmp_path):
    folder = copy_of(good_folder, tmp_path)
    (folder / "ind.toy.ty").unlink()
    with pytest.raises(ValueError, match=r"missing Planetoid file .*ind\.toy\.ty"):
        load_planetoid(folder)


@pytest.mark.parametrize(
    "part, content, match",
    [
        ("graph", pickle.dumps(np.eye(3)), r"ind\.toy\.graph.*dict"),
        ("ally", pickle.dumps({0: [1]}), r"ind\.toy\.ally.*2-D numeric matrix"),
        ("allx", b"not a pickle at all", r"ind\.toy\.allx.*not a Planetoid pickle"),
        ("test.index", b"510\nfive\n", r"ind\.toy\.test\.index.*integer"),
        ("ty", pickle.dumps(np.eye(3, dtype=np.int32)), "ind.toy.tx and ind.toy.ty"),
    ],
)
def test_file_of_the_wrong_kind(good_folder, tmp_path, part, content, match):
    folder = copy_of(good_folder, tmp_path)
    (folder / f"ind.toy.{part}").write_bytes(content)
    with pytest.raises(ValueError, match=match):
        load_planetoid(folder)


@pytest.mark.parametrize(
    "lines",
    [
        "509\n510\n511\n512\n513\n",
        "511\n512\n513\n514\n515\n",
        "510\n511\n511\n512\n513\n",
    ],
)
def test_test_index_out_of_range_or_repeated(good_folder, tmp_path, lines):
    folder = copy_of(good_folder, tmp_path)
    (folder / "ind.toy.test.index").write_text(lines)
    with pytest.raises(
        ValueError, match=r"ind\.toy\.test\.index.*starting at len\(allx\) = 510"
    ):
        load_planetoid(folder)


def test_edge_outside_the_nodes(good_folder, tmp_path):
    folder = copy_of(good_folder, tmp_path)
    (folder / "ind.toy.graph").write_bytes(pickle.dumps({0: [1, 517]}, protocol=2))
    with pytest.raises(ValueError, match=r"ind\.toy\.graph.*outside the 517 nodes"):
        load_planetoid(folder)


class RunsACommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_a_pickle_cannot_run_code(good_folder, tmp_path, protocol):
    folder = copy_of(good_folder, tmp_path)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(RunsACommand(marker), protocol=protocol)
    assert b"system" in payload
    (folder / "ind.toy.graph").write_bytes(payload)
    with pytest.raises(
        ValueError, match=r"ind\.toy\.graph.*(posix|os)\.system.*not allowed"
    ):
        load_planetoid(folder)
    assert not marker.exists()


def test_codecs_encode_is_limited_to_latin1(good_folder, tmp_path):
    folder = copy_of(good_folder, tmp_path)
    payload = pickle.dumps(b"\x00\xff", protocol=2)
    payload = payload.replace(b"latin1", b"rot_13")  # same length: a valid pickle
    (folder / "ind.toy.y").write_bytes(payload)
    with pytest.raises(ValueError, match=r"ind\.toy\.y.*rot_13.*not allowed"):
        load_planetoid(folder)


def test_normalize_features_equals_pyg_on_cora_and_keeps_zero_rows():
    x = load_planetoid("cora").graph.nodes
    expected = NormalizeFeatures()(Data(x=torch.from_numpy(x))).x.numpy()
    out = normalize_features(x)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    small = np.array([[1.0, 3.0], [0.0, 0.0], [0.2, 0.2]], np.float32)
    want = np.array([[0.25, 0.75], [0.0, 0.0], [0.5, 0.5]], np.float32)
    np.testing.assert_allclose(normalize_features(small), want, rtol=1e-6)
    jitted = jax.jit(normalize_features)(jnp.asarray(small))
    np.testing.assert_allclose(jitted, want, rtol=1e-6)
    with pytest.raises(ValueError, match="`x` must be non-negative"):
        normalize_features(-small)
    with pytest.raises(ValueError, match="`x` must have rank 2"):
        normalize_features(small[0])
