"""Random affine distortions: warp vs SciPy, invariants, the augmented loss."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.ndimage

from jnn.cnn import LeNet5, affine_warp, augmented_loss, random_affine
from jnn.train import Context, classification_loss, fit, gradient_learner
from tests.cnn.test_lenet import digits_32
from tests.conftest import load


@pytest.mark.parametrize(
    "matrix, offset",
    [
        ([[1.0, 0.0], [0.0, 1.0]], [0.5, -1.25]),
        ([[0.9, 0.2], [-0.1, 1.1]], [0.7, -1.3]),
        ([[0.0, -1.0], [1.0, 0.0]], [10.0, 0.0]),  # 90 degrees
        ([[1.3, 0.0], [0.4, 0.8]], [-2.0, 3.0]),
    ],
)
def test_affine_warp_equals_scipy(matrix, offset):
    image = np.random.default_rng(0).normal(size=(12, 11, 2)).astype(np.float32)
    matrix, offset = np.array(matrix), np.array(offset)
    ours = affine_warp(jnp.asarray(image), jnp.asarray(matrix), jnp.asarray(offset))
    ref = np.stack(
        [
            scipy.ndimage.affine_transform(
                image[..., c].astype(np.float64),
                matrix,
                offset,
                order=1,
                mode="nearest",
            )
            for c in range(2)
        ],
        axis=-1,
    )
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def blobs(n: int = 6) -> np.ndarray:
    """``(n, 32, 32, 1)`` images: a bright square on a zero background."""
    x = np.zeros((n, 32, 32, 1), np.float32)
    x[:, 12:20, 13:19] = 1.0
    return x


def centroid(x):
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    mass = x[..., 0].sum(axis=(1, 2))
    return np.stack(
        [(x[..., 0] * g).sum(axis=(1, 2)) / mass for g in (rows, cols)], axis=-1
    )


def test_no_distortion_is_the_identity(key):
    x = jax.random.normal(key, (3, 32, 32, 2))
    np.testing.assert_allclose(random_affine(key, x), x, atol=1e-6)


def test_shifts_move_the_centroid_within_bounds(key):
    x = blobs(16)
    y = np.asarray(random_affine(key, jnp.asarray(x), max_shift=3.0))
    # Bilinear interpolation preserves the mass of an interior blob under shifts.
    np.testing.assert_allclose(y.sum(axis=(1, 2, 3)), x.sum(axis=(1, 2, 3)), rtol=1e-5)
    moved = centroid(y) - centroid(x)
    assert np.all(np.abs(moved) <= 3.0 + 1e-4)
    assert np.abs(moved).max() > 1.0  # the images really moved
    assert len(np.unique(np.round(moved[:, 0], 3))) == 16  # one shift per image


def test_scaling_changes_the_mass_within_bounds(key):
    x = blobs(16)
    y = np.asarray(random_affine(key, jnp.asarray(x), max_scale=0.2))
    ratio = y.sum(axis=(1, 2, 3)) / x.sum(axis=(1, 2, 3))
    assert np.all(ratio >= 0.8**2 - 0.05) and np.all(ratio <= 1.2**2 + 0.05)
    assert ratio.max() - ratio.min() > 0.2
    # Rotation and shear keep the area (determinant 1) up to interpolation.
    z = np.asarray(
        random_affine(key, jnp.asarray(x), max_rotation_deg=30.0, max_shear=0.3)
    )
    np.testing.assert_allclose(z.sum(axis=(1, 2, 3)), x.sum(axis=(1, 2, 3)), rtol=0.1)
    assert np.abs(z - x).max() > 0.5


def test_jit_vmap_and_trace_count(key):
    distort = functools.partial(
        random_affine, max_rotation_deg=15.0, max_scale=0.1, max_shift=2.0
    )
    x = jax.random.normal(key, (4, 16, 16, 1))

    @jax.jit
    @chex.assert_max_traces(n=1)
    def compiled(k, images):
        return distort(k, images)

    for i in range(3):  # new keys do not retrace
        out = compiled(jax.random.key(i), x)
    np.testing.assert_allclose(out, distort(jax.random.key(2), x), atol=1e-5)
    keys = jax.random.split(key, 3)
    stacked = jnp.stack([distort(k, x) for k in keys])
    np.testing.assert_allclose(
        jax.vmap(distort, (0, None))(keys, x), stacked, atol=1e-5
    )


def test_augmented_loss_distorts_training_batches_only(key):
    # The reference conv path: five small compiled losses, compiled faster.
    model = LeNet5(variant="modern", conv_path="xla")
    x = jnp.asarray(blobs(4))
    batch = {"x": x, "y": jnp.arange(4, dtype=jnp.int32)}
    params = jax.jit(model.init)(key, x)["params"]
    loss = classification_loss(model)
    distort = functools.partial(random_affine, max_shift=2.0)
    wrapped = jax.jit(augmented_loss(loss, distort))
    loss = jax.jit(loss)
    assert wrapped(params, batch, None)[0] == loss(params, batch, None)[0]
    step_key = jax.random.key(7)
    distort_key, loss_key = jax.random.split(step_key)
    train, loss_ctx = Context(step_key, train=True), Context(loss_key, train=True)
    expected = loss(params, {**batch, "x": distort(distort_key, x)}, loss_ctx)[0]
    np.testing.assert_allclose(wrapped(params, batch, train)[0], expected, rtol=1e-6)
    assert wrapped(params, batch, train)[0] != loss(params, batch, None)[0]
    # evaluation with a key (keyed evaluation) is not distorted either
    evaluation = Context(step_key, train=False)
    assert wrapped(params, batch, evaluation)[0] == loss(params, batch, None)[0]


def test_bad_input(key):
    with pytest.raises(ValueError, match="`images` must have rank 4"):
        random_affine(key, jnp.zeros((32, 32, 1)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        random_affine(key, jnp.full((1, 8, 8, 1), jnp.nan))
    with pytest.raises(ValueError, match="`max_shift` must be a finite float >= 0"):
        random_affine(key, jnp.zeros((1, 8, 8, 1)), max_shift=-1.0)
    with pytest.raises(ValueError, match="`max_scale` must be < 1"):
        random_affine(key, jnp.zeros((1, 8, 8, 1)), max_scale=1.0)
    with pytest.raises(TypeError, match="`augment` must be callable"):
        augmented_loss(lambda p, b, k: (0.0, {}), augment="shift")


@pytest.mark.slow  # 17 s; distorted training also runs in test_lenet5_smoke (--distort)
def test_distorted_training_learns_digits():
    """LeNet-5 trained on distorted digits (8x8 upsampled to 32x32) generalises."""
    # Same data and budget as test_lenet's undistorted paper-variant run.
    ds = load("digits", standardize=False)
    train, test = digits_32(ds.train), digits_32(ds.test)
    model = LeNet5(variant="modern", c3="full")
    distort = functools.partial(
        random_affine, max_rotation_deg=8.0, max_scale=0.08, max_shift=2.0
    )
    loss = augmented_loss(classification_loss(model), distort)
    schedule = optax.cosine_decay_schedule(2e-3, 15 * (len(train["y"]) // 32))
    learner = gradient_learner(model, loss, optax.adam(schedule))
    result = fit(learner, train, key=jax.random.key(0), epochs=15, batch_size=32)
    accuracy = float(learner.evaluate(result.state, test)["accuracy"])
    assert accuracy >= 0.95, accuracy  # 0.983 measured; chance is 0.1
