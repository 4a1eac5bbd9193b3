"""Find faces with MediaPipe's face detector and crop each one the way SCUT-FBP5500 photos are framed.

The model only ever saw SCUT-FBP5500 photos: 350×350, roughly frontal, eyes
level, the face filling a fixed share of the frame. A selfie in a larger scene
therefore has to be brought to that framing before it is scored. We do it with
the detector's eye keypoints: rotate so the eyes are level, then scale and
shift so the eyes land where the dataset's eyes land (`FRAMING`, measured by
`tools/measure_framing.py` running this same detector over all 5,500 images).
Training crops go through `crop_face` too, so train and app see the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .errors import FaceCutError, NoFaceError, NotHumanError

CROP_SIZE = 350
DETECTOR_PATH = Path(__file__).resolve().parent.parent / "weights" / "face_detection_short_range.tflite"

# Where the eyes sit in a SCUT-FBP5500 photo, in units of the 350-px side:
# eye-midpoint position and inter-ocular distance (medians over the dataset).
# Measured by tools/measure_framing.py; see README "Training and evaluation".
FRAMING = {"eye_x": 0.507, "eye_y": 0.460, "eye_dist": 0.253}
PIPELINE_VERSION = 4  # bump when crops change, so cached training crops are rebuilt (4: the detector on LiteRT)


@dataclass
class Detection:
    """One face in original-image pixels: box (x0, y0, x1, y1), eye centres, confidence."""

    box: tuple[float, float, float, float]
    right_eye: tuple[float, float]  # the subject's right eye (image left)
    left_eye: tuple[float, float]
    confidence: float
    # all six MediaPipe keypoints in image pixels: right eye, left eye, nose tip, mouth, right ear, left ear
    keypoints: tuple[tuple[float, float], ...] = ()
    outside: float = 0.0  # share of the face region outside the photo (see outside_fraction), set by find_faces

    @property
    def area(self) -> float:
        return (self.box[2] - self.box[0]) * (self.box[3] - self.box[1])


class FaceDetector:
    """The MediaPipe short-range face detector (BlazeFace, bundled model) on LiteRT (beauty.blazeface).
    Thread-safe.

    Each call to `detect` makes one network call for the whole picture and, when it holds no big
    face, one more for all the extra windows together.
    """

    def __init__(self, model_path: str | Path = DETECTOR_PATH, min_confidence: float = 0.5):
        from .blazeface import BlazeFace

        self._net = BlazeFace(model_path, min_confidence)

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """All faces, largest first.

        The short-range model sees a picture at 128×128, so faces under about 1/8 of the
        picture's long side are easily missed: in a row of six people the full frame found 35
        of 360 faces (and the earlier search, which tried tiles only when it found none, 217). When the whole frame gives no face, or only small ones (under a quarter of
        the long side: a group, or a selfie taken from further away), it is searched again
        in `windows()` (squares along a wide or tall picture, and four overlapping 60 %
        tiles), and the detections are merged (`merge`). Measured
        on groups of six faces in three layouts, one of them rolled by up to ±45°: 1,080 of
        1,080 faces found (tools/measure_groups.py), where the earlier search found 716.
        A big face (a selfie, a portrait, every SCUT-FBP5500 photo) costs one pass.
        """
        faces = self._detect(rgb)
        h, w = rgb.shape[:2]
        if faces and max(f.box[2] - f.box[0] for f in faces) >= SMALL_FACE * max(h, w):
            return sorted(faces, key=lambda f: f.area, reverse=True)
        # with no face at all on the full frame, the windows keep the detector's own threshold (as the earlier
        # tile search did); beside faces already found, a window's extra ones must be surer
        extra = self._windowed(rgb, WINDOW_CONFIDENCE if faces else 0.0)
        return sorted(merge(faces, extra), key=lambda f: f.area, reverse=True)

    def _windowed(self, rgb: np.ndarray, min_confidence: float = 0.0) -> list[Detection]:
        h, w = rgb.shape[:2]
        wins = windows(h, w)
        found = self._net.detect([rgb[y0:y1, x0:x1] for x0, y0, x1, y1 in wins])
        return [f for (x0, y0, x1, y1), part in zip(wins, found) for f in _detections(part, (x0, y0))
                if f.confidence >= min_confidence and _whole_in((x0, y0, x1, y1), f, (w, h))]

    def _detect(self, rgb: np.ndarray, offset: tuple[int, int] = (0, 0)) -> list[Detection]:
        """Faces in `rgb`, in the coordinates of the picture it was cut from (`offset`: where it starts there)."""
        return _detections(self._net.detect([rgb])[0], offset)

    def close(self):
        """Nothing to release (kept so callers can close a detector whichever engine runs it)."""


def _detections(found, offset: tuple[int, int]) -> list[Detection]:
    ox, oy = offset
    out = []
    for (x0, y0, x1, y1), kp, score in found:
        kp = [(float(x) + ox, float(y) + oy) for x, y in kp]
        e1, e2 = sorted(kp[:2])  # order by x so "right eye" is the one on the image's left
        out.append(Detection((x0 + ox, y0 + oy, x1 + ox, y1 + oy), e1, e2, score, tuple(kp)))
    return out


def _iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-9)


SMALL_FACE = 0.25  # faces narrower than this share of the picture's long side trigger the window search
# A window sees a part of the picture blown up, where clothing and patterns look like faces more often: next
# to faces the full frame found, its detections need this confidence (true faces found only in windows:
# 5th percentile 0.80, lowest 0.58; a spacesuit's badge beside the astronaut's face in a webcam frame: 0.60).
WINDOW_CONFIDENCE = 0.65


def windows(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """(x0, y0, x1, y1) of the extra search windows: squares of the short side along a picture more than
    1.3 times as long as it is high (or the reverse), half overlapping; then four 60 % tiles."""
    out = []
    s, long_side = min(h, w), max(h, w)
    if long_side > 1.3 * s:
        n = int(np.ceil((long_side - s) / (s / 2))) + 1
        for k in range(n):
            o = int(round(k * (long_side - s) / (n - 1)))
            out.append((o, 0, o + s, s) if w > h else (0, o, s, o + s))
    if s >= 256:
        th, tw = int(h * 0.6), int(w * 0.6)
        out += [(x0, y0, x0 + tw, y0 + th) for y0 in (0, h - th) for x0 in (0, w - tw)]
    return out


def _whole_in(window, f: Detection, size, margin: float = 0.02) -> bool:
    """False when the face touches a window edge that is not the picture's edge: it is cut there, and
    another window (or the full frame) holds it whole."""
    x0, y0, x1, y1 = window
    m = margin * max(x1 - x0, y1 - y0)
    b = f.box
    return not ((x0 > 0 and b[0] < x0 + m) or (y0 > 0 and b[1] < y0 + m)
                or (x1 < size[0] and b[2] > x1 - m) or (y1 < size[1] and b[3] > y1 - m))


def _same_face(a: Detection, b: Detection) -> bool:
    if _iou(a.box, b.box) > 0.3:
        return True
    for p, q in ((a, b), (b, a)):  # the centre of one inside the other (a face found twice, at two sizes)
        cx, cy = (p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2
        if q.box[0] <= cx <= q.box[2] and q.box[1] <= cy <= q.box[3]:
            return True
    return False


def merge(first: list[Detection], extra: list[Detection], margin: float = 0.25) -> list[Detection]:
    """One detection per face. The full frame's own detections (`first`) stand; a window's detection
    (`extra`) adds a face they miss, and replaces the ones it overlaps only when it is clearly more
    confident (by `margin`): a face seen larger in a window can get worse eye keypoints (a head in
    three-quarter view), while a big low-confidence box around a small face is a mistake."""
    kept = list(first)
    for d in sorted(extra, key=lambda d: d.confidence, reverse=True):
        overlap = [k for k in kept if _same_face(d, k)]
        if not overlap:
            kept.append(d)
        elif d.confidence >= max(k.confidence for k in overlap) + margin:
            kept = [k for k in kept if k not in overlap] + [d]
    return kept


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


# Padding where a crop reaches past the photo. The model was trained on SCUT-FBP5500 crops padded by
# mirroring (74 % of its crops reach past their photo, by a median 4 % of the crop), so a face whose
# region lies inside the photo keeps that padding. A face cut by the border would be mirrored into a
# two-faced crop; it gets neutral grey instead (NEUTRAL), which measured closer to the uncut photo's
# score at every cut (tools/measure_cut.py; median |change| 0.08 against 0.18 for cuts up to 5 %).
NEUTRAL = (128, 128, 128)


def warp(rgb: np.ndarray, m: np.ndarray, size: int = CROP_SIZE, neutral: bool = False) -> np.ndarray:
    """Apply a crop transform; borders outside the photo are mirrored, or plain grey when `neutral`."""
    scale = float(np.hypot(m[0, 0], m[0, 1]))
    if scale < 0.5:  # shrink first with area averaging so the warp does not alias
        f = scale * 1.5
        rgb = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        m = m.copy()
        m[:, :2] /= f
    if neutral:
        return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                              borderValue=NEUTRAL)
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def align(rgb: np.ndarray, det: Detection, detector: FaceDetector | None = None, neutral: bool = False) -> np.ndarray:
    """Crop transform for one face, refined by a second detection on the first crop.

    The detector's eye keypoints drift with head roll and with how much of the
    photo the face fills. Detecting again on the upright, dataset-framed first
    crop measures the eyes under the same conditions as `FRAMING` was measured
    (on the dataset photos), so tilted or distant faces land where the dataset's do.
    """
    m = crop_transform(det)
    if detector is None:
        return m
    again = detector.detect(warp(rgb, m, neutral=neutral))
    if not again:
        return m
    return crop_transform(central(again)) @ np.vstack([m, [0, 0, 1]])


def central(dets: list[Detection], size: int = CROP_SIZE) -> Detection:
    """The detection nearest the centre of a size×size crop: the face the crop was made for."""
    c = size / 2
    return min(dets, key=lambda d: np.hypot((d.box[0] + d.box[2]) / 2 - c, (d.box[1] + d.box[3]) / 2 - c))


def crop_face(rgb: np.ndarray, det: Detection, detector: FaceDetector | None = None) -> np.ndarray:
    """The aligned CROP_SIZE×CROP_SIZE crop of one face (refined when a detector is given); a face
    reaching past the photo's border is padded with neutral grey, never mirrored."""
    neutral = outside_fraction(det, rgb.shape) > 0
    return warp(rgb, align(rgb, det, detector, neutral), neutral=neutral)


