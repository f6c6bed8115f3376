"""Tests of CycleGAN and its unpaired MNIST domains."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.data import load
from jnn.generative.gan.cyclegan import (
    CycleGenerator,
    PatchDiscriminator,
    cycle_errors,
    cyclegan,
    cyclegan_learner,
    generator_objective,
    least_squares_discriminator_loss,
    least_squares_generator_loss,
    translate,
)
from jnn.generative.gan.domains import (
    domain_transform,
    inverse_domain_transform,
    unpaired_domains,
)
from jnn.train import fit


@pytest.fixture(scope="module")
def mnist():
    ds = load("mnist", standardize=False, flatten=False)
    return ds.train["x"][:1200], ds.train["y"][:1200], ds.test["x"][:200]


def test_cycle_and_identity_losses_vanish_for_identity_generators():
    a, b = jax.random.uniform(jax.random.key(0), (2, 4, 28, 28, 1))

    def same(x):
        return x

    def perfect(x):  # a discriminator fooled everywhere: scores 1
        return jnp.ones((x.shape[0], 7, 7, 1))

    loss, parts = jax.jit(
        lambda a, b: generator_objective(same, same, perfect, perfect, a, b, 10.0, 5.0)
    )(a, b)
    assert float(parts["cycle"]) == 0.0 and float(parts["identity"]) == 0.0
    assert float(loss) == 0.0
    # a generator that inverts: one cycle through two of them is the identity
    loss, parts = generator_objective(
        lambda x: 1 - x, lambda x: 1 - x, perfect, perfect, a, b, 10.0, 5.0
    )
    assert float(parts["cycle"]) == pytest.approx(0.0, abs=1e-7)
    expected = float(jnp.mean(jnp.abs(1 - 2 * a)) + jnp.mean(jnp.abs(1 - 2 * b)))
    assert float(parts["identity"]) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("network", ["generator", "discriminator"])
def test_fast_conv_path_equals_reference(network):
    x = jax.random.uniform(jax.random.key(1), (2, 8, 8, 1))
    cls = {"generator": CycleGenerator, "discriminator": PatchDiscriminator}[network]
    kw = (
        {"features": 4, "residual_blocks": 1}
        if network == "generator"
        else {"features": 4}
    )
    params = cls(**kw).init(jax.random.key(0), x)
    results = []
    for path in ("reference", "fast"):
        model = cls(**kw, conv_path=path)
        loss = lambda p, m=model: jnp.sum(jnp.sin(m.apply(p, x)))  # noqa: E731
        results.append(jax.jit(jax.value_and_grad(loss))(params))
    # float32 sums reordered (im2col products vs XLA's convolutions)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-4), *results
    )


def test_least_squares_losses_closed_form():
    real, fake = jnp.array([1.0, 0.5]), jnp.array([0.0, 1.0])
    # 0.5 * (mean([0, 0.25]) + mean([0, 1])) = 0.5 * (0.125 + 0.5)
    assert float(least_squares_discriminator_loss(real, fake)) == pytest.approx(0.3125)
    assert float(least_squares_generator_loss(fake)) == pytest.approx(0.5)


def test_domains_are_disjoint_and_transformed(mnist):
    x, y, _ = mnist
    d = unpaired_domains(x[:101], y[:101], jax.random.key(0), "invert")
    assert len(d.a_rows) == len(d.b_rows) == 50
    assert not set(d.a_rows.tolist()) & set(d.b_rows.tolist())
    np.testing.assert_array_equal(d.a, x[d.a_rows])
    np.testing.assert_allclose(d.b, 1 - x[d.b_rows])
    np.testing.assert_array_equal(d.b_labels, y[d.b_rows])
    # no B image is the transform of an A image: the pairing is never there
    a_as_b = np.asarray(domain_transform(d.a, "invert")).reshape(50, -1)
    distances = np.abs(a_as_b[:, None] - np.asarray(d.b).reshape(1, 50, -1)).sum(-1)
    assert distances.min() > 1.0


def test_rotations_match_numpy(mnist):
    x = mnist[0][:5]
    quarter = domain_transform(x, "rot90")
    np.testing.assert_array_equal(quarter, np.rot90(x, 1, axes=(1, 2)))
    # bilinear rotation by exactly 90 degrees lands on the pixel grid
    np.testing.assert_allclose(
        domain_transform(x, "rotate", angle=90.0), quarter, atol=1e-5
    )
    np.testing.assert_array_equal(inverse_domain_transform(quarter, "rot90"), x)


@pytest.fixture(scope="module")
def trained(mnist):
    x, y, test = mnist
    d = unpaired_domains(x[:512], y[:512], jax.random.key(1), "invert")
    model = cyclegan(
        features=4, residual_blocks=1, downsamplings=1, discriminator_features=8
    )
    learner = cyclegan_learner(model, learning_rate=2e-3)
    start = jax.jit(learner.init)(jax.random.key(0), None).params
    result = fit(
        learner, {"a": d.a, "b": d.b}, key=jax.random.key(0), epochs=3, batch_size=16
    )
    return model, start, result


@pytest.mark.slow  # ~35 s of one core to compile (suite budget)
def test_short_training_lowers_cycle_error(mnist, trained):
    model, start, result = trained
    test = mnist[2]
    held_out_b = domain_transform(test[100:], "invert")
    before = cycle_errors(model, start, test[:100], held_out_b)
    after = cycle_errors(model, result.state.params, test[:100], held_out_b)
    cycle = result.history["generators_cycle"]
    assert np.all(np.isfinite(result.history["generators_loss"]))
    assert cycle[-1] < cycle[0]
    # 4 seeds: MAE 0.076-0.109 after 3 epochs (0.44-0.51 at initialisation)
    assert before.a_mae > 0.3 and before.b_mae > 0.3
    assert after.a_mae < 0.13 and after.b_mae < 0.13, (before, after)


# trains the fixture: ~30-90 s of one core (the 10-minute suite budget)
@pytest.mark.slow
def test_translate_shapes_and_directions(mnist, trained):
    model, _, result = trained
    params = result.state.params
    x = mnist[2][:3]
    b = domain_transform(x, "invert")
    outs = [
        translate(model, params, x, "a_to_b"),
        translate(model, params, b, "b_to_a"),
    ]
    for out in outs:
        assert out.shape == (3, 28, 28, 1)
        assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    # G has learnt to invert MNIST digits, F to invert them back: each output
    # is far closer to its (never shown) counterpart than to its input
    for out, source, target in zip(outs, (x, b), (b, x), strict=True):
        to_target = float(jnp.mean(jnp.abs(out - target)))
        assert to_target < 0.5 * float(jnp.mean(jnp.abs(out - source)))


def test_bad_input(mnist):
    x, y, _ = mnist
    with pytest.raises(ValueError, match="cycle_weight"):
        cyclegan(cycle_weight=-1.0)
    with pytest.raises(ValueError, match="identity_weight"):
        cyclegan(identity_weight=-0.5)
    with pytest.raises(ValueError, match="image_size"):
        cyclegan(image_size=30)
    with pytest.raises(ValueError, match="image_size"):
        cyclegan(downsamplings=3)  # 28 is not a multiple of 8
    with pytest.raises(ValueError, match="features"):
        cyclegan(features=0)
    model = cyclegan(
        features=4, residual_blocks=1, downsamplings=1, discriminator_features=8
    )
    params = jax.jit(cyclegan_learner(model).init)(jax.random.key(0), None).params
    with pytest.raises(ValueError, match="direction"):
        translate(model, params, x[:2], "sideways")
    with pytest.raises(ValueError, match="images"):
        translate(model, params, jnp.zeros((2, 32, 32, 1)))
    with pytest.raises(ValueError, match="transform"):
        unpaired_domains(x, y, jax.random.key(0), "mirror")
    with pytest.raises(ValueError, match="labels"):
        unpaired_domains(x, y[:10], jax.random.key(0))
    with pytest.raises(ValueError, match="learning_rate"):
        cyclegan_learner(model, learning_rate=0.0)
