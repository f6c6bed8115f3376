"""LeNet-5's RBF output layer and the paper's MAP criterion (LeCun et al. 1998)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn.cnn import (
    DIGIT_BITMAPS,
    EuclideanRBF,
    LeNet5,
    parameter_counts,
    rbf_map_loss,
    squash,
)
from jnn.train import Context, fit, gradient_learner
from tests.cnn.test_lenet import digits_32
from tests.conftest import load


class Given(nn.Module):
    """Outputs its input: the loss sees the penalties we choose."""

    @nn.compact
    def __call__(self, x):
        return x


def test_digit_bitmaps_are_distinct_plus_minus_one_7x12_images():
    assert DIGIT_BITMAPS.shape == (10, 12, 7) and DIGIT_BITMAPS.dtype == np.float32
    assert set(np.unique(DIGIT_BITMAPS)) == {-1.0, 1.0}
    codes = DIGIT_BITMAPS.reshape(10, 84)
    hamming = (codes[:, None, :] != codes[None, :, :]).sum(-1)
    assert hamming[~np.eye(10, dtype=bool)].min() == 12
    # Blank first and last rows; "1" has its stem in the middle column.
    assert np.all(DIGIT_BITMAPS[:, [0, -1]] == -1.0)
    assert np.all(DIGIT_BITMAPS[1, 1:10, 3] == 1.0)


def test_euclidean_rbf_closed_form():
    centres = np.array([[1.0, -1.0, 1.0], [-1.0, -1.0, -1.0]], np.float32)
    x = jnp.array([[0.5, 0.0, 2.0], [-1.0, -1.0, -1.0]])
    y = EuclideanRBF(centres).apply({}, x)
    # (0.5-1)^2 + (0+1)^2 + (2-1)^2 = 2.25; (0.5+1)^2 + 1 + 9 = 12.25;
    # (-1-1)^2 + 0 + (-1-1)^2 = 8
    np.testing.assert_allclose(y, [[2.25, 12.25], [8.0, 0.0]], rtol=1e-6)
    assert EuclideanRBF().apply({}, jnp.zeros((2, 84))).shape == (2, 10)
    np.testing.assert_allclose(EuclideanRBF().apply({}, jnp.zeros((1, 84))), 84.0)
    with pytest.raises(ValueError, match=r"\(batch, 84\).*got input shape \(2, 83\)"):
        EuclideanRBF().apply({}, jnp.zeros((2, 83)))


def test_map_loss_closed_form_and_argmin_predictions():
    penalties = np.array([[0.5, 2.0, 3.0], [4.0, 1.0, 6.0]], np.float32)
    labels = np.array([0, 1], np.int32)
    j = 1.5
    loss = rbf_map_loss(Given(), j=j)
    value, aux, state = loss({}, {"x": penalties, "y": labels}, Context())
    # E = mean_p [ y_{D_p} + log(e^{-j} + sum_i e^{-y_i}) ]
    y = penalties.astype(np.float64)
    expected = np.mean(y[[0, 1], labels] + np.log(np.exp(-j) + np.exp(-y).sum(axis=1)))
    np.testing.assert_allclose(value, expected, rtol=1e-6)
    # The prediction is the smallest penalty (0 and 1), not the largest (2, 2).
    assert float(aux["accuracy"]) == 1.0 and state == {}
    # j controls the rubbish class: as j grows the loss tends to softmax CE of -y.
    big = rbf_map_loss(Given(), j=50.0)({}, {"x": penalties, "y": labels}, None)[0]
    ce = optax.softmax_cross_entropy_with_integer_labels(-penalties, labels).mean()
    np.testing.assert_allclose(big, ce, rtol=1e-6)
    assert float(value) > float(big)  # a larger e^{-j} in the normaliser


def test_lenet5_rbf_output_is_the_distance_of_f6_to_the_bitmaps(key):
    model = LeNet5(variant="paper", output="rbf", conv_path="xla")
    x = jax.random.normal(key, (3, 32, 32, 1))
    variables = jax.jit(model.init)(jax.random.key(1), x)
    counts = parameter_counts(variables["params"])
    assert "output" not in counts and counts["total"] == 60_000  # the paper's count
    y, state = jax.jit(lambda v, x: model.apply(v, x, capture_intermediates=True))(
        variables, x
    )
    f6 = squash(state["intermediates"]["F6"]["__call__"][0])  # (3, 84)
    codes = DIGIT_BITMAPS.reshape(10, 84)
    expected = ((np.asarray(f6)[:, None, :] - codes[None]) ** 2).sum(-1)
    np.testing.assert_allclose(y, expected, rtol=1e-5)
    assert y.shape == (3, 10) and float(jnp.min(y)) > 0


def test_bad_input():
    with pytest.raises(ValueError, match="needs variant='paper'"):
        LeNet5(variant="modern", output="rbf")
    with pytest.raises(ValueError, match="num_classes=10; got .* num_classes=26"):
        LeNet5(output="rbf", num_classes=26)
    with pytest.raises(ValueError, match="`output` must be one of"):
        LeNet5(output="softmax")
    with pytest.raises(ValueError, match=r"LeNet5\(output='rbf'\)"):
        rbf_map_loss(LeNet5())
    for j in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="`j` must be a finite number > 0"):
            rbf_map_loss(Given(), j=j)
    loss = rbf_map_loss(Given())
    with pytest.raises(ValueError, match="has no entry 'y'"):
        loss.check({"x": np.zeros((2, 3))}, "train")
    with pytest.raises(TypeError, match="integer"):
        loss.check({"x": np.zeros((2, 3)), "y": np.zeros(2)}, "train")


@pytest.mark.slow  # ~14 s of one core (the suite's 10-minute budget on 2 cores)
def test_paper_lenet5_with_rbf_output_learns_digits():
    # The paper's network and loss end to end: C3 table, trainable subsampling,
    # squashing, fixed RBF bitmaps, MAP criterion (j = 0.1).
    ds = load("digits", standardize=False)
    train, test = digits_32(ds.train), digits_32(ds.test)
    model = LeNet5(variant="paper", c3="table", output="rbf")
    schedule = optax.cosine_decay_schedule(2e-3, 15 * (len(train["y"]) // 32))
    learner = gradient_learner(model, rbf_map_loss(model), optax.adam(schedule))
    result = fit(learner, train, key=jax.random.key(0), epochs=15, batch_size=32)
    accuracy = float(learner.evaluate(result.state, test)["accuracy"])
    # 0.955 measured (seeds 0-4: 0.950-0.955); chance is 0.1
    assert accuracy >= 0.945, accuracy
