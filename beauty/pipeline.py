"""The stages wired together: image -> faces -> one batched model call -> scores and percentiles."""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import face as face_mod
from .image import load_image
from .percentile import percentile

log = logging.getLogger("beauty")
_END = object()  # end of an iterator


@dataclass
class FaceScore:
    index: int  # 1-based, largest face first
    box: tuple[float, float, float, float]  # in the (EXIF-rotated, possibly downscaled) input image
    crop: np.ndarray  # 350×350 aligned crop that was scored
    score: float  # 1..5
    percentile: float  # 0..100 among the 5,500 human ratings
    confidence: float  # detector confidence
    outside: float = 0.0  # share of the face region outside the photo (padded neutrally, never mirrored)
    warnings: list[str] = field(default_factory=list)  # what makes this score less reliable, one phrase each
    low: float | None = None  # calibrated 80 % range for the raters' mean (beauty.interval);
    high: float | None = None  # None when the weights have no calibration
    adult: bool = True  # False: the face looks under 18 (beauty.age) and is not rated
    refused: str | None = None  # why the face was not rated (score and percentile are then NaN), or None

    def to_dict(self) -> dict:
        """The per-face JSON of the CLI, the web API and the tests (rounded for reading, not for maths)."""
        if self.refused:  # nothing about the face's looks is given out
            return {"face": self.index, "score": None, "percentile": None, "box": [round(v, 1) for v in self.box],
                    "confidence": round(self.confidence, 3), "outside": round(self.outside, 3), "warnings": [],
                    "low": None, "high": None, "adult": False, "refused": self.refused}
        return {"face": self.index, "score": round(self.score, 4), "percentile": round(self.percentile, 2),
                "box": [round(v, 1) for v in self.box], "confidence": round(self.confidence, 3),
                "outside": round(self.outside, 3), "warnings": list(self.warnings),
                "low": _round(self.low), "high": _round(self.high), "adult": self.adult, "refused": None}


@dataclass
class Result:
    image: np.ndarray  # the decoded RGB image the boxes refer to
    faces: list[FaceScore] = field(default_factory=list)

    @property
    def main(self) -> FaceScore:
        """The largest rated face (faces that look under 18 are not rated): the headline result."""
        return next((fs for fs in self.faces if not fs.refused), self.faces[0])

    def to_dict(self) -> dict:
        return {"faces": [fs.to_dict() for fs in self.faces]}


