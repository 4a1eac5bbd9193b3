"""Rate adults only: a gate that refuses faces that look under 18.

The gate is its own small network, trained for age (beauty.training.age_gate): the scoring
model's features, trained for looks, tell children from adults too poorly on their own (65 % of
held-out children 0-12 refused where 97 % is the target). It reads the central part of the app's aligned
350×350 face crop (`crop_fraction` of its side in the gate's .json: 0.72, the face and a little hair;
the whole crop refused 73 % of held-out children against 83 %) shrunk to INPUT_SIZE px (cv2
INTER_AREA), through ImageNet MobileNetV2 cut after block 16 (`CUT`; blocks 14-16 work on a 4×4 grid at
112 px, so they cost little, and the network alone refused 86 % of held-out children against 79 % when cut
after block 13; the last block and the 1280-channel conv would take the shipped weights past their 25 MB),
a 1×1 conv, average pooling
and one "minor" logit. It trains on age-labelled chips and on photos like the app's (SCUT-FBP5500 and
MEBeauty-dev adults, and MEBeauty-dev's children as minors, so that the photo style cannot stand in for
age). Half of its training faces were turned black and white (`to_gray`), so that a
grayscale photo is judged about as its colour original is (measured in weights/age_gate.json,
`measured_grayscale`). A linear probe on the scoring model's pooled features (`Probe`: computed
for the score anyway, so nearly free) is added to it: alone those features catch few children, but
their mistakes differ from the network's, and the sum refused more held-out children at the same limits on
adults (96 % against 86 % with a network trained on age-dev only; with the shipped one, which catches more on its
own, 96.6 % either way on the held-out faces and 96.1 % against 94.8 % out of fold on the dev folds; network and
probe cross-fitted on the dev folds for their thresholds, then trained on all of them; beauty.training.age_gate):

    refused when logit + probe(features) >= probe threshold
    (without the scoring model's features, or with other scoring weights: sigmoid(logit) >= threshold)

Files: `weights/age_gate.npz` (Keras weights, float16, loaded with allow_pickle=False),
`weights/age_gate.tflite` (the same network for LiteRT, float32, with the sha256 of the .npz it
was exported from in its metadata, so a stale export is detected) and `weights/age_gate.json`
(thresholds, the probe and the sha256 of the scoring weights it was fitted on, network settings,
file hashes, measured error rates). The runtime follows the
scoring model's (beauty.runtime): LiteRT without importing TensorFlow, or the Keras model.
Fitted, calibrated, exported and measured by `python -m beauty.training.age_gate`; the policy
and the measured rates per age band and per source are in weights/MODEL_CARD.md.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ChildFaceError
from .hub import sha256_file

GATE_PATH = Path(__file__).resolve().parent.parent / "weights" / "age_gate.npz"
REFUSAL = "This app only rates adults; this face looks younger than 18, so it was not scored."
NOT_RATED = "looks under 18: not rated"  # the per-face note in a group photo
INPUT_SIZE = 112  # px: the crop is shrunk to this before the network
FACE_CENTRE = (0.5, 0.52)  # where the face's middle sits in an aligned crop (beauty.face.FRAMING), x and y
CUT = "features_16_add"  # the last MobileNetV2 layer kept (block 16: 160 channels at stride 32)
HEAD_WIDTH = 384
LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's convert("L")
META_CONFIG = "beauty_age_gate"  # .tflite metadata: JSON with source_sha256, input_size

log = logging.getLogger(__name__)

__all__ = ["AgeGate", "Probe", "ChildFaceError", "REFUSAL", "NOT_RATED", "GATE_PATH", "load", "for_runtime", "refusal",
           "shrink", "build_net", "to_gray"]


def refusal() -> ChildFaceError:
    """The error for a photo whose every face looks under 18."""
    return ChildFaceError(REFUSAL)


def lite_path(path: str | Path = GATE_PATH) -> Path:
    return Path(path).with_suffix(".tflite")


def window(side: int, fraction: float = 1.0) -> tuple[int, int, int]:
    """(x0, y0, width) of the square the gate reads from a side×side aligned crop: `fraction` of the side,
    centred on the face (FACE_CENTRE), moved inside the crop where needed."""
    w = int(round(side * fraction))
    x0, y0 = (int(round(c * side - w / 2)) for c in FACE_CENTRE)
    return min(max(x0, 0), side - w), min(max(y0, 0), side - w), w


def shrink(crops: np.ndarray, size: int = INPUT_SIZE, fraction: float = 1.0) -> np.ndarray:
    """N×S×S×3 crops (uint8 or float, 0..255) -> N×size×size×3 float32: the central `fraction` of the crop
    (`window`), area-averaged (cv2 INTER_AREA)."""
    import cv2

    x = np.asarray(crops)
    if x.ndim == 3:
        x = x[None]
    out = np.empty((len(x), size, size, 3), np.float32)
    for i, c in enumerate(x):
        x0, y0, w = window(c.shape[0], fraction)
        c = np.asarray(c)[y0:y0 + w, x0:x0 + w]
        out[i] = c if w == size else cv2.resize(np.ascontiguousarray(c), (size, size), interpolation=cv2.INTER_AREA)
    return out


def to_gray(x: np.ndarray) -> np.ndarray:
    """RGB (..., 3) 0..255 -> its luma (LUMA, rounded) in all three channels, same dtype: a black-and-white photo."""
    y = np.round(np.asarray(x, np.float32) @ np.array(LUMA, np.float32))
    return np.repeat(y[..., None], 3, -1).astype(np.asarray(x).dtype)


def build_net(size: int = INPUT_SIZE, imagenet: str | Path | None = None, age_output: bool = False, cut: str = CUT):
    """The Keras gate network on size×size 0..255 RGB -> N×1 minor logit (and N×1 age/30 with `age_output`,
    the auxiliary output used in training). `imagenet`: the torchvision MobileNetV2 .weights.h5 to start from."""
    import keras
    from keras import layers

    from .backbones import mobilenet_v2

    base = mobilenet_v2((size, size, 3), include_top=True, weights=str(imagenet) if imagenet else None,
                        name="age_trunk_full")
    trunk = keras.Model(base.input, base.get_layer(cut).output, name="age_trunk")
    inputs = keras.Input((size, size, 3), name="face")
    x = trunk(inputs)
    x = layers.Conv2D(HEAD_WIDTH, 1, use_bias=False, name="age_head_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="age_head_bn")(x)
    x = layers.ReLU(max_value=6.0, name="age_head_relu")(x)
    x = layers.GlobalAveragePooling2D(name="age_pool")(x)
    x = layers.Dropout(0.2, name="age_dropout")(x)
    minor = layers.Dense(1, name="minor")(x)
    outputs = [minor, layers.Dense(1, name="age")(x)] if age_output else minor
    return keras.Model(inputs, outputs, name="age_gate")


def save_weights(model, path: str | Path = GATE_PATH) -> Path:
    """Float16 .npz keyed by variable path (the auxiliary age output is not saved: serving never reads it)."""
    path = Path(path)
    arrays = {v.path: np.asarray(v.numpy(), np.float16) for v in model.weights if not v.path.startswith("age/")}
    np.savez(path, **arrays)
    return path


def load_keras(path: str | Path = GATE_PATH, size: int = INPUT_SIZE, cut: str = CUT):
    """The Keras gate network filled from the .npz."""
    from .model import fill_from_npz

    net = build_net(size, cut=cut)
    fill_from_npz(net, path, "the age gate network")
    return net


class _Lite:
    """The exported gate on LiteRT (XNNPACK): one interpreter behind a lock, one face per invocation."""

    def __init__(self, path: Path, source: Path):
        from ai_edge_litert.interpreter import Interpreter

        from .lite import StaleExportError, default_threads, read_metadata

        content = path.read_bytes()
        meta = read_metadata(content)
        cfg = json.loads(meta.get(META_CONFIG, b"{}"))
        if cfg.get("source_sha256") != sha256_file(source):
            raise StaleExportError(f"{path.name} was not exported from {source.name}: "
                                   "rebuild it with `python -m beauty.training.age_gate --export-only`.")
        self.size = int(cfg["input_size"])
        self.threads = default_threads()
        self._it = Interpreter(model_content=content, num_threads=self.threads)
        self._in = self._it.get_input_details()[0]["index"]
        self._out = self._it.get_output_details()[0]["index"]
        self._it.resize_tensor_input(self._in, [1, self.size, self.size, 3], strict=True)
        self._it.allocate_tensors()
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        out = np.empty(len(x), np.float64)
        with self._lock:
            for i in range(len(x)):  # one face per run: per-image cost does not fall with batch on XNNPACK
                self._it.set_tensor(self._in, x[i: i + 1])
                self._it.invoke()
                out[i] = float(self._it.get_tensor(self._out).reshape(-1)[0])
        return out


class _Keras:
    def __init__(self, path: Path, size: int, cut: str = CUT):
        import tensorflow as tf

        self.size = size
        self.net = load_keras(path, size, cut)
        self._fn = tf.function(lambda x: self.net(x, training=False), reduce_retracing=True)
        self._lock = threading.Lock()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            return np.asarray(self._fn(x)).reshape(-1).astype(np.float64)


@dataclass
class Probe:
    """A linear read of the scoring model's pooled features, added to the gate network's minor logit.

    The scoring network saw 5,500 adult faces and MEBeauty photos for looks; its features tell children
    from adults poorly on their own, but their errors are not the gate network's, and the sum refuses
    more children at the same adult error rates (measured in weights/age_gate.json). The features are
    already computed for the score, so the probe costs one dot product. It belongs to one set of scoring
    weights (`model_sha256`): with other weights the gate network alone decides, at its own threshold.
    """

    coef: np.ndarray  # D
    bias: float
    threshold_logit: float  # refuse when gate logit + probe >= this
    model_sha256: str

    @classmethod
    def from_config(cls, cfg: dict) -> Probe:
        return cls(np.asarray(cfg["coef"], np.float64), float(cfg["bias"]), float(cfg["threshold_logit"]),
                   cfg["model_sha256"])

    def __call__(self, features: np.ndarray) -> np.ndarray:
        return np.asarray(features, np.float64) @ self.coef + self.bias


@dataclass
class AgeGate:
    threshold: float  # refuse when P(minor) >= threshold (the gate network alone)
    runtime: str  # 'lite' | 'keras'
    run: object = field(repr=False)  # float32 N×size×size×3 -> N logits
    size: int = INPUT_SIZE
    config: dict = field(default_factory=dict, repr=False)  # everything in the .json (measured rates, ...)
    fraction: float = 1.0  # share of the aligned crop's side the network reads (`window`)
    probe: Probe | None = field(default=None, repr=False)  # None: no probe, or not for these scoring weights

    def logit(self, crops: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """The minor logit of N aligned face crops (N×350×350×3, 0..255); with the scoring model's pooled
        features of the same crops (flip-averaged, as `Scorer.score_crops` gives them) and a probe, the sum.
        Without flip TTA (`--no-tta`) the features are the crop's alone: measured on the held-out chips, 2 % of
        decisions change and the rates per age band move by at most 3 points."""
        x = shrink(crops, self.size, self.fraction)
        z = self.run(x) if len(x) else np.zeros(0)
        return z + self.probe(features) if self._probed(features) and len(z) else z

    def probability(self, crops: np.ndarray) -> np.ndarray:
        """P(the face is a minor) for N aligned crops, from the gate network alone."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(crops), -60, 60)))

    __call__ = probability

    def is_adult(self, crops: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """True where the face may be rated: the logit (with the probe when `features` are given) below its
        calibrated threshold."""
        if self._probed(features):
            return self.logit(crops, features) < self.probe.threshold_logit
        return self.probability(crops) < self.threshold

    def _probed(self, features) -> bool:
        return self.probe is not None and features is not None


def read_config(path: str | Path = GATE_PATH) -> dict:
    return json.loads(Path(path).with_suffix(".json").read_text())


@lru_cache(maxsize=8)
def load(path: str | Path = GATE_PATH, runtime: str = "lite", model_path: str | Path | None = None) -> AgeGate:
    """The gate on 'lite' (the .tflite; falls back to Keras with a warning when it is missing or stale) or 'keras';
    with the probe on the scoring model's features when it was fitted for `model_path`'s weights."""
    path = Path(path)
    cfg = read_config(path)
    probe = None
    if cfg.get("probe") and model_path is not None:
        if sha256_file(model_path) == cfg["probe"]["model_sha256"]:
            probe = Probe.from_config(cfg["probe"])
        else:
            log.warning("age gate: its feature probe was fitted on other scoring weights than %s; the gate network "
                        "decides alone", Path(model_path).name)
    size = int(cfg.get("input_size", INPUT_SIZE))
    run = None
    if runtime == "lite":
        try:
            run = _Lite(lite_path(path), path)
        except (OSError, ValueError, ImportError) as e:
            log.warning("age gate: %s; using its Keras model instead", e)
    if run is None:
        runtime, run = "keras", _Keras(path, size, cfg.get("cut", CUT))
    return AgeGate(float(cfg["threshold"]), runtime, run, size, cfg, float(cfg.get("crop_fraction", 1.0)), probe)


def for_runtime(runtime: str, path: str | Path = GATE_PATH, model_path: str | Path | None = None) -> AgeGate | None:
    """The gate for the scoring model's runtime (and, for its probe, weights), or None when its files are missing
    (the caller warns)."""
    path = Path(path)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        return None
    return load(path, "lite" if runtime == "lite" else "keras", None if model_path is None else Path(model_path))
