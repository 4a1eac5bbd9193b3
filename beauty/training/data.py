"""SCUT-FBP5500 in its official layout, and the face crops the model trains on.

Layout (as distributed): Images/*.jpg, train_test_files/All_labels.txt,
train_test_files/split_of_60%training and 40%testing/{train,test}.txt,
train_test_files/5_folders_cross_validations_files/cross_validation_N/{train,test}_N.txt.
Each label line is "<image name> <mean rating 1..5>".

Training images go through the app's own face pipeline (`beauty.face`), so the
model sees at training time exactly the crops it sees in the app.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

ENV_VAR = "SCUT_FBP5500_DIR"
SPLIT_DIR = "split_of_60%training and 40%testing"
FOLDS_DIR = "5_folders_cross_validations_files"
PROTOCOLS = ["60-40"] + [f"fold{i}" for i in range(1, 6)]
GROUPS = {"AF": "Asian female", "AM": "Asian male", "CF": "Caucasian female", "CM": "Caucasian male"}


class DatasetError(Exception):
    """The dataset folder is missing or not in the official layout."""


def dataset_dir(path: str | os.PathLike | None = None) -> Path:
    """The dataset root from the argument or $SCUT_FBP5500_DIR, checked."""
    path = path or os.environ.get(ENV_VAR)
    if not path:
        raise DatasetError(f"No dataset folder: pass --data DIR or set {ENV_VAR} to the SCUT-FBP5500_v2 folder.")
    root = Path(path)
    for need in ("Images", "train_test_files/All_labels.txt"):
        if not (root / need).exists():
            raise DatasetError(f"{root} is not a SCUT-FBP5500_v2 folder: {need} is missing.")
    return root


def read_labels(path: Path, images: Path | None = None) -> list[tuple[str, float]]:
    """Parse a label file; every line must be 'NAME.jpg SCORE' with 1 <= SCORE <= 5 and the image present."""
    rows = []
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        try:
            name, score = parts[0], float(parts[1])
            if len(parts) != 2 or not 1.0 <= score <= 5.0:
                raise ValueError
        except (ValueError, IndexError):
            raise DatasetError(f"{path}:{i}: bad label line {line!r} (expected 'NAME.jpg SCORE', score 1..5).") from None
        if images is not None and not (images / name).is_file():
            raise DatasetError(f"{path}:{i}: image {name} is missing from {images}.")
        rows.append((name, score))
    if not rows:
        raise DatasetError(f"{path} has no labels.")
    return rows


def protocol_files(root: Path, protocol: str) -> tuple[Path, Path]:
    """(train, test) label files of '60-40' or 'foldN'."""
    tt = root / "train_test_files"
    if protocol == "60-40":
        return tt / SPLIT_DIR / "train.txt", tt / SPLIT_DIR / "test.txt"
    if protocol in PROTOCOLS:
        n = protocol[4:]
        d = tt / FOLDS_DIR / f"cross_validation_{n}"
        return d / f"train_{n}.txt", d / f"test_{n}.txt"
    raise DatasetError(f"Unknown protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}.")


def load_split(root: Path, protocol: str) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    train_file, test_file = protocol_files(root, protocol)
    images = root / "Images"
    train, test = read_labels(train_file, images), read_labels(test_file, images)
    overlap = {n for n, _ in train} & {n for n, _ in test}
    if overlap:
        raise DatasetError(f"{protocol}: {len(overlap)} images are in both train and test, e.g. {sorted(overlap)[:3]}.")
    return train, test


def group_of(name: str) -> str:
    return GROUPS[name[:2]]


CACHE_ENV = "BEAUTY_CACHE_DIR"


def default_cache_dir() -> Path:
    """Where face crops are cached: $BEAUTY_CACHE_DIR, else $XDG_CACHE_HOME/beauty, else ~/.cache/beauty.

    Outside the checkout, so a fresh clone on the same machine (CI) reuses the crops of earlier runs.
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "beauty"


def pipeline_fingerprint(raw: bool = False) -> str:
    """A hash of everything that decides a crop's pixels besides the code: framing constants, crop size,
    PIPELINE_VERSION, the detector file and the decoder/detector/warp library versions."""
    from importlib.metadata import version

    import cv2
    import PIL

    from ..face import CROP_SIZE, DETECTOR_PATH, FRAMING, PIPELINE_VERSION

    h = hashlib.sha256()
    h.update(repr((sorted(FRAMING.items()), CROP_SIZE, PIPELINE_VERSION, raw, cv2.__version__,
                   version("ai-edge-litert"), PIL.__version__)).encode())
    if not raw:
        h.update(DETECTOR_PATH.read_bytes())
    return h.hexdigest()


