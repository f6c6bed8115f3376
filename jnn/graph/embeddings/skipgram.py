r"""Skip-gram with negative sampling on random walks (curriculum G1).

DeepWalk (Perozzi et al. 2014) and node2vec (Grover & Leskovec 2016) read
random walks as sentences and nodes as words, and train word2vec's skip-gram
(Mikolov et al. 2013): a node ``u`` should predict the nodes ``v`` within
``window`` steps of it in a walk. With negative sampling the objective of one
(node, context) pair is

.. math:: \ell(u, v) = -\log\sigma(z_u^\top c_v)
          - \sum_{n=1}^{k} \log\sigma(-z_u^\top c_{w_n}),
          \qquad w_n \sim P_{\text{noise}}(w) \propto \text{count}(w)^{3/4}

with two tables: node vectors ``z`` (the embedding that is kept) and context
vectors ``c`` (word2vec's input and output vectors), and ``count(w)`` the
occurrences of ``w`` in the walks (the unigram distribution raised to 3/4).
The same loss with ``c = z`` is the unsupervised loss of GraphSAGE (Hamilton
et al. 2017), which :func:`negative_sampling_loss` serves.

Training goes through :mod:`jnn.train`: the data are the walks
``{"walks": (W, L)}``, a mini-batch is ``B`` walks, and the loss cuts them
into every (node, context) pair at offsets ``1..window`` in both directions
(a fixed window, as PyTorch Geometric's ``Node2Vec``; word2vec samples a
shorter window per node) and draws ``k`` negatives with the step's key. The
``k`` negatives of one node occurrence are shared by the pairs it centres
(word2vec draws ``k`` per pair): the expected loss and gradient are the same,
and the lookups of negatives, most of the cost, fall ``2 window``-fold
(3.7 instead of 10 ms per step of 16 walks of 40 nodes, window 5, 2,708
nodes, one CPU core).
"""

from __future__ import annotations

from functools import partial

import flax.linen as nn
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax

from jnn._checks import (
    check_array,
    check_key,
    check_positive_float,
    check_positive_int,
    is_concrete,
)
from jnn.graph.adjacency import adjacency_lists
from jnn.graph.embeddings.walks import node2vec_walks, random_walks, walk_starts
from jnn.train import Context, apply_model, fit, gradient_learner


def negative_sampling_loss(
    z_u: jax.Array, z_pos: jax.Array, z_neg: jax.Array
) -> jax.Array:
    r"""Skip-gram negative-sampling loss of each pair (Mikolov et al. 2013).

    .. math:: \ell = -\log\sigma(z_u^\top z_{pos})
              - \sum_{n} \log\sigma(-z_u^\top z_{neg,n})

    The unsupervised loss of GraphSAGE (Hamilton et al. 2017, eq. 1) and of
    random-walk embeddings; ``log sigma`` is computed stably
    (``jax.nn.log_sigmoid``).

    Args:
      z_u: ``(..., d)`` embeddings of the centre nodes.
      z_pos: ``(..., d)`` embeddings of their positive (co-occurring) nodes.
      z_neg: ``(..., k, d)`` embeddings of ``k`` negative nodes per pair.

    Returns:
      ``(...)`` loss per pair (average it for a batch loss).

    Example:
      >>> z = jnp.zeros((3, 4))
      >>> negative_sampling_loss(z, z, jnp.zeros((3, 2, 4)))  # 3 log 2 each
      Array([2.0794415, 2.0794415, 2.0794415], dtype=float32)
    """
    if z_u.shape != z_pos.shape:
        raise ValueError(
            f"`z_u` {z_u.shape} and `z_pos` {z_pos.shape} must have one shape."
        )
    if z_neg.ndim != z_u.ndim + 1 or z_neg.shape[:-2] != z_u.shape[:-1]:
        raise ValueError(
            f"`z_neg` must have shape (..., k, d) = {z_u.shape[:-1]} + (k, "
            f"{z_u.shape[-1]}) for `z_u` {z_u.shape}; got {z_neg.shape}."
        )
    positive = jnp.sum(z_u * z_pos, axis=-1)
    negative = jnp.einsum("...d,...kd->...k", z_u, z_neg)
    return -jax.nn.log_sigmoid(positive) - jax.nn.log_sigmoid(-negative).sum(-1)


