"""GCN, GAT, GraphSAGE and GGNN layers against PyTorch Geometric, weights copied.

Every comparison checks the output and the gradients of a scalar loss
``sum(out * R)`` (a fixed random cotangent ``R``) with respect to the input and
every weight, on one small directed graph with a duplicate edge, self loops and
an isolated node.
"""

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import pytest
import torch
from torch_geometric import nn as pyg

from jnn.graph.gnn.gat import GATConv
from jnn.graph.gnn.gcn import GCNConv
from jnn.graph.gnn.ggnn import GatedGraphConv
from jnn.graph.gnn.sage import SAGEConv

torch.set_num_threads(1)

N, F, E_RANDOM = 30, 6, 70
ISOLATED = N - 1


def make_graph():
    rng = np.random.default_rng(0)
    senders = rng.integers(0, ISOLATED, E_RANDOM)
    receivers = rng.integers(0, ISOLATED, E_RANDOM)
    receivers = np.where(receivers == senders, (receivers + 1) % ISOLATED, receivers)
    # a duplicate edge, a self loop and nothing touching node N - 1
    senders = np.concatenate([senders, [senders[0], 4]]).astype(np.int32)
    receivers = np.concatenate([receivers, [receivers[0], 4]]).astype(np.int32)
    graph = jraph.GraphsTuple(
        nodes=None,
        edges=None,
        senders=senders,
        receivers=receivers,
        globals=None,
        n_node=np.array([N], np.int32),
        n_edge=np.array([len(senders)], np.int32),
    )
    x = rng.normal(size=(N, F)).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, len(senders)).astype(np.float32)
    return graph, x, weight


GRAPH, X, EDGE_WEIGHT = make_graph()
EDGE_INDEX = torch.tensor(np.stack([GRAPH.senders, GRAPH.receivers]), dtype=torch.long)
assert ISOLATED not in set(GRAPH.senders) | set(GRAPH.receivers)


def t2n(tensor):
    return tensor.detach().numpy().copy()


def torch_run(module, cotangent, *args):
    """PyG output and gradients of sum(out * R) w.r.t. x and the parameters."""
    x = torch.tensor(X, requires_grad=True)
    out = module(x, EDGE_INDEX, *args)
    (out * torch.tensor(cotangent)).sum().backward()
    grads = {name: t2n(p.grad) for name, p in module.named_parameters()}
    return t2n(out), t2n(x.grad), grads


def jax_run(model, params, cotangent, graph=GRAPH, **kwargs):
    def loss(params, x):
        out = model.apply(params, x, graph, **kwargs)
        return jnp.sum(out * cotangent), out

    step = jax.jit(jax.value_and_grad(loss, (0, 1), has_aux=True))
    (_, out), (g_params, g_x) = step(params, jnp.asarray(X))
    return np.asarray(out), np.asarray(g_x), g_params["params"]


def assert_close(actual, expected, what, atol=1e-5):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (what, actual.shape, expected.shape)
    diff = np.max(np.abs(actual - expected))
    assert diff < atol, f"{what}: max abs diff {diff:.3g}"


def compare(model, params, module, cotangent_shape, mapping, *torch_args, **kwargs):
    """Outputs, input gradients and the weight gradients named in ``mapping``.

    ``mapping`` maps a path of the Flax gradient tree to a function of PyG's
    gradient dict returning the same array.
    """
    cotangent = np.random.default_rng(1).normal(size=cotangent_shape)
    cotangent = cotangent.astype(np.float32)
    out_t, gx_t, grads_t = torch_run(module, cotangent, *torch_args)
    out_j, gx_j, grads_j = jax_run(model, params, cotangent, **kwargs)
    assert np.abs(out_t).max() > 0.1  # a real comparison, not zeros against zeros
    assert_close(out_j, out_t, "output")
    assert_close(gx_j, gx_t, "grad x")
    for path, pick in mapping.items():
        leaf = grads_j
        for part in path.split("/"):
            leaf = leaf[part]
        assert_close(leaf, pick(grads_t), f"grad {path}")
    flat = jax.tree_util.tree_leaves_with_path(grads_j)
    assert len(flat) == len(mapping), "every weight gradient is compared"


def params_like(model, *args, **values):
    """Flax params built from ``values`` ('a/b' paths), checked against init."""
    init = model.init(jax.random.key(0), jnp.asarray(X), GRAPH, *args)["params"]
    tree = {}
    for path, value in values.items():
        node = tree
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = jnp.asarray(value)
    assert jax.tree.map(jnp.shape, init) == jax.tree.map(jnp.shape, tree)
    return {"params": tree}


