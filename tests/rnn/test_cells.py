"""Cells: parameter counts, identical weights with PyTorch, layer normalisation."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.rnn import (
    ACTIVATIONS,
    CELLS,
    CharRNN,
    RecurrentNet,
    RecurrentStack,
    cell,
    parameter_count,
    params_from_torch,
    recurrent_layer,
)
from tests.rnn import random_params

IN, H, B, T = 4, 6, 3, 7
TORCH_CLASS = {"elman": "RNN", "lstm": "LSTM", "gru": "GRU"}


@pytest.fixture(scope="module")
def torch():
    """PyTorch, for the tests that compare with it (skipped without it)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch


def _count(tree) -> int:
    return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))


def _init_cell(name, features=5, inputs=3, seed=0):
    c = cell(name, features)
    x = jnp.ones((2, inputs))
    carry = c.initialize_carry(jax.random.key(0), x.shape)
    return c, random_params(c, carry, x, seed=seed)


@pytest.mark.parametrize("name", CELLS)
def test_parameter_count_matches_the_cells(name):
    _, params = _init_cell(name)
    assert _count(params) == parameter_count(name, 3, 5)


def test_parameter_counts_match_torch_and_the_gru_lstm_ratio(torch):
    for name, cls in TORCH_CLASS.items():
        module = getattr(torch.nn, cls)(IN, H)
        n_torch = sum(p.numel() for p in module.parameters())
        assert parameter_count(name, IN, H, convention="torch") == n_torch
    lstm, gru = (parameter_count(n, IN, H, convention="torch") for n in ("lstm", "gru"))
    assert 4 * gru == 3 * lstm  # PyTorch's two biases per gate: exactly 3/4
    flax_lstm, flax_gru = (parameter_count(n, IN, H) for n in ("lstm", "gru"))
    assert 4 * (flax_gru - H) == 3 * flax_lstm  # Flax: 3/4 plus the unfolded b_hn
    # the Flax layout keeps one bias where PyTorch's two are only summed
    assert gru - flax_gru == 2 * H and lstm - flax_lstm == 4 * H


def _torch_run(torch, module, x, cotangent):
    """Outputs, final states and gradients of ``sum(outputs * cotangent)``."""
    xt = torch.tensor(x, requires_grad=True)
    out, state = module(xt)
    out.backward(torch.tensor(cotangent))
    state = state if isinstance(state, tuple) else (state,)
    grads = {name: p.grad.numpy().copy() for name, p in module.named_parameters()}
    return (
        out.detach().numpy(),
        [s.detach().numpy() for s in state],
        grads,
        xt.grad.numpy(),
    )


def _folded_bias_grads(grads, name):
    """Gradient dict whose summed biases count once (Flax keeps b_ih + b_hh)."""
    out = dict(grads)
    for key, value in grads.items():
        if key.startswith("bias_hh"):
            kept = np.zeros_like(value)
            if name == "gru":  # b_hn is not folded
                kept[2 * H :] = value[2 * H :]
            out[key] = kept
    return out


def _final_states(state, name, bidirectional):
    """The Flax state as PyTorch's (h_n[, c_n]) arrays ``(layers * dirs, B, H)``."""
    carries = [c for layer in state for c in (layer if bidirectional else (layer,))]
    if name == "lstm":
        return [np.stack([h for _, h in carries]), np.stack([c for c, _ in carries])]
    return [np.stack(carries)]


