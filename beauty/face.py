"""Find faces with MediaPipe and crop each one the way SCUT-FBP5500 photos are framed.

The model only ever saw SCUT-FBP5500 photos: 350×350, roughly frontal, eyes
level, the face filling a fixed share of the frame. A selfie in a larger scene
therefore has to be brought to that framing before it is scored. We do it with
the detector's eye keypoints: rotate so the eyes are level, then scale and
shift so the eyes land where the dataset's eyes land (`FRAMING`, measured by
`tools/measure_framing.py` running this same detector over all 5,500 images).
Training crops go through `crop_face` too, so train and app see the same thing.
"""

from __future__ import annotations

import sys
import threading
import types
import weakref
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import FaceCutError, NoFaceError

CROP_SIZE = 350
DETECTOR_PATH = Path(__file__).resolve().parent.parent / "weights" / "face_detection_short_range.tflite"

# Where the eyes sit in a SCUT-FBP5500 photo, in units of the 350-px side:
# eye-midpoint position and inter-ocular distance (medians over the dataset).
# Measured by tools/measure_framing.py; see README "Training and evaluation".
FRAMING = {"eye_x": 0.507, "eye_y": 0.460, "eye_dist": 0.253}
PIPELINE_VERSION = 2  # bump when crops change, so cached training crops are rebuilt


@dataclass
class Detection:
    """One face in original-image pixels: box (x0, y0, x1, y1), eye centres, confidence."""

    box: tuple[float, float, float, float]
    right_eye: tuple[float, float]  # the subject's right eye (image left)
    left_eye: tuple[float, float]
    confidence: float
    # all six MediaPipe keypoints in image pixels: right eye, left eye, nose tip, mouth, right ear, left ear
    keypoints: tuple[tuple[float, float], ...] = ()

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


class FaceDetector:
    """MediaPipe Tasks face detector (short range, bundled model). Thread-safe."""

    def __init__(self, model_path: str | Path = DETECTOR_PATH, min_confidence: float = 0.5):
        _mediapipe_without_tensorflow()
        from mediapipe.tasks.python import BaseOptions
        from mediapipe.tasks.python.vision import FaceDetector as _MPDetector, FaceDetectorOptions

        options = FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=Path(model_path).read_bytes()),
            min_detection_confidence=min_confidence,
        )
        self._detector = _MPDetector.create_from_options(options)
        self._lock = threading.Lock()
        # close before interpreter teardown: MediaPipe's own __del__ then prints a traceback to stderr
        weakref.finalize(self, _close_quietly, self._detector)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """All faces, largest first.

        The short-range model sees faces down to about 1/8 of the picture. When the
        whole frame gives nothing, the four overlapping quarter tiles (60 % of each
        side) are searched too, so a selfie taken from further away still works.
        """
        faces = self._detect(rgb)
        h, w = rgb.shape[:2]
        if not faces and min(h, w) >= 256:
            th, tw = int(h * 0.6), int(w * 0.6)
            for y0 in (0, h - th):
                for x0 in (0, w - tw):
                    for f in self._detect(rgb[y0:y0 + th, x0:x0 + tw], (x0, y0)):
                        if all(_iou(f.box, g.box) < 0.3 for g in faces):
                            faces.append(f)
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def _detect(self, rgb: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[Detection]:
        import mediapipe as mp

        h, w = rgb.shape[:2]
        ox, oy = offset
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
        with self._lock:
            result = self._detector.detect(image)
        faces = []
        for d in result.detections:
            b = d.bounding_box
            kp = [(k.x * w + ox, k.y * h + oy) for k in d.keypoints]
            e1, e2 = sorted(kp[:2])  # order by x so "right eye" is the one on the image's left
            box = (float(b.origin_x + ox), float(b.origin_y + oy),
                   float(b.origin_x + ox + b.width), float(b.origin_y + oy + b.height))
            faces.append(Detection(box, e1, e2, float(d.categories[0].score), tuple(kp)))
        return faces

    def close(self):
        _close_quietly(self._detector)


def _mediapipe_without_tensorflow() -> None:
    """Keep MediaPipe Tasks from importing TensorFlow (seconds of start-up, hundreds of MB).

    mediapipe.tasks imports TensorFlow, when it is installed, only for a documentation
    decorator (mediapipe/tasks/python/core/optional_dependencies.py); without TensorFlow
    it uses a no-op instead. That fallback is installed here, before MediaPipe loads.
    """
    name = "mediapipe.tasks.python.core.optional_dependencies"
    if name in sys.modules or "tensorflow" in sys.modules:
        return
    mod = types.ModuleType(name, "MediaPipe's optional TensorFlow docs decorator, as a no-op (see beauty.face).")
    mod.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda obj: obj)
    sys.modules[name] = mod


