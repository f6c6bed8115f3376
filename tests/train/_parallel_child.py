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
    print(
        json.dumps(
            {
                "max_param_diff": max(diffs),
                "val_loss_many": float(many.history["val_loss"][-1]),
                "val_loss_one": float(one.history["val_loss"][-1]),
                "state_devices": len(leaf.sharding.device_set),
                "state_replicated": bool(leaf.sharding.is_fully_replicated),
                "hlo_has_allreduce": "all-reduce" in _epoch_hlo(learner, data),
            }
        )
    )


def _epoch_hlo(learner, data) -> str:
    from jnn.train.fit import _compiled
    from jnn.train.loop import _Plan
    from jnn.train.parallel import placement
    from jnn.train.plans import shuffled
    from jnn.train.stopping import never

    where = placement(None, 32)
    n = len(data.train["y"])
    plan = _Plan(learner, never(), n, shuffled(32), 5, where.constrain)
    init, epoch = _compiled(plan, where.replicated, 10)
    train = jax.device_put(dict(data.train), where.replicated)
    key = jax.device_put(jax.random.key(0), where.replicated)
    carry = init(train, None, key)
    return epoch.lower(carry, train, None, key).compile().as_text()


if __name__ == "__main__":
    main()
