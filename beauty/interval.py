"""A calibrated range for the raters' mean, for every face: adaptive split-conformal.

The score is a point estimate. The range `score ± q·sigma` holds the raters' mean
for about `level` (80 %) of faces like the calibration faces, where

    sigma = base + coef["atypical"]·atypical + sum_k coef[f"score_{k}"]·hat_k(score)

is a per-face uncertainty that costs no extra model call:

* `atypical`: how far the face's pooled network features (the 1280 numbers the
  model's linear head reads) lie outside the main directions in which the
  training faces' features vary: the norm of what the top principal components of
  the training features do not explain. Unusual faces and photos score high; the
  model's errors grow with it.
* `hat_k(score)`: piecewise-linear bumps at a few score levels, so the range can
  be wider where the model is less sure (it errs more between 3 and 4, where the
  human ratings are sparse); flat beyond the outer knots.

All weights are >= 0, so the range only widens as a signal grows. `q` is the
split-conformal quantile of |human - score| / sigma on calibration faces the model
never trained on; conformal prediction makes the coverage hold on average over
faces exchangeable with those. On other photos it is a best effort, which is why
sigma grows with `atypical`.

Pure numpy, no model. The calibration is one JSON (`beauty/interval.json`):
`q`, the weights, the knots, the feature reference (mean and principal directions
as base64 float16) and the sha256 of the model weights it belongs to. `fit` makes
one, `cross_conformal` checks it (beauty/training/interval_fit.py).
"""

from __future__ import annotations

import base64

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .hub import sha256_file

INTERVAL_FILE = Path(__file__).resolve().parent / "interval.json"  # ships with the code, like model_hashes.json
SCORE_RANGE = (1.0, 5.0)
KNOTS = (2.0, 2.5, 3.0, 3.5, 4.0)  # score levels of the hat basis
COMPONENTS = 8  # principal directions of the training features that count as "typical"


def _encode(a: np.ndarray) -> dict:
    a = np.ascontiguousarray(a, "<f2")
    return {"shape": list(a.shape), "float16_base64": base64.b64encode(a.tobytes()).decode()}


def _decode(d: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(d["float16_base64"]), "<f2").reshape(d["shape"]).astype(np.float64)


@dataclass(frozen=True)
class Reference:
    """Where the training faces' pooled features live: their mean and top principal directions."""

    mean: np.ndarray  # (D,)
    basis: np.ndarray  # (k, D), orthonormal rows

    @classmethod
    def fit(cls, train_features: np.ndarray, k: int = COMPONENTS) -> Reference:
        f = np.asarray(train_features, np.float64)
        mean = f.mean(0)
        _, _, vt = np.linalg.svd(f - mean, full_matrices=False)
        # store as float16 and use what was stored, so fitting and run time agree exactly
        return cls(_decode(_encode(mean)), _decode(_encode(vt[:k])))

    def atypical(self, features: np.ndarray) -> np.ndarray:
        """Norm of the part of each (centred) feature vector outside the principal subspace."""
        x = np.atleast_2d(np.asarray(features, np.float64)) - self.mean
        return np.linalg.norm(x - (x @ self.basis.T) @ self.basis, axis=1)

    def to_dict(self) -> dict:
        return {"mean": _encode(self.mean), "basis": _encode(self.basis)}

    @classmethod
    def from_dict(cls, d: dict) -> Reference:
        return cls(_decode(d["mean"]), _decode(d["basis"]))


def hats(score, knots=KNOTS) -> dict:
    """Piecewise-linear basis in the score: 1 at its knot, 0 at the neighbouring knots; the outer two stay 1 beyond."""
    s = np.asarray(score, np.float64)
    out = {}
    for i, k in enumerate(knots):
        up = np.ones_like(s) if i == 0 else np.clip((s - knots[i - 1]) / (k - knots[i - 1]), 0, 1)
        down = np.ones_like(s) if i == len(knots) - 1 else np.clip((knots[i + 1] - s) / (knots[i + 1] - k), 0, 1)
        out[f"score_{k:g}"] = np.minimum(up, down)
    return out


def signals(score, features, reference: Reference, knots=KNOTS) -> dict:
    """Every signal sigma can use, per face: `atypical` and the score hats."""
    return {"atypical": reference.atypical(features), **hats(score, knots)}


@dataclass(frozen=True)
class Calibration:
    level: float  # nominal coverage of the range, e.g. 0.8
    q: float  # conformal quantile of |human - score| / sigma
    base: float  # sigma when every signal is 0
    coef: dict  # signal name -> weight (>= 0)
    reference: Reference | None = None
    knots: tuple = KNOTS
    model_sha256: str = ""  # the weights whose features and errors it was fitted on
    n: int = 0  # calibration faces
    note: str = ""  # where the calibration comes from
    extra: dict = field(default_factory=dict)  # measured numbers kept with it (coverage, widths)

    def sigma(self, sig: dict) -> np.ndarray:
        s = np.float64(self.base)
        for k, w in self.coef.items():
            s = s + w * np.asarray(sig[k], np.float64)
        return s

    def range(self, score, sig: dict):
        """(low, high): the `level` range for the raters' mean, within the 1-5 scale."""
        half = self.q * self.sigma(sig)
        s = np.asarray(score, np.float64)
        lo, hi = np.clip(s - half, *SCORE_RANGE), np.clip(s + half, *SCORE_RANGE)
        return (float(lo), float(hi)) if lo.ndim == 0 else (lo, hi)

    def ranges(self, scores, features):
        """(low, high) arrays for N faces from their scores and pooled features (N×D)."""
        scores = np.atleast_1d(np.asarray(scores, np.float64))
        return self.range(scores, signals(scores, features, self.reference, self.knots))

    def to_json(self) -> str:
        d = {"level": self.level, "q": self.q, "base": self.base, "coef": self.coef, "knots": list(self.knots),
             "model_sha256": self.model_sha256, "n": self.n, "note": self.note, "measured": self.extra,
             "reference": self.reference.to_dict() if self.reference is not None else None}
        return json.dumps(d, indent=1) + "\n"

    @classmethod
    def from_dict(cls, d: dict) -> Calibration:
        ref = Reference.from_dict(d["reference"]) if d.get("reference") else None
        return cls(float(d["level"]), float(d["q"]), float(d["base"]), {k: float(v) for k, v in d["coef"].items()},
                   ref, tuple(d.get("knots", KNOTS)), d.get("model_sha256", ""), int(d.get("n", 0)),
                   d.get("note", ""), d.get("measured", {}))


