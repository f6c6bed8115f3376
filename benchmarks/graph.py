"""Benchmark: node classification on Cora, jnn vs PyTorch Geometric (G2, issue 15).

Workloads (the Planetoid public split of Cora, ``jnn.data.load_planetoid``,
features row-normalised; 2708 nodes, 1433 features of which 98.7 % are zero,
10,556 directed edges): full-batch training epochs (forward, backward, Adam)
of

* ``GCN 2x16``: Kipf & Welling's GCN (16 hidden, ReLU, dropout 0.5 on the
  input, Kipf's sparse dropout, and on the hidden layer), Adam 0.01 with L2
  5e-4 on the first layer;
* ``GAT 8x8``: Veličković et al.'s GAT (8 heads x 8 features, ELU, one output
  head; dropout 0.6 on both layers' inputs and on the attention), Adam 0.005
  with L2 5e-4 on every weight.

The figure is milliseconds per epoch: one call trains ``--epochs`` epochs
from a fresh initialisation (seed = the call's index), the median of
``--repeats`` calls, divided by the epochs. Rows:

* ``jnn.fit``: ``fit(node_learner(model), train, epochs=E)`` on padded-row
  sparse features (``jnn.graph.sparse_features``): all E epochs are one
  compiled call; ``jnn.fit dense``: the same on the dense ``(N, F)`` features
  (the reference path);
* ``PyG GCNConv cached``: ``torch_geometric.nn.GCNConv(cached=True)`` (the
  normalised adjacency computed once) on a sparse COO feature matrix whose
  values are dropped out (Kipf's sparse dropout), as PyG's ``gcn.py`` example;
* ``torch sparse GCN``: the same network by hand, ``torch.sparse.mm`` with a
  precomputed sparse normalised adjacency and sparse features;
* ``PyG GATConv``: ``torch_geometric.nn.GATConv`` as PyG's ``gat.py``
  example, on sparse and on dense features;
* ``... torch.compile``: the model through ``torch.compile`` where it runs
  (skipped with the reason where it fails).

PyTorch runs with as many threads as the process has cores (2 on the
reference machine), foreach Adam (its default). Compile time = first call
minus the median (jnn: XLA; torch.compile: inductor). Each row's test accuracy
after its E epochs is reported (mean over the timed calls; no early stopping
here, see ``examples/graph/planetoid.py`` for the papers' protocol).

Run::

    .venv/bin/python benchmarks/graph.py            # ~4 min on 2 cores
    .venv/bin/python benchmarks/graph.py --quick

Results go to ``benchmarks/results/graph.json`` (``graph_quick.json``).
"""

from __future__ import annotations

import argparse
from typing import Any

import _harness as h
import jax
import numpy as np

from jnn.data.planetoid import load_planetoid, normalize_features
from jnn.graph.models import GAT, GCN
from jnn.graph.node_classification import (
    default_settings,
    node_classification_data,
    node_learner,
)
from jnn.train import fit

GCN_WORKLOAD, GAT_WORKLOAD = "GCN 2x16 (Kipf)", "GAT 8x8 (Velickovic)"


# --- jnn -------------------------------------------------------------------------


def jnn_trainer(kind: str, data, epochs: int, sparse: bool):
    """``run(i)``: ``epochs`` full-batch epochs from seed ``i``; the test accuracy."""
    features = normalize_features(data.graph.nodes)
    graph = data.graph._replace(nodes=None)
    splits = node_classification_data(
        features,
        data.labels,
        {"train": data.train_mask, "test": data.test_mask},
        sparse=sparse,
    )
    cls = GCN if kind == "gcn" else GAT
    model = cls(graph, data.n_classes, n_features=features.shape[1])
    learner = node_learner(model, default_settings(model))
    train = {k: jax.device_put(v) for k, v in splits["train"].items()}
    test = {k: jax.device_put(v) for k, v in splits["test"].items()}
    # compiled ahead, so that a row's compile time is fit's alone
    state = jax.eval_shape(learner.init, jax.random.key(0), train)
    evaluate = jax.jit(learner.evaluate).lower(state, test).compile()

    def run(i: int) -> float:
        result = fit(
            learner, train, key=jax.random.key(i), epochs=epochs, progress=False
        )
        return float(evaluate(result.state, test)["accuracy"])

    return run


# --- PyTorch ---------------------------------------------------------------------


