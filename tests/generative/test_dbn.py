"""Deep belief nets: exact likelihood, greedy pre-training, up-down, classifier."""

import functools
import itertools
import runpy
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jnn import generative as gen
from jnn.train import classification_loss, fit, gradient_learner
from tests.conftest import load
from tests.generative import all_states


def bars_and_stripes(n: int = 4) -> np.ndarray:
    """The 30 distinct 4 x 4 images of full bars or full stripes (MacKay 2003)."""
    images = set()
    for bits in itertools.product([0.0, 1.0], repeat=n):
        row = np.asarray(bits)
        images.add(tuple(np.repeat(row[:, None], n, 1).ravel()))
        images.add(tuple(np.repeat(row[None, :], n, 0).ravel()))
    return np.array(sorted(images), np.float32)


def random_rbm(n_visible, n_hidden, rng):
    return gen.RBM(
        jnp.asarray(rng.normal(size=(n_visible, n_hidden)), jnp.float32),
        jnp.asarray(rng.normal(size=n_visible), jnp.float32),
        jnp.asarray(rng.normal(size=n_hidden), jnp.float32),
    )


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def brute_log_likelihood(dbn, x):
    """``log sum p(x | h1) p(h1 | h2) p_top(h2, y)`` written out (float64)."""
    (g0, g1), top = dbn.generative, dbn.top
    w, b, c = (np.asarray(p, np.float64) for p in top)
    # the top RBM's joint over [h2, y] (5 units) and its hidden layer (2 units)
    top_joint = np.array(
        [
            [np.exp(u @ b + t @ c + u @ w @ t) for t in all_states(2)]
            for u in all_states(5)
        ]
    )
    p_top = top_joint.sum(1) / top_joint.sum()

    def conditional(layer, below, above):
        p = sigmoid(
            np.asarray(layer.visible_bias, np.float64)
            + np.asarray(layer.weights, np.float64) @ above
        )
        return np.prod(np.where(below == 1, p, 1 - p))

    out = []
    for v in x:
        total = 0.0
        for k, u in enumerate(all_states(5)):
            h2 = u[:3]  # the last 2 units are the labels
            for h1 in all_states(3):
                total += conditional(g0, v, h1) * conditional(g1, h1, h2) * p_top[k]
        out.append(np.log(total))
    return np.array(out)


def test_exact_log_likelihood_equals_brute_force():
    rng = np.random.default_rng(0)
    # untied: the generative weights differ from the recognition ones
    recognition = (random_rbm(4, 3, rng), random_rbm(3, 3, rng))
    generative = (random_rbm(4, 3, rng), random_rbm(3, 3, rng))
    dbn = gen.DBN(recognition, generative, random_rbm(5, 2, rng))
    assert gen.dbn_layer_sizes(dbn) == (4, 3, 3, 2)
    assert gen.dbn_label_count(dbn) == 2
    x = all_states(4)
    got = gen.dbn_log_likelihood(dbn, x)
    np.testing.assert_allclose(got, brute_log_likelihood(dbn, x), atol=2e-5)
    assert float(jax.nn.logsumexp(got)) == pytest.approx(0.0, abs=1e-5)


# --- greedy pre-training and up-down on bars and stripes -----------------------------

BARS = bars_and_stripes()


def test_pretraining_then_up_down_raise_the_exact_likelihood():
    x = np.tile(BARS, (20, 1))
    pretrained = gen.pretrain_dbn(
        x,
        (8, 8),
        key=jax.random.key(0),
        epochs=60,
        batch_size=20,
        learning_rate=0.1,
        weight_decay=0.0,
        init_scale=0.1,
        sample_last=False,
    ).dbn
    before = float(jnp.mean(gen.dbn_log_likelihood(pretrained, BARS)))
    result = fit(
        gen.up_down(pretrained, learning_rate=0.1, k=5),
        {"x": x},
        key=jax.random.key(0),
        epochs=60,
        batch_size=20,
        val={"x": BARS},
        progress=False,
    )
    after = float(jnp.mean(gen.dbn_log_likelihood(result.state.dbn, BARS)))
    # 16 fair coins: -11.09 nats; 30 equally likely images: -3.40 (the best).
    # measured (seeds 0, 1, 2): -4.88, -4.84, -5.38 after pre-training;
    # up-down adds 0.57, 0.64, 0.86 nats
    assert before > -5.6
    assert after > before + 0.45
    recon = result.history["val_reconstruction_error"]
    assert recon[-1] < recon[0]


def test_up_down_update_is_traced_once():
    rng = np.random.default_rng(1)
    layer = random_rbm(16, 6, rng)
    dbn = gen.DBN((layer,), (layer,), random_rbm(6 + 2, 4, rng))
    learner = gen.up_down(dbn, k=2)
    update = jax.jit(chex.assert_max_traces(learner.update, n=1))
    batch = {"x": BARS[:10], "y": np.arange(10, dtype=np.int32) % 2}
    state = learner.init(jax.random.key(0), batch)
    for i in range(3):
        state, metrics = update(state, batch, jax.random.key(i))
    assert set(metrics) == {"generative_error", "free_energy_gap"}
    # the first update unties the recognition and generative weights
    gap = state.dbn.recognition[0].weights - state.dbn.generative[0].weights
    assert float(jnp.abs(gap).max()) > 0


