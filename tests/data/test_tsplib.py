"""TSPLIB reader: published optima, TSPLIB distance rules, formats, bad input."""

import hashlib
import math
import re
import shutil

import numpy as np
import pytest

import jnn
from jnn.data import TSPInstance, load_tour, load_tsplib, tsplib_instances
from jnn.data.tsplib import TSPLIB_DIR

# Published optimal tour lengths (TSPLIB95 bestSolutions.txt), written out here
# independently of the module's table.
PUBLISHED = {
    "att48": 10628,
    "bayg29": 1610,
    "bays29": 2020,
    "berlin52": 7542,
    "burma14": 3323,
    "eil101": 629,
    "eil51": 426,
    "fri26": 937,
    "gr24": 1272,
    "gr48": 5046,
    "gr96": 55209,
    "kroC100": 20749,
    "st70": 675,
    "ulysses16": 6859,
    "ulysses22": 7013,
}
NO_OPT_TOUR = {"burma14"}  # TSPLIB ships none; Held-Karp checks it (test_tsp_exact)


def closed_length(distances, tour):
    return sum(distances[tour[k], tour[(k + 1) % len(tour)]] for k in range(len(tour)))


def test_bundled_instances_are_the_documented_set():
    assert set(tsplib_instances()) == set(PUBLISHED)
    assert {"ulysses16", "ulysses22", "burma14", "eil51", "berlin52", "st70"} <= set(
        PUBLISHED
    )


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_every_bundled_instance_reproduces_its_published_optimum(name):
    inst = load_tsplib(name)
    assert isinstance(inst, TSPInstance) and inst.name == name
    n = inst.dimension
    d = inst.distances
    assert d.shape == (n, n) and d.dtype == np.float64
    np.testing.assert_array_equal(d, d.T)
    np.testing.assert_array_equal(np.diag(d), 0)
    np.testing.assert_array_equal(d, np.round(d))  # TSPLIB distances are integers
    assert (d[~np.eye(n, dtype=bool)] > 0).all()
    assert inst.optimum == PUBLISHED[name]
    if name in NO_OPT_TOUR:
        assert inst.optimal_tour is None
        return
    tour = inst.optimal_tour
    assert tour.shape == (n,) and sorted(tour) == list(range(n))
    assert closed_length(d, tour) == PUBLISHED[name]


def test_readme_checksums_match_the_shipped_files():
    readme = (TSPLIB_DIR / "README.md").read_text()
    listed = dict(
        re.findall(
            r"^\| (\S+\.(?:tsp|tour)) \| \d+ \| `([0-9a-f]{64})` \|", readme, re.M
        )
    )
    shipped = sorted(
        p.name for p in TSPLIB_DIR.iterdir() if p.suffix in {".tsp", ".tour"}
    )
    assert sorted(listed) == shipped
    for name in shipped:
        assert (
            hashlib.sha256((TSPLIB_DIR / name).read_bytes()).hexdigest() == listed[name]
        )


# -- TSPLIB95 DOC section 2, written pair by pair with the math module ----------


def nint(x):
    return int(x + 0.5)


