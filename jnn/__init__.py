"""jnn: the classic neural-network canon as pure JAX functions.

Chapters (see CURRICULUM ids): ``jnn.static`` (S: MLP, RBF, EM, SOM, ...),
``jnn.hopfield`` (D: discrete and dense Hopfield networks), and the shared
layers ``jnn.train`` (the compiled training engine) and ``jnn.data`` (real data).
"""

from jnn import data, hopfield, static, train

__version__ = "0.1.0"
__all__ = ["__version__", "data", "hopfield", "static", "train"]
