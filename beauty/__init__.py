"""Facial beauty scorer: image -> face -> model -> score and percentile.

    import beauty
    scorer = beauty.load_scorer()
    result = scorer.score("photo.jpg")          # path, bytes, PIL image or RGB array
    print(result.main.score, result.to_dict())

Layers, with imports pointing one way (app, training, ops -> core):

* core stages in this package: `image` (decode any input), `face` (detect,
  align, crop like SCUT-FBP5500), `model` (the Keras regressor), `percentile`
  (human ratings), `pipeline` (the stages wired together), `errors`, `runtime`
  (device and weights), `hub` (verified downloads);
* `beauty.app`: the Gradio web app;
* `beauty.training`: dataset, training and evaluation;
* `beauty.ops`: benchmarks and deployment.
"""

from .errors import (BeautyError, ChildFaceError, DamagedImageError, FaceCutError, ImageError, ImageTooLargeError,
                     ImageTooSmallError, ModelNotFoundError, NoFaceError, NotHumanError, UnsupportedFormatError)

__version__ = "0.2.0"

__all__ = ["load_scorer", "Scorer", "Result", "FaceScore", "BeautyError", "ChildFaceError", "ImageError", "UnsupportedFormatError",
           "DamagedImageError", "ImageTooLargeError", "ImageTooSmallError", "NoFaceError", "NotHumanError", "FaceCutError",
           "ModelNotFoundError", "__version__"]


def __getattr__(name):
    # The pipeline pulls in OpenCV and LiteRT: imported on first use, so `python -m beauty --help` stays instant.
    if name in ("load_scorer", "Scorer", "Result", "FaceScore"):
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'beauty' has no attribute {name!r}")
