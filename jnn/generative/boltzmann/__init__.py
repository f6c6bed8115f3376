"""Boltzmann machines (Gen1-Gen3): restricted Boltzmann machines so far.

``rbm``: the energy and what derives from it; ``learning``: CD-k and PCD
learners; ``likelihood``: exact and AIS partition functions, pseudo-likelihood.
"""