# A face whose region (see outside_fraction) lies more than this share outside the photo is refused as
# "cut off". Measured on 24 photos cut from each side (tools/measure_cut.py): up to a fifth outside, the
# median score change is 0.20 or less (the model's own mean error is 0.21); beyond it, more and growing.
# Any share above 0 is reported with the score (CUT_WARNING). SCUT-FBP5500: 63 of 5,500 photos reach
# past the border, by at most 0.13.
MAX_OUTSIDE = 0.2
CUT_WARNING = "partly outside the photo — score less reliable"


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
    """(detection, crop) for every whole human face, largest first; `Detection.outside` tells how much of
    each face lies outside the photo (0 for most).

    NoFaceError when there is none; FaceCutError when every face found is too far outside the photo;
    NotHumanError when every face found is an animal's or a drawing (`beauty.human.looks_human`).
    """
    from .human import looks_human

    dets = detector.detect(rgb)
    if not dets:
        raise NoFaceError(
            "No face was found. Use a well-lit, roughly frontal photo where the face is clearly visible "
            "and not too small (at least about 1/10 of the picture width)."
        )
    found, cut, not_human = [], 0, 0
    for d in dets:
        d.outside = outside_fraction(d, rgb.shape)
        if d.outside > MAX_OUTSIDE:
            cut += 1
            continue
        crop = crop_face(rgb, d, detector)
        if not looks_human(crop, d.confidence):
            not_human += 1
            continue
        found.append((d, crop))
    if not found and cut:
        raise FaceCutError(
            "The face is cut off by the edge of the photo, so it cannot be scored fairly. "
            "Use a photo where the whole face, from forehead to chin, is inside the frame."
        )
    if not found:
        raise NotHumanError(
            "This does not look like a photo of a person's face (an animal, a drawing or a statue?), so it "
            "is not rated: the model only knows photos of people. For a person, use a clear, well-lit, "
            "roughly frontal photo."
        )
    return found