@pytest.mark.parametrize("weighted", [False, True])
def test_gcn_equals_pyg(weighted):
    torch.manual_seed(0)
    module = pyg.GCNConv(F, 4)
    torch.nn.init.normal_(module.bias)
    model = GCNConv(4)
    params = params_like(
        model,
        **{"Dense_0/kernel": t2n(module.lin.weight).T, "bias": t2n(module.bias)},
    )
    weight = EDGE_WEIGHT if weighted else None
    torch_args = (torch.tensor(EDGE_WEIGHT),) if weighted else ()
    mapping = {
        "Dense_0/kernel": lambda g: g["lin.weight"].T,
        "bias": lambda g: g["bias"],
    }
    compare(model, params, module, (N, 4), mapping, *torch_args, edge_weight=weight)


def test_gcn_merges_repeated_self_loops_as_pyg():
    torch.manual_seed(0)
    module = pyg.GCNConv(F, 4)
    loops = np.array([2, 2, 7], np.int32)  # node 2: two more loops
    graph = GRAPH._replace(
        senders=np.concatenate([GRAPH.senders, loops]),
        receivers=np.concatenate([GRAPH.receivers, loops]),
        n_edge=GRAPH.n_edge + 3,
    )
    edge_index = torch.tensor(np.stack([graph.senders, graph.receivers])).long()
    expected = t2n(module(torch.tensor(X), edge_index))
    params = {"Dense_0": {"kernel": t2n(module.lin.weight).T}, "bias": t2n(module.bias)}
    out = GCNConv(4).apply({"params": params}, jnp.asarray(X), graph)
    assert_close(out, expected, "output")


def gat_pair(heads, concat):
    torch.manual_seed(heads + 2 * concat)
    module = pyg.GATConv(F, 3, heads=heads, concat=concat)
    torch.nn.init.normal_(module.bias)
    model = GATConv(3, heads=heads, concat=concat)
    params = params_like(
        model,
        **{
            "lin/kernel": t2n(module.lin.weight).T,
            "att_src": t2n(module.att_src)[0],
            "att_dst": t2n(module.att_dst)[0],
            "bias": t2n(module.bias),
        },
    )
    return model, params, module


@pytest.mark.parametrize(("heads", "concat"), [(1, True), (4, True), (4, False)])
def test_gat_equals_pyg(heads, concat):
    model, params, module = gat_pair(heads, concat)
    mapping = {
        "lin/kernel": lambda g: g["lin.weight"].T,
        "att_src": lambda g: g["att_src"][0],
        "att_dst": lambda g: g["att_dst"][0],
        "bias": lambda g: g["bias"],
    }
    width = 3 * heads if concat else 3
    compare(model, params, module, (N, width), mapping)


def test_gat_attention_equals_pyg_and_sums_to_one():
    model, params, module = gat_pair(4, True)
    _, alpha = model.apply(params, jnp.asarray(X), GRAPH, return_attention=True)
    alpha = np.asarray(alpha)
    loops = np.arange(N)
    receivers = np.concatenate([GRAPH.receivers, loops])
    keep = np.concatenate([GRAPH.senders != GRAPH.receivers, np.ones(N, bool)])
    assert alpha.shape == (len(receivers), 4)
    totals = np.zeros((N, 4))
    np.add.at(totals, receivers, alpha)
    assert_close(totals, np.ones((N, 4)), "sum of alpha per receiver")
    assert np.all(alpha[~keep] == 0.0)  # the graph's own self loops are replaced
    _, (edge_index, alpha_t) = module(
        torch.tensor(X), EDGE_INDEX, return_attention_weights=True
    )
    kept = np.stack([np.concatenate([GRAPH.senders, loops]), receivers])[:, keep]
    np.testing.assert_array_equal(t2n(edge_index), kept)
    assert_close(alpha[keep], t2n(alpha_t), "alpha")


def test_gat_replaces_repeated_self_loops_as_pyg():
    model, params, module = gat_pair(4, False)
    loops = np.array([2, 2, 7], np.int32)  # node 2: three loops, node 7: one more
    graph = GRAPH._replace(
        senders=np.concatenate([GRAPH.senders, loops]),
        receivers=np.concatenate([GRAPH.receivers, loops]),
        n_edge=GRAPH.n_edge + 3,
    )
    edge_index = torch.tensor(np.stack([graph.senders, graph.receivers]))
    expected = t2n(module(torch.tensor(X), edge_index.long()))
    assert_close(model.apply(params, jnp.asarray(X), graph), expected, "output")


