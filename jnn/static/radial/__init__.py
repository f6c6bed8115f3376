"""Radial-basis and probabilistic networks (S4, S5, S8): RBF, PRBF, PNN."""
