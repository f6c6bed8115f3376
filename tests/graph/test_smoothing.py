"""Over-smoothing (G3): measures, remedies and the scan-based deep GCN."""

import math

import jax
import jax.numpy as jnp
import jraph
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jnn.data import load_karate_club
from jnn.graph import GCNConv
from jnn.graph.node_classification import (
    Settings,
    node_classification_data,
    node_learner,
)
from jnn.graph.smoothing import (
    DeepGCN,
    add_virtual_nodes,
    dirichlet_energy,
    drop_edge,
    hidden_representations,
    identity_mapping_strength,
    mean_average_distance,
    mean_pairwise_cosine,
    pair_norm,
    rayleigh_quotient,
    smoothness,
)
from jnn.graph.smoothing.deep import propagate, propagation
from jnn.graph.sparse_features import padded_rows
from jnn.train import run


def _graph(edges, n, *, both=True):
    edges = np.asarray(edges, np.int32)
    s, r = edges[:, 0], edges[:, 1]
    if both:
        s, r = np.concatenate([s, r]), np.concatenate([r, s])
    return jraph.GraphsTuple(
        nodes=None,
        edges=None,
        senders=s.astype(np.int32),
        receivers=r.astype(np.int32),
        globals=None,
        n_node=np.array([n], np.int32),
        n_edge=np.array([len(s)], np.int32),
    )


# a 5-node graph: a triangle 0-1-2 with a tail 2-3-4 (connected, not bipartite)
TINY = _graph([(0, 1), (1, 2), (0, 2), (2, 3), (3, 4)], 5)
KARATE = load_karate_club().graph


def _dense_p(graph, n, weight=None):
    """Independent dense GCN propagation D^-1/2 (A + I) D^-1/2 in NumPy."""
    a = np.zeros((n, n))
    w = np.ones(len(graph.senders)) if weight is None else np.asarray(weight)
    for s, r, we in zip(graph.senders, graph.receivers, w, strict=True):
        a[r, s] += we
    a = a + np.eye(n)
    d = a.sum(axis=1)
    return a / np.sqrt(d)[:, None] / np.sqrt(d)[None, :]


def _energy_loops(h, graph, weight=None, normalised=True):
    h = np.asarray(h, np.float64)
    n = h.shape[0]
    w = np.ones(len(graph.senders)) if weight is None else np.asarray(weight)
    deg = np.zeros(n)
    for s, r, we in zip(graph.senders, graph.receivers, w, strict=True):
        if s != r:
            deg[r] += we
    scale = 1 / np.sqrt(1 + deg) if normalised else np.ones(n)
    total = 0.0
    for s, r, we in zip(graph.senders, graph.receivers, w, strict=True):
        total += we * np.sum((h[s] * scale[s] - h[r] * scale[r]) ** 2)
    return total / n


# ----------------------------------------------------------------- measures


@pytest.mark.parametrize("normalised", [True, False])
def test_dirichlet_energy_matches_loops(normalised):
    h = jax.random.normal(jax.random.key(1), (5, 3))
    w = jnp.linspace(0.5, 2.0, TINY.senders.shape[0])
    for weight in (None, w):
        got = dirichlet_energy(h, TINY, weight, normalised=normalised)
        want = _energy_loops(h, TINY, weight, normalised)
        np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_dirichlet_energy_is_the_laplacian_quadratic_form():
    h = np.asarray(jax.random.normal(jax.random.key(2), (34, 4)), np.float64)
    laplacian = np.eye(34) - _dense_p(KARATE, 34)
    want = 2 * np.trace(h.T @ laplacian @ h) / 34
    got = dirichlet_energy(jnp.asarray(h, jnp.float32), KARATE)
    np.testing.assert_allclose(float(got), want, rtol=1e-5)
    quotient = rayleigh_quotient(jnp.asarray(h, jnp.float32), KARATE)
    np.testing.assert_allclose(
        float(quotient), np.trace(h.T @ laplacian @ h) / np.sum(h**2), rtol=1e-5
    )


