"""Child process for the data-parallel test (run with 4 fake CPU devices).

Prints a JSON line with the parameter difference between 4-device and
1-device training and the sharding of the batch and the state.
"""

import json

import jax
import numpy as np
import optax

import jnn


def main() -> None:
    assert jax.local_device_count() == 4, jax.devices()
    data = jnn.data.load("digits")
    model = jnn.static.MLP(features=(64, 10), activation="relu")
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.adam(1e-3)
    )
    common = {
        "key": jax.random.key(0),
        "epochs": 5,
        "batch_size": 32,
        "val": data.val,
        "progress": False,
    }
    many = jnn.train.fit(learner, data.train, **common)
    one = jnn.train.fit(learner, data.train, devices=jax.devices()[:1], **common)
    diffs = [
        float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        for a, b in zip(
            jax.tree.leaves(many.state.params),
            jax.tree.leaves(one.state.params),
            strict=True,
        )
    ]
    leaf = jax.tree.leaves(many.state.params)[0]
    bn_diff = _batchnorm_cnn_difference(data)
    gmm_diff = _full_batch_on_odd_data()
    print(
        json.dumps(
            {
                "batchnorm_max_diff": bn_diff,
                "gmm_log_likelihood": gmm_diff,
                "max_param_diff": max(diffs),
                "val_loss_many": float(many.history["val_loss"][-1]),
                "val_loss_one": float(one.history["val_loss"][-1]),
                "state_devices": len(leaf.sharding.device_set),
                "state_replicated": bool(leaf.sharding.is_fully_replicated),
                "hlo_has_allreduce": "all-reduce" in _epoch_hlo(learner, data),
            }
        )
    )


def _batchnorm_cnn_difference(data) -> float:
    """Largest difference of parameters and BatchNorm statistics, 4 vs 1 device.

    The engine shards the batch with jit's SPMD partitioner, so BatchNorm's
    batch mean and variance are reductions over the whole (global) batch: the
    statistics equal one-device training (synchronised BatchNorm).
    """
    from tests.train._models import BatchNormCNN

    model = BatchNormCNN()
    learner = jnn.train.gradient_learner(
        model, jnn.train.classification_loss(model), optax.adam(1e-2)
    )
    images = {"x": data.train["x"].reshape(-1, 8, 8, 1), "y": data.train["y"]}
    common = {"key": jax.random.key(0), "epochs": 2, "batch_size": 64}
    many = jnn.train.fit(learner, images, progress=False, **common)
    one = jnn.train.fit(
        learner, images, devices=jax.devices()[:1], progress=False, **common
    )
    pairs = zip(jax.tree.leaves(many.state), jax.tree.leaves(one.state), strict=True)
    return max(float(np.max(np.abs(np.asarray(a) - np.asarray(b)))) for a, b in pairs)


def _full_batch_on_odd_data() -> float:
    """A full-batch learner on 4 devices with n = 149 examples (not a multiple)."""
    x = np.asarray(jnn.data.load("iris").train["x"])
    x = np.concatenate([x, x])[:149]
    result = jnn.static.gmm_fit(x, 3, key=jax.random.key(0), covariance="diag")
    return float(result.log_likelihood)


def _epoch_hlo(learner, data) -> str:
    from jnn.train.fit import _compiled
    from jnn.train.loop import _Plan
    from jnn.train.parallel import placement
    from jnn.train.plans import shuffled
    from jnn.train.stopping import never

    where = placement(None, 32)
    n = len(data.train["y"])
    plan = _Plan(learner, never(), n, shuffled(32), 5, where.constrain)
    init, epoch = _compiled(plan, where.replicated)
    train = jax.device_put(dict(data.train), where.replicated)
    key = jax.device_put(jax.random.key(0), where.replicated)
    carry = init(train, None, key)
    return epoch.lower(carry, train, None, key, 10).compile().as_text()


if __name__ == "__main__":
    main()