def face_crops(root: Path, names: list[str], cache_dir: str | os.PathLike | None = "auto", raw: bool = False,
               verify: int = 0) -> np.ndarray:
    """N×350×350×3 uint8 crops of the named images, made by the app's face pipeline.

    `raw=True` returns the dataset images untouched (they are 350×350 already), to
    measure what the pipeline changes. Cached on disk because detection over 5,500
    images takes a while: `cache_dir="auto"` is `default_cache_dir()`, None computes
    without reading or writing a cache. The cache key covers the names and
    `pipeline_fingerprint()`. A code change that alters crops without a
    PIPELINE_VERSION bump is not in the key: `verify=k` recomputes k crops spread
    over the list and rebuilds the whole cache unless they are byte-identical.
    """
    from ..face import CROP_SIZE

    if cache_dir == "auto":
        cache_dir = default_cache_dir()
    key = hashlib.sha256(repr((names, pipeline_fingerprint(raw))).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"crops-{'raw' if raw else 'face'}-{len(names)}-{key}.npy" if cache_dir else None
    if cache and cache.exists():
        cached = np.load(cache, mmap_mode="r")  # callers index the rows they need; no 2 GB copy
        picks = sorted({round(i) for i in np.linspace(0, len(names) - 1, min(verify, len(names)))})
        if cached.shape == (len(names), CROP_SIZE, CROP_SIZE, 3) and (
                not picks or np.array_equal(cached[picks], _make_crops(root, [names[i] for i in picks], raw))):
            return cached
        print(f"face_crops: {cache.name} no longer matches the pipeline; rebuilding it")
    out = _make_crops(root, names, raw)
    if cache:
        _write_atomic(cache, lambda tmp: np.save(tmp, out))
    return out


def _write_atomic(cache: Path, save) -> None:
    """`save(tmp)` beside `cache`, then renamed onto it: an interrupted run never leaves a truncated cache behind."""
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp{cache.suffix}")
    save(tmp)
    os.replace(tmp, cache)


def _largest_faces(paths: list) -> tuple[np.ndarray, np.ndarray]:
    """Exactly the app's path (largest face, aligned and refined) for each photo: (crops, found)."""
    from ..errors import BeautyError
    from ..face import CROP_SIZE, FaceDetector, find_faces
    from ..image import load_image

    crops = np.zeros((len(paths), CROP_SIZE, CROP_SIZE, 3), np.uint8)
    found = np.zeros(len(paths), bool)
    detector = FaceDetector()
    try:
        for i, p in enumerate(paths):
            try:
                crops[i], found[i] = find_faces(load_image(p), detector)[0][1], True
            except BeautyError:
                pass
    finally:
        detector.close()
    return crops, found


def _make_crops(root: Path, names: list[str], raw: bool) -> np.ndarray:
    from ..face import CROP_SIZE
    from ..image import load_image

    paths = [root / "Images" / name for name in names]
    if raw:
        out = np.empty((len(names), CROP_SIZE, CROP_SIZE, 3), np.uint8)
        for i, p in enumerate(paths):
            rgb = load_image(p)
            out[i] = rgb if rgb.shape[:2] == (CROP_SIZE, CROP_SIZE) else _resize(rgb, CROP_SIZE)
        return out
    out, found = _largest_faces(paths)
    for i in np.flatnonzero(~found):  # never happens on SCUT (5,500/5,500 detected, none cut): the photo as it is
        out[i] = _resize(load_image(paths[i]), CROP_SIZE)
    return out


def _resize(rgb: np.ndarray, size: int) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (size, size), interpolation=cv2.INTER_AREA)


def photo_crops(paths: list, cache_dir: str | os.PathLike | None = "auto") -> tuple[np.ndarray, np.ndarray]:
    """(N×350×350×3 crops of each photo's largest face, N booleans: False where the app scores no face).

    For photo collections outside SCUT-FBP5500 (MEBeauty-dev): exactly the app's path, cached like
    `face_crops` (key: the file names and `pipeline_fingerprint()`).
    """
    if cache_dir == "auto":
        cache_dir = default_cache_dir()
    key = hashlib.sha256(repr(([Path(p).name for p in paths], pipeline_fingerprint())).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / f"crops-photos-{len(paths)}-{key}.npz" if cache_dir else None
    if cache and cache.exists():
        with np.load(cache) as z:
            return z["crops"], z["ok"]
    crops, ok = _largest_faces(paths)
    if cache:
        _write_atomic(cache, lambda tmp: np.savez(tmp, crops=crops, ok=ok))
    return crops, ok