@pytest.mark.parametrize(
    "name,bidirectional,activation,path",
    [
        ("elman", True, "tanh", "flax"),
        ("elman", False, "relu", "flax"),  # nn.RNN(nonlinearity="relu")
        ("elman", True, "relu", "fast"),
        ("lstm", True, "tanh", "flax"),
        ("gru", True, "tanh", "flax"),
        ("gru", False, "tanh", "flax"),
    ],
)
def test_stack_equals_torch_outputs_states_and_gradients(
    torch, name, bidirectional, activation, path
):
    kw = {"nonlinearity": activation} if name == "elman" else {}
    module = getattr(torch.nn, TORCH_CLASS[name])(
        IN, H, num_layers=2, batch_first=True, bidirectional=bidirectional, **kw
    )
    rng = np.random.default_rng(0)
    x = rng.normal(size=(B, T, IN)).astype(np.float32)
    cotangent = rng.normal(size=(B, T, H * (2 if bidirectional else 1)))
    cotangent = cotangent.astype(np.float32)
    out_t, state_t, grads_t, dx_t = _torch_run(torch, module, x, cotangent)

    stack = RecurrentStack(
        name, H, layers=2, bidirectional=bidirectional, path=path, activation=activation
    )
    params = params_from_torch(module.state_dict(), name)
    dirs = 2 if bidirectional else 1
    per_direction = parameter_count(name, IN, H) + parameter_count(name, dirs * H, H)
    assert _count(params) == dirs * per_direction
    n_torch = sum(p.numel() for p in module.parameters())
    torch_direction = parameter_count(name, IN, H, convention="torch")
    torch_direction += parameter_count(name, dirs * H, H, convention="torch")
    assert n_torch == dirs * torch_direction

    def objective(params, x):
        state, out = stack.apply({"params": params}, x)
        return jnp.sum(out * cotangent), (state, out)

    grad_fn = jax.jit(jax.grad(objective, argnums=(0, 1), has_aux=True))
    (grads, dx), (state, out) = grad_fn(params, jnp.asarray(x))
    np.testing.assert_allclose(out, out_t, atol=1e-5, rtol=0)
    for mine, theirs in zip(
        _final_states(state, name, bidirectional), state_t, strict=True
    ):
        np.testing.assert_allclose(mine, theirs, atol=1e-5, rtol=0)
    expected = params_from_torch(_folded_bias_grads(grads_t, name), name)
    jax.tree.map(
        lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5, rtol=0),
        grads,
        expected,
    )
    np.testing.assert_allclose(dx, dx_t, atol=1e-5, rtol=0)


