"""The compiled training engine (shared by every chapter; it knows no model).

Public API:
  Learner(init, update, evaluate, plan, start_epoch, check, compiler_options)
                                         a learning rule as pure functions
  learner_compiler_options(learner)      its XLA options on the default backend
  gradient_learner(model, loss, opt)     back-propagation + any Optax optimiser,
                                         with the module's model state (BatchNorm)
  TrainState                             state of a gradient learner
  Context, apply_model, init_model       how a loss calls a Flax module (key,
                                         train flag, model state)
  classification_loss, regression_loss   losses built from a Flax module
  players_learner, Player, PlayersState  several optimisers taking turns (GANs)
  with_ema(learner, decay, warmup), ema_params, EMAState
                                         moving average of the weights (any learner)
  BatchPlan, shuffled, full_batch, sequence_windows
                                         how an epoch walks the data
  fit(learner, train, *, key, epochs, batch_size | plan, val, stop,
      checkpoint_dir, progress, devices) -> FitResult    the driver
  run(...) -> RunResult                  the pure, jittable, vmappable core
  stopping                               S2 stopping criteria (any_of, ...)
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.train import stopping
from jnn.train.ema import EMAState, ema_params, with_ema
from jnn.train.fit import fit
from jnn.train.learner import (
    Learner,
    TrainState,
    evaluate_with_key,
    gradient_learner,
    learner_compiler_options,
)
from jnn.train.loop import FitResult, RunResult, TrainingDiverged, check_like, run
from jnn.train.losses import classification_loss, regression_loss
from jnn.train.modules import Context, apply_model, init_model
from jnn.train.plans import BatchPlan, full_batch, sequence_windows, shuffled
from jnn.train.players import Player, PlayersState, players_learner
from jnn.train.stopping import (
    Stop,
    absolute_change_below,
    any_of,
    gradient_norm_below,
    max_epochs,
    metric_below,
    relative_loss_change_below,
    validation_patience,
)

__all__ = [
    "BatchPlan",
    "Context",
    "EMAState",
    "FitResult",
    "Learner",
    "Player",
    "PlayersState",
    "RunResult",
    "Stop",
    "TrainState",
    "TrainingDiverged",
    "absolute_change_below",
    "any_of",
    "apply_model",
    "check_like",
    "classification_loss",
    "ema_params",
    "evaluate_with_key",
    "learner_compiler_options",
    "fit",
    "full_batch",
    "gradient_learner",
    "gradient_norm_below",
    "init_model",
    "max_epochs",
    "metric_below",
    "players_learner",
    "regression_loss",
    "relative_loss_change_below",
    "run",
    "sequence_windows",
    "shuffled",
    "stopping",
    "validation_patience",
    "with_ema",
]
