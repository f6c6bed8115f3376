"""The command line: list, run, tour (smoke sizes)."""

import json
import subprocess
import sys

import pytest

from jnn import cli
from jnn.demos import demo_index, registry


def test_list_shows_every_demo(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    names = list(registry())
    assert len(names) >= 7
    assert all(name in out for name in names)


def test_demo_index_read_from_the_sources_is_the_registry():
    """The ``ast`` index (``jnn list``, ``jnn run``) against what imports register."""
    index, demos = demo_index(), registry()
    assert list(index) == list(demos)  # same names, same order
    for name, entry in index.items():
        demo = demos[name]
        assert (entry.chapter, entry.description) == (demo.chapter, demo.description)
        assert demo.run.__module__ == entry.module


def test_run_imports_one_chapter_and_import_jnn_none():
    code = (
        "import json, sys, jnn\n"
        "def chapters():\n"
        "    names = [m for m in sys.modules if m.startswith('jnn.')]\n"
        "    return sorted({m.split('.')[1] for m in names})\n"
        "before = chapters()\n"
        "from jnn.demos import get\n"
        "demo = get('karate-gcn')\n"
        "print(json.dumps([before, demo.chapter, chapters()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    before, chapter, after = json.loads(out)
    assert before == []  # `import jnn` imports no chapter
    assert chapter == "G2"
    # the graph chapter and the shared layers it stands on, no other chapter
    others = {"cnn", "generative", "hopfield", "rnn", "static", "transformer"}
    assert "graph" in after and not others & set(after), after


# Tour families, one test each so that pytest-xdist spreads them over workers.
# "G1" (graphs) is not a prefix of "Gen1" (generative models).
FAMILIES = ["S", "D", "C", "R", "T", "G1", "G2", "G3", "Gen1", "Gen2", "Gen3"]
FAMILIES += ["Gen4", "Gen5"]


def test_every_demo_belongs_to_a_toured_chapter():
    for demo in registry().values():
        assert demo.chapter.startswith(tuple(FAMILIES)), demo


def test_unknown_demo_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(["run", "no-such-demo"])
    assert err.value.code == 2
    assert "unknown demo 'no-such-demo'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "mlp-digits", "--epochs", "0"])
    with pytest.raises(SystemExit):
        cli.main(["tour", "--chapter", "D10", "--jobs", "0"])
    assert "--jobs must be a positive int; got 0" in capsys.readouterr().err


def test_tour_jobs_default_to_the_cores_on_cpu_only(monkeypatch):
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 16)
    monkeypatch.setattr(cli, "_cpu_only", lambda: True)
    assert cli.default_jobs() == 4
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 2)
    assert cli.default_jobs() == 2
    monkeypatch.setattr(cli, "_cpu_only", lambda: False)  # an accelerator plugin
    assert cli.default_jobs() == 1


def test_demo_compile_settings_respect_the_users_xla_flags(monkeypatch):
    monkeypatch.setattr(cli, "_cpu_only", lambda: True)
    monkeypatch.setenv("XLA_FLAGS", "")  # the user's (empty) choice: kept
    cli._demo_compile_settings()
    assert cli.os.environ["XLA_FLAGS"] == ""
    monkeypatch.delenv("XLA_FLAGS")
    cli._demo_compile_settings()
    assert cli.os.environ["XLA_FLAGS"] == cli.CPU_DEMO_XLA_FLAGS
    monkeypatch.delenv("XLA_FLAGS")
    monkeypatch.setattr(cli, "_cpu_only", lambda: False)  # an accelerator plugin
    cli._demo_compile_settings()
    assert "XLA_FLAGS" not in cli.os.environ


def test_run_writes_plots(tmp_path, capsys):
    assert (
        cli.main(["run", "stopping-diabetes", "--epochs", "30", "--out", str(tmp_path)])
        == 0
    )
    png = tmp_path / "stopping_diabetes.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "stopped by" in capsys.readouterr().out


# The GAN demos' smoke tour (vmapped WGAN-GP and DCGAN updates) runs long at
# the suite's XLA settings (optimisation level 0, see conftest.py): ~100 s of
# one core, over the 10-minute budget on 2 cores; run it with -m slow. Every
# other family's tour takes 5-40 s here.
SLOW_TOURS = ("Gen3",)
TOURS = [
    pytest.param(f, marks=pytest.mark.slow) if f in SLOW_TOURS else f for f in FAMILIES
]


# One chapter's tour runs in two spawned worker processes (the default on a
# multi-core CPU), the others in this process (spawning costs ~3 s of imports).
PARALLEL_TOUR = "D"


@pytest.mark.parametrize("chapter", TOURS)
def test_tour_smoke_writes_report_and_every_figure(chapter, tmp_path, capsys):
    jobs = "2" if chapter == PARALLEL_TOUR else "1"
    argv = ["tour", "--smoke", "--chapter", chapter, "--jobs", jobs]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    report = (tmp_path / "report.md").read_text()
    assert ("2 demos at a time" in report) == (jobs == "2")
    demos = [d for d in registry().values() if d.chapter.startswith(chapter)]
    assert demos
    for demo in demos:
        assert f"| {demo.name} |" in report
    figures = sorted(tmp_path.glob("*.png"))
    assert len(figures) >= len(demos)
    assert all(f.read_bytes()[:4] == b"\x89PNG" for f in figures)
    assert all(f"]({f.name})" in report for f in figures)
