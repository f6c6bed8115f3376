"""Node classifiers, padded-row sparse features, the masked loss and training.

References: a dense NumPy matrix product for the sparse product (values and
gradients), the dense input path of every model for its sparse path, Kipf &
Welling's closed form Z = Â relu(Â X W0) W1 with Â built densely in NumPy, a
hand computation of the masked cross-entropy with L2, and a real Cora training.
"""

import functools
import runpy
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.data import load_karate_club
from jnn.data.planetoid import load_planetoid, normalize_features
from jnn.graph.early_stopping import patience_on_loss_and_accuracy, window_mean_rise
from jnn.graph.models import GAT, GCN, GGNN, GraphSAGE
from jnn.graph.node_classification import (
    attention_compiler_options,
    default_settings,
    node_classification_data,
    node_classification_loss,
    node_learner,
    train_seeds,
)
from jnn.graph.sparse_features import padded_rows, sparse_dropout, sparse_matmul
from jnn.train import Context, fit

N, F = 34, 12


@functools.cache
def karate():
    """The karate graph with random sparse features (70 % zeros) and labels."""
    data = load_karate_club()
    rng = np.random.default_rng(0)
    x = (rng.random((N, F)) < 0.3) * rng.random((N, F))
    x[5] = 0.0  # a node without features: a row of padding only
    return data.graph._replace(nodes=None, edges=None), x.astype(np.float32), data


def test_padded_rows_and_product_equal_the_dense_matrix():
    _, x, _ = karate()
    index, values = padded_rows(x)
    assert index.shape == values.shape == (N, int((x != 0).sum(1).max()))
    assert (index[5] == -1).all() and (values[5] == 0).all()
    dense = np.zeros_like(x)
    rows = np.nonzero(index >= 0)
    dense[rows[0], index[rows]] = values[rows]
    np.testing.assert_array_equal(dense, x)

    w = jax.random.normal(jax.random.key(1), (F, 5))
    g = jax.random.normal(jax.random.key(2), (N, 5))

    def sparse_loss(w, v):
        return jnp.sum(jnp.sin(sparse_matmul(index, v, w)) * g)

    def dense_loss(w, x):
        return jnp.sum(jnp.sin(x @ w) * g)

    np.testing.assert_allclose(sparse_matmul(index, values, w), x @ w, atol=1e-6)
    gw, gv = jax.jit(jax.grad(sparse_loss, argnums=(0, 1)))(w, jnp.asarray(values))
    dw, dx = jax.jit(jax.grad(dense_loss, argnums=(0, 1)))(w, jnp.asarray(x))
    np.testing.assert_allclose(gw, dw, atol=1e-5)
    at_index = np.take_along_axis(np.asarray(dx), np.maximum(index, 0), axis=1)
    expected_gv = np.where(index >= 0, at_index, 0.0)
    np.testing.assert_allclose(gv, expected_gv, atol=1e-5)
    # forward mode too (the custom JVP)
    product = jax.jit(
        lambda w, t: jax.jvp(lambda w: sparse_matmul(index, values, w), (w,), (t,))
    )
    _, tangent = product(w, 2 * w)
    np.testing.assert_allclose(tangent, 2 * x @ w, atol=1e-5)


def test_sparse_dropout_drops_stored_values_only():
    values = jnp.ones((200, 50))
    dropped = sparse_dropout(values, 0.5, jax.random.key(0))
    assert set(np.unique(np.asarray(dropped))) == {0.0, 2.0}
    assert abs(float((dropped > 0).mean()) - 0.5) < 0.02
    assert (sparse_dropout(jnp.zeros((4, 3)), 0.5, jax.random.key(0)) == 0).all()


def make(cls, graph, **kw):
    return cls(graph, n_classes=2, n_features=F, **kw)