def test_smooth_embeddings_have_zero_energy_and_unit_cosine():
    const = jnp.tile(jnp.array([[0.3, -1.2, 2.0]]), (34, 1))
    assert float(dirichlet_energy(const, KARATE, normalised=False)) == 0.0
    assert float(mean_pairwise_cosine(const)) == pytest.approx(1.0, abs=1e-6)
    assert float(mean_average_distance(const)) == pytest.approx(0.0, abs=1e-6)
    # the normalised energy vanishes on sqrt(1 + d) (GCN's fixed point) instead
    degree = np.bincount(np.asarray(KARATE.receivers), minlength=34)
    fixed = jnp.asarray(np.sqrt(1 + degree)[:, None] * np.array([[1.0, -2.0]]))
    fixed = fixed.astype(jnp.float32)
    assert float(dirichlet_energy(fixed, KARATE)) < 1e-10
    assert float(rayleigh_quotient(fixed, KARATE)) < 1e-10
    assert float(dirichlet_energy(const, KARATE)) > 0.01


def test_mean_pairwise_cosine_matches_all_pairs():
    h = np.array(jax.random.normal(jax.random.key(3), (40, 6)))
    h[7] = 0.0  # a zero row has cosine 0 with everything
    norms = np.linalg.norm(h, axis=1)
    want, count = 0.0, 0
    for i in range(40):
        for j in range(40):
            if i != j:
                count += 1
                if norms[i] > 0 and norms[j] > 0:
                    want += h[i] @ h[j] / (norms[i] * norms[j])
    got = mean_pairwise_cosine(jnp.asarray(h))
    np.testing.assert_allclose(float(got), want / count, atol=1e-6)


def test_mad_matches_the_paper_formula():
    h = np.array(jax.random.normal(jax.random.key(4), (12, 3)))
    h[3] = h[5]  # a pair at distance 0 is left out of the averages
    mask = np.asarray(jax.random.bernoulli(jax.random.key(5), 0.6, (12, 12)))
    unit = h / np.linalg.norm(h, axis=1, keepdims=True)
    dist = np.clip(1 - unit @ unit.T, 0, 2) * mask
    np.fill_diagonal(dist, 0.0)
    dist[np.abs(dist) < 1e-6] = 0.0
    rows = [r[r > 0].mean() for r in dist if (r > 0).any()]
    got = mean_average_distance(jnp.asarray(h), jnp.asarray(mask))
    np.testing.assert_allclose(float(got), np.mean(rows), rtol=2e-4)


def test_energy_of_repeated_propagation_decays_to_zero():
    # Cai & Wang (2020): E(P X) <= s^2 E(X), s the second largest |eigenvalue|
    # of P; on a connected, non-bipartite graph s < 1 and E -> 0 with depth.
    eig = np.sort(np.abs(np.linalg.eigvalsh(_dense_p(KARATE, 34))))
    s = eig[-2]
    assert eig[-1] == pytest.approx(1.0) and s < 1
    p = propagation(KARATE)
    step = jax.jit(lambda h: propagate(p, h))
    h = jax.random.normal(jax.random.key(6), (34, 8))
    energies = [float(dirichlet_energy(h, KARATE))]
    for _ in range(32):
        h = step(h)
        energies.append(float(dirichlet_energy(h, KARATE)))
    energies = np.array(energies)
    assert np.all(energies[1:] <= s**2 * energies[:-1] * (1 + 1e-4))
    assert energies[-1] < 1e-3 * energies[0]
    assert energies[-1] <= s**64 * energies[0] * 1.01
    assert float(mean_pairwise_cosine(h)) > 0.95  # rows align with sqrt(1 + d)


# ------------------------------------------------------------------ remedies


@settings(max_examples=20, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.floats(0.1, 10.0),
    st.floats(-5.0, 5.0),
    st.floats(0.1, 5.0),
)
def test_pair_norm_keeps_total_pairwise_distance(seed, scale, shift, spread):
    x = jax.random.normal(jax.random.key(seed), (30, 5)) * spread + shift
    y = np.asarray(pair_norm(x, scale), np.float64)
    tpsd = np.sum((y[:, None, :] - y[None, :, :]) ** 2)
    np.testing.assert_allclose(tpsd, 2 * 30**2 * scale**2, rtol=1e-4)
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4 * scale)


