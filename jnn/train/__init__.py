"""The compiled training engine (shared by every chapter).

Public API:
  Learner(init, update, evaluate)        a learning rule as pure functions
  gradient_learner(model, loss, opt)     back-propagation + any Optax optimiser
  TrainState                             state of a gradient learner
  classification_loss, regression_loss   losses built from a Flax module
  fit(learner, train, *, key, epochs, batch_size, val, stop, checkpoint_dir,
      progress, devices) -> FitResult    the driver (progress, checkpoints)
  run(...) -> RunResult                  the pure, jittable, vmappable core
  stopping                               S2 stopping criteria (any_of, ...)
"""

from jnn.train import stopping
from jnn.train.fit import fit
from jnn.train.learner import Learner, TrainState, gradient_learner
from jnn.train.loop import FitResult, RunResult, TrainingDiverged, run
from jnn.train.losses import classification_loss, regression_loss
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
    "FitResult",
    "Learner",
    "RunResult",
    "Stop",
    "absolute_change_below",
    "TrainState",
    "TrainingDiverged",
    "any_of",
    "classification_loss",
    "fit",
    "gradient_learner",
    "gradient_norm_below",
    "max_epochs",
    "metric_below",
    "regression_loss",
    "relative_loss_change_below",
    "run",
    "stopping",
    "validation_patience",
]