class Scorer:
    """Loads the detector and the model once; `score()` is safe to call from several threads."""

    def __init__(self, model_path: str | Path | None = None, flip_tta: bool = True, max_faces: int = 8,
                 age_gate: bool = True):
        from .runtime import choose_runtime, resolve_model_path

        self.model_path = resolve_model_path(model_path)
        self.runtime, why = choose_runtime(self.model_path)  # BEAUTY_RUNTIME: 'lite' on CPU when exported
        self.model = None
        if self.runtime == "lite":
            self.model = self._load_lite()
        if self.model is None:
            from .model import load_model
            from .runtime import describe_device

            self.runtime = "keras"
            self.device = describe_device()
            self.model = load_model(self.model_path)
        self.detector = face_mod.FaceDetector()
        self.flip_tta = flip_tta
        self.max_faces = max_faces
        self._model_lock = threading.Lock()
        from .interval import for_model

        self.interval = for_model(self.model_path)  # None: these weights have no calibrated range
        from . import age

        # refuses faces that look under 18 (beauty.age); age_gate=False only to measure the model's own scores
        self.age_gate = age.for_runtime(self.runtime, model_path=self.model_path) if age_gate else None
        if age_gate and self.age_gate is None:
            log.warning("no age gate (%s missing): faces are scored without the under-18 check", age.GATE_PATH.name)
        log.info("model %s on %s (%s runtime: %s)", self.model_path.name, self.device, self.runtime, why)

    def _load_lite(self):
        """The LiteRT network (beauty.lite), or None to fall back to Keras when the export is stale and
        BEAUTY_RUNTIME is auto."""
        from .lite import StaleExportError, load_lite
        from .runtime import DeviceError, requested_runtime

        try:
            lite = load_lite(self.model_path)
        except StaleExportError as e:
            if requested_runtime() == "lite":
                raise DeviceError(f"BEAUTY_RUNTIME=lite cannot be used: {e}") from None
            log.warning("%s Using the Keras model instead.", e)
            return None
        self.device = lite.describe()
        return lite

    @property
    def model_calls(self) -> int:
        """Model calls so far (one per `score_crops` chunk of up to 32 crops), whichever runtime."""
        if self.runtime == "lite":
            return self.model.calls
        from .model import compiled_forward

        return compiled_forward(self.model).calls

    def score_crops(self, crops: np.ndarray, features: bool = False):
        """Scores of N aligned crops, one model call for the whole batch; `features=True` also returns
        the pooled features the model's head read (None if the runtime has none)."""
        with self._model_lock:
            if self.runtime == "lite":
                return self.model.predict(crops, flip_tta=self.flip_tta, features=features)
            from .model import predict

            return predict(self.model, crops, flip_tta=self.flip_tta, features=features)

    def ranges(self, scores: np.ndarray, features: np.ndarray | None) -> list[tuple[float | None, float | None]]:
        """The calibrated (low, high) range of each score, from the same model call's features."""
        if self.interval is None or features is None or not len(scores):
            return [(None, None)] * len(scores)
        lo, hi = self.interval.ranges(scores, features)
        return list(zip(lo.tolist(), hi.tolist()))

    def adults(self, crops: np.ndarray | None, n: int, features: np.ndarray | None = None) -> np.ndarray:
        """Per face, whether it may be rated: the age gate's own network on the aligned crops, plus its probe on
        the scoring model's pooled features of the same crops (`score_crops(..., features=True)`) when given."""
        if self.age_gate is None or crops is None or not n:
            return np.ones(n, bool)
        return self.age_gate.is_adult(crops, features)

    def score(self, src) -> Result:
        """Score every face in an image (path, bytes, PIL, array). Raises BeautyError subclasses."""
        (_, result), = self._flush([(src, *self._faces_of(src))])
        if isinstance(result, Exception):
            raise result
        return result

    def _faces_of(self, src):
        """(rgb, [(detection, crop)]) of one image, or (BeautyError, None)."""
        from .errors import BeautyError

        try:
            rgb = load_image(src)
            return rgb, face_mod.find_faces(rgb, self.detector)[: self.max_faces]
        except BeautyError as e:
            return e, None

    def score_many(self, srcs, batch_faces: int = 16, ahead: int = 32):
        """Score several images with one model call per `batch_faces` faces, not one per image.

        Yields (src, Result) or (src, BeautyError) in input order: a file that cannot be
        read or has no face yields its error and the others are still scored. A thread reads
        and crops up to `ahead` images ahead, so on two cores finding the next faces overlaps
        the model call for the last ones (decoding, OpenCV and LiteRT release the GIL):
        61 SCUT-FBP5500 photos, 22.3 -> 18.7 ms each with 32 ahead (8 ahead: 21.6). Each image
        waiting ahead is held decoded (at most MAX_SIDE² pixels).
        """
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        pending, n_faces = [], 0  # (src, rgb, found) or (src, error, None), waiting for the model
        with ThreadPoolExecutor(1, thread_name_prefix="faces-ahead") as pool:
            srcs, queued = iter(srcs), deque()
            while True:
                while len(queued) < max(1, ahead):
                    src = next(srcs, _END)
                    if src is _END:
                        break
                    queued.append((src, pool.submit(self._faces_of, src)))
                if not queued:
                    break
                src, job = queued.popleft()
                rgb, found = job.result()
                pending.append((src, rgb, found))
                n_faces += len(found or ())
                if n_faces >= batch_faces:
                    yield from self._flush(pending)
                    pending, n_faces = [], 0
        yield from self._flush(pending)

    def _flush(self, pending):
        crops = [c for _, _, found in pending if found for _, c in found]
        crops = np.stack(crops) if crops else None  # one copy for the scoring model and the age gate
        scores, features = self.score_crops(crops, features=True) if crops is not None else ([], None)
        ranges = iter(self.ranges(scores, features))
        adult = iter(self.adults(crops, len(scores), features))
        scores = iter(scores)
        for src, rgb, found in pending:
            if found is None:
                yield src, rgb  # the error
            else:
                faces = _faces(found, [next(scores) for _ in found])
                for fs in faces:
                    fs.low, fs.high = next(ranges)
                    fs.adult = bool(next(adult))
                    if not fs.adult:
                        _refuse(fs)
                if all(fs.refused for fs in faces):
                    from .age import refusal

                    yield src, refusal()  # every face looks under 18
                    continue
                yield src, Result(rgb, faces)


def _faces(found, scores) -> list[FaceScore]:
    return [
        FaceScore(i + 1, d.box, c, float(s), percentile(float(s)), d.confidence, d.outside,
                  [face_mod.CUT_WARNING] if d.outside > 0 else [])
        for i, ((d, c), s) in enumerate(zip(found, scores))
    ]


def _refuse(fs: FaceScore) -> None:
    """A face that looks under 18: keep where it is (box, confidence), drop everything about its looks."""
    from .age import NOT_RATED

    fs.refused = NOT_RATED
    fs.score = fs.percentile = float("nan")
    fs.low = fs.high = None
    fs.warnings = []


def _round(v: float | None, digits: int = 4) -> float | None:
    return None if v is None else round(v, digits)


def load_scorer(model=None, max_faces: int = 8, flip_tta: bool = True, quiet: bool = True,
                age_gate: bool = True) -> Scorer:
    """A ready Scorer: model and detector loaded and warmed up, so the first real call is fast.

    `quiet` silences the native (TensorFlow, MediaPipe) logging written straight to stderr while loading.
    """
    from .runtime import quiet_native_stderr

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet_native_stderr(quiet):
        scorer = Scorer(model, flip_tta=flip_tta, max_faces=max_faces, age_gate=age_gate)
        scorer.detector.detect(np.zeros((64, 64, 3), np.uint8))
        scorer.score_crops(np.zeros((1, face_mod.CROP_SIZE, face_mod.CROP_SIZE, 3), np.uint8))
    return scorer
