"""Kohonen's self-organising map (S1).

Online and batch training, map geometry and metrics.
"""