class SkipGram(nn.Module):
    """Node and context embedding tables of skip-gram (word2vec's two tables).

    Node vectors start uniform in ``[-0.5/d, 0.5/d]`` and context vectors at
    zero, as word2vec (Mikolov et al. 2013) initialises them.

    Attributes:
      n_nodes: number of nodes ``N``.
      features: embedding width ``d``.
    """

    n_nodes: int
    features: int = 128

    @nn.compact
    def __call__(
        self, nodes: jax.Array, context: jax.Array | None = None
    ) -> tuple[jax.Array, jax.Array]:
        """Look up node vectors of ``nodes`` and context vectors of ``context``.

        Args:
          nodes: int array of node ids, any shape ``S``.
          context: int array of node ids, any shape ``S'`` (default ``nodes``).

        Returns:
          ``(z (S, d), c (S', d))``.
        """
        scale = 0.5 / self.features

        def uniform(key, shape, dtype=jnp.float32):
            return jax.random.uniform(key, shape, dtype, -scale, scale)

        node = nn.Embed(
            self.n_nodes, self.features, embedding_init=uniform, name="node"
        )
        ctx = nn.Embed(
            self.n_nodes,
            self.features,
            embedding_init=nn.initializers.zeros,
            name="context",
        )
        return node(nodes), ctx(nodes if context is None else context)


def unigram_distribution(
    walks: jax.Array, n_nodes: int, power: float = 0.75
) -> np.ndarray:
    r"""Noise distribution of negative sampling: :math:`P(w) \propto c_w^{power}`.

    Args:
      walks: ``(W, L)`` int walks (concrete); ``c_w`` counts node ``w`` in them.
      n_nodes: ``N``.
      power: exponent (word2vec's 3/4).

    Returns:
      ``(N,)`` float32 probabilities (nodes never visited get 0).
    """
    check_array(walks, "walks", ndim=2, kind="i")
    check_positive_int(n_nodes, "n_nodes")
    check_positive_float(power, "power")
    counts = np.bincount(np.asarray(walks).ravel(), minlength=n_nodes)
    if counts.shape[0] != n_nodes:
        raise ValueError(f"`walks` must hold node ids in [0, {n_nodes}).")
    weights = counts.astype(np.float64) ** power
    return (weights / weights.sum()).astype(np.float32)


def pairs_per_position(length: int, window: int) -> np.ndarray:
    """Pairs centred on each position ``i`` of a walk: ``min(i, w) + min(L-1-i, w)``."""
    i = np.arange(length)
    return (np.minimum(i, window) + np.minimum(length - 1 - i, window)).astype(
        np.float32
    )