def _layer_norm(a, scale, bias, eps=1e-5):
    mean = a.mean(-1, keepdims=True)
    var = ((a - mean) ** 2).mean(-1, keepdims=True)
    return scale * (a - mean) / np.sqrt(var + eps) + bias


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _ln_step(name, p, carry, x):
    """One step of a layer-normalised cell, written from Ba et al. in NumPy."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), p)
    wx, wh = p["input"]["kernel"], p["recurrent"]["kernel"]
    if name == "ln-elman":
        a = x @ wx + carry @ wh
        h = np.tanh(_layer_norm(a, p["norm"]["scale"], p["norm"]["bias"]))
        return h, h
    if name == "ln-lstm":
        c, h = carry
        a = x @ wx + h @ wh
        gates = [
            _layer_norm(
                a[:, k * 5 : (k + 1) * 5],
                p["gate_norm"]["scale"][k],
                p["gate_norm"]["bias"][k],
            )
            for k in range(4)
        ]
        i, f, g, o = (_sigmoid(gates[0]), _sigmoid(gates[1]), np.tanh(gates[2]),
                      _sigmoid(gates[3]))  # fmt: skip
        c = f * c + i * g
        cn = _layer_norm(c, p["cell_norm"]["scale"], p["cell_norm"]["bias"])
        h = o * np.tanh(cn)
        return (c, h), h
    ax, ah = x @ wx, carry @ wh
    norm = p["gate_norm"]
    r = _sigmoid(_layer_norm(ax[:, :5] + ah[:, :5], norm["scale"][0], norm["bias"][0]))
    z = _sigmoid(
        _layer_norm(ax[:, 5:10] + ah[:, 5:10], norm["scale"][1], norm["bias"][1])
    )
    cand = p["candidate_norm"]
    n = np.tanh(_layer_norm(ax[:, 10:] + r * ah[:, 10:], cand["scale"], cand["bias"]))
    h = (1 - z) * n + z * carry
    return h, h


@pytest.mark.parametrize("name", ["ln-elman", "ln-lstm", "ln-gru"])
def test_layer_norm_cells_follow_the_equations_and_ignore_weight_scale(name):
    c, params = _init_cell(name, seed=1)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3)).astype(np.float32)
    carry = jax.tree.map(
        lambda a: rng.normal(size=a.shape).astype(np.float32),
        c.initialize_carry(jax.random.key(0), x.shape),
    )
    new, y = c.apply({"params": params}, carry, x)
    new_ref, y_ref = _ln_step(name, params, carry, x)
    np.testing.assert_allclose(y, y_ref, atol=1e-5)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), new, new_ref)

    # Ba et al. section 5.1: scaling the weights leaves a normalised layer as is
    # (up to epsilon, taken tiny here)
    layer = recurrent_layer(cell(name, 5, epsilon=1e-12))
    xs = jnp.asarray(rng.normal(size=(2, 9, 3)).astype(np.float32))
    scaled = dict(params)
    for part in ("input", "recurrent"):
        scaled[part] = {"kernel": 3.0 * params[part]["kernel"]}
    apply = jax.jit(lambda p: layer.apply({"params": {"cell": p}}, xs))
    np.testing.assert_allclose(apply(params), apply(scaled), atol=1e-5)


def test_cell_factory_returns_flax_cells():
    assert isinstance(cell("elman", 3), nn.SimpleCell)
    assert isinstance(cell("lstm", 3), nn.OptimizedLSTMCell)
    assert isinstance(cell("gru", 3), nn.GRUCell)
    # with no dropout the GRU's parameters and outputs are Flax's own
    _, params = _init_cell("gru")
    x, h = jnp.ones((2, 3)), 0.5 * jnp.ones((2, 5))
    mine = cell("gru", 5).apply({"params": params}, h, x)[1]
    flax = nn.GRUCell(5).apply({"params": params}, h, x)[1]
    np.testing.assert_array_equal(mine, flax)


def test_bad_cell_arguments_are_named():
    with pytest.raises(ValueError, match="`name`"):
        cell("tanh", 4)
    with pytest.raises(ValueError, match="`features`"):
        cell("lstm", 0)
    with pytest.raises(TypeError, match="`features`"):
        cell("lstm", 2.5)
    with pytest.raises(ValueError, match="`state_dropout`"):
        cell("gru", 4, state_dropout=1.0)
    with pytest.raises(ValueError, match="`activation` must be one of .*'gelu'"):
        cell("elman", 4, activation="gelu")
    with pytest.raises(ValueError, match="`activation` 'relu' exists for the 'elman'"):
        cell("lstm", 4, activation="relu")
    with pytest.raises(ValueError, match="`activation_fn`"):
        cell("elman", 4, activation="relu", activation_fn=jnp.tanh)
    with pytest.raises(ValueError, match="`activation`.*'sigmoid'"):
        RecurrentStack("elman", 4, activation="sigmoid")
    with pytest.raises(ValueError, match="`activation` 'relu'.*'gru'"):
        RecurrentStack("gru", 4, activation="relu", path="fast")
    with pytest.raises(ValueError, match="`activation`.*'Relu'"):
        RecurrentNet(cell="elman", activation="Relu")
    with pytest.raises(ValueError, match="`activation` 'relu'.*'ln-elman'"):
        CharRNN(7, 4, cell="ln-elman", activation="relu")
    # the default and the Elman cell's ReLU are accepted
    assert cell("elman", 4, activation="relu").activation_fn is jax.nn.relu
    assert ACTIVATIONS == ("tanh", "relu")
    with pytest.raises(ValueError, match="`convention`"):
        parameter_count("ln-lstm", 3, 4, convention="torch")
    with pytest.raises(ValueError, match="`convention`"):
        parameter_count("lstm", 3, 4, convention="keras")
    with pytest.raises(ValueError, match="`cell`"):
        params_from_torch({}, "ln-gru")
    with pytest.raises(ValueError, match="`state_dict`"):
        params_from_torch({"weight": np.zeros(3)}, "gru")
