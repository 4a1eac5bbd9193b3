"""Realistic capture changes, applied to the whole photo before the app's pipeline.

How far does the score move when the same face is photographed a little
differently? `nuisance_table` applies each change in `NUISANCES` to every photo,
scores it through `Scorer.score` (detection, alignment, crop, flip TTA) and
reports the mean and SD of (changed - original). Used by
`python -m beauty.training.evaluate --nuisance`.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image


def _jpeg(q):
    def f(rgb, rng, face_w):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=q)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return f


def _gain(r, g, b):
    def f(rgb, rng, face_w):
        return np.clip(rgb.astype(np.float32) * np.array([r, g, b], np.float32), 0, 255).astype(np.uint8)
    return f


def _blur(rgb, rng, face_w):
    return cv2.GaussianBlur(rgb, (0, 0), 1.5)


def _sharpen(rgb, rng, face_w):
    soft = cv2.GaussianBlur(rgb, (0, 0), 2.0).astype(np.float32)
    return np.clip(rgb + 1.0 * (rgb - soft), 0, 255).astype(np.uint8)


def _noise(rgb, rng, face_w):
    # sensor-like: signal-dependent shot noise plus read noise, per channel
    x = rgb.astype(np.float32)
    sd = np.sqrt(4.0**2 + 0.5 * x)
    return np.clip(x + rng.normal(0, 1, x.shape) * sd, 0, 255).astype(np.uint8)


def _small_face(rgb, rng, face_w, target=100):
    h, w = rgb.shape[:2]
    f = min(1.0, target / face_w)
    small = cv2.resize(rgb, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _roll(deg):
    def f(rgb, rng, face_w):
        h, w = rgb.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
        return cv2.warpAffine(rgb, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return f


def _shift(dx, dy, keep=0.9):
    """Crop a window of `keep` of each side, pushed towards one corner (the face moves in the frame)."""
    def f(rgb, rng, face_w):
        h, w = rgb.shape[:2]
        ch, cw = round(h * keep), round(w * keep)
        y0 = (h - ch) * (1 + dy) // 2
        x0 = (w - cw) * (1 + dx) // 2
        return np.ascontiguousarray(rgb[y0:y0 + ch, x0:x0 + cw])
    return f


NUISANCES = {
    "jpeg q30": _jpeg(30), "jpeg q50": _jpeg(50), "jpeg q70": _jpeg(70), "jpeg q95": _jpeg(95),
    "brightness +30%": _gain(1.3, 1.3, 1.3), "brightness -30%": _gain(0.7, 0.7, 0.7),
    "warm (R+10%, B-10%)": _gain(1.1, 1.0, 0.9), "cool (R-10%, B+10%)": _gain(0.9, 1.0, 1.1),
    "gaussian blur sigma 1.5": _blur, "unsharp mask (sigma 2, amount 1)": _sharpen,
    "sensor noise (read 4 + shot)": _noise, "face ~100 px wide, back up": _small_face,
    "roll +10 deg": _roll(10), "roll -10 deg": _roll(-10),
    "crop shift up-left 5%": _shift(-1, -1), "crop shift down-right 5%": _shift(1, 1),
}


def random_capture(rgb: np.ndarray, rng: np.random.Generator, face_w: float, p: float = 0.35) -> np.ndarray:
    """The same kinds of change as `NUISANCES`, each with probability `p` and a random strength, in the
    order a camera makes them (light and white balance, distance, focus, sensor noise, JPEG): training
    augmentation that teaches the model to follow the face, not the camera. The strengths are drawn
    from ranges around the measured ones, never fixed at them."""
    if rng.random() < p:  # exposure and white balance
        g, t = rng.uniform(0.65, 1.35), rng.uniform(-0.12, 0.12)
        rgb = _gain(g * (1 + t), g, g * (1 - t))(rgb, rng, face_w)
    if rng.random() < p:  # further away: fewer pixels on the face
        rgb = _small_face(rgb, rng, face_w, target=rng.uniform(60, 160))
    if rng.random() < p:  # out of focus, or a phone's sharpening
        if rng.random() < 0.5:
            rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.5, 2.0))
        else:
            soft = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(1.0, 3.0)).astype(np.float32)
            rgb = np.clip(rgb + rng.uniform(0.3, 1.5) * (rgb - soft), 0, 255).astype(np.uint8)
    if rng.random() < p:  # sensor noise: read noise plus shot noise
        x = rgb.astype(np.float32)
        sd = np.sqrt(rng.uniform(1.0, 8.0) ** 2 + rng.uniform(0.1, 1.0) * x)
        rgb = np.clip(x + rng.standard_normal(x.shape, np.float32) * sd, 0, 255).astype(np.uint8)
    if rng.random() < p:
        rgb = _jpeg(int(rng.integers(25, 96)))(rgb, rng, face_w)
    return rgb


def nuisance_table(scorer, photos, seed: int = 0) -> dict:
    """{change: n, lost, lost_why, mean, sd, p95_abs, width} of (score after the change - score of the untouched
    photo); `lost`: photos not scored after the change (`lost_why`: by error class);
    `width`: mean change of the calibrated range's width (None without a calibration).

    Every photo (path) goes through `scorer.score` (the app's detection, crop and flip TTA) as it is
    and after each change.
    """
    from ..errors import BeautyError
    from ..image import load_image

    def width(fs):
        return None if fs.low is None else fs.high - fs.low

    base, rgbs = [], []
    for p in photos:
        rgb = load_image(p)
        base.append(scorer.score(rgb).main)
        rgbs.append(rgb)
    out = {}
    for name, fn in NUISANCES.items():
        rng = np.random.default_rng(seed)
        d, dw, lost = [], [], {}
        for rgb, b in zip(rgbs, base):
            try:
                fs = scorer.score(fn(rgb, rng, b.box[2] - b.box[0])).main
            except BeautyError as e:  # not scored after the change (no face, refused): counted by reason
                lost[type(e).__name__] = lost.get(type(e).__name__, 0) + 1
                continue
            d.append(fs.score - b.score)
            if width(fs) is not None and width(b) is not None:
                dw.append(width(fs) - width(b))
        d = np.array(d)
        out[name] = {"n": len(d), "lost": sum(lost.values()), "lost_why": lost, "mean": float(d.mean()),
                     "sd": float(d.std(ddof=1)), "p95_abs": float(np.percentile(np.abs(d), 95)),
                     "width": float(np.mean(dw)) if dw else None}
    return out


def format_table(table: dict) -> str:
    lines = [f"{'change (whole photo, before the pipeline)':42s} {'n':>4s} {'lost':>4s} {'mean':>7s} {'SD':>6s} "
             f"{'p95|d|':>6s} {'width':>6s}"]
    for k, v in table.items():
        w = f"{v['width']:+6.3f}" if v["width"] is not None else f"{'-':>6s}"
        lines.append(f"{k:42s} {v['n']:4d} {v['lost']:4d} {v['mean']:+7.3f} {v['sd']:6.3f} {v['p95_abs']:6.3f} {w}")
    return "\n".join(lines)