def test_measures_under_jit_and_vmap():
    hs = jax.random.normal(jax.random.key(17), (3, 34, 4))
    eager = [smoothness(h, KARATE) for h in hs]
    batched = jax.jit(jax.vmap(lambda h: smoothness(h, KARATE)))(hs)
    for name in eager[0]:
        np.testing.assert_allclose(
            batched[name], [float(e[name]) for e in eager], rtol=1e-5
        )


def test_drop_edge_drops_exactly_floor_rate_edges():
    e = KARATE.senders.shape[0]
    a = drop_edge(jax.random.key(0), KARATE, 0.3)
    b = drop_edge(jax.random.key(1), KARATE, 0.3)
    assert int(jnp.sum(a == 0)) == math.floor(0.3 * e) == int(jnp.sum(b == 0))
    assert not np.array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(drop_edge(jax.random.key(0), KARATE, 0.0), 1.0)


def test_virtual_nodes_augment_each_graph():
    g = jraph.batch([TINY, TINY])
    out = add_virtual_nodes(g)
    assert out.graph.n_node.tolist() == [6, 6]
    assert out.graph.n_edge.tolist() == [20, 20] and out.edge_weight is None
    np.testing.assert_array_equal(out.real, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10])
    edges = set(
        zip(out.graph.senders.tolist(), out.graph.receivers.tolist(), strict=True)
    )
    assert len(edges) == g.senders.shape[0] + 20
    assert {(i, 5) for i in range(5)} | {(5, i) for i in range(5)} <= edges
    assert {(11, i) for i in range(6, 11)} | {(i, 11) for i in range(6, 11)} <= edges
    assert (1, 0) in edges and (7, 6) in edges  # the old edges, shifted
    w = jnp.full(g.senders.shape, 2.0)
    np.testing.assert_array_equal(add_virtual_nodes(g, w).edge_weight[:20], 2.0)


def test_virtual_node_model_equals_the_augmented_graph():
    nxg = nx.karate_club_graph()
    nxg.add_edges_from((34, i) for i in range(34))
    hand = _graph(list(nxg.edges()), 35)
    x = jax.random.normal(jax.random.key(8), (34, 6))
    x35 = jnp.concatenate([x, jnp.zeros((1, 6))])
    with_flag = DeepGCN(KARATE, 3, 4, hidden=4, dropout_rate=0.0, virtual_node=True)
    plain = DeepGCN(hand, 3, 4, hidden=4, dropout_rate=0.0)
    params = with_flag.init(jax.random.key(9), x)
    got = with_flag.apply(params, x)
    want = plain.apply(params, x35)[:34]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_identity_mapping_strength():
    np.testing.assert_allclose(
        identity_mapping_strength(jnp.array([1, 2, 4]), 0.5),
        np.log(0.5 / np.array([1, 2, 4]) + 1),
        rtol=1e-6,
    )


# ----------------------------------------------------------------- deep GCN

DEPTH = 6


@pytest.fixture(scope="module")
def karate_x():
    return jax.random.normal(jax.random.key(10), (34, 5))


@pytest.mark.parametrize("residual", [None, "outside", "inside"])
def test_scan_model_equals_a_loop_of_gcnconv(karate_x, residual):
    model = DeepGCN(KARATE, 3, DEPTH, hidden=8, dropout_rate=0.0, residual=residual)
    params = model.init(jax.random.key(11), karate_x)["params"]
    logits, hidden = model.apply({"params": params}, karate_x, return_hidden=True)

    def conv(p, features, h):
        return GCNConv(features).apply({"params": p}, h, KARATE)

    h = jax.nn.relu(conv(params["input"], 8, karate_x))
    loop = [h]
    for k in range(DEPTH - 2):
        p = jax.tree.map(lambda a, k=k: a[k], params["hidden"]["conv"])
        z = conv(p, 8, h)
        if residual == "inside":
            h = jax.nn.relu(z + h)
        elif residual == "outside":
            h = jax.nn.relu(z) + h
        else:
            h = jax.nn.relu(z)
        loop.append(h)
    want = conv(params["output"], 3, h)
    np.testing.assert_allclose(logits, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hidden, np.stack(loop), rtol=1e-5, atol=1e-5)
    reps = hidden_representations(model, params, karate_x)
    np.testing.assert_allclose(reps, hidden, atol=1e-6)


