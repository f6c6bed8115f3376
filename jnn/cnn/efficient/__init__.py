"""Efficient convolutional networks (C2).

Group and depthwise-separable convolutions, the inverted-residual and
ShuffleNet blocks, MobileNetV2 and ShuffleNet v1.
"""