def doc_distance(kind, a, b):
    """One distance by the DOC.PS pseudo-code (GEO with truncated degrees)."""
    if kind == "EUC_2D":
        return nint(math.hypot(a[0] - b[0], a[1] - b[1]))
    if kind == "ATT":
        r = math.sqrt(((a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2) / 10.0)
        return nint(r) + 1 if nint(r) < r else nint(r)

    def rad(x):
        deg = int(x)
        return 3.141592 * (deg + 5.0 * (x - deg) / 3.0) / 180.0

    q1 = math.cos(rad(a[1]) - rad(b[1]))
    q2 = math.cos(rad(a[0]) - rad(b[0]))
    q3 = math.cos(rad(a[0]) + rad(b[0]))
    return int(6378.388 * math.acos(0.5 * ((1 + q1) * q2 - (1 - q1) * q3)) + 1)


@pytest.mark.parametrize("name", ["berlin52", "att48", "ulysses22", "gr96"])
def test_distances_match_the_doc_pseudo_code_pair_by_pair(name):
    inst = load_tsplib(name)
    xy = inst.coordinates
    n = inst.dimension
    expected = np.array(
        [
            [
                0 if i == j else doc_distance(inst.edge_weight_type, xy[i], xy[j])
                for j in range(n)
            ]
            for i in range(n)
        ]
    )
    np.testing.assert_array_equal(inst.distances, expected)


def write(tmp_path, name, lines):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\nEOF\n")
    return path


def coords_file(tmp_path, kind, points, *, type_="TSP", name="toy"):
    rows = [f"{i + 1} {x} {y}" for i, (x, y) in enumerate(points)]
    header = [f"NAME : {name}", f"TYPE : {type_}", f"DIMENSION : {len(points)}"]
    return write(
        tmp_path,
        f"{name}.tsp",
        [*header, f"EDGE_WEIGHT_TYPE : {kind}", "NODE_COORD_SECTION", *rows],
    )


def test_ceil_2d_rounds_up_where_euc_2d_rounds_to_nearest(tmp_path):
    points = [(0, 0), (3, 4.1), (0, 2.2)]  # |01| = 5.0401, |02| = 2.2, |12| = 3.55
    ceil = load_tsplib(coords_file(tmp_path, "CEIL_2D", points)).distances
    euc = load_tsplib(coords_file(tmp_path, "EUC_2D", points)).distances
    assert (ceil[0, 1], ceil[0, 2], ceil[1, 2]) == (6, 3, 4)
    assert (euc[0, 1], euc[0, 2], euc[1, 2]) == (5, 2, 4)


FORMAT_ENTRIES = {  # which (row, col) pairs each format lists, in order
    "FULL_MATRIX": lambda n: [(i, j) for i in range(n) for j in range(n)],
    "UPPER_ROW": lambda n: [(i, j) for i in range(n) for j in range(i + 1, n)],
    "LOWER_ROW": lambda n: [(i, j) for i in range(n) for j in range(i)],
    "UPPER_DIAG_ROW": lambda n: [(i, j) for i in range(n) for j in range(i, n)],
    "LOWER_DIAG_ROW": lambda n: [(i, j) for i in range(n) for j in range(i + 1)],
    "UPPER_COL": lambda n: [(i, j) for j in range(n) for i in range(j)],
    "LOWER_COL": lambda n: [(i, j) for j in range(n) for i in range(j + 1, n)],
    "UPPER_DIAG_COL": lambda n: [(i, j) for j in range(n) for i in range(j + 1)],
    "LOWER_DIAG_COL": lambda n: [(i, j) for j in range(n) for i in range(j, n)],
}


def explicit_file(tmp_path, fmt, matrix, per_line=5):
    values = [str(int(matrix[i, j])) for i, j in FORMAT_ENTRIES[fmt](len(matrix))]
    lines = [
        " ".join(values[k : k + per_line]) for k in range(0, len(values), per_line)
    ]
    header = [
        "NAME: toy",
        "TYPE: TSP",
        "COMMENT: synthetic",
        f"DIMENSION: {len(matrix)}",
    ]
    return write(
        tmp_path,
        f"{fmt}.tsp",
        [
            *header,
            "EDGE_WEIGHT_TYPE: EXPLICIT",
            f"EDGE_WEIGHT_FORMAT: {fmt}",
            "EDGE_WEIGHT_SECTION",
            *lines,
        ],
    )


@pytest.mark.parametrize("fmt", sorted(FORMAT_ENTRIES))
def test_every_explicit_format_reads_back_the_matrix(tmp_path, fmt):
    rng = np.random.default_rng(5)
    upper = np.triu(rng.integers(1, 100, (7, 7)), 1)
    matrix = upper + upper.T
    inst = load_tsplib(explicit_file(tmp_path, fmt, matrix))
    np.testing.assert_array_equal(inst.distances, matrix)
    assert inst.coordinates is None and inst.comment == "synthetic"
    assert inst.optimum is None and inst.optimal_tour is None


def test_gr24_lower_diag_row_equals_the_same_matrix_written_upper_row(tmp_path):
    gr24 = load_tsplib("gr24")
    again = load_tsplib(explicit_file(tmp_path, "UPPER_ROW", gr24.distances))
    np.testing.assert_array_equal(again.distances, gr24.distances)


def test_explicit_display_data_gives_coordinates_for_plots():
    bays = load_tsplib("bays29")
    assert bays.coordinates.shape == (29, 2)
    np.testing.assert_allclose(bays.coordinates[0], [1150.0, 1760.0])


def test_load_tour_is_zero_based_and_accepts_a_bundled_name():
    tour = load_tour("gr24")  # file: 16 11 3 7 ... 12 1
    np.testing.assert_array_equal(tour[:3], [15, 10, 2])
    assert tour[-1] == 0
    np.testing.assert_array_equal(load_tour(TSPLIB_DIR / "gr24.opt.tour"), tour)


def test_loading_by_path_equals_loading_by_name():
    by_path = load_tsplib(str(TSPLIB_DIR / "berlin52.tsp"))
    by_name = jnn.data.load_tsplib("berlin52")
    np.testing.assert_array_equal(by_path.distances, by_name.distances)
    np.testing.assert_array_equal(by_path.optimal_tour, by_name.optimal_tour)


# -- bad input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "kind", "match"),
    [
        ("ATSP", "EUC_2D", "unsupported TYPE 'ATSP'"),
        ("CVRP", "EUC_2D", "unsupported TYPE 'CVRP'"),
        ("TSP", "EUC_3D", "unsupported EDGE_WEIGHT_TYPE 'EUC_3D'"),
        ("TSP", "MAN_2D", "unsupported EDGE_WEIGHT_TYPE 'MAN_2D'"),
    ],
)
def test_unsupported_types_are_named(tmp_path, type_, kind, match):
    path = coords_file(tmp_path, kind, [(0, 0), (1, 1), (2, 0)], type_=type_)
    with pytest.raises(ValueError, match=match):
        load_tsplib(path)