@lru_cache(maxsize=4)
def load(path: str | Path = INTERVAL_FILE) -> Calibration:
    return Calibration.from_dict(json.loads(Path(path).read_text()))


def held_out_check(path: str | Path = INTERVAL_FILE) -> dict | None:
    """How the range did on faces it was not fitted on (SCUT-FBP5500 test, 2-fold cross-conformal): coverage,
    mean_width, spearman_width_error; None without a calibration."""
    try:
        return load(path).extra["scut_test_cross_conformal_2fold"]
    except (OSError, KeyError, ValueError):
        return None


def typical_width(path: str | Path = INTERVAL_FILE) -> float | None:
    """Mean width of the range on the calibration faces (SCUT-FBP5500 test), or None without a calibration."""
    check = held_out_check(path)
    return None if check is None else check["mean_width"]


def for_model(model_path: str | Path, path: str | Path = INTERVAL_FILE) -> Calibration | None:
    """The calibration of these weights, or None (no file, or fitted on other weights: no range then)."""
    path = Path(path)
    if not path.is_file():
        return None
    cal = load(path)
    return cal if cal.model_sha256 == sha256_file(model_path) else None


# ---------------------------------------------------------------- fitting and checking


def conformal_quantile(nonconformity: np.ndarray, level: float) -> float:
    """The ceil((n+1)·level)-th smallest value: the split-conformal quantile (finite-sample valid)."""
    r = np.sort(np.asarray(nonconformity, np.float64))
    k = math.ceil((len(r) + 1) * level)
    return float(r[min(k, len(r)) - 1])


def fit_sigma(abs_err: np.ndarray, sig: dict, names: list) -> tuple:
    """sigma = base + sum coef·signal by least squares on |error|, base > 0 and every coef >= 0.

    Exhaustive over subsets of the signals (a handful), keeping the best fit whose
    weights are all non-negative: an exact NNLS for few signals, in plain numpy.
    """
    y = np.asarray(abs_err, np.float64)
    best = (np.inf, float(np.mean(y)), {})
    for mask in range(1 << len(names)):
        used = [n for i, n in enumerate(names) if mask >> i & 1]
        x = np.column_stack([np.ones_like(y)] + [np.asarray(sig[n], np.float64) for n in used])
        w, *_ = np.linalg.lstsq(x, y, rcond=None)
        if w[0] <= 0 or np.any(w[1:] < 0):
            continue
        loss = float(np.sum((x @ w - y) ** 2))
        if loss < best[0] - 1e-12:
            best = (loss, float(w[0]), dict(zip(used, map(float, w[1:]))))
    return best[1], {n: best[2].get(n, 0.0) for n in names}


def fit(score, truth, sig: dict, names: list, level: float = 0.8, **kw) -> Calibration:
    """Fit sigma's weights, then the conformal quantile, on calibration faces (never training faces)."""
    score, truth = np.asarray(score, np.float64), np.asarray(truth, np.float64)
    err = np.abs(truth - score)
    base, coef = fit_sigma(err, sig, names)
    unit = Calibration(level, 1.0, base, coef)
    q = conformal_quantile(err / unit.sigma(sig), level)
    return Calibration(level, q, base, coef, n=len(err), **kw)


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    def ranks(x):
        x = np.asarray(x, np.float64)
        _, inv, counts = np.unique(x, return_inverse=True, return_counts=True)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return (first + (counts - 1) / 2)[inv]
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def evaluate(cal: Calibration, score, truth, sig: dict) -> dict:
    """Coverage, mean width and Spearman(width, |error|) of a calibration on labelled faces."""
    score, truth = np.asarray(score, np.float64), np.asarray(truth, np.float64)
    lo, hi = cal.range(score, sig)
    width = hi - lo
    return {"n": int(len(score)), "coverage": float(np.mean((truth >= lo) & (truth <= hi))),
            "mean_width": float(width.mean()), "spearman_width_error": spearman(width, np.abs(truth - score))}


def cross_conformal(score, truth, sig: dict, names: list, level: float = 0.8, folds: int = 2, seed: int = 0) -> dict:
    """K-fold cross-conformal: fit on the other parts, measure on the held-out one, every way round."""
    score, truth = np.asarray(score, np.float64), np.asarray(truth, np.float64)
    part = np.random.default_rng(seed).permutation(len(score)) % folds
    sig = {k: np.asarray(v, np.float64) for k, v in sig.items()}
    per_fold = []
    for k in range(folds):
        a, b = part != k, part == k
        cal = fit(score[a], truth[a], {n: v[a] for n, v in sig.items()}, names, level)
        per_fold.append(evaluate(cal, score[b], truth[b], {n: v[b] for n, v in sig.items()}))
    w = [f["n"] for f in per_fold]
    mean = {m: float(np.average([f[m] for f in per_fold], weights=w))
            for m in ("coverage", "mean_width", "spearman_width_error")}
    return {"folds": per_fold, **mean}
