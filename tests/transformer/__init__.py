"""Tests of jnn.transformer (attention, positions, layers, GPT, generation)."""

import numpy as np


def t2n(tensor):
    return tensor.detach().cpu().numpy()


def attention_params_from_torch(mha) -> dict:
    """``params`` of a MultiHeadAttention from a ``torch.nn.MultiheadAttention``.

    PyTorch stacks ``W_Q, W_K, W_V`` as ``in_proj_weight (3E, E)`` acting as
    ``x W^T``; a head-split DenseGeneral kernel is ``W^T`` reshaped to
    ``(E, H, D)``, and the output kernel is ``W_O^T`` reshaped to ``(H, D, E)``.
    """
    heads, width = mha.num_heads, mha.embed_dim
    head = width // heads
    weights = np.split(t2n(mha.in_proj_weight), 3)
    biases = np.split(t2n(mha.in_proj_bias), 3)
    params = {
        name: {
            "kernel": w.T.reshape(width, heads, head),
            "bias": b.reshape(heads, head),
        }
        for name, w, b in zip(("query", "key", "value"), weights, biases, strict=True)
    }
    params["out"] = {
        "kernel": t2n(mha.out_proj.weight).T.reshape(heads, head, width),
        "bias": t2n(mha.out_proj.bias),
    }
    return params


def attention_grads_from_torch(mha) -> dict:
    """The gradients of a torch MHA, laid out as :func:`attention_params_from_torch`.

    The conversion is a transpose and reshape, so gradients map the same way.
    """
    heads, width = mha.num_heads, mha.embed_dim
    head = width // heads
    weights = np.split(t2n(mha.in_proj_weight.grad), 3)
    biases = np.split(t2n(mha.in_proj_bias.grad), 3)
    grads = {
        name: {
            "kernel": w.T.reshape(width, heads, head),
            "bias": b.reshape(heads, head),
        }
        for name, w, b in zip(("query", "key", "value"), weights, biases, strict=True)
    }
    grads["out"] = {
        "kernel": t2n(mha.out_proj.weight.grad).T.reshape(heads, head, width),
        "bias": t2n(mha.out_proj.bias.grad),
    }
    return grads


def encoder_params_from_torch(layer, grad: bool = False) -> dict:
    """``params`` (or gradients) of an EncoderLayer from a torch encoder layer."""

    def get(p):
        return t2n(p.grad if grad else p)

    attention = (attention_grads_from_torch if grad else attention_params_from_torch)(
        layer.self_attn
    )
    return {
        "attention": attention,
        "ffn": {
            "hidden": {
                "kernel": get(layer.linear1.weight).T,
                "bias": get(layer.linear1.bias),
            },
            "output": {
                "kernel": get(layer.linear2.weight).T,
                "bias": get(layer.linear2.bias),
            },
        },
        "norm1": {"scale": get(layer.norm1.weight), "bias": get(layer.norm1.bias)},
        "norm2": {"scale": get(layer.norm2.weight), "bias": get(layer.norm2.bias)},
    }


def max_tree_diff(a, b) -> float:
    """The largest absolute difference between two nested dicts of arrays."""
    if isinstance(a, dict):
        assert set(a) == set(b), (sorted(a), sorted(b))
        return max(max_tree_diff(a[k], b[k]) for k in a)
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.abs(a - b).max())