MODELS = {
    "gcn": functools.partial(make, GCN),
    "gat": functools.partial(make, GAT),
    "sage-mean": functools.partial(make, GraphSAGE, hidden=8),
    "sage-pool": functools.partial(make, GraphSAGE, hidden=8, aggregator="pool"),
    "ggnn": functools.partial(make, GGNN, hidden=8),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_sparse_path_equals_dense_path(name):
    graph, x, _ = karate()
    model = MODELS[name](graph)
    index, values = padded_rows(x)
    r = jax.random.normal(jax.random.key(3), (N, 2))

    @jax.jit
    def both_paths(key):
        params = model.init(key, index, values)
        dense_params = model.init(key, jnp.asarray(x))

        def loss(p, *inputs):
            out = model.apply(p, *inputs)
            return jnp.sum(out * r), out

        sparse = jax.grad(loss, has_aux=True)(params, index, values)
        dense = jax.grad(loss, has_aux=True)(params, jnp.asarray(x))
        return params, dense_params, sparse, dense

    params, dense_params, sparse, dense = both_paths(jax.random.key(0))
    jax.tree.map(np.testing.assert_array_equal, params, dense_params)
    check = functools.partial(np.testing.assert_allclose, atol=2e-5)
    jax.tree.map(check, sparse, dense)  # gradients, then outputs


@functools.cache
def karate_gcn():
    """A GCN on the karate graph: model, parameters, logits (one compilation)."""
    graph, x, _ = karate()
    model = make(GCN, graph)

    @jax.jit
    def init_and_apply(key):
        variables = model.init(key, x)
        return variables["params"], model.apply(variables, x)

    params, logits = init_and_apply(jax.random.key(0))
    return model, params, np.asarray(logits, np.float64)


def test_gcn_equals_kipf_closed_form():
    graph, x, _ = karate()
    _, params, logits = karate_gcn()
    a = np.eye(N)
    a[graph.receivers, graph.senders] = 1.0
    d = a.sum(1) ** -0.5
    a_hat = d[:, None] * a * d[None, :]
    w0 = np.asarray(params["conv1"]["Dense_0"]["kernel"])
    w1 = np.asarray(params["conv2"]["Dense_0"]["kernel"])
    expected = a_hat @ np.maximum(a_hat @ x @ w0, 0) @ w1
    np.testing.assert_allclose(logits, expected, atol=1e-5)


def test_masked_loss_equals_hand_computation():
    _, x, data = karate()
    model, params, logits = karate_gcn()
    splits = node_classification_data(
        x, data.labels, {"train": data.train_mask, "test": data.test_mask}
    )
    first_layer = node_classification_loss(model, weight_decay=0.01, decay=("conv1",))
    all_weights = node_classification_loss(model, weight_decay=0.01)

    @jax.jit
    def losses(params, batch):
        return first_layer(params, batch, Context()), all_weights(
            params, batch, Context()
        )

    (value, aux, _), (total_value, _, _) = losses(params, splits["train"])
    log_p = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    chosen = np.flatnonzero(data.train_mask)
    ce = -log_p[chosen, data.labels[chosen]].mean()
    w0 = np.asarray(params["conv1"]["Dense_0"]["kernel"], np.float64)
    np.testing.assert_allclose(aux["cross_entropy"], ce, rtol=1e-5)
    np.testing.assert_allclose(value, ce + 0.01 * 0.5 * (w0**2).sum(), rtol=1e-5)
    correct = logits[chosen].argmax(1) == data.labels[chosen]
    np.testing.assert_allclose(aux["accuracy"], correct.mean())
    # every weight but the biases (GAT's convention): GCN has no bias here
    w1 = np.asarray(params["conv2"]["Dense_0"]["kernel"], np.float64)
    total = ce + 0.005 * ((w0**2).sum() + (w1**2).sum())
    np.testing.assert_allclose(total_value, total, rtol=1e-5)


def records(stop, values):
    """Fire flags of ``stop`` over epochs with ``values`` = (val_loss, val_acc)."""
    state, fired = stop.init({"w": jnp.zeros(())}), []
    for epoch, (loss, acc) in enumerate(values):
        record = {
            "epoch": jnp.int32(epoch),
            "val_loss": jnp.float32(loss),
            "val_accuracy": jnp.float32(acc),
        }
        state, f = stop.update(state, record, {"w": jnp.float32(epoch)})
        fired.append(bool(f[0]))
    return state, fired


def test_kipf_window_fires_above_the_mean_of_the_last_values():
    losses = [5, 4, 3, 2.0, 2.1]  # window 3: 2.1 > mean(4, 3, 2) = 3? no
    _, fired = records(window_mean_rise(3), [(v, 0) for v in losses])
    assert fired == [False] * 5
    _, fired = records(window_mean_rise(3), [(v, 0) for v in [3, 1, 1, 1, 1.5, 2]])
    assert fired == [False, False, False, False, True, True]


def test_gat_patience_resets_on_either_metric_and_keeps_the_state_of_both():
    stop = patience_on_loss_and_accuracy(2)
    values = [(1.0, 0.5), (0.9, 0.4), (0.95, 0.6), (0.97, 0.55), (0.99, 0.58)]
    state, fired = records(stop, values)
    assert fired == [False, False, False, False, True]
    # epoch 0 was the last with both records (epoch 1: loss only, 2: acc only)
    assert float(stop.finalize(state, {"w": jnp.float32(9)})["w"]) == 0.0


@functools.cache
def cora():
    data = load_planetoid("cora")
    x = normalize_features(data.graph.nodes)
    masks = {"train": data.train_mask, "val": data.val_mask, "test": data.test_mask}
    splits = node_classification_data(x, data.labels, masks)
    return data._replace(graph=data.graph._replace(nodes=None)), x.shape[1], splits


def test_gcn_learns_cora_with_kipfs_protocol():
    data, features, splits = cora()
    model = GCN(data.graph, data.n_classes, n_features=features)
    settings = default_settings(model)
    learner = node_learner(model, settings)
    results = train_seeds(
        learner,
        splits,
        key=jax.random.key(0),
        seeds=2,
        epochs=settings.epochs,
        stop=settings.stop,
    )
    # 40 seeds: 81.4 % mean, 79.9-82.6 % range (Kipf & Welling: 81.5 %)
    assert (results.test_accuracy >= 0.795).all()
    assert (results.val_accuracy >= 0.77).all()
    assert results.test_accuracy[0] != results.test_accuracy[1]  # two seeds
    # each run stopped on its own: history past its last epoch is empty
    for i, n in enumerate(results.epochs):
        assert 20 < n <= settings.epochs
        assert np.isfinite(results.history["val_loss"][i, n - 1])
        assert np.isnan(results.history["val_loss"][i, n:]).all()
    state = jax.tree.map(lambda leaf: leaf[1], results.state)
    accuracy = jax.jit(learner.evaluate)(state, splits["test"])["accuracy"]
    np.testing.assert_allclose(accuracy, results.test_accuracy[1], atol=1e-6)


def test_bad_inputs_raise():
    graph, x, data = karate()
    with pytest.raises(ValueError, match="n_features"):
        GCN(graph, 2).init(jax.random.key(0), *padded_rows(x))
    with pytest.raises(ValueError, match="features"):
        GCN(graph, 2, n_features=F + 1).init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="rows"):
        GCN(graph, 2).init(jax.random.key(0), x[:-1])
    with pytest.raises(TypeError, match="SparseRows"):  # max of raw features
        sage = make(GraphSAGE, graph, aggregator="max")
        jax.eval_shape(sage.init, jax.random.key(0), *padded_rows(x))
    with pytest.raises(ValueError, match="selects no node"):
        node_classification_data(x, data.labels, {"train": np.zeros(N, bool)})
    with pytest.raises(ValueError, match=r"\(N,\)"):
        node_classification_data(x, data.labels, {"train": data.train_mask[:-1]})
    with pytest.raises(ValueError, match="rank 2"):
        padded_rows(np.ones((2, 3, 4)))
    model = make(GCN, graph)
    loss = node_classification_loss(model)
    batch = node_classification_data(x, data.labels, {"train": data.train_mask})
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        loss.check({**batch["train"], "y": batch["train"]["y"] + 5}, "train")
    with pytest.raises(ValueError, match="no entry 'mask'"):
        loss.check({"x": x, "y": data.labels}, "train")
    with pytest.raises(ValueError, match="weight_decay"):
        node_classification_loss(model, weight_decay=-1.0)
    with pytest.raises(TypeError, match="decay"):
        node_classification_loss(model, decay="conv1")


