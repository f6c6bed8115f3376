"""Small Flax modules shared by the engine tests and their child processes."""

import flax.linen as nn


class BatchNormCNN(nn.Module):
    """conv 3x3 (8) -> BatchNorm -> relu -> 2x2 mean pool -> dense 10."""

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = nn.Conv(8, (3, 3), use_bias=False)(x)
        h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        h = nn.avg_pool(nn.relu(h), (2, 2), (2, 2))
        return nn.Dense(10)(h.reshape(h.shape[0], -1))
