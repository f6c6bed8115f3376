"""LeNet-5 (C1).

The model, the paper's own layers (squashing, trainable subsampling, the C3
connection table) and its Euclidean RBF output.
"""
