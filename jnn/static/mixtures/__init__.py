"""Clustering and mixtures (S6, S7, S9).

K-means, EM Gaussian mixtures, variational Bayes.
"""
