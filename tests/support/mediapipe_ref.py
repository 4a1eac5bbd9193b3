"""MediaPipe Tasks' own face detector: the reference beauty/blazeface.py is checked against (tests/test_face.py).

The app never imports MediaPipe; it is installed with the development requirements only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def mediapipe_reference(model_path: str | Path, min_confidence: float = 0.5):
    """MediaPipe Tasks' own FaceDetector on the same model, as a function like `BlazeFace.detect` for one
    picture.

    MediaPipe Tasks imports TensorFlow, when installed, only for a documentation decorator; its own
    no-op fallback is installed first so that it does not.
    """
    import sys
    import types

    name = "mediapipe.tasks.python.core.optional_dependencies"
    if name not in sys.modules and "tensorflow" not in sys.modules:
        mod = types.ModuleType(name)
        mod.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda obj: obj)
        sys.modules[name] = mod
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions
    from mediapipe.tasks.python.vision import FaceDetector, FaceDetectorOptions

    det = FaceDetector.create_from_options(FaceDetectorOptions(
        base_options=BaseOptions(model_asset_buffer=Path(model_path).read_bytes()),
        min_detection_confidence=min_confidence))

    def detect(rgb: np.ndarray):
        h, w = rgb.shape[:2]
        out = []
        for d in det.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))).detections:
            b = d.bounding_box
            box = (float(b.origin_x), float(b.origin_y), float(b.origin_x + b.width), float(b.origin_y + b.height))
            out.append((box, np.array([(k.x * w, k.y * h) for k in d.keypoints]), float(d.categories[0].score)))
        return out

    detect.close = det.close
    return detect