def _close_quietly(mp_detector):
    """Close a MediaPipe detector; at interpreter exit its executor is already gone, so just drop the handle."""
    try:
        mp_detector.close()
    except Exception:  # noqa: BLE001 - whatever a half-torn-down MediaPipe raises
        mp_detector._handle = None  # the process is ending and frees it; keeps MediaPipe's __del__ silent


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9)


def crop_transform(det: Detection, size: int = CROP_SIZE, framing: dict = FRAMING) -> np.ndarray:
    """2×3 affine matrix taking image pixels to the aligned size×size crop."""
    (x1, y1), (x2, y2) = det.right_eye, det.left_eye
    angle = np.degrees(np.arctan2(y2 - y1, x2 - x1))
    eye_dist = max(np.hypot(x2 - x1, y2 - y1), 1e-3)
    scale = framing["eye_dist"] * size / eye_dist
    center = ((x1 + x2) / 2, (y1 + y2) / 2)
    m = cv2.getRotationMatrix2D(center, angle, scale)
    m[0, 2] += framing["eye_x"] * size - center[0]
    m[1, 2] += framing["eye_y"] * size - center[1]
    return m


def warp(rgb: np.ndarray, m: np.ndarray, size: int = CROP_SIZE) -> np.ndarray:
    """Apply a crop transform; borders outside the photo are mirrored, as a photo edge would continue."""
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    if scale < 0.5:  # shrink first with area averaging so the warp does not alias
        f = scale * 1.5
        rgb = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m = m.copy()
        m[:, :2] /= f
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def align(rgb: np.ndarray, det: Detection, detector: FaceDetector | None = None) -> np.ndarray:
    """Crop transform for one face, refined by a second detection on the first crop.

    The detector's eye keypoints drift with head roll and with how much of the
    photo the face fills. Detecting again on the upright, dataset-framed first
    crop measures the eyes under the same conditions as `FRAMING` was measured
    (on the dataset photos), so tilted or distant faces land where the dataset's do.
    """
    m = crop_transform(det)
    if detector is None:
        return m
    again = detector.detect(warp(rgb, m))
    if not again:
        return m
    return crop_transform(central(again)) @ np.vstack([m, [0, 0, 1]])


def central(dets: list[Detection], size: int = CROP_SIZE) -> Detection:
    """The detection nearest the centre of a size×size crop: the face the crop was made for."""
    c = size / 2
    return min(dets, key=lambda d: np.hypot((d.box[0] + d.box[2]) / 2 - c, (d.box[1] + d.box[3]) / 2 - c))


def crop_face(rgb: np.ndarray, det: Detection, detector: FaceDetector | None = None) -> np.ndarray:
    """The aligned CROP_SIZE×CROP_SIZE crop of one face (refined when a detector is given)."""
    return warp(rgb, align(rgb, det, detector))


# A face whose region (see outside_fraction) lies more than this share outside the photo is "cut off":
# its crop would be a quarter mirrored border and its score unreliable (measured: 25-40 % cut moves the
# astronaut's score by 0.3). SCUT-FBP5500 photos: max 0.02 (docs/reliability.md).
MAX_OUTSIDE = 0.25


def outside_fraction(det: Detection, shape: tuple) -> float:
    """Share of the face region (±1 eye distance across, 0.8 above to 1.6 below the eyes) outside the image."""
    h, w = shape[:2]
    (x1, y1), (x2, y2) = det.right_eye, det.left_eye
    iod = max(float(np.hypot(x2 - x1, y2 - y1)), 1e-3)
    u = np.array([x2 - x1, y2 - y1]) / iod  # along the eyes
    v = np.array([-u[1], u[0]])  # down the face
    s, t = np.meshgrid(np.linspace(-1.0, 1.0, 21), np.linspace(-0.8, 1.6, 25))
    pts = np.array([(x1 + x2) / 2, (y1 + y2) / 2]) + (s[..., None] * u + t[..., None] * v) * iod
    out = (pts[..., 0] < 0) | (pts[..., 0] > w) | (pts[..., 1] < 0) | (pts[..., 1] > h)
    return float(out.mean())


def find_faces(rgb: np.ndarray, detector: FaceDetector) -> list[tuple[Detection, np.ndarray]]:
    """(detection, crop) for every whole face, largest first.

    NoFaceError when there is none; FaceCutError when every face found is cut off by the border.
    """
    dets = detector.detect(rgb)
    if not dets:
        raise NoFaceError(
            "No face was found. Use a well-lit, roughly frontal photo where the face is clearly visible "
            "and not too small (at least about 1/10 of the picture width)."
        )
    whole = [d for d in dets if outside_fraction(d, rgb.shape) <= MAX_OUTSIDE]
    if not whole:
        raise FaceCutError(
            "The face is cut off by the edge of the photo, so it cannot be scored fairly. "
            "Use a photo where the whole face, from forehead to chin, is inside the frame."
        )
    return [(d, crop_face(rgb, d, detector)) for d in whole]