def test_gat_attention_dropout_only_when_not_deterministic():
    model = GATConv(3, heads=4, dropout_rate=0.5)
    x = jnp.asarray(X)
    params = model.init(jax.random.key(0), x, GRAPH)
    plain = GATConv(3, heads=4).apply(params, x, GRAPH)
    kept = model.apply(params, x, GRAPH, deterministic=True)
    np.testing.assert_array_equal(np.asarray(kept), np.asarray(plain))

    def dropped(seed):
        rngs = {"dropout": jax.random.key(seed)}
        return np.asarray(model.apply(params, x, GRAPH, deterministic=False, rngs=rngs))

    first, again, other = dropped(1), dropped(1), dropped(2)
    np.testing.assert_array_equal(first, again)
    # at rate 0.5 every node with at least one edge (all but the isolated one,
    # whose only edge is its self loop) differs with probability >= 1 - 0.5**4
    changed = np.any(np.abs(first - np.asarray(plain)) > 1e-6, axis=1)
    assert changed.sum() >= 20
    assert np.any(np.abs(first - other) > 1e-6)


SAGE_CASES = {
    # (aggregator, features): mean with F' < F projects before aggregating
    "mean-project-first": ("mean", 4, "mean", False),
    "mean": ("mean", 8, "mean", False),
    "max": ("max", 4, "max", False),
    "pool": ("pool", 4, "max", True),
}


@pytest.mark.parametrize("case", list(SAGE_CASES))
def test_sage_equals_pyg(case):
    aggregator, width, aggr, project = SAGE_CASES[case]
    torch.manual_seed(3)
    module = pyg.SAGEConv(F, width, aggr=aggr, project=project)
    model = SAGEConv(width, aggregator)
    values = {
        "neighbour/kernel": t2n(module.lin_l.weight).T,
        "neighbour/bias": t2n(module.lin_l.bias),
        "root/kernel": t2n(module.lin_r.weight).T,
    }
    mapping = {
        "neighbour/kernel": lambda g: g["lin_l.weight"].T,
        "neighbour/bias": lambda g: g["lin_l.bias"],
        "root/kernel": lambda g: g["lin_r.weight"].T,
    }
    if project:
        values |= {"pool/kernel": t2n(module.lin.weight).T}
        values |= {"pool/bias": t2n(module.lin.bias)}
        mapping |= {"pool/kernel": lambda g: g["lin.weight"].T}
        mapping |= {"pool/bias": lambda g: g["lin.bias"]}
    params = params_like(model, **values)
    compare(model, params, module, (N, width), mapping)
    # the isolated node gets a zero aggregate: only its root term remains
    out = model.apply(params, jnp.asarray(X), GRAPH)
    expected = X[ISOLATED] @ values["root/kernel"] + values["neighbour/bias"]
    assert_close(out[ISOLATED], expected, "isolated node")


@pytest.mark.parametrize("aggregator", ["add", "mean"])
def test_ggnn_equals_pyg(aggregator):
    torch.manual_seed(4)
    width, layers = 8, 3
    module = pyg.GatedGraphConv(width, layers, aggr=aggregator)
    model = GatedGraphConv(width, layers, aggregator)
    w_ih = t2n(module.rnn.weight_ih).reshape(3, width, width)  # rows r, z, n
    w_hh = t2n(module.rnn.weight_hh).reshape(3, width, width)
    b_ih = t2n(module.rnn.bias_ih).reshape(3, width)
    b_hh = t2n(module.rnn.bias_hh).reshape(3, width)
    values = {"weight": t2n(module.weight)}
    for gate, index in (("r", 0), ("z", 1), ("n", 2)):
        values[f"gru/i{gate}/kernel"] = w_ih[index].T
        values[f"gru/h{gate}/kernel"] = w_hh[index].T
    values |= {
        "gru/ir/bias": b_ih[0] + b_hh[0],
        "gru/iz/bias": b_ih[1] + b_hh[1],
        "gru/in/bias": b_ih[2],
        "gru/hn/bias": b_hh[2],
    }

    def rows(name, index):
        return lambda g: g[name].reshape(3, width, -1)[index].T

    def part(name, index):
        return lambda g: g[name].reshape(3, width)[index]

    mapping = {"weight": lambda g: g["weight"]}
    for gate, index in (("r", 0), ("z", 1), ("n", 2)):
        mapping[f"gru/i{gate}/kernel"] = rows("rnn.weight_ih", index)
        mapping[f"gru/h{gate}/kernel"] = rows("rnn.weight_hh", index)
    mapping |= {
        "gru/ir/bias": part("rnn.bias_ih", 0),  # = d/d b_hr as well
        "gru/iz/bias": part("rnn.bias_ih", 1),
        "gru/in/bias": part("rnn.bias_ih", 2),
        "gru/hn/bias": part("rnn.bias_hh", 2),
    }
    params = params_like(model, **values)
    weight = torch.tensor(EDGE_WEIGHT)
    compare(
        model,
        params,
        module,
        (N, width),
        mapping,
        weight,
        edge_weight=jnp.asarray(EDGE_WEIGHT),
    )


PADDED_MODELS = {
    "gat": GATConv(3, heads=2),
    "sage-pool": SAGEConv(4, "pool"),
    "sage-mean": SAGEConv(4),
    "ggnn": GatedGraphConv(8, 2),
}