def skipgram_loss(
    model: SkipGram,
    noise: np.ndarray,
    *,
    window: int = 10,
    negatives: int = 5,
    walks_key: str = "walks",
):
    r"""Skip-gram negative-sampling loss of a batch of walks, for ``jnn.train``.

    .. math:: E = \frac{1}{|P|} \sum_{(i, j) \in P} \Big[
              -\log\sigma(z_{v_i}^\top c_{v_j})
              - \sum_{n=1}^{k} \log\sigma(-z_{v_i}^\top c_{w_{in}})\Big]

    over the pairs ``P`` of positions ``|i - j| <= window`` of each walk
    ``v``; the negatives ``w_{in} ~ noise`` are drawn per walk position ``i``
    (inverse-CDF sampling with the step's key ``ctx.key``; a fixed key in
    evaluation without one) and shared by the pairs that ``i`` centres.

    Args:
      model: a :class:`SkipGram`.
      noise: ``(N,)`` noise probabilities, e.g. :func:`unigram_distribution`.
      window: context size ``w`` (offsets ``1..w`` on both sides).
      negatives: ``k`` negatives per walk position (shared by its pairs).
      walks_key: batch entry holding ``(B, L)`` int walks.

    Returns:
      ``loss(params, batch, ctx) -> (loss, {"positive_score": ...}, state)``;
      ``positive_score`` is the mean :math:`\sigma(z_u^\top c_v)` of the pairs.
    """
    if not isinstance(model, SkipGram):
        raise TypeError(f"`model` must be a SkipGram; got {type(model).__name__}.")
    check_positive_int(window, "window")
    check_positive_int(negatives, "negatives")
    check_array(noise, "noise", ndim=1, kind="f")
    if noise.shape[0] != model.n_nodes:
        raise ValueError(
            f"`noise` must have one probability per node, shape ({model.n_nodes},); "
            f"got {noise.shape}."
        )
    if is_concrete(noise) and (np.min(noise) < 0 or np.sum(noise) <= 0):
        raise ValueError("`noise` must be >= 0 with a positive sum (probabilities).")
    cdf = np.cumsum(np.asarray(noise, np.float64))
    cdf = jnp.asarray(cdf / cdf[-1], jnp.float32)

    def loss(params, batch, ctx: Context):
        walks = batch[walks_key]
        b, length = walks.shape
        pairs_per_node = pairs_per_position(length, window)
        key = jax.random.key(0) if ctx.key is None else ctx.key
        u = jax.random.uniform(key, (b, length * negatives))
        noise_nodes = jnp.searchsorted(cdf, u, side="right")
        noise_nodes = jnp.minimum(noise_nodes, model.n_nodes - 1).astype(walks.dtype)
        contexts = jnp.concatenate([walks, noise_nodes], axis=1)
        (z, c), state = apply_model(model, params, ctx, walks, contexts)
        c_walk = c[:, :length]
        c_noise = c[:, length:].reshape(b, length, negatives, -1)
        positive = []
        for o in range(1, min(window, length - 1) + 1):
            # pairs (i, i + o) and (i + o, i): slices, no gather
            positive.append(jnp.sum(z[:, :-o] * c_walk[:, o:], -1))
            positive.append(jnp.sum(z[:, o:] * c_walk[:, :-o], -1))
        positive = jnp.concatenate(positive, axis=1)
        negative = jnp.einsum("bld,blkd->blk", z, c_noise)
        negative = -jax.nn.log_sigmoid(-negative).sum(-1) * pairs_per_node[None, :]
        total = -jax.nn.log_sigmoid(positive).sum() + negative.sum()
        value = total / (b * pairs_per_node.sum())
        score = jax.nn.sigmoid(positive).mean()
        return value, {"positive_score": score}, state

    def check(data, name):
        if walks_key not in data:
            raise ValueError(
                f"`{name}` has no entry {walks_key!r}; it has {sorted(data)}."
            )
        walks = data[walks_key]
        check_array(walks, f"{name}[{walks_key!r}]", ndim=2, kind="i")
        if walks.shape[1] < 2:
            raise ValueError(
                f"`{name}[{walks_key!r}]` walks must have >= 2 nodes to form "
                f"pairs; got length {walks.shape[1]}."
            )
        if is_concrete(walks):
            values = np.asarray(walks)
            if values.min() < 0 or values.max() >= model.n_nodes:
                raise ValueError(
                    f"`{name}[{walks_key!r}]` must hold node ids in [0, "
                    f"{model.n_nodes}); got [{values.min()}, {values.max()}]."
                )

    loss.check = check
    return loss


def skipgram_embeddings(
    key: jax.Array,
    walks: jax.Array,
    n_nodes: int,
    *,
    features: int = 128,
    window: int = 10,
    negatives: int = 5,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 0.01,
) -> jax.Array:
    """Train skip-gram on ``walks`` with ``jnn.train.fit``; the node vectors.

    Adam (``learning_rate``) on mini-batches of ``batch_size`` walks, each cut
    into every pair within ``window`` (see :func:`skipgram_loss`).

    Args:
      key: PRNG key (initialisation, shuffling, negatives).
      walks: ``(W, L)`` int walks.
      n_nodes: ``N``.
      features: embedding width ``d``.
      window: context size.
      negatives: negatives per walk position.
      epochs: passes over the walks.
      batch_size: walks per step.
      learning_rate: Adam's step size.

    Returns:
      ``(N, d)`` float32 node vectors ``z``.
    """
    check_key(key)
    check_positive_int(features, "features")
    check_positive_float(learning_rate, "learning_rate")
    noise = unigram_distribution(walks, n_nodes)
    model = SkipGram(n_nodes, features)
    loss = skipgram_loss(model, noise, window=window, negatives=negatives)
    learner = gradient_learner(
        model, loss, optax.adam(learning_rate), input_key="walks"
    )
    data = {"walks": jnp.asarray(walks, jnp.int32)}
    result = fit(
        learner, data, key=key, epochs=epochs, batch_size=batch_size, progress=False
    )
    return result.state.params["node"]["embedding"]


