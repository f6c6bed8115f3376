"""The fast CPU path (jnn/rnn/_fast.py) equals the Flax reference path."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jnn.rnn import CharRNN, RecurrentStack, _fast, _fast_layers
from jnn.rnn.sequence import resolve_path

B, T, F, H = 3, 5, 4, 6
LENGTHS = jnp.array([5, 2, 3], jnp.int32)
TOL = 1e-5


def _close(a, b):
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=TOL, rtol=TOL)


def _inputs():
    x = jax.random.normal(jax.random.key(1), (B, T, F))
    return x * 2.0


# compile time rules: the cases share the work (stacked, bidirectional, JVPs);
# CharRNN below runs 2-layer lstm and gru stacks too
@pytest.mark.parametrize(
    ("cell", "layers", "bidirectional", "hoist"),
    [
        ("elman", 2, False, False),
        ("elman", 2, True, True),  # inputs projected before the loop
        ("lstm", 1, True, False),
        ("gru", 2, False, False),
    ],
)
def test_stack_outputs_states_and_gradients_equal_flax(
    cell, layers, bidirectional, hoist, monkeypatch
):
    monkeypatch.setattr(_fast_layers, "hoist_inputs", lambda name: hoist)
    kw = {"cell": cell, "features": H, "layers": layers, "dropout": 0.25}
    kw["bidirectional"] = bidirectional
    ref, fast = RecurrentStack(**kw, path="flax"), RecurrentStack(**kw, path="fast")
    x = _inputs()
    params = ref.init(jax.random.key(0), x)
    # the same tree and the same initial values on both paths
    _close(params, fast.init(jax.random.key(0), x))
    start = jax.tree.map(
        lambda z: jax.random.normal(jax.random.key(2), z.shape),
        ref.zero_state(B),
    )
    rngs = {"dropout": jax.random.key(3)}  # same key: the same masks

    def run(model):
        def loss(params, x):
            state, out = model.apply(
                params,
                x,
                seq_lengths=LENGTHS,
                initial_state=start,
                train=True,
                rngs=rngs,
            )
            value = jnp.sum(out**2) + sum(jnp.sum(s) for s in jax.tree.leaves(state))
            return value, (state, out)

        @jax.jit  # one compilation per path: values, gradients and a JVP
        def everything(params, x):
            (_, aux), grads = jax.value_and_grad(loss, (0, 1), has_aux=True)(params, x)
            if bidirectional:
                return aux, grads
            tangent = jax.jvp(lambda x: loss(params, x)[0], (x,), (x,))[1]
            return aux, grads, tangent

        return everything(params, x)

    _close(run(ref), run(fast))


def _char_models(cell, dropout):
    kw = {"vocab_size": 7, "features": H, "layers": 2, "cell": cell}
    return (
        CharRNN(**kw, dropout=dropout, path="flax"),
        CharRNN(**kw, dropout=dropout, path="fast"),
    )


@pytest.mark.parametrize(("cell", "dropout"), [("lstm", 0.0), ("gru", 0.3)])
def test_char_rnn_with_projected_embedding_equals_flax(cell, dropout):
    ref, fast = _char_models(cell, dropout)
    tokens = jax.random.randint(jax.random.key(4), (B, T), 0, 7)
    variables = ref.init(jax.random.key(0), tokens)
    params = variables["params"]
    state = jax.tree.map(
        lambda z: jax.random.normal(jax.random.key(5), z.shape),
        variables["carry"]["state"],
    )

    def run(model):
        def loss(params):
            logits, end = model.apply(
                {"params": params},
                tokens,
                state=state,
                return_state=True,
                train=True,
                rngs={"dropout": jax.random.key(6)},
            )
            return jnp.mean(jax.nn.log_softmax(logits)[..., 0]), (logits, end)

        (_, aux), grads = jax.jit(jax.value_and_grad(loss, has_aux=True))(params)
        return aux, grads

    _close(run(ref), run(fast))


def test_path_resolution_and_bad_names():
    assert resolve_path("auto", "lstm", backend="cpu") == "fast"
    assert resolve_path("auto", "lstm", backend="gpu") == "flax"
    assert resolve_path("auto", "ln-lstm", backend="cpu") == "flax"
    assert resolve_path("flax", "gru", backend="cpu") == "flax"
    with pytest.raises(ValueError, match="`path`"):
        RecurrentStack("lstm", H, path="cudnn")
    with pytest.raises(ValueError, match="`path` 'fast' has no 'ln-gru'"):
        RecurrentStack("ln-gru", H, path="fast")
    with pytest.raises(ValueError, match="`path`"):
        CharRNN(7, H, path="xla")


def test_inputs_hoisted_for_the_elman_cell_on_two_or_more_cpu_cores(monkeypatch):
    monkeypatch.setattr(_fast, "_cores", lambda: 2)
    assert _fast.hoist_inputs("elman", "cpu")
    assert not _fast.hoist_inputs("lstm", "cpu")
    assert not _fast.hoist_inputs("gru", "cpu")
    assert not _fast.hoist_inputs("elman", "gpu")
    monkeypatch.setattr(_fast, "_cores", lambda: 1)
    assert not _fast.hoist_inputs("elman", "cpu")
