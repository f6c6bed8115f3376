"""Data parallelism over 4 (fake CPU) devices equals one-device training."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import optax
import pytest

import jnn
from tests.conftest import load


def test_four_devices_match_one_device():
    env = {
        **os.environ,
        "XLA_FLAGS": "--xla_force_host_platform_device_count=4",
        "PYTHONPATH": str(Path(__file__).parents[2]),
    }
    child = Path(__file__).with_name("_parallel_child.py")
    out = subprocess.run(
        [sys.executable, str(child)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["state_devices"] == 4 and result["state_replicated"]
    assert result["hlo_has_allreduce"]  # gradients are summed across devices
    assert result["max_param_diff"] < 1e-4
    assert abs(result["val_loss_many"] - result["val_loss_one"]) < 1e-4
    # BatchNorm statistics are global-batch statistics (synchronised BatchNorm)
    assert result["batchnorm_max_diff"] < 1e-4
    # a full-batch learner on 149 examples and 4 devices: no batch-size error,
    # and the single-device answer
    x = np.asarray(load("iris").train["x"])
    one = jnn.static.gmm_fit(
        np.concatenate([x, x])[:149], 3, key=jax.random.key(0), covariance="diag"
    )
    assert abs(result["gmm_log_likelihood"] - float(one.log_likelihood)) < 1e-5


def test_batch_must_divide_over_devices():
    data = load("iris")
    model = jnn.static.MLP(features=(4, 3))
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.sgd(0.1)
    )
    fake = [jax.devices()[0]] * 2  # two entries: the check is on the count
    with pytest.raises(ValueError, match="multiple of the number of devices"):
        jnn.train.fit(
            learner,
            data.train,
            key=jax.random.key(0),
            epochs=1,
            batch_size=15,
            devices=fake,
        )
