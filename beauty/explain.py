"""Why this score, and how to take a better photo: explanations grounded in the model itself.

* **The map** (`occlusion_map`): each 70-px square of the 350-px scored crop (a 6×6 grid
  at a stride of 56 px, so neighbours overlap) is painted mid-grey in turn, and every
  greyed crop goes through `Scorer.score_crops` — the scorer's own runtime and flip TTA —
  in one batch together with the untouched crop. A square's value is
  score(crop) − score(crop with that square greyed), in score points: positive where the
  region raised the score, negative where it lowered it. Nothing is estimated from
  gradients or a surrogate; it is what the model does when that part of the photo is gone.
* **Photo lines** (`describe`, `findings`): descriptors of the *photo* (light on the face,
  light from one side, face size in pixels, sharpness, head tilt; head turn and nod as
  keypoint proxies) are compared with `photo_effects.json`, measured by
  `tools/measure_photo_effects.py`: how the score moved when SCUT-FBP5500 test photos were
  darkened, brightened, side-lit, tilted, shrunk or blurred synthetically. A *tip* says which
  change of the photo raised the scores of photos like this one, by how much; a *caveat* says
  that a condition of this photo raised them (the score is flattered, a flaw of the model).
  Only kinds of line that passed the tool's calibration are shown. Lines never concern the
  face itself.
* **Per-photo checks** (`try_fixes`): the averages cannot tell which way one photo would move
  (for each condition, undoing it raises some photos' scores and lowers others'), so a condition
  software can undo (dim light, tilt) is undone on the photo itself and the photo scored again;
  the line gives that change, when it is big enough to have called the real direction right in
  calibration (`photo_effects.json` "thresholds" → "simulated").
* **Between shots** (`compare`): one line on what differed between two webcam shots.

Pure numpy and OpenCV plus the scorer: no TensorFlow import of its own, so it runs on
whichever runtime the scorer uses.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .face import CROP_SIZE, FRAMING, Detection, crop_transform

PATCH = 70  # side of a greyed square, px of the 350-px crop (about 0.8 eye distances)
STRIDE = 56  # 6 positions per axis: 0, 56, ..., 280; symmetric about the vertical midline
GREY = 128  # the neutral patch (and the deletion test's grey)
EFFECTS_PATH = Path(__file__).resolve().parent / "photo_effects.json"
log = logging.getLogger("beauty")

IOD = FRAMING["eye_dist"] * CROP_SIZE  # eye distance in the crop, px (88.6)
_EX, _EY = FRAMING["eye_x"] * CROP_SIZE, FRAMING["eye_y"] * CROP_SIZE
# the face in the crop: one eye distance either side of the eye midpoint, 0.5 above to 1.5 below it
FACE_BOX = (int(_EX - IOD), int(_EX + IOD), int(_EY - 0.5 * IOD), int(_EY + 1.5 * IOD))  # x0, x1, y0, y1


# ---------------------------------------------------------------- the map


def positions(patch: int = PATCH, stride: int = STRIDE, size: int = CROP_SIZE) -> list[int]:
    """Top-left offsets of the squares along one axis (the last one flush with the far edge)."""
    p = list(range(0, size - patch + 1, stride))
    if p[-1] != size - patch:
        p.append(size - patch)
    return p


@dataclass
class Heatmap:
    """Occlusion map of one crop: `cells[i, j]` for the square at row offset positions()[i], column positions()[j]."""

    crop: np.ndarray  # the 350×350 crop that was scored
    score: float  # its score, from the same batch as the greyed crops
    cells: np.ndarray  # score(crop) − score(crop with the square greyed); > 0: the region raised the score
    patch: int = PATCH
    stride: int = STRIDE

    def pixels(self) -> np.ndarray:
        """350×350 map: each pixel the mean value of the squares that cover it."""
        ps = positions(self.patch, self.stride)
        acc = np.zeros((CROP_SIZE, CROP_SIZE), np.float64)
        cnt = np.zeros_like(acc)
        for i, y in enumerate(ps):
            for j, x in enumerate(ps):
                acc[y:y + self.patch, x:x + self.patch] += self.cells[i, j]
                cnt[y:y + self.patch, x:x + self.patch] += 1
        return acc / np.maximum(cnt, 1)

    def overlay(self) -> np.ndarray:
        """The crop, desaturated, under red (raised the score) and blue (lowered it); opacity ∝ |value|."""
        return render_overlay(self.crop, self.pixels())

    def to_dict(self) -> dict:
        return {"method": "occlusion", "patch_px": self.patch, "stride_px": self.stride, "grey": GREY,
                "crop_px": CROP_SIZE, "score": round(self.score, 4), "positions_px": positions(self.patch, self.stride),
                "cells": np.round(self.cells, 4).tolist()}


def occluded_crops(crop: np.ndarray, patch: int = PATCH, stride: int = STRIDE) -> np.ndarray:
    """One copy of the crop per square, with that square painted GREY (row-major order)."""
    ps = positions(patch, stride)
    out = np.repeat(np.asarray(crop, np.uint8)[None], len(ps) ** 2, axis=0)
    k = 0
    for y in ps:
        for x in ps:
            out[k, y:y + patch, x:x + patch] = GREY
            k += 1
    return out


def occlusion_map(crop: np.ndarray, score_fn, patch: int = PATCH, stride: int = STRIDE) -> Heatmap:
    """The occlusion map: `score_fn` (e.g. `Scorer.score_crops`) on the crop and its 36 greyed copies, one batch."""
    crop = np.asarray(crop, np.uint8)
    s = np.asarray(score_fn(np.concatenate([crop[None], occluded_crops(crop, patch, stride)])), np.float64)
    n = len(positions(patch, stride))
    return Heatmap(crop, float(s[0]), (s[0] - s[1:]).reshape(n, n), patch, stride)


def most_important(pixels: np.ndarray, share: float = 0.1) -> np.ndarray:
    """The `share` of the crop whose greying the map says moves the score most.

    Read additively, the map predicts that greying a region moves the score by the sum of its values,
    so the region of a given size with the largest predicted move is the top `share` of the red pixels
    or of the blue ones, whichever sums to more (mixing both would cancel). Ties broken by position.
    """
    flat = pixels.ravel()
    k = int(round(share * flat.size))
    up = np.argsort(-flat, kind="stable")[:k]
    down = np.argsort(flat, kind="stable")[:k]
    idx = up if flat[up].sum() >= -flat[down].sum() else down
    m = np.zeros(flat.size, bool)
    m[idx] = True
    return m.reshape(pixels.shape)


def grey_out(crop: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = np.array(crop, np.uint8, copy=True)
    out[mask] = GREY
    return out


def render_overlay(crop: np.ndarray, pixels: np.ndarray, scale: float | None = None) -> np.ndarray:
    """RGB uint8 overlay; `scale` is the |value| drawn fully opaque (default: this map's largest)."""
    crop = np.asarray(crop, np.float32)
    scale = float(scale or np.abs(pixels).max() or 1.0)
    v = np.clip(pixels / scale, -1, 1)[..., None]
    grey = luma(crop)[..., None] * 255
    base = 0.3 * crop + 0.7 * grey
    red, blue = np.array([225, 35, 30], np.float32), np.array([25, 95, 235], np.float32)
    color = np.where(v > 0, red, blue)
    alpha = 0.75 * np.abs(v) ** 0.8
    return np.clip(base * (1 - alpha) + color * alpha, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- photo descriptors


def luma(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma, 0..1."""
    rgb = np.asarray(rgb, np.float32)
    return (rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114) / 255.0


def describe(rgb: np.ndarray, det: Detection, crop: np.ndarray) -> dict:
    """What a person controls when taking the photo, measured on one face.

    light        mean luma of the face in the scored crop, 0..1
    side_light   (right half − left half of the face) / light; > 0: the photo's right side is brighter
    face_px      eye distance in the photo, px (distance to the camera and its resolution)
    sharpness    std of the Laplacian / std of luma over the face, at the photo's own resolution
                 (never upsampled), so it measures blur, not size
    roll         head tilt: angle of the eye line, degrees (the crop is levelled; the score can still move)
    yaw, pitch   nose tip offset from the eye midpoint along / across the eye line, in eye distances:
                 proxies for a turned or nodding head (keypoints only; not synthesizable, not tipped)
    """
    (x1, y1), (x2, y2) = det.right_eye, det.left_eye
    iod = max(float(np.hypot(x2 - x1, y2 - y1)), 1e-3)
    x0, x1b, y0, y1b = FACE_BOX
    face = luma(crop)[y0:y1b, x0:x1b]
    light = float(face.mean())
    mid = int(round(_EX)) - x0
    side = float((face[:, mid:].mean() - face[:, :mid].mean()) / max(light, 0.02))
    info = {"light": light, "side_light": side, "face_px": iod, "sharpness": _sharpness(rgb, det, crop, iod),
            "roll": float(np.degrees(np.arctan2(y2 - y1, x2 - x1))), "yaw": None, "pitch": None}
    if len(det.keypoints) >= 3:
        u = np.array([x2 - x1, y2 - y1]) / iod
        v = np.array([-u[1], u[0]])
        d = np.asarray(det.keypoints[2]) - np.array([(x1 + x2) / 2, (y1 + y2) / 2])
        info["yaw"], info["pitch"] = float(d @ u / iod), float(d @ v / iod)
    return info


def _sharpness(rgb: np.ndarray, det: Detection, crop: np.ndarray, iod: float) -> float:
    scale = IOD / iod  # crop px per photo px
    if scale > 1:  # a small face: look at it at the photo's own resolution, not the upsampled crop
        size = max(16, int(round(CROP_SIZE / scale)))
        g = luma(cv2.warpAffine(np.asarray(rgb), crop_transform(det) / scale, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_REFLECT_101))
        x0, x1, y0, y1 = (int(round(c / scale)) for c in FACE_BOX)
    else:
        g = luma(crop)
        x0, x1, y0, y1 = FACE_BOX
    g = g[y0:y1, x0:x1]
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=3)
    return float(lap.std() / (g.std() + 0.02))


def main_detection(detector, rgb: np.ndarray, box) -> Detection | None:
    """The detection in `rgb` that best overlaps `box` (a FaceScore's box), or None."""
    from .face import _iou

    dets = detector.detect(rgb)
    if not dets:
        return None
    best = max(dets, key=lambda d: _iou(d.box, box))
    return best if _iou(best.box, box) > 0.3 else None


def photo_face(scorer, result, index: int = 1) -> tuple[Detection | None, dict | None]:
    """(detection, `describe`) of face `index` of a Scorer result (one more detection pass, a few ms);
    (None, None) if the face is not found again."""
    fs = result.faces[index - 1]
    det = main_detection(scorer.detector, result.image, fs.box)
    return (None, None) if det is None else (det, describe(result.image, det, fs.crop))


def photo_info(scorer, result, index: int = 1) -> dict | None:
    """`describe` for face `index` of a Scorer result; None if lost."""
    return photo_face(scorer, result, index)[1]


# ---------------------------------------------------------------- synthetic photo changes


_LIN = np.where(np.arange(256) / 255 <= 0.04045, np.arange(256) / 255 / 12.92,
                ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4).astype(np.float32)


def to_linear(rgb: np.ndarray) -> np.ndarray:
    return _LIN[np.asarray(rgb, np.uint8)]


def to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0, 1)
    s = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    return np.clip(np.rint(s * 255), 0, 255).astype(np.uint8)


def change_photo(rgb: np.ndarray, kind: str, amount: float, center=None, iod: float | None = None) -> np.ndarray:
    """The photo as if taken differently. `center` (x, y) and `iod` (px) locate the face; default: photo centre, w/4.

    exposure  amount = factor on the light (linear RGB): 0.5 is half the light
    side      amount = a: light × exp(a·t), t = (x − face x) / (2 eye distances), clipped to ±1.5;
              a > 0 lights the photo's right side
    roll      amount = degrees, rotating the photo about the face (mirrored borders)
    distance  amount = k < 1: the photo shrunk by k onto a canvas of its own size and mean border colour
    blur      amount = Gaussian sigma in px of the photo
    """
    rgb = np.asarray(rgb, np.uint8)
    h, w = rgb.shape[:2]
    cx, cy = center if center is not None else (w / 2, h / 2)
    iod = iod or w / 4
    if kind == "exposure":
        return to_srgb(to_linear(rgb) * amount)
    if kind == "side":
        t = np.clip((np.arange(w, dtype=np.float32) - cx) / (2 * iod), -1.5, 1.5)
        return to_srgb(to_linear(rgb) * np.exp(amount * t)[None, :, None])
    if kind == "roll":
        m = cv2.getRotationMatrix2D((float(cx), float(cy)), float(amount), 1.0)
        return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if kind == "distance":
        small = cv2.resize(rgb, (max(1, round(w * amount)), max(1, round(h * amount))), interpolation=cv2.INTER_AREA)
        border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).mean(0)
        out = np.empty_like(rgb)
        out[:] = np.rint(border).astype(np.uint8)
        y0, x0 = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        out[y0:y0 + small.shape[0], x0:x0 + small.shape[1]] = small
        return out
    if kind == "blur":
        return cv2.GaussianBlur(rgb, (0, 0), float(amount), borderType=cv2.BORDER_REFLECT_101)
    raise ValueError(f"unknown photo change {kind!r}")


# ---------------------------------------------------------------- tips

@dataclass(frozen=True)
class Factor:
    descriptor: str  # the `describe` key (or "tilt" = |roll|) this condition moves
    side: str  # "low" or "high": which side of the dataset's range the condition lies on
    heading: str  # the tip: what to do
    todo: str  # how
    phrase: str  # "for photos ..."
    condition: str  # the caveat: what is unusual about this photo
    better: str  # "a ... photo would likely score lower"


FACTORS = {
    "darker": Factor("light", "low", "More light on your face",
                     "face a window or a lamp; avoid a bright background behind you", "this dark",
                     "The face is darker than in the dataset's photos", "a better lit"),
    "brighter": Factor("light", "high", "Less light on your face",
                       "step out of direct sun or harsh light, or lower the exposure", "this bright",
                       "The face is brighter than in the dataset's photos", "a less bright"),
    "side_left": Factor("side_light", "low", "Even light from the front",
                        "turn towards the light so both sides of the face are lit alike",
                        "lit this unevenly from the left", "The light comes from one side", "an evenly lit"),
    "side_right": Factor("side_light", "high", "Even light from the front",
                         "turn towards the light so both sides of the face are lit alike",
                         "lit this unevenly from the right", "The light comes from one side", "an evenly lit"),
    "tilt": Factor("tilt", "high", "Hold your head upright", "keep the camera level too", "tilted this much",
                   "The head is tilted more than in the dataset's photos", "an upright"),
    "distance": Factor("face_px", "low", "Come closer (or use a higher resolution)",
                       "fill more of the picture with the face", "with a face this small",
                       "The face is small in the picture (few pixels)", "a closer, more detailed"),
    "blur": Factor("sharpness", "low", "A sharper photo", "hold still, let the camera focus, clean the lens",
                   "this blurry", "The photo is blurrier than the dataset's photos", "a sharper"),
}
# Defaults for a table without calibrated thresholds (photo_effects.json has its own, per kind of line):
MIN_GAIN = 0.1  # score points: smaller measured effects are not worth a line
MIN_SHARE = 0.75  # the effect must have gone the same way in at least this share of the measured photos like this one
MIN_PHOTOS = 20  # measured photos needed in a score band before its numbers are used
SCORE_BINS = (2.25, 2.75, 3.25, 3.75)  # score bands of the effect tables (edges)


def descriptor(info: dict, name: str) -> float | None:
    if name == "tilt":
        return abs(info["roll"])
    return info.get(name)


@functools.lru_cache(maxsize=4)
def load_effects(path: str | Path = EFFECTS_PATH) -> dict:
    return json.loads(Path(path).read_text())


@dataclass
class Tip:
    """What this photo's condition does to the score: `effect` = expected change if it were taken without it.

    kind "tip": undoing the condition raised the scores of such photos (effect > 0): do it.
    kind "caveat": the condition *raised* their scores (effect < 0): the score is flattered by it,
    and a better photo would likely score lower. Never advice to make a photo worse.
    """

    factor: str
    kind: str
    effect: float  # expected score change when the condition is undone, score points
    share: float  # share of the measured photos like this one where the score moved that way
    n: int  # photos measured in that score band
    text: str

    @property
    def gain(self) -> float:
        return self.effect

    def to_dict(self) -> dict:
        return {"factor": self.factor, "kind": self.kind, "effect_if_undone": round(self.effect, 3),
                "share": round(self.share, 2), "photos": self.n, "text": self.text}


def score_band(score: float) -> int:
    return int(np.searchsorted(SCORE_BINS, score, side="right"))


def expected_effect(factor: dict, value: float, score: float) -> tuple[float, float, float, int] | None:
    """(effect, share up, share down, n) of undoing `factor` for a shot with descriptor `value` and `score`.

    None when the descriptor is within the range of the dataset's own photos (p5..p95), or when too few
    photos were measured at this score. The measured levels (descriptor median after the change, mean
    effect of undoing it for photos in the shot's score band) are joined by straight lines, starting from
    (the unchanged photos' median, 0); beyond the strongest level nothing is extrapolated. The shares are
    those of the measured level nearest to the shot.
    """
    if not outside(factor, value):
        return None
    base = factor["baseline"]
    low = factor["side"] == "low"
    band = score_band(score)
    levels = [lv for lv in factor["levels"] if lv["by_score"][band]["n"] >= MIN_PHOTOS]
    if not levels:
        return None
    sign = -1 if low else 1  # work on an axis where "further from the dataset" grows
    levels.sort(key=lambda lv: sign * lv["descriptor_median"])
    xs = [sign * base["p50"]] + [sign * lv["descriptor_median"] for lv in levels]
    if any(b <= a for a, b in zip(xs, xs[1:])):  # the change does not move its descriptor monotonically
        return None
    effect = float(np.interp(sign * value, xs, [0.0] + [lv["by_score"][band]["gain_mean"] for lv in levels]))
    near = min(levels, key=lambda lv: abs(lv["descriptor_median"] - value))["by_score"][band]
    return effect, near["share_up"], near["share_down"], near["n"]


def outside(table: dict, value: float | None) -> bool:
    """The descriptor lies beyond the dataset's own photos (p5..p95) on this factor's side."""
    if value is None:
        return False
    base = table["baseline"]
    return value < base["p5"] if table["side"] == "low" else value > base["p95"]


def findings(info: dict | None, score: float, effects: dict | None = None, tried: dict | None = None) -> list[Tip]:
    """Every condition of this photo with a measured, consistent effect: tips first, largest effect first.

    A factor with a calibrated per-photo check (`thresholds["simulated"]`) speaks only from `tried`
    (`try_fixes`: this photo's own score with the condition undone by software); the others from the
    table of effects on photos like this one.
    """
    if info is None:
        return []
    effects = effects or load_effects()
    thresholds = effects.get("thresholds", {})  # per kind, calibrated by the measuring tool; None: never shown
    simulated = thresholds.get("simulated") or {}
    tried = tried or {}
    lo, hi = _band_edges(score)
    out = []
    for name, table in effects["factors"].items():
        f = FACTORS.get(name)
        if f is None:
            continue
        if simulated.get(name) is not None:
            t = _tried_line(name, f, simulated[name], tried.get(name))
            if t is not None:
                out.append(t)
            continue
        value = descriptor(info, table["descriptor"])
        e = None if value is None else expected_effect(table, value, score)
        if e is None:
            continue
        effect, up, down, n = e
        kind = "tip" if effect > 0 else "caveat"
        th = thresholds.get(kind, {"min_gain": MIN_GAIN, "min_share": MIN_SHARE})
        if th is None or abs(effect) < th["min_gain"] or (up if kind == "tip" else down) < th["min_share"]:
            continue
        if kind == "tip":
            text = (f"**{f.heading}**: +{effect:.2f} on average for photos {f.phrase} scoring {lo}–{hi} "
                    f"({f.todo}). Measured on {n} such SCUT-FBP5500 test photos; undoing the change raised "
                    f"the score in {up:.0%} of them.")
            out.append(Tip(name, "tip", effect, up, n, text))
        else:
            text = (f"**{f.condition}**, and this model scores such photos higher: for photos like this one "
                    f"scoring {lo}–{hi}, {f.better} photo scored {-effect:.2f} lower on average (lower for "
                    f"{down:.0%} of {n} SCUT-FBP5500 test photos changed this way). It flatters the score; "
                    f"a flaw of the model, not advice.")
            out.append(Tip(name, "caveat", effect, down, n, text))
    out.sort(key=lambda t: (t.kind != "tip", -abs(t.effect)))
    seen, unique = set(), []
    for t in out:  # one line per kind of advice (light from the left or from the right is the same advice)
        key = (t.kind, FACTORS[t.factor].heading)
        if key not in seen:
            seen.add(key)
            unique.append(t)
    return unique


def _tried_line(name: str, f: Factor, th: dict, delta: float | None) -> Tip | None:
    """The line for a condition undone by software on this very photo (`try_fixes`), if the change is big
    enough to have called the direction right in calibration."""
    if delta is None or abs(delta) < th["min_delta"]:
        return None
    how, made = SIMULATION[name]
    checked = (f"On {th['lines']} SCUT-FBP5500 test photos {made} on purpose, this check called the way the "
               f"real photo's score moved right {th['precision']:.0%} of the time.")
    if delta > 0:
        text = f"**{f.heading}** ({f.todo}): {how}, this photo scores +{delta:.2f}. {checked}"
        return Tip(name, "tip", delta, th["precision"], th["lines"], text)
    text = (f"**{f.condition}**, and this model scores it higher for that: {how}, this photo scores "
            f"{-delta:.2f} lower. It flatters the score; a flaw of the model, not advice. {checked}")
    return Tip(name, "caveat", delta, th["precision"], th["lines"], text)


def tips(info: dict | None, score: float, effects: dict | None = None, limit: int = 3,
         tried: dict | None = None) -> list[Tip]:
    """The 1–3 photo changes with the largest expected gain for this shot (none when nothing stands out)."""
    return [t for t in findings(info, score, effects, tried) if t.kind == "tip"][:limit]


def caveats(info: dict | None, score: float, effects: dict | None = None, limit: int = 2,
            tried: dict | None = None) -> list[Tip]:
    """Conditions of this photo that raise this model's score (measured), largest first."""
    return [t for t in findings(info, score, effects, tried) if t.kind == "caveat"][:limit]


# ---------------------------------------------------------------- undoing a condition on the photo itself

# how each condition is undone by software (`fix_photo`), and how the calibration photos were given it
SIMULATION = {
    "darker": ("brightened by software to the dataset's typical light", "darkened"),
    "brighter": ("darkened by software to the dataset's typical light", "brightened"),
    "side_left": ("with the light evened out across the face by software", "lit from one side"),
    "side_right": ("with the light evened out across the face by software", "lit from one side"),
    "tilt": ("turned upright by software", "tilted"),
}


def exposure_fix(light: float, target: float) -> float:
    """Exposure factor that brings the face's mean luma to `target` (in linear light, as a camera would)."""
    lut = lambda v: float(to_linear(np.array([int(np.clip(round(v * 255), 1, 255))]))[0])  # noqa: E731
    return float(np.clip(lut(target) / lut(light), 0.2, 6.0))


def side_fix(side: float, effects: dict) -> float:
    """The side-light strength that cancels the measured imbalance (from the table: descriptor vs strength)."""
    pts = [(0.0, effects["factors"]["side_left"]["baseline"]["p50"])]
    for f in ("side_left", "side_right"):
        for row in effects["factors"][f]["levels"]:
            pts.append((row["amount"], row["descriptor_median"]))
    pts.sort(key=lambda p: p[1])
    return -float(np.interp(side, [p[1] for p in pts], [p[0] for p in pts]))


def eye_centre(det: Detection) -> tuple[float, float]:
    (x1, y1), (x2, y2) = det.right_eye, det.left_eye
    return (x1 + x2) / 2, (y1 + y2) / 2


def fix_photo(rgb: np.ndarray, name: str, det: Detection, info: dict, effects: dict) -> np.ndarray:
    """The photo with condition `name` undone by software, by the amount its descriptor calls for."""
    centre, iod = eye_centre(det), info["face_px"]
    if name in ("darker", "brighter"):
        target = effects["factors"]["darker"]["baseline"]["p50"]
        return change_photo(rgb, "exposure", exposure_fix(info["light"], target), centre, iod)
    if name in ("side_left", "side_right"):
        return change_photo(rgb, "side", side_fix(info["side_light"], effects), centre, iod)
    if name == "tilt":
        return change_photo(rgb, "roll", info["roll"], centre, iod)
    raise ValueError(f"{name!r} cannot be undone by software")


def fixable(info: dict | None, effects: dict, calibrated: bool = True) -> list[str]:
    """Conditions of this photo beyond the dataset's range that software can undo (with `calibrated`: only
    those whose per-photo check passed calibration, the only ones the page uses)."""
    if info is None:
        return []
    simulated = effects.get("thresholds", {}).get("simulated") or {}
    return [name for name in SIMULATION
            if (not calibrated or simulated.get(name) is not None)
            and outside(effects["factors"][name], descriptor(info, effects["factors"][name]["descriptor"]))]


def try_fixes(scorer, rgb: np.ndarray, det: Detection, crop: np.ndarray, info: dict | None,
              effects: dict | None = None, names: list[str] | None = None) -> dict[str, float]:
    """Per condition in `names` (default: `fixable`), score(photo with it undone) − score(photo), through the
    app's own path: find the face again, align, crop, score with the scorer's runtime and TTA. A condition
    whose fixed photo loses the face is left out. No model call when the photo has nothing to undo."""
    from .face import _iou, crop_face

    effects = effects or load_effects()
    names = fixable(info, effects) if names is None else names
    if not names:
        return {}
    kept, crops = [], [np.asarray(crop, np.uint8)]
    for name in names:
        fixed = fix_photo(rgb, name, det, info, effects)
        dets = scorer.detector.detect(fixed)
        best = max(dets, key=lambda d: _iou(d.box, det.box), default=None)
        if best is None or _iou(best.box, det.box) <= 0.3:
            continue
        kept.append(name)
        crops.append(crop_face(fixed, best, scorer.detector))
    if not kept:
        return {}
    s = np.asarray(scorer.score_crops(np.stack(crops)), np.float64)
    return {name: float(v - s[0]) for name, v in zip(kept, s[1:])}


def _band_edges(score: float) -> tuple[str, str]:
    edges = [1.0, *SCORE_BINS, 5.0]
    b = score_band(score)
    return f"{edges[b]:g}", f"{edges[b + 1]:g}"


def pose_note(info: dict | None, effects: dict | None = None) -> str | None:
    """A sentence when the head is turned or nodding beyond the dataset's photos (no measured size: not a tip)."""
    if info is None or info.get("yaw") is None:
        return None
    effects = effects or load_effects()
    ranges = effects.get("pose_ranges", {})
    off = []
    for key, word in (("yaw", "turned sideways"), ("pitch", "tipped up or down")):
        r = ranges.get(key)
        if r and not r["p1"] <= info[key] <= r["p99"]:
            off.append(word)
    if not off:
        return None
    return (f"Your head looks {' and '.join(off)} compared with the dataset's photos, which are all frontal. "
            "The model has seen few such photos, so its score is less reliable; how much facing the camera would "
            "change it could not be measured (a turned head cannot be made synthetically from a frontal photo).")


# ---------------------------------------------------------------- between shots


def compare(best: dict | None, latest: dict | None, lead: str = "Compared with this shot, your best one had") -> str:
    """One line on how `best`'s photo differed from `latest`'s (light, pose, size, sharpness), largest first."""
    if not best or not latest:
        return ""
    diffs = []  # (size in thresholds, words)
    dl = best["light"] - latest["light"]
    if abs(dl) >= 0.05:
        diffs.append((abs(dl) / 0.05, f"{'more' if dl > 0 else 'less'} light on the face "
                                       f"({best['light']:.2f} vs {latest['light']:.2f})"))
    ds = abs(best["side_light"]) - abs(latest["side_light"])
    if abs(ds) >= 0.1:
        diffs.append((abs(ds) / 0.1, f"{'more even' if ds < 0 else 'less even'} light across the face "
                                     f"(imbalance {abs(best['side_light']):.2f} vs {abs(latest['side_light']):.2f})"))
    r = best["face_px"] / max(latest["face_px"], 1e-3)
    if not 1 / 1.2 < r < 1.2:
        diffs.append((abs(np.log(r)) / np.log(1.2), f"a {'larger' if r > 1 else 'smaller'} face "
                                                    f"({best['face_px']:.0f} vs {latest['face_px']:.0f} px between the eyes)"))
    r = best["sharpness"] / max(latest["sharpness"], 1e-6)
    if not 1 / 1.25 < r < 1.25:
        diffs.append((abs(np.log(r)) / np.log(1.25), f"a {'sharper' if r > 1 else 'blurrier'} photo "
                                                     f"(sharpness {best['sharpness']:.2f} vs {latest['sharpness']:.2f})"))
    dt = abs(best["roll"]) - abs(latest["roll"])
    if abs(dt) >= 4:
        diffs.append((abs(dt) / 4, f"the head {'more upright' if dt < 0 else 'more tilted'} "
                                   f"({abs(best['roll']):.0f}° vs {abs(latest['roll']):.0f}°)"))
    for key, word in (("yaw", "turned sideways"), ("pitch", "tipped up or down")):
        if best.get(key) is not None and latest.get(key) is not None:
            d = abs(best[key]) - abs(latest[key]) if key == "yaw" else best[key] - latest[key]
            if abs(d) >= 0.08:
                more = "more" if (d > 0) else "less"
                diffs.append((abs(d) / 0.08, f"the head {more} {word} ({key} {best[key]:+.2f} vs {latest[key]:+.2f})"))
    if not diffs:
        return (f"{lead} about the same light, pose, face size and sharpness: the difference lies elsewhere "
                "(expression, the moment).")
    diffs.sort(key=lambda d: d[0], reverse=True)
    return f"{lead} " + ", ".join(t for _, t in diffs[:3]) + "."


# ---------------------------------------------------------------- everything for one photo


@dataclass
class Explanation:
    index: int  # the face explained (1 = largest)
    n_faces: int
    heatmap: Heatmap  # heatmap.score is the face's score, from the same batch as the greyed crops
    info: dict | None  # `describe` of the photo, None when the face could not be found again
    tips: list[Tip] = field(default_factory=list)
    caveats: list[Tip] = field(default_factory=list)
    note: str | None = None

    @property
    def score(self) -> float:
        return self.heatmap.score

    def to_dict(self) -> dict:
        info = None if self.info is None else {k: (None if v is None else round(v, 4)) for k, v in self.info.items()}
        return {"face": self.index, "faces": self.n_faces, "score": round(self.score, 4),
                "heatmap": self.heatmap.to_dict(), "photo": info, "tips": [t.to_dict() for t in self.tips],
                "caveats": [t.to_dict() for t in self.caveats], "note": self.note}

    def markdown(self) -> str:
        cells = self.heatmap.cells
        lines = [f"**Why {self.score:.2f}?** Red areas raised the score, blue areas lowered it: each 70-px "
                 f"square of the scored face was greyed out in turn and the face scored again. Strongest: "
                 f"{cells.max():+.2f} (red) and {cells.min():+.2f} (blue) score points.", ""]
        if self.tips:
            lines.append("**For a better photo** (changes of the photo, not of the face):")
            lines += [f"{i}. {t.text}" for i, t in enumerate(self.tips, 1)]
        else:
            lines.append("**Photo tips:** none for this photo. When the light on the face or the head's tilt is "
                         "outside the range of the dataset's photos, the page undoes it in software and scores "
                         "the photo again; face size and sharpness it cannot check reliably (see About).")
        if self.caveats:
            lines += ["", "**What flatters this score:**"]
            lines += [f"- {t.text}" for t in self.caveats]
        if self.note:
            lines += ["", self.note]
        return "\n".join(lines)


def explain_face(scorer, crop: np.ndarray, info: dict | None, index: int = 1, n_faces: int = 1,
                 effects: dict | None = None, tried: dict | None = None) -> Explanation:
    """Map and tips for one scored crop (`info`: `describe` of its photo, or None; `tried`: `try_fixes`)."""
    heatmap = occlusion_map(crop, scorer.score_crops)
    try:
        effects = effects or load_effects()
    except OSError:  # a checkout without the measured table: the map still works
        log.warning("no photo-effects table at %s: no photo tips", EFFECTS_PATH)
        return Explanation(index, n_faces, heatmap, info)
    found = findings(info, heatmap.score, effects, tried)
    return Explanation(index, n_faces, heatmap, info, [t for t in found if t.kind == "tip"][:3],
                       [t for t in found if t.kind == "caveat"][:2], pose_note(info, effects))


def explain(scorer, src, index: int = 1) -> Explanation:
    """Score `src` like `Scorer.score`, then map face `index` and list photo tips. Raises BeautyError like scoring."""
    return explain_result(scorer, scorer.score(src), index)


def explain_result(scorer, result, index: int = 1) -> Explanation:
    """`explain` for a `Scorer.score` result."""
    index = min(max(1, index), len(result.faces))
    crop = result.faces[index - 1].crop
    det, info = photo_face(scorer, result, index)
    tried = {} if det is None else try_fixes(scorer, result.image, det, crop, info)
    return explain_face(scorer, crop, info, index, len(result.faces), tried=tried)
