"""Facial beauty scorer: image -> face -> model -> score/percentile.

Each stage is a module: `image` (decode any input), `face` (detect, align,
crop like SCUT-FBP5500), `model` (the Keras regressor), `percentile` (human
ratings), `pipeline` (the stages wired together).
"""

__version__ = "0.1.0"
