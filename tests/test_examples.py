"""Every example script runs as written (smoke sizes) and learns something."""

import runpy
from pathlib import Path

import numpy as np

EXAMPLES = Path(__file__).parents[1] / "examples"


def run_example(relative: str, tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    return runpy.run_path(str(EXAMPLES / relative))["main"](["--smoke"])


def test_every_example_is_tested():
    scripts = {p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py")}
    tested_elsewhere = {  # smoke-tested beside their chapter tests
        "static/rbf_vs_mlp.py",  # tests/static/test_rbf.py
        "hopfield/capacity.py",  # tests/hopfield/test_analysis.py
    }
    assert scripts == {"static/mlp_mnist.py", "static/learning_rate_sweep.py"} | (
        tested_elsewhere
    )


def test_mlp_mnist_smoke(tmp_path, monkeypatch):
    result = run_example("static/mlp_mnist.py", tmp_path, monkeypatch)
    assert result["test_accuracy"] > 0.6  # 15 steps on 2,000 images; chance 0.1
    assert (tmp_path / "jnn-output" / "mlp_mnist_loss.png").exists()


def test_learning_rate_sweep_smoke(tmp_path, monkeypatch):
    result = run_example("static/learning_rate_sweep.py", tmp_path, monkeypatch)
    accuracy = np.asarray(result["accuracy"])
    assert accuracy.shape == (4, 2) and accuracy.max() > 0.5
