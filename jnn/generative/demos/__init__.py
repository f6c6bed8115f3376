"""Demos of the generative-models chapter.

Each module registers its demos for ``jnn run`` and ``jnn tour`` when imported.
"""