def test_models_hold_their_layers_names():
    graph, x, _ = karate()
    for cls, names in (
        (GCN, {"conv1", "conv2"}),
        (GAT, {"conv1", "conv2"}),
        (GraphSAGE, {"conv1", "conv2"}),
        (GGNN, {"input", "ggnn", "output"}),
    ):
        params = jax.eval_shape(make(cls, graph).init, jax.random.key(0), x)
        assert set(params["params"]) == names
    # the layers default_settings penalises exist in the models
    assert default_settings(make(GGNN, graph)).decay == ("input",)
    assert default_settings(make(GCN, graph)).decay == ("conv1",)


def test_planetoid_example_smoke(tmp_path):
    script = Path(__file__).parents[2] / "examples" / "graph" / "planetoid.py"
    main = runpy.run_path(str(script))["main"]
    # 2 seeds of at most 50 epochs (the full protocol is the learning test
    # above): over keys 0-3 the seeds reach 0.55-0.81 (7 classes)
    result = main(["--smoke", "--models", "gcn", "--out", str(tmp_path)])
    row = result["rows"]["gcn"]
    assert len(row["test"]) == 2 and min(row["test"]) >= 0.5
    assert row["epochs"] == [50, 50]
    assert (tmp_path / "planetoid.json").exists()


def test_gat_learner_compiles_with_its_cpu_options_and_the_same_values():
    graph, x, karate_data = karate()
    masks = {"train": karate_data.train_mask}
    data = node_classification_data(x, karate_data.labels, masks, sparse=True)["train"]
    gat = node_learner(make(GAT, graph))
    assert gat.compiler_options is attention_compiler_options
    assert (
        attention_compiler_options("cpu") and attention_compiler_options("gpu") is None
    )
    assert node_learner(make(GCN, graph)).compiler_options is None
    key = jax.random.key(0)
    tuned = fit(gat, data, key=key, epochs=20, progress=False)
    plain = fit(gat._replace(compiler_options=None), data, key=key, epochs=20,
                progress=False)  # fmt: skip
    np.testing.assert_allclose(tuned.history["loss"], plain.history["loss"], rtol=1e-5)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6),
        tuned.state.params,
        plain.state.params,
    )