def torch_data(data):
    """Tensors: sparse COO features, dense features, edges, labels, masks, Â."""
    import torch

    x = normalize_features(data.graph.nodes)
    senders = np.asarray(data.graph.senders, np.int64)
    receivers = np.asarray(data.graph.receivers, np.int64)
    n = x.shape[0]
    loops = np.arange(n)
    rows, cols = np.r_[receivers, loops], np.r_[senders, loops]
    degree = np.bincount(rows, minlength=n).astype(np.float32)
    norm = (degree[rows] * degree[cols]) ** -0.5
    adjacency = torch.sparse_coo_tensor(
        torch.tensor(np.stack([rows, cols])), torch.tensor(norm), (n, n)
    ).coalesce()
    return {
        "x_sparse": torch.tensor(x).to_sparse().coalesce(),
        "x_dense": torch.tensor(x),
        "edge_index": torch.tensor(np.stack([senders, receivers])),
        "y": torch.tensor(data.labels.astype(np.int64)),
        "train": torch.tensor(data.train_mask),
        "test": torch.tensor(data.test_mask),
        "adjacency": adjacency,
        "n_classes": data.n_classes,
    }


def _sparse_dropout(x, p: float, training: bool):
    """Dropout of the stored values of a sparse COO matrix (Kipf & Welling)."""
    import torch
    import torch.nn.functional as F

    values = F.dropout(x.values(), p, training)
    return torch.sparse_coo_tensor(x.indices(), values, x.shape, is_coalesced=True)