def test_unsupported_edge_weight_format_is_named(tmp_path):
    path = explicit_file(tmp_path, "UPPER_ROW", np.ones((3, 3)) - np.eye(3))
    path.write_text(path.read_text().replace("UPPER_ROW", "FUNCTION"))
    with pytest.raises(ValueError, match="unsupported EDGE_WEIGHT_FORMAT 'FUNCTION'"):
        load_tsplib(path)


def test_malformed_files_raise(tmp_path):
    matrix = np.ones((4, 4)) - np.eye(4)
    short = explicit_file(tmp_path, "UPPER_ROW", matrix)
    short.write_text(short.read_text().replace("DIMENSION: 4", "DIMENSION: 5"))
    with pytest.raises(ValueError, match=r"must hold 10 numbers; got 6"):
        load_tsplib(short)
    asym = explicit_file(tmp_path, "FULL_MATRIX", matrix + np.triu(matrix))
    with pytest.raises(ValueError, match="FULL_MATRIX must be symmetric"):
        load_tsplib(asym)
    missing_ids = coords_file(tmp_path, "EUC_2D", [(0, 0), (1, 1)])
    missing_ids.write_text(missing_ids.read_text().replace("\n2 1 1", "\n3 1 1"))
    with pytest.raises(ValueError, match="node ids must be 1..2"):
        load_tsplib(missing_ids)
    no_dimension = write(tmp_path, "x.tsp", ["NAME: x", "TYPE: TSP"])
    with pytest.raises(ValueError, match="missing TSPLIB field DIMENSION"):
        load_tsplib(no_dimension)


def test_bad_tours_raise(tmp_path):
    head = ["NAME: t", "TYPE: TOUR", "DIMENSION: 4", "TOUR_SECTION"]
    with pytest.raises(ValueError, match="permutation of 1..4"):
        load_tour(write(tmp_path, "a.tour", [*head, "1 2 2 4", "-1"]))
    with pytest.raises(ValueError, match="permutation of 1..4"):
        load_tour(write(tmp_path, "b.tour", [*head, "1 2 3", "-1"]))
    with pytest.raises(ValueError, match="expected TOUR"):
        load_tour(TSPLIB_DIR / "gr24.tsp")
    # an .opt.tour of the wrong size next to an instance
    coords_file(tmp_path, "EUC_2D", [(0, 0), (1, 1), (2, 0)], name="tri")
    write(tmp_path, "tri.opt.tour", [*head, "1 2 3 4", "-1"])
    with pytest.raises(ValueError, match="has 4 cities; tri.tsp has 3"):
        load_tsplib(tmp_path / "tri.tsp")


