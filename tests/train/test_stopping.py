"""Stopping criteria as pure functions of the epoch records (S2)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.train import stopping


def drive(stop, records, state=None):
    """Feed records one by one; return the fired vectors and the final state."""
    state = {"w": jnp.zeros(2)} if state is None else state
    stop_state = stop.init(state)
    fired = []
    for i, rec in enumerate(records):
        rec = {"epoch": jnp.int32(i), **{k: jnp.float32(v) for k, v in rec.items()}}
        stop_state, f = stop.update(stop_state, rec, {"w": jnp.full(2, float(i))})
        fired.append(np.asarray(f))
    return np.array(fired), stop_state


def test_max_epochs_fires_at_n():
    fired, _ = drive(stopping.max_epochs(3), [{}] * 5)
    np.testing.assert_array_equal(fired[:, 0], [False, False, True, True, True])


def test_gradient_norm_below_threshold():
    records = [{"grad_norm": g} for g in (1.0, 0.5, 1e-3, 1e-6)]
    fired, _ = drive(stopping.gradient_norm_below(1e-2), records)
    np.testing.assert_array_equal(fired[:, 0], [False, False, True, True])


def test_relative_loss_change_formula():
    # |E(n) - E(n-1)| / E(n-1): 1 -> 0.5 is 0.5; 0.5 -> 0.4995 is 1e-3.
    records = [{"loss": e} for e in (1.0, 0.5, 0.4995, 0.2)]
    fired, _ = drive(stopping.relative_loss_change_below(2e-3), records)
    np.testing.assert_array_equal(fired[:, 0], [False, False, True, False])


def test_validation_patience_counts_and_keeps_best_state():
    values = [1.0, 0.8, 0.9, 0.85, 0.95, 0.7]
    stop = stopping.validation_patience(3)
    fired, st = drive(stop, [{"val_loss": v} for v in values])
    # best at epoch 1; epochs 2, 3, 4 do not improve -> fires at epoch 4.
    np.testing.assert_array_equal(fired[:, 0], [0, 0, 0, 0, 1, 0])
    assert int(st.best_epoch) == 5  # epoch 5 improved again
    restored = stop.finalize(st, {"w": jnp.full(2, 99.0)})
    np.testing.assert_array_equal(restored["w"], [5.0, 5.0])


def test_validation_patience_max_mode_and_no_restore():
    stop = stopping.validation_patience(
        2, metric="val_accuracy", mode="max", restore_best=False
    )
    fired, st = drive(stop, [{"val_accuracy": a} for a in (0.5, 0.9, 0.8, 0.85)])
    np.testing.assert_array_equal(fired[:, 0], [0, 0, 0, 1])
    last = {"w": jnp.ones(2)}
    assert stop.finalize(st, last) is last


def test_any_of_reports_each_criterion():
    stop = stopping.any_of(
        stopping.max_epochs(4),
        stopping.gradient_norm_below(0.1),
        stopping.max_epochs(2),
    )
    assert stop.names == ("max_epochs", "gradient_norm_below", "max_epochs_2")
    assert set(stop.requires) == {"epoch", "grad_norm"}
    fired, _ = drive(stop, [{"grad_norm": g} for g in (1.0, 0.05, 1.0, 1.0)])
    np.testing.assert_array_equal(fired, [[0, 0, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1]])


def test_criteria_are_jittable():
    stop = stopping.any_of(
        stopping.relative_loss_change_below(1e-3), stopping.validation_patience(2)
    )
    state = {"w": jnp.zeros(3)}
    rec = {
        "epoch": jnp.int32(0),
        "loss": jnp.float32(1.0),
        "val_loss": jnp.float32(2.0),
    }
    s, f = jax.jit(stop.update)(stop.init(state), rec, state)
    assert f.shape == (2,) and f.dtype == jnp.bool_


@pytest.mark.parametrize(
    ("factory", "arg", "error"),
    [
        (stopping.max_epochs, 0, ValueError),
        (stopping.max_epochs, 2.5, TypeError),
        (stopping.gradient_norm_below, -1.0, ValueError),
        (stopping.relative_loss_change_below, float("nan"), ValueError),
        (stopping.validation_patience, 0, ValueError),
    ],
)
def test_bad_arguments(factory, arg, error):
    with pytest.raises(error, match="must be"):
        factory(arg)


def test_bad_mode_and_any_of():
    with pytest.raises(ValueError, match="`mode`"):
        stopping.validation_patience(3, mode="best")
    with pytest.raises(TypeError, match="any_of"):
        stopping.any_of("max_epochs")


def test_absolute_change_below():
    records = [{"ll": v} for v in (-10.0, -5.0, -4.9995, -4.9)]
    fired, _ = drive(stopping.absolute_change_below(1e-3, metric="ll"), records)
    np.testing.assert_array_equal(fired[:, 0], [False, False, True, False])


def test_metric_below():
    records = [{"center_shift": v} for v in (1.0, 1e-5, 0.0)]
    fired, _ = drive(stopping.metric_below(1e-4, metric="center_shift"), records)
    np.testing.assert_array_equal(fired[:, 0], [False, True, True])
    with pytest.raises(TypeError, match="`threshold`"):
        stopping.metric_below("small", metric="center_shift")


def test_same_arguments_give_the_same_criterion():
    from jnn.train import any_of, relative_loss_change_below, validation_patience

    a = any_of(validation_patience(5), relative_loss_change_below(1e-4))
    b = any_of(validation_patience(5), relative_loss_change_below(1e-4))
    assert a is b  # the compiled epoch is reused by fits that rebuild their stop
    assert validation_patience(5) is not validation_patience(6)
