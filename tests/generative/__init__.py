"""Tests of jnn.generative (restricted Boltzmann machines)."""

import itertools

import jax.numpy as jnp
import numpy as np

from jnn.generative import RBM


def all_states(n: int) -> np.ndarray:
    """``(2^n, n)`` every binary vector, in counting order (float64)."""
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def random_rbm(n_visible: int, n_hidden: int, *, seed: int = 0, scale: float = 1.0):
    """An RBM with N(0, scale^2) weights and N(0, 1) biases (float32)."""
    rng = np.random.default_rng(seed)
    return RBM(
        jnp.asarray(scale * rng.normal(size=(n_visible, n_hidden)), jnp.float32),
        jnp.asarray(rng.normal(size=n_visible), jnp.float32),
        jnp.asarray(rng.normal(size=n_hidden), jnp.float32),
    )


def joint_energies(rbm) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``E[v, h]`` written out over every state (float64), with the states.

    Independent of the library: ``E(v, h) = -b.v - c.h - v W h`` summed term
    by term.
    """
    w, b, c = (np.asarray(p, np.float64) for p in rbm[:3])
    vs, hs = all_states(w.shape[0]), all_states(w.shape[1])
    energies = np.zeros((len(vs), len(hs)))
    for i, v in enumerate(vs):
        for j, h in enumerate(hs):
            energies[i, j] = (
                -v @ b
                - h @ c
                - sum(
                    v[a] * w[a, k] * h[k] for a in range(len(v)) for k in range(len(h))
                )
            )
    return energies, vs, hs
