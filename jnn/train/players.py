"""Learners with several optimisers: players taking turns (GANs, WGAN's critic).

A GAN is two gradient learners sharing one batch: the discriminator (critic)
improves against the current generator, then the generator against the updated
discriminator (Goodfellow et al. 2014, Algorithm 1; WGAN trains the critic
``n_critic`` times per generator step, Arjovsky et al. 2017). This module
writes that pattern once, as a plain :class:`jnn.train.Learner`, so that the
engine's ``fit``/``run`` (epochs, ``vmap`` over seeds, checkpoints, data
parallelism) serve such models like any other::

    learner = players_learner(init, {
        "critic": Player(critic_loss, optax.adam(1e-4, b1=0.5), steps=5,
                         split_batch=True),
        "generator": Player(generator_loss, optax.adam(1e-4, b1=0.5)),
    })

Each player has its own loss and Optax optimiser and differentiates only its
own entry of the shared parameter dict; the other players' parameters enter
its loss as constants. Players move in the order of the mapping, each seeing
the parameters (and model state, e.g. BatchNorm statistics) its predecessors
left.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from jnn._checks import check_positive_int
from jnn.train.learner import Batch, Learner, Metrics
from jnn.train.modules import Context
from jnn.train.plans import BatchPlan, check_plan

PyTree = Any
#: ``loss(params, batch, ctx) -> (value, aux, model_state)`` where ``params``
#: is the dict of every player's parameters.
PlayerLoss = Callable[[dict, Batch, Context], tuple[jax.Array, Metrics, PyTree]]


class Player(NamedTuple):
    """One player: its loss, its optimiser and its steps per update.

    Attributes:
      loss: ``loss(params, batch, ctx) -> (value, aux, model_state)``; ``params``
        holds every player's parameters by name, and only this player's entry
        is differentiated. ``ctx.model_state`` is the shared model state.
      optimizer: an Optax transformation for this player's parameters.
      steps: gradient steps per update (WGAN's ``n_critic``).
      split_batch: if True, the batch is cut into ``steps`` equal parts along
        its leading axis and step ``j`` sees part ``j`` (a fresh real batch per
        critic step, as in WGAN); else every step sees the whole batch (with a
        fresh key).
    """

    loss: PlayerLoss
    optimizer: optax.GradientTransformation
    steps: int = 1
    split_batch: bool = False


class PlayersState(NamedTuple):
    """State of :func:`players_learner`.

    Attributes:
      params: ``{player: params}``.
      opt_states: ``{player: Optax state}``.
      step: ``[]`` int32, updates (rounds of every player) so far.
      model_state: the modules' non-parameter collections, shared.
    """

    params: dict
    opt_states: dict
    step: jax.Array
    model_state: PyTree = {}


def _check_players(players: Mapping[str, Player]) -> None:
    if not isinstance(players, Mapping) or not players:
        raise TypeError(
            "`players` must be a non-empty dict {name: Player}; got "
            f"{type(players).__name__}."
        )
    for name, player in players.items():
        if not isinstance(player, Player):
            raise TypeError(
                f"`players[{name!r}]` must be a jnn.train.Player; got "
                f"{type(player).__name__}."
            )
        if not callable(player.loss):
            raise TypeError(f"`players[{name!r}].loss` must be callable.")
        if not isinstance(player.optimizer, optax.GradientTransformation):
            raise TypeError(
                f"`players[{name!r}].optimizer` must be an Optax transformation."
            )
        check_positive_int(player.steps, f"players[{name!r}].steps")


def players_learner(
    init: Callable[[jax.Array, Batch], tuple[dict, PyTree]],
    players: Mapping[str, Player],
    *,
    evaluate: Callable[..., Metrics] | None = None,
    plan: BatchPlan | None = None,
) -> Learner:
    r"""A learner whose players take turns, each with its own optimiser.

    One ``update`` is one round: for each player in order, ``steps`` gradient
    steps of its own loss on its own parameters,

    .. math:: \theta_p \leftarrow \theta_p + \text{opt}_p\big(
              \nabla_{\theta_p} L_p(\theta_p, \theta_{-p}; \text{batch})\big),

    with the other players' current parameters held fixed.

    Args:
      init: ``init(key, batch) -> (params, model_state)`` with ``params`` a
        dict holding one entry per player (and ``model_state`` ``{}`` if the
        modules have none).
      players: ``{name: Player}``, in the order they move.
      evaluate: optional ``evaluate(state, data, key) -> metrics``.
      plan: a batch plan the learner requires (None: the caller chooses).

    Returns:
      A :class:`jnn.train.Learner` with state :class:`PlayersState`; its metrics
      are ``<player>_loss``, ``<player>_grad_norm`` (means over the player's
      steps) and each loss's aux metrics prefixed with ``<player>_``.

    Raises:
      TypeError, ValueError: malformed ``players``; at ``init``, parameters
        without an entry for some player.
    """
    if not callable(init):
        raise TypeError(
            f"`init` must be a function init(key, batch) -> (params, model_state); "
            f"got {init!r}."
        )
    _check_players(players)
    if evaluate is not None and not callable(evaluate):
        raise TypeError(f"`evaluate` must be a function (or None); got {evaluate!r}.")
    if plan is not None:
        check_plan(plan)
    names = tuple(players)

    def init_fn(key: jax.Array, batch: Batch) -> PlayersState:
        params, model_state = init(key, batch)
        missing = [n for n in names if n not in params]
        if missing:
            raise ValueError(
                f"`init` must return parameters for every player {list(names)}; "
                f"missing {missing} (got {sorted(params)})."
            )
        opt_states = {n: players[n].optimizer.init(params[n]) for n in names}
        step = jnp.zeros((), jnp.int32)
        return PlayersState(dict(params), opt_states, step, model_state)

    def player_round(name: str, state: PlayersState, batch: Batch, key):
        player = players[name]

        def loss_of_own(own, params, sub, ctx):
            value, aux, model_state = player.loss({**params, name: own}, sub, ctx)
            return value, (aux, model_state)

        grad_fn = jax.value_and_grad(loss_of_own, has_aux=True)
        parts = _split(batch, player.steps, name) if player.split_batch else None

        def one_step(carry, j):
            params, opt_state, model_state = carry
            sub = batch if parts is None else jax.tree.map(lambda a: a[j], parts)
            ctx = Context(jax.random.fold_in(key, j), True, model_state)
            (value, (aux, model_state)), grads = grad_fn(params[name], params, sub, ctx)
            updates, opt_state = player.optimizer.update(grads, opt_state, params[name])
            own = optax.apply_updates(params[name], updates)
            metrics = {"loss": value, "grad_norm": optax.tree.norm(grads), **aux}
            return ({**params, name: own}, opt_state, model_state), metrics

        carry = (state.params, state.opt_states[name], state.model_state)
        if player.steps == 1:
            carry, metrics = one_step(carry, 0)
        else:
            carry, metrics = jax.lax.scan(one_step, carry, jnp.arange(player.steps))
            metrics = jax.tree.map(lambda m: jnp.mean(m, axis=0), metrics)
        params, opt_state, model_state = carry
        opt_states = {**state.opt_states, name: opt_state}
        new = state._replace(
            params=params, opt_states=opt_states, model_state=model_state
        )
        return new, {f"{name}_{k}": v for k, v in metrics.items()}

    def update(state: PlayersState, batch: Batch, key: jax.Array):
        metrics = {}
        for i, name in enumerate(names):
            state, m = player_round(name, state, batch, jax.random.fold_in(key, i))
            metrics.update(m)
        return state._replace(step=state.step + 1), metrics

    return Learner(init_fn, update, evaluate, plan=plan)


def _split(batch: Batch, parts: int, name: str) -> dict:
    """``batch`` reshaped to ``(parts, B // parts, ...)`` (B must divide)."""
    sizes = {k: v.shape[0] for k, v in batch.items()}
    size = next(iter(sizes.values()))
    if size % parts:
        raise ValueError(
            f"player {name!r} splits each batch into {parts} parts "
            f"(`split_batch=True`, steps={parts}); the batch size {size} must be "
            "a multiple of it."
        )
    return {k: v.reshape(parts, size // parts, *v.shape[1:]) for k, v in batch.items()}
