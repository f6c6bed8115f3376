"""Recurrent networks, curriculum R1-R3.

Public API:
  cell(name, features, ...)              a cell by name: "elman", "lstm", "gru",
                                         "ln-elman", "ln-lstm", "ln-gru"; CELLS;
                                         activation="tanh" | "relu" (Elman;
                                         ACTIVATIONS, also of the models below)
  ElmanCell, LSTMCell, GRUCell           Flax's cells (nn.SimpleCell,
                                         nn.OptimizedLSTMCell, nn.GRUCell) with
                                         variational dropout
  LNElmanCell, LNLSTMCell, LNGRUCell     layer-normalised cells (Ba et al. 2016)
  parameter_count(name, I, H, convention)
                                         parameters of a cell (Flax or PyTorch layout)
  hidden_state(carry)                    h of a carry (h, or h of an LSTM's (c, h))
  recurrent_layer(cell)                  nn.RNN with the dropout stream fixed over time
  RecurrentStack(cell, features, layers, bidirectional, dropout)
                                         stacked (bi)RNN, variable lengths
  RecurrentNet(..., head, out_features)  many-to-one / many-to-many networks
  lengths_from_mask, last_valid_step, check_sequences, check_lengths, HEADS
                                         variable-length helpers
  params_from_torch(state_dict, cell)    PyTorch nn.RNN/LSTM/GRU weights -> params
  keep_mask, draw_masks, time_constant_dropout
                                         variational dropout (Gal & Ghahramani 2016)
  CharRNN(vocab_size, features, layers, cell, dropout)
                                         character language model, state carried
                                         in the "carry" collection
  language_model_loss(model), tbptt_learner(model, optimizer)
                                         next-token cross-entropy; truncated BPTT
                                         through jnn.train with sequence_windows
  gradient_norms_by_lag, hidden_state_gradients, spectral_bound,
  scaled_orthogonal, largest_singular_value, DERIVATIVE_BOUNDS
                                         R1: ||dL/dh_s|| against the lag and the
                                         (gamma sigma_max)^lag bound
  sample(model, params, prompt, key, length, temperature, top_k, greedy)
                                         generation as one compiled lax.scan
"""

from jnn import _threefry  # noqa: F401 (Threefry unrolled on CPU)
from jnn.rnn.cells import (
    ACTIVATIONS,
    CELLS,
    ElmanCell,
    GRUCell,
    LSTMCell,
    cell,
    hidden_state,
    parameter_count,
)
from jnn.rnn.dropout import draw_masks, keep_mask, time_constant_dropout
from jnn.rnn.generate import sample
from jnn.rnn.gradients import (
    DERIVATIVE_BOUNDS,
    gradient_norms_by_lag,
    hidden_state_gradients,
    largest_singular_value,
    scaled_orthogonal,
    spectral_bound,
)
from jnn.rnn.language_model import (
    CharRNN,
    check_tokens,
    language_model_loss,
    tbptt_learner,
)
from jnn.rnn.layernorm import LNElmanCell, LNGRUCell, LNLSTMCell
from jnn.rnn.sequence import (
    HEADS,
    RecurrentNet,
    RecurrentStack,
    check_lengths,
    check_sequences,
    last_valid_step,
    lengths_from_mask,
    recurrent_layer,
)
from jnn.rnn.torch_weights import params_from_torch

__all__ = [
    "ACTIVATIONS",
    "CELLS",
    "DERIVATIVE_BOUNDS",
    "gradient_norms_by_lag",
    "hidden_state_gradients",
    "largest_singular_value",
    "scaled_orthogonal",
    "spectral_bound",
    "HEADS",
    "CharRNN",
    "ElmanCell",
    "GRUCell",
    "LNElmanCell",
    "LNGRUCell",
    "LNLSTMCell",
    "LSTMCell",
    "RecurrentNet",
    "RecurrentStack",
    "cell",
    "check_lengths",
    "check_sequences",
    "check_tokens",
    "draw_masks",
    "hidden_state",
    "keep_mask",
    "language_model_loss",
    "last_valid_step",
    "lengths_from_mask",
    "params_from_torch",
    "parameter_count",
    "recurrent_layer",
    "sample",
    "tbptt_learner",
    "time_constant_dropout",
]
