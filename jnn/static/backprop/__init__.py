"""The multilayer perceptron and back-propagation (S1-S3).

Model, diagnostics, calibration.
"""
