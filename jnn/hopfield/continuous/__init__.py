"""Continuous dynamics (D2-D4).

The CHNN as Diffrax ODEs, ensembles, Lyapunov checks, fault tolerance.
"""
