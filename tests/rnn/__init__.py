"""Tests of jnn.rnn (cells, sequence models, dropout, generation, truncated BPTT)."""

import jax
import jax.numpy as jnp
import numpy as np


def random_params(model, *inputs, seed=0, scale=0.5, **kwargs):
    """Random ``params`` of ``model`` without running ``model.init``.

    ``init`` of a recurrent net compiles its scan and the QR of the orthogonal
    initialiser (seconds on 2 cores); tests that only need some weights take
    the shapes from ``jax.eval_shape`` and fill them with NumPy normals.
    """
    shapes = jax.eval_shape(model.init, jax.random.key(0), *inputs, **kwargs)
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda s: jnp.asarray(scale * rng.normal(size=s.shape), s.dtype),
        shapes["params"],
    )
