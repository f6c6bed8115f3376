"""Orbax checkpoints: a killed run resumes to bitwise the same parameters."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import jnn
from tests.conftest import load
from tests.train._ckpt_child import EPOCHS

CHILD = Path(__file__).with_name("_ckpt_child.py")


def steps(directory: Path) -> list[int]:
    if not directory.exists():
        return []
    return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def spawn(ckpt: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    env.pop("XLA_FLAGS", None)  # XLA's default optimisation: this one runs long
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(ckpt), str(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def test_killed_run_resumes_bitwise(tmp_path):
    killed_dir, clean_dir = tmp_path / "killed", tmp_path / "clean"
    clean = spawn(clean_dir, tmp_path / "clean.npz")  # uninterrupted reference
    victim = spawn(killed_dir, tmp_path / "unused.npz")
    deadline = time.time() + 240
    while not [s for s in steps(killed_dir) if s >= 15] and victim.poll() is None:
        assert time.time() < deadline, "no checkpoint written in time"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, victim.stdout.read().decode()
    saved = steps(killed_dir)
    assert saved and max(saved) < EPOCHS  # really killed in the middle
    assert clean.wait(timeout=600) == 0, clean.stdout.read().decode()

    resumed = spawn(killed_dir, tmp_path / "resumed.npz")
    assert resumed.wait(timeout=600) == 0, resumed.stdout.read().decode()
    a = np.load(tmp_path / "resumed.npz")
    b = np.load(tmp_path / "clean.npz")
    assert int(a["epochs"]) == int(b["epochs"]) == EPOCHS
    assert set(a.files) == set(b.files)
    assert int(a["n_stats"]) == 4  # BatchNorm means and variances of 2 layers
    for name in a.files:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_resume_refuses_another_key(tmp_path):
    data = load("iris")
    model = jnn.static.MLP(features=(8, 3))
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.sgd(0.1)
    )
    kwargs = {
        "epochs": 4,
        "batch_size": 16,
        "checkpoint_dir": tmp_path,
        "checkpoint_every": 2,
    }
    first = jnn.train.fit(learner, data.train, key=jax.random.key(0), **kwargs)
    assert steps(tmp_path)[-1] == 4
    again = jnn.train.fit(learner, data.train, key=jax.random.key(0), **kwargs)
    assert again.epochs == 4  # finished run: restored, nothing more to do
    np.testing.assert_array_equal(first.history["loss"], again.history["loss"])
    with pytest.raises(ValueError, match="another `key`"):
        jnn.train.fit(learner, data.train, key=jax.random.key(1), **kwargs)
