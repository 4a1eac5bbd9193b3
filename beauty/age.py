"""Rate adults only: a gate that refuses faces that look under 18.

The gate reads the pooled network features the scoring model's linear head reads
(the 1280 numbers `beauty.model.predict(..., features=True)` returns from the same
call as the score, averaged over the crop and its mirror image), so it costs no
extra model call: one standardisation and one dot product per face.

    P(minor) = sigmoid(w · (features - mean) / scale + b);  refused when P(minor) >= threshold

Weights: `weights/age_gate.npz` (float32 arrays `mean`, `scale`, `w`, `b`; loaded
with allow_pickle=False) and `weights/age_gate.json` (threshold, the sha256 of the
scoring weights whose features it was fitted on, and the measured error rates).
Features of other scoring weights mean something else, so a gate fitted on other
weights is not used (`for_model` returns None). Fitted and calibrated by
`python -m beauty.training.age_gate`; the policy and the measured rates per age
band and per source are in weights/MODEL_CARD.md.
"""

from __future__ import annotations


import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .errors import ChildFaceError
from .hub import sha256_file

GATE_PATH = Path(__file__).resolve().parent.parent / "weights" / "age_gate.npz"
REFUSAL = "This app only rates adults; this face looks younger than 18, so it was not scored."
NOT_RATED = "looks under 18: not rated"  # the per-face note in a group photo

__all__ = ["AgeGate", "ChildFaceError", "REFUSAL", "NOT_RATED", "GATE_PATH", "load", "for_model", "refusal"]


def refusal() -> ChildFaceError:
    """The error for a photo whose every face looks under 18."""
    return ChildFaceError(REFUSAL)


@dataclass(frozen=True)
class AgeGate:
    mean: np.ndarray  # (D,)
    scale: np.ndarray  # (D,)
    w: np.ndarray  # (D,)
    b: float
    threshold: float  # refuse when P(minor) >= threshold
    model_sha256: str = ""  # the scoring weights whose features it was fitted on
    config: dict = field(default_factory=dict)  # everything in the .json (measured rates, split, ...)

    @property
    def feature_dim(self) -> int:
        return int(self.w.shape[0])

    def logit(self, features: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(features, np.float64))
        if x.shape[1] != self.feature_dim:
            raise ValueError(f"the age gate reads {self.feature_dim} features, got {x.shape[1]}")
        return ((x - self.mean) / self.scale) @ self.w + self.b

    def probability(self, features: np.ndarray) -> np.ndarray:
        """P(the face is a minor) for N×D pooled features."""
        return 1.0 / (1.0 + np.exp(-np.clip(self.logit(features), -60, 60)))

    __call__ = probability  # gate(features) -> probabilities

    def is_adult(self, features: np.ndarray) -> np.ndarray:
        """True where the face may be rated (P(minor) below the calibrated threshold)."""
        return self.probability(features) < self.threshold

    def save(self, path: str | Path = GATE_PATH) -> Path:
        path = Path(path)
        np.savez(path, mean=self.mean.astype(np.float32), scale=self.scale.astype(np.float32),
                 w=self.w.astype(np.float32), b=np.float32(self.b))
        cfg = dict(self.config, threshold=float(self.threshold), model_sha256=self.model_sha256)
        path.with_suffix(".json").write_text(json.dumps(cfg, indent=1) + "\n")
        return path


@lru_cache(maxsize=4)
def load(path: str | Path = GATE_PATH) -> AgeGate:
    path = Path(path)
    cfg = json.loads(path.with_suffix(".json").read_text())
    with np.load(path, allow_pickle=False) as a:
        arrays = {k: a[k].astype(np.float64) for k in ("mean", "scale", "w", "b")}
    return AgeGate(arrays["mean"], arrays["scale"], arrays["w"], float(arrays["b"]), float(cfg["threshold"]),
                   cfg.get("model_sha256", ""), cfg)


def for_model(model_path: str | Path, path: str | Path = GATE_PATH) -> AgeGate | None:
    """The gate fitted on these scoring weights, or None (no gate file, or fitted on other weights)."""
    path = Path(path)
    if not path.is_file() or not path.with_suffix(".json").is_file():
        return None
    gate = load(path)
    return gate if gate.model_sha256 == sha256_file(model_path) else None