def _walk_embeddings(
    walk, key, graph, walk_length, walks_per_node, **skipgram_settings
) -> jax.Array:
    """Walks of ``walk(key, adjacency, starts, length)`` from every node, skip-gram."""
    check_key(key)
    check_positive_int(walks_per_node, "walks_per_node")
    adjacency = adjacency_lists(graph)
    k_walks, k_train = jax.random.split(key)
    starts = jnp.asarray(walk_starts(adjacency.n_nodes, walks_per_node))
    walks = walk(k_walks, adjacency, starts, walk_length)
    return skipgram_embeddings(k_train, walks, adjacency.n_nodes, **skipgram_settings)


def deepwalk(
    key: jax.Array,
    graph: jraph.GraphsTuple,
    *,
    features: int = 128,
    walk_length: int = 80,
    walks_per_node: int = 10,
    window: int = 10,
    negatives: int = 5,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 0.01,
) -> jax.Array:
    """DeepWalk node embeddings (Perozzi, Al-Rfou & Skiena 2014).

    ``walks_per_node`` uniform walks (:func:`random_walks`) of ``walk_length``
    nodes from every node, then skip-gram with negative sampling
    (:func:`skipgram_embeddings`); the arguments are :func:`node2vec`'s. The
    defaults are node2vec's experimental settings (``d = 128``, ``r = 10``,
    ``l = 80``, ``k = 10``); DeepWalk's paper used ``gamma = 80`` walks of
    ``t = 40`` nodes per node, window 10 and hierarchical softmax.

    Returns:
      ``(N, d)`` float32 node embeddings.
    """
    settings = locals()  # every argument above, by name
    return _walk_embeddings(random_walks, **settings)


def node2vec(
    key: jax.Array,
    graph: jraph.GraphsTuple,
    *,
    p: float = 1.0,
    q: float = 1.0,
    features: int = 128,
    walk_length: int = 80,
    walks_per_node: int = 10,
    window: int = 10,
    negatives: int = 5,
    epochs: int = 1,
    batch_size: int = 16,
    learning_rate: float = 0.01,
) -> jax.Array:
    """node2vec node embeddings (Grover & Leskovec 2016).

    :func:`deepwalk` with second-order walks (:func:`node2vec_walks`) biased by
    the return parameter ``p`` and the in-out parameter ``q``. Defaults: the
    paper's ``d = 128``, ``r = 10``, ``l = 80``, ``k = 10`` (it searched ``p, q``
    over ``{0.25, 0.5, 1, 2, 4}``), 5 negatives, one epoch. On Cora (2,708
    nodes: 27,080 walks, 40 M pairs) they take 20-24 s of one CPU core
    (walks 0.3-3 s, skip-gram the rest); ``walk_length=40, window=5``: 13 s.

    Args:
      key: PRNG key (walks, initialisation, batches, negatives).
      graph: an unweighted ``GraphsTuple`` (both directions of every edge).
      p: return parameter ``> 0``.
      q: in-out parameter ``> 0``.
      features: embedding width ``d``.
      walk_length: nodes per walk ``l``.
      walks_per_node: walks started at every node ``r``.
      window: context size ``k``.
      negatives: negatives per node occurrence.
      epochs: passes of skip-gram over the walks.
      batch_size: walks per step.
      learning_rate: Adam's step size.

    Returns:
      ``(N, d)`` float32 node embeddings.
    """
    check_positive_float(p, "p")
    check_positive_float(q, "q")
    settings = locals()  # every argument above, by name
    return _walk_embeddings(
        partial(node2vec_walks, p=settings.pop("p"), q=settings.pop("q")), **settings
    )