def torch_model(kind: str, t: dict[str, Any]):
    """(model, optimiser parameter groups) of a PyTorch row."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    features, classes = t["x_dense"].shape[1], t["n_classes"]
    if kind == "pyg_gcn":
        from torch_geometric.nn import GCNConv

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = GCNConv(features, 16, cached=True)
                self.conv2 = GCNConv(16, classes, cached=True)

            def forward(self, x, edge_index):
                x = _sparse_dropout(x, 0.5, self.training)
                x = F.relu(self.conv1(x, edge_index))
                x = F.dropout(x, 0.5, self.training)
                return self.conv2(x, edge_index)

        net = Net()
        groups = [
            {"params": net.conv1.parameters(), "weight_decay": 5e-4},
            {"params": net.conv2.parameters(), "weight_decay": 0.0},
        ]
        return net, groups, 0.01
    if kind == "torch_gcn":

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.w1 = nn.Parameter(
                    nn.init.xavier_uniform_(torch.empty(features, 16))
                )
                self.w2 = nn.Parameter(
                    nn.init.xavier_uniform_(torch.empty(16, classes))
                )

            def forward(self, x, adjacency):
                x = _sparse_dropout(x, 0.5, self.training)
                h = F.relu(torch.sparse.mm(adjacency, torch.sparse.mm(x, self.w1)))
                h = F.dropout(h, 0.5, self.training)
                return torch.sparse.mm(adjacency, h @ self.w2)

        net = Net()
        groups = [
            {"params": [net.w1], "weight_decay": 5e-4},
            {"params": [net.w2], "weight_decay": 0.0},
        ]
        return net, groups, 0.01
    from torch_geometric.nn import GATConv

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = GATConv(features, 8, heads=8, dropout=0.6)
            self.conv2 = GATConv(64, classes, heads=1, concat=False, dropout=0.6)

        def forward(self, x, edge_index):
            if x.is_sparse:
                x = _sparse_dropout(x, 0.6, self.training)
            else:
                x = F.dropout(x, 0.6, self.training)
            x = F.elu(self.conv1(x, edge_index))
            x = F.dropout(x, 0.6, self.training)
            return self.conv2(x, edge_index)

    net = Net()
    return net, [{"params": net.parameters(), "weight_decay": 5e-4}], 0.005


#: PyTorch rows: name -> (workload, model kind, feature input, graph input).
TORCH_ROWS = {
    "PyG GCNConv cached": (GCN_WORKLOAD, "pyg_gcn", "x_sparse", "edge_index"),
    "torch sparse GCN": (GCN_WORKLOAD, "torch_gcn", "x_sparse", "adjacency"),
    "PyG GATConv sparse x": (GAT_WORKLOAD, "pyg_gat", "x_sparse", "edge_index"),
    "PyG GATConv dense x": (GAT_WORKLOAD, "pyg_gat", "x_dense", "edge_index"),
}


def torch_trainer(name: str, t: dict[str, Any], epochs: int, compiled: bool):
    """``run(i)``: ``epochs`` epochs of a fresh PyTorch model; returns test accuracy."""
    import torch
    import torch.nn.functional as F

    _, kind, x_key, graph_key = TORCH_ROWS[name]
    x, graph, y = t[x_key], t[graph_key], t["y"]
    train, test = t["train"], t["test"]

    def run(i: int) -> float:
        torch.manual_seed(i)
        net, groups, lr = torch_model(kind, t)
        forward = torch.compile(net) if compiled else net
        opt = torch.optim.Adam(groups, lr=lr)
        net.train()
        for _ in range(epochs):
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(forward(x, graph)[train], y[train])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            predicted = net(x, graph).argmax(dim=1)
        return float((predicted[test] == y[test]).float().mean())

    return run


# --- the table -------------------------------------------------------------------


def measure(data, epochs: int, repeats: int, compile_rows: bool) -> list[dict]:
    t = torch_data(data)
    workloads = {
        (GCN_WORKLOAD, "jnn.fit"): jnn_trainer("gcn", data, epochs, True),
        (GCN_WORKLOAD, "jnn.fit dense"): jnn_trainer("gcn", data, epochs, False),
        (GAT_WORKLOAD, "jnn.fit"): jnn_trainer("gat", data, epochs, True),
        (GAT_WORKLOAD, "jnn.fit dense"): jnn_trainer("gat", data, epochs, False),
    }
    for name, (workload, *_) in TORCH_ROWS.items():
        workloads[(workload, name)] = h.with_threads(
            torch_trainer(name, t, epochs, False), None
        )
    timings = h.interleaved(workloads, repeats)
    if compile_rows:
        for name, (workload, *_) in TORCH_ROWS.items():
            with h.torch_threads(None, True):
                timings[(workload, f"{name} torch.compile")] = h.time_or_skip(
                    torch_trainer(name, t, epochs, True), repeats
                )
    rows = []
    for (workload, impl), result in timings.items():
        peer = not impl.startswith("jnn")
        if isinstance(result, str):
            rows.append(
                {"workload": workload, "impl": impl, "peer": peer, "skipped": result}
            )
            continue
        rows.append(
            {
                "workload": workload,
                "impl": impl,
                "peer": peer,
                "s_per_epoch": result.median / epochs,
                "compile_s": result.compile if h.compiles(impl) else None,
                "test_acc": float(np.mean(result.results)),
                "times_s": result.times,
                "first_call_s": result.first,
            }
        )
    return rows


def print_rows(rows: list[dict], comparisons: list[dict], info) -> None:
    """The table (the comparisons themselves are printed by ``h.finish``)."""
    h.print_machine(info)
    best = {c["workload"]: c["peer"] for c in comparisons}
    print(
        f"{'workload':22} {'impl':36} {'ms/epoch':>9} {'fastest/row':>11} "
        f"{'compile s':>9} {'test acc':>8}"
    )
    for r in rows:
        if "skipped" in r:
            print(f"{r['workload']:22} {r['impl']:36} {'skipped':>9}  ({r['skipped']})")
            continue
        ratio = best.get(r["workload"])
        ratio = "-" if ratio is None else f"{ratio / r['s_per_epoch']:.2f}"
        compile_s = "-" if r["compile_s"] is None else f"{r['compile_s']:.2f}"
        print(
            f"{r['workload']:22} {r['impl']:36} {1e3 * r['s_per_epoch']:9.2f} "
            f"{ratio:>11} {compile_s:>9} {100 * r['test_acc']:7.1f}%"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--quick", action="store_true", help="fewer epochs, repeats")
    parser.add_argument("--smoke", action="store_true", help="runs, not timings")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.repeats = 100, 3
    if args.smoke:
        args.epochs, args.repeats, args.no_compile = 3, 1, True
    info = h.machine_info()
    h.set_torch_threads()
    data = load_planetoid("cora")
    rows, start = h.monitored(
        info, lambda: measure(data, args.epochs, args.repeats, not args.no_compile)
    )
    comparisons = h.workload_comparisons(
        rows,
        value="s_per_epoch",
        unit="s/epoch",
        jnn_impl="jnn.fit",
        targets={GCN_WORKLOAD: 2.0, GAT_WORKLOAD: 2.0},
    )
    print_rows(rows, comparisons, info)
    h.finish("graph", args, info, rows, comparisons, start)


if __name__ == "__main__":
    main()