def test_active_depth_equals_the_shallower_model(karate_x):
    deep = DeepGCN(KARATE, 3, DEPTH, hidden=8, dropout_rate=0.0, pair_norm=1.0)
    params = deep.init(jax.random.key(15), karate_x)["params"]
    shallow = DeepGCN(KARATE, 3, 4, hidden=8, dropout_rate=0.0, pair_norm=1.0)
    cut = {**params, "hidden": jax.tree.map(lambda a: a[:2], params["hidden"])}
    want = shallow.apply({"params": cut}, karate_x)

    @jax.jit
    def traced(active):
        model = deep.clone(active_depth=active)
        return model.apply({"params": params}, karate_x)

    np.testing.assert_allclose(traced(jnp.int32(4)), want, rtol=1e-5, atol=1e-6)
    full = deep.apply({"params": params}, karate_x)
    np.testing.assert_allclose(traced(jnp.int32(DEPTH)), full, rtol=1e-5, atol=1e-6)


def test_sparse_input_equals_dense(karate_x):
    x = np.asarray(jax.nn.relu(karate_x))  # non-negative, with zeros
    index, values = padded_rows(x)
    model = DeepGCN(
        KARATE, 3, DEPTH, hidden=8, n_features=5, residual="outside", virtual_node=True
    )
    params = model.init(jax.random.key(16), jnp.asarray(x))
    np.testing.assert_allclose(
        model.apply(params, index, values),
        model.apply(params, jnp.asarray(x)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_gcnii_and_pair_norm_layers_match_dense_numpy(karate_x):
    alpha, lam, s = 0.1, 0.5, 1.5
    model = DeepGCN(
        KARATE,
        3,
        DEPTH,
        hidden=8,
        dropout_rate=0.0,
        initial_residual=alpha,
        identity_lambda=lam,
        pair_norm=s,
    )
    params = model.init(jax.random.key(12), karate_x)["params"]
    logits = model.apply({"params": params}, karate_x)
    p = _dense_p(KARATE, 34)
    np_p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)

    def norm(z):
        z = z - z.mean(axis=0)
        return s * z / np.sqrt(1e-6 + np.mean(np.sum(z**2, axis=1)))

    x = np.asarray(karate_x, np.float64)
    first = np_p["input"]
    h = np.maximum(norm(p @ x @ first["Dense_0"]["kernel"] + first["bias"]), 0)
    h0 = h
    for k in range(1, DEPTH - 1):
        beta = np.log(lam / k + 1)
        support = (1 - alpha) * p @ h + alpha * h0
        w = np_p["hidden"]["kernel"][k - 1]
        h = np.maximum(norm((1 - beta) * support + beta * support @ w), 0)
    last = np_p["output"]
    want = p @ h @ last["Dense_0"]["kernel"] + last["bias"]
    np.testing.assert_allclose(logits, want, rtol=1e-4, atol=1e-4)


def test_drop_edge_only_in_training(karate_x):
    model = DeepGCN(KARATE, 3, 4, hidden=8, dropout_rate=0.0, drop_edge=0.5)
    params = model.init(jax.random.key(13), karate_x)
    plain = model.clone(drop_edge=0.0).apply(params, karate_x)
    np.testing.assert_allclose(model.apply(params, karate_x), plain)
    rngs = {"dropout": jax.random.key(14)}
    a = model.apply(params, karate_x, deterministic=False, rngs=rngs)
    assert float(jnp.max(jnp.abs(a - plain))) > 1e-3


def test_depth_does_not_grow_the_traced_program(karate_x):
    def size(depth):
        model = DeepGCN(KARATE, 3, depth, hidden=8, residual="outside", pair_norm=1.0)
        params = jax.eval_shape(model.init, jax.random.key(0), karate_x)
        jaxpr = jax.make_jaxpr(lambda p: model.apply(p, karate_x))(params)
        return len(jaxpr.eqns)

    assert size(4) == size(32)


def test_smoothness_dict(karate_x):
    out = smoothness(karate_x, KARATE)
    assert set(out) == {
        "dirichlet_energy",
        "dirichlet_energy_unnormalised",
        "rayleigh_quotient",
        "mean_cosine",
    }
    assert float(out["dirichlet_energy"]) == pytest.approx(
        float(dirichlet_energy(karate_x, KARATE))
    )


# ----------------------------------------------------------------- bad input


def test_bad_inputs(karate_x):
    with pytest.raises(ValueError, match="`h` must have rank 2"):
        dirichlet_energy(jnp.ones(34), KARATE)
    with pytest.raises(ValueError, match="34 nodes"):
        dirichlet_energy(jnp.ones((33, 2)), KARATE)
    with pytest.raises(TypeError, match="GraphsTuple"):
        dirichlet_energy(jnp.ones((34, 2)), "graph")
    with pytest.raises(TypeError, match="floating"):
        mean_pairwise_cosine(jnp.ones((3, 2), jnp.int32))
    with pytest.raises(ValueError, match="at least 2 rows"):
        mean_pairwise_cosine(jnp.ones((1, 2)))
    with pytest.raises(ValueError, match="`mask`"):
        mean_average_distance(jnp.ones((3, 2)), jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="`scale`"):
        pair_norm(jnp.ones((3, 2)), 0.0)
    with pytest.raises(ValueError, match="`rate`"):
        drop_edge(jax.random.key(0), KARATE, 1.0)
    for kwargs, match in (
        ({"depth": 1}, "at least 2"),
        ({"residual": "both"}, "`residual`"),
        ({"initial_residual": 1.5}, "`initial_residual`"),
        ({"drop_edge": -0.1}, "`drop_edge`"),
        ({"pair_norm": -1.0}, "`pair_norm`"),
        ({"active_depth": 5}, "`active_depth`"),
    ):
        model = DeepGCN(KARATE, 2, **{"depth": 3, **kwargs})
        with pytest.raises(ValueError, match=match):
            model.init(jax.random.key(0), karate_x)
    with pytest.raises(TypeError, match="`active_depth`"):
        DeepGCN(KARATE, 2, 3, active_depth=2.5).init(jax.random.key(0), karate_x)
    with pytest.raises(ValueError, match="34 nodes"):
        DeepGCN(KARATE, 2, 3).init(jax.random.key(0), karate_x[:30])


# ------------------------------------------------------------- learning check


def test_gcnii_resists_oversmoothing_on_karate():
    # 32 layers, two labelled nodes: the plain GCN collapses to one faction
    # (accuracy 0.5 on every seed tried), GCNII keeps 0.94-0.97.
    data = load_karate_club()
    splits = node_classification_data(
        data.graph.nodes,
        data.labels,
        {"train": data.train_mask, "test": data.test_mask},
        sparse=False,
    )
    accuracy = {}
    for name, variant in (("plain", {}), ("GCNII", {"initial_residual": 0.1})):
        model = DeepGCN(data.graph, 2, 32, dropout_rate=0.0, **variant)
        learner = node_learner(model, Settings(0.01, 5e-4, None, 100, None))

        @jax.jit
        def train(key, learner=learner):
            result = run(learner, splits["train"], key=key, epochs=100)
            return learner.evaluate(result.state, splits["test"])["accuracy"]

        accuracy[name] = float(train(jax.random.key(0)))
    assert accuracy["plain"] <= 0.6
    assert accuracy["GCNII"] >= 0.9


def test_demo_smoke(tmp_path):
    from jnn.demos import DemoConfig
    from jnn.graph.demos.oversmoothing import oversmoothing_demo

    result = oversmoothing_demo(DemoConfig(out=tmp_path, smoke=True))
    assert np.isfinite(result.value) and result.figures[0].exists()


def test_example_smoke(tmp_path, monkeypatch):
    import runpy
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    script = Path(__file__).parents[2] / "examples" / "graph" / "oversmoothing.py"
    result = runpy.run_path(str(script))["main"](["--smoke"])
    assert [(r["variant"], r["depth"]) for r in result["rows"]] == [
        ("plain", 2),
        ("plain", 3),
    ]
    assert result["figure"].exists()
    assert all(0.0 <= a <= 1.0 for r in result["rows"] for a in r["test_accuracy"])
