"""Discrete memories (D6-D11).

Storage rules, compiled recall, basins and capacity, dense memory.
"""