@pytest.mark.parametrize("name", list(PADDED_MODELS))
def test_padded_graph_gives_same_outputs_on_real_nodes(name):
    model = PADDED_MODELS[name]
    x = jnp.asarray(X)
    params = model.init(jax.random.key(0), x, GRAPH)
    padded = jraph.pad_with_graphs(GRAPH, n_node=N + 5, n_edge=len(GRAPH.senders) + 9)
    x_padded = jnp.concatenate([x, jnp.ones((5, F))])  # padding rows, not zeros
    plain = model.apply(params, x, GRAPH)
    # a jitted apply with the graph as an argument (n_node traced) as well
    out = jax.jit(model.apply)(params, x_padded, padded)
    assert out.shape[0] == N + 5
    assert_close(out[:N], plain, "real nodes")


def test_bad_input_raises():
    x = jnp.asarray(X)
    outside = GRAPH._replace(receivers=GRAPH.receivers.copy())
    outside.receivers[0] = N
    for model in (GATConv(2), SAGEConv(2), GatedGraphConv(8, 1)):
        with pytest.raises(ValueError, match="outside"):
            model.init(jax.random.key(0), x, outside)
        with pytest.raises(ValueError, match="rows"):
            model.init(jax.random.key(0), x[:-1], GRAPH)
    with pytest.raises(ValueError, match="aggregator"):
        SAGEConv(2, "lstm").init(jax.random.key(0), x, GRAPH)
    with pytest.raises(ValueError, match="n_targets"):
        SAGEConv(2).init(jax.random.key(0), x, GRAPH, n_targets=N + 1)
    with pytest.raises(ValueError, match="aggregator"):
        GatedGraphConv(8, 1, "min").init(jax.random.key(0), x, GRAPH)
    with pytest.raises(ValueError, match="features"):
        GatedGraphConv(4, 1).init(jax.random.key(0), x, GRAPH)
    with pytest.raises(ValueError, match="dropout_rate"):
        GATConv(2, dropout_rate=1.0).init(jax.random.key(0), x, GRAPH)


def test_gcn_training_on_cora_follows_pyg_step_by_step():
    # Kipf's protocol without dropout (deterministic), the same initial
    # weights: jnn's learner (sparse features, masked loss + L2 on conv1,
    # optax Adam) against PyG GCNConv + torch Adam(weight_decay on conv1)
    from jnn.data.planetoid import load_planetoid, normalize_features
    from jnn.graph.models import GCN
    from jnn.graph.node_classification import (
        default_settings,
        node_classification_data,
        node_learner,
    )

    data = load_planetoid("cora")
    x = normalize_features(data.graph.nodes)
    masks = {"train": data.train_mask, "val": data.val_mask, "test": data.test_mask}
    train = node_classification_data(x, data.labels, masks)["train"]
    model = GCN(
        data.graph._replace(nodes=None), 7, n_features=x.shape[1], dropout_rate=0.0
    )
    learner = node_learner(model, default_settings(model))
    state = learner.init(jax.random.key(0), train)
    update = jax.jit(learner.update)

    kernels = [state.params[c]["Dense_0"]["kernel"] for c in ("conv1", "conv2")]
    convs = [pyg.GCNConv(*k.shape, bias=False, cached=True) for k in kernels]
    with torch.no_grad():
        for conv, k in zip(convs, kernels, strict=True):
            conv.lin.weight.copy_(torch.from_numpy(np.array(k).T))
    optimizer = torch.optim.Adam(
        [
            {"params": convs[0].parameters(), "weight_decay": 5e-4},
            {"params": convs[1].parameters(), "weight_decay": 0.0},
        ],
        lr=0.01,
    )
    xt = torch.from_numpy(np.asarray(x, np.float32))
    edges = torch.from_numpy(
        np.stack([np.asarray(data.graph.senders), np.asarray(data.graph.receivers)])
    ).long()
    yt = torch.from_numpy(np.asarray(data.labels)).long()
    mask = torch.from_numpy(np.asarray(data.train_mask))
    for step in range(20):
        state, metrics = update(state, train, jax.random.key(step))
        optimizer.zero_grad()
        logits = convs[1](torch.relu(convs[0](xt, edges)), edges)
        loss = torch.nn.functional.cross_entropy(logits[mask], yt[mask])
        loss.backward()
        optimizer.step()
        np.testing.assert_allclose(
            metrics["cross_entropy"], loss.item(), rtol=2e-5, atol=2e-6
        )
    for conv, c in zip(convs, ("conv1", "conv2"), strict=True):
        np.testing.assert_allclose(
            state.params[c]["Dense_0"]["kernel"],
            conv.lin.weight.detach().numpy().T,
            atol=2e-5,
        )
