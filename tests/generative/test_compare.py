"""Gen5 comparison plumbing: the table and the sample figure (no training here).

The demo itself (four trainings) runs in the tour test; these checks need no
compilation.
"""

import numpy as np

from jnn.generative.demos.compare import (
    FAMILIES,
    FamilyScore,
    markdown_table,
    sample_rows_figure,
)


def _rows():
    images = np.random.default_rng(0).random((10, 28, 28))
    return [
        FamilyScore(f, 100.0 + i, 10 - i, 0.9, 0.5, 3.0, 2.0, images)
        for i, f in enumerate(FAMILIES)
    ]


def test_markdown_table_has_one_row_per_family():
    lines = markdown_table(_rows()).splitlines()
    assert len(lines) == 2 + len(FAMILIES)
    columns = [c.strip() for c in lines[0].strip("|").split("|")]
    assert columns[:3] == ["family", "MNIST-FID", "classes covered"]
    for line, family, i in zip(lines[2:], FAMILIES, range(4), strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(columns)
        assert cells[0] == family
        assert float(cells[1]) == 100.0 + i
        assert cells[2] == f"{10 - i}/10"


def test_sample_rows_figure_writes_png(tmp_path):
    rows = _rows()
    path = sample_rows_figure(
        {r.family: r.samples for r in rows}, tmp_path / "grid.png", "title"
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