def test_unknown_names_and_paths_raise():
    with pytest.raises(ValueError, match="bundled: att48, bayg29"):
        load_tsplib("berlin53")
    with pytest.raises(ValueError, match="nor a bundled instance"):
        load_tour("burma14")  # bundled, but TSPLIB has no optimal tour for it
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_tsplib("/nonexistent/berlin52.tsp")
    with pytest.raises(TypeError, match="must be a path"):
        load_tsplib(52)


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_coordinates_are_refused(tmp_path, bad):
    # Before: NaN/inf coordinates gave NaN or inf distances without a word.
    path = coords_file(tmp_path, "EUC_2D", [(0, 0), (1, bad), (2, 0)])
    with pytest.raises(
        ValueError, match=f"NODE_COORD_SECTION must hold finite numbers; got '{bad}'"
    ):
        load_tsplib(path)


@pytest.mark.parametrize("fmt", ["FULL_MATRIX", "UPPER_ROW", "LOWER_DIAG_COL"])
def test_negative_or_non_finite_explicit_weights_are_refused(tmp_path, fmt):
    matrix = np.array([[0, 3, 77], [3, 0, -5], [77, -5, 0]])
    path = explicit_file(tmp_path, fmt, matrix)
    with pytest.raises(ValueError, match="must hold distances >= 0; got -5 for cities"):
        load_tsplib(path)
    path.write_text(path.read_text().replace("-5", "8").replace("77", "inf"))
    with pytest.raises(ValueError, match="must hold finite numbers; got 'inf'"):
        load_tsplib(path)


def test_the_optimum_needs_the_published_name_and_dimension(tmp_path):
    # Before: looked up by NAME alone, a 3-city "berlin52" reported 7542.
    toy = coords_file(tmp_path, "EUC_2D", [(0, 0), (3, 4), (6, 0)], name="berlin52")
    assert load_tsplib(toy).optimum is None
    real = tmp_path / "real"
    real.mkdir()
    shutil.copy(TSPLIB_DIR / "berlin52.tsp", real)
    assert load_tsplib(real / "berlin52.tsp").optimum == PUBLISHED["berlin52"]


def test_a_tour_file_without_dimension_is_checked_against_its_instance(tmp_path):
    # TSPLIB95's DOC does not require DIMENSION in a tour file and several
    # official .opt.tour files omit it; before, the whole instance was refused
    # ("missing TSPLIB field DIMENSION").
    shutil.copy(TSPLIB_DIR / "berlin52.tsp", tmp_path)
    lines = (TSPLIB_DIR / "berlin52.opt.tour").read_text().splitlines()
    text = "\n".join(line for line in lines if not line.startswith("DIMENSION"))
    tour_file = tmp_path / "berlin52.opt.tour"
    tour_file.write_text(text + "\n")
    inst = load_tsplib(tmp_path / "berlin52.tsp")
    np.testing.assert_array_equal(inst.optimal_tour, load_tour("berlin52"))
    assert closed_length(inst.distances, inst.optimal_tour) == PUBLISHED["berlin52"]
    np.testing.assert_array_equal(load_tour(tour_file), inst.optimal_tour)
    # The instance's dimension decides: a tour missing city 49 is refused.
    tour_file.write_text(text.replace("\n49\n", "\n", 1) + "\n")
    with pytest.raises(ValueError, match="permutation of 1..52; got 51 entries"):
        load_tsplib(tmp_path / "berlin52.tsp")
    tour_file.write_text("NAME : berlin52.opt.tour\nTYPE : TOUR\nEOF\n")
    with pytest.raises(ValueError, match="missing TOUR_SECTION"):
        load_tsplib(tmp_path / "berlin52.tsp")