# --- MNIST ---------------------------------------------------------------------------


@functools.cache
def mnist(n_train=3000, n_test=1000):
    ds = load("mnist", standardize=False, val_size=1000)
    x = np.asarray(gen.binarize(jax.random.key(1), ds.train["x"][:n_train]))
    xt = np.asarray(gen.binarize(jax.random.key(2), ds.test["x"][:n_test]))
    return x, ds.train["y"][:n_train], xt, ds.test["y"][:n_test]


@functools.cache
def labelled_dbn():
    x, y, _, _ = mnist()
    return gen.pretrain_dbn(
        x,
        (128, 128, 256),
        key=jax.random.key(0),
        epochs=(3, 3, 10),
        labels=y,
        n_classes=10,
        learning_rate=0.1,
        momentum=0.9,
        sample_last=False,
    )


def test_greedy_pretraining_improves_every_layer_and_classifies():
    result = labelled_dbn()
    _, _, xt, yt = mnist()
    assert gen.dbn_layer_sizes(result.dbn) == (784, 128, 128, 256)
    # squared reconstruction error per example, on each layer's own data;
    # measured (seeds 0, 1): first -> last epoch 59.7 -> 36.2, 15.7 -> 4.7,
    # 13.1 -> 1.78 (the top RBM's last epochs flat to +-0.01)
    firsts = [h["reconstruction_error"][0] for h in result.histories]
    lasts = [h["reconstruction_error"][-1] for h in result.histories]
    assert all(last < 0.7 * first for first, last in zip(firsts, lasts, strict=True))
    assert lasts[0] < 38 and lasts[1] < 5.2 and lasts[2] < 2.0
    # the generative classifier: lowest top-level free energy over the labels;
    # measured 16.4% and 15.1% test error (1,000 binarised test images)
    error = float(jnp.mean(gen.dbn_predict(result.dbn, xt) != yt))
    assert error < 0.19


def test_generation_follows_the_clamped_label():
    dbn = labelled_dbn().dbn
    labels = np.repeat(np.arange(10), 20).astype(np.int32)
    samples = gen.dbn_generate(dbn, jax.random.key(3), 200, labels=labels, sweeps=200)
    assert samples.shape == (200, 784)
    assert float(samples.min()) >= 0 and float(samples.max()) <= 1
    # the DBN's own classifier recognises its samples' classes; chance is 10%
    # measured: 46.5% and 71% (seeds 0, 1)
    drawn = gen.binarize(jax.random.key(5), samples)
    assert float(jnp.mean(gen.dbn_predict(dbn, drawn) == labels)) > 0.35


def fine_tune(start_from_dbn: bool) -> float:
    x, y, xt, yt = mnist()
    model, params = gen.dbn_classifier(labelled_dbn().dbn, 10, key=jax.random.key(4))
    learner = gradient_learner(model, classification_loss(model), optax.adam(3e-3))
    start = learner.init(jax.random.key(5), {"x": x[:50]})
    if start_from_dbn:
        start = start._replace(params=params)
    result = fit(
        learner,
        {"x": x, "y": y},
        key=jax.random.key(6),
        epochs=5,
        batch_size=50,
        progress=False,
        init_state=start,
    )
    return 1.0 - float(learner.evaluate(result.state, {"x": xt, "y": yt})["accuracy"])


def test_discriminative_fine_tuning_beats_random_initialisation():
    pretrained, random = fine_tune(True), fine_tune(False)
    # 3,000 training images, 5 epochs of Adam: measured 10.9% / 11.0% from the
    # DBN (seeds 0, 1) vs 14.1% from a random initialisation of the same MLP
    assert pretrained < 0.12
    assert pretrained < random - 0.02


