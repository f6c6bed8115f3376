"""Data parallelism across 2 processes equals one-device training.

Two child processes on localhost join with ``jax.distributed.initialize`` (CPU
collectives over gloo, one CPU device each) and train the digits MLP over the
2 global devices; the parent trains the same model on one device meanwhile.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax

import jnn
from tests.conftest import load

CHILD = Path(__file__).with_name("_multiprocess_child.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one_device(tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2]),
        "JAX_PLATFORMS": "cpu",
        "JAX_NUM_CPU_DEVICES": "1",
    }
    env.pop("XLA_FLAGS", None)
    coordinator = f"127.0.0.1:{_free_port()}"
    out = tmp_path / "two.npz"
    logs = [tmp_path / f"process{i}.log" for i in range(2)]
    children = []
    try:
        for i, log in enumerate(logs):
            with open(log, "w") as f:
                args = [sys.executable, str(CHILD), coordinator, "2", str(i), out]
                children.append(subprocess.Popen(args, env=env, stdout=f, stderr=f))
        one = _fit_one_device()  # while the children train
        deadline = time.monotonic() + 50
        codes = [c.poll() for c in children]
        # Stop at the first failure: its peer would hang in a collective.
        while None in codes and not any(codes) and time.monotonic() < deadline:
            time.sleep(0.1)
            codes = [c.poll() for c in children]
        tails = "\n".join(log.read_text()[-2000:] for log in logs)
        assert codes == [0, 0], f"exit codes {codes} (None: killed)\n{tails}"
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()

    two = np.load(out)
    assert int(two["process_count"]) == 2 and int(two["device_count"]) == 2
    assert int(two["state_devices"]) == 2  # the state spans both processes
    params = jax.tree.leaves(one.state.params)
    for i, leaf in enumerate(params):
        np.testing.assert_allclose(two[f"param_{i}"], leaf, rtol=0, atol=1e-4)
    assert abs(float(two["val_loss"]) - one.history["val_loss"][-1]) < 1e-4


def _fit_one_device():
    data = load("digits")
    model = jnn.static.MLP(features=(64, 10), activation="relu")
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.adam(1e-3)
    )
    return jnn.train.fit(
        learner,
        data.train,
        key=jax.random.key(0),
        epochs=5,
        batch_size=32,
        val=data.val,
        progress=False,
        devices=jax.devices()[:1],
    )