def test_dropout_fine_tuning_masks_only_in_training():
    dbn = labelled_dbn().dbn
    x = mnist()[0][:64]
    plain, params = gen.dbn_classifier(dbn, 10, key=jax.random.key(4))
    model, same = gen.dbn_classifier(
        dbn, 10, key=jax.random.key(4), dropout_rate=0.5, input_dropout_rate=0.2
    )
    chex.assert_trees_all_equal(params, same)  # dropout adds no parameters
    variables = {"params": params}
    evaluated = model.apply(variables, x)  # evaluation: no dropout
    np.testing.assert_allclose(evaluated, plain.apply(variables, x), atol=1e-6)
    rngs = {"dropout": jax.random.key(7)}
    trained = model.apply(variables, x, train=True, rngs=rngs)
    again = model.apply(variables, x, train=True, rngs={"dropout": jax.random.key(8)})
    assert float(jnp.abs(trained - evaluated).max()) > 0.1  # masks change logits
    assert float(jnp.abs(trained - again).max()) > 0.1  # ... differently per key
    # the input mask keeps ~80% of the pixels, scaled by 1 / 0.8
    _, seen = model.apply(
        variables,
        x,
        train=True,
        rngs=rngs,
        capture_intermediates=True,
        mutable=["intermediates"],
    )
    kept = np.asarray(seen["intermediates"]["Dropout_0"]["__call__"][0])
    ink = np.asarray(x) > 0
    assert abs(np.mean(kept[ink] > 0) - 0.8) < 0.02
    np.testing.assert_allclose(kept[kept > 0], np.asarray(x)[kept > 0] / 0.8, rtol=1e-6)
    with pytest.raises(ValueError, match="`dropout_rate`"):
        gen.dbn_classifier(dbn, 10, key=jax.random.key(4), dropout_rate=1.0)


def test_example_script_smoke(tmp_path):
    script = Path(__file__).parents[2] / "examples" / "generative" / "dbn_mnist.py"
    summary = runpy.run_path(str(script))["main"](["--smoke", "--out", str(tmp_path)])
    assert len(summary["reconstruction_errors"]) == 3
    assert 0.0 <= summary["test_error"] <= 1.0
    assert (tmp_path / "dbn_mnist_samples.png").exists()
    assert (tmp_path / "dbn_mnist.json").exists()


def test_pretraining_on_probabilities_uses_them_unrounded():
    # grey levels 0.25 / 0.75 (rounding would give the binary bars back)
    x = np.tile(BARS * 0.5 + 0.25, (4, 1))
    options = dict(key=jax.random.key(0), epochs=1, batch_size=20, momentum=0.0)
    still = gen.pretrain_dbn(
        x, (4, 4), probabilities=True, learning_rate=1e-9, weight_decay=0.0, **options
    ).dbn.recognition[0]
    m = x.mean(axis=0)  # the base-rate biases of the grey levels, not of the bars
    np.testing.assert_allclose(still.visible_bias, np.log(m / (1 - m)), atol=1e-5)
    grey = gen.pretrain_dbn(x, (4, 4), probabilities=True, **options).dbn
    bits = gen.pretrain_dbn(np.round(x), (4, 4), **options).dbn
    gap = np.abs(np.asarray(grey.recognition[0].weights - bits.recognition[0].weights))
    assert gap.max() > 1e-3
    with pytest.raises(ValueError, match="`x` must hold probabilities"):
        gen.pretrain_dbn(x + 0.5, (4, 4), probabilities=True, **options)
    with pytest.raises(TypeError, match="`probabilities`"):
        gen.pretrain_dbn(x, (4, 4), probabilities="yes", **options)


# --- bad input -----------------------------------------------------------------------


def test_bad_input_names_the_argument():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="`x`.*binary"):
        gen.pretrain_dbn(BARS * 0.5, (4, 4), key=key, epochs=1, batch_size=10)
    with pytest.raises(ValueError, match="`hidden_sizes`"):
        gen.pretrain_dbn(BARS, (4,), key=key, epochs=1, batch_size=10)
    with pytest.raises(ValueError, match="`labels`"):
        gen.pretrain_dbn(BARS, (4, 4), key=key, epochs=1, labels=np.zeros(3, int))
    with pytest.raises(ValueError, match="`k`"):
        gen.contrastive_divergence(4, k=0)
    rng = np.random.default_rng(0)
    layer = random_rbm(16, 4, rng)
    dbn = gen.DBN((layer,), (layer,), random_rbm(4, 3, rng))
    with pytest.raises(ValueError, match="`k`"):
        gen.up_down(dbn, k=0)
    with pytest.raises(ValueError, match=r"`x`.*16 units"):
        gen.dbn_log_likelihood(dbn, np.zeros((2, 15), np.float32))
    with pytest.raises(ValueError, match="binary"):
        fit(
            gen.up_down(dbn),
            {"x": BARS * 0.5},
            key=key,
            epochs=1,
            batch_size=10,
            progress=False,
        )
    with pytest.raises(ValueError, match="no label units"):
        gen.dbn_predict(dbn, BARS)
    with pytest.raises(ValueError, match="`labels`"):
        gen.dbn_generate(dbn, key, 2, labels=np.array([0, 1]))
    with pytest.raises(ValueError, match="`start` must hold 2"):
        gen.dbn_generate(dbn, key, 2, start=np.zeros((3, 16), np.float32))
    with pytest.raises(ValueError, match="`start`.*16 units"):
        gen.dbn_generate(dbn, key, 2, start=np.zeros((2, 15), np.float32))
    with pytest.raises(ValueError, match="does not fit"):
        gen.check_dbn(gen.DBN((layer,), (random_rbm(15, 4, rng),), dbn.top))
