"""Pictures that are not a person's face, built offline: a cat photo in several framings, drawn faces.

The face detector fires on some of them (the cat at confidence ~0.5, drawn faces up to ~0.8);
the app must refuse every one rather than rate it. Used by tests/test_face.py and to measure the
refusal rule (README "Reliability"). Statues and dogs are not covered: no such photo is available
offline.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image, ImageDraw

from .hostile import cartoon_face


def _on_canvas(rgb: np.ndarray, scale: float, color=(200, 200, 200)) -> np.ndarray:
    h, w = rgb.shape[:2]
    canvas = np.full((int(h * scale), int(w * scale), 3), color, np.uint8)
    y, x = (canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2
    canvas[y:y + h, x:x + w] = rgb
    return canvas


def _rotate(rgb: np.ndarray, deg: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(rgb, m, (w, h), borderMode=cv2.BORDER_REPLICATE)


def cat_photos() -> dict[str, np.ndarray]:
    """scikit-image's `chelsea` (a tabby cat) as uploaded, mirrored, cropped, small on a canvas and tilted."""
    from skimage import data

    cat = data.chelsea()
    h, w = cat.shape[:2]
    return {
        "cat": cat,
        "cat_mirrored": np.ascontiguousarray(cat[:, ::-1]),
        "cat_head": np.ascontiguousarray(cat[: int(h * 0.9), int(w * 0.1): int(w * 0.75)]),
        "cat_big": cv2.resize(cat, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC),
        "cat_small": _on_canvas(cat, 1.8),
        "cat_tilted": _rotate(cat, 12),
        "cat_tilted_other": _rotate(cat, -12),
    }


def _smiley(size: int = 512, fill=(255, 210, 40)) -> np.ndarray:
    im = Image.new("RGB", (size, size), (245, 245, 250))
    d = ImageDraw.Draw(im)
    s = size / 512
    d.ellipse([96 * s, 96 * s, 416 * s, 416 * s], fill=fill, outline=(60, 40, 0), width=int(6 * s))
    for x in (200, 312):
        d.ellipse([(x - 18) * s, 190 * s, (x + 18) * s, 250 * s], fill=(40, 30, 20))
    d.arc([176 * s, 230 * s, 336 * s, 350 * s], 20, 160, fill=(40, 30, 20), width=int(10 * s))
    return np.asarray(im)


def _line_face(size: int = 512) -> np.ndarray:
    """Black outlines on white: a face drawn with a pen."""
    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    s = size / 512
    d.ellipse([136 * s, 80 * s, 376 * s, 420 * s], outline="black", width=int(5 * s))
    for x in (206, 306):
        d.ellipse([(x - 26) * s, 200 * s, (x + 26) * s, 230 * s], outline="black", width=int(4 * s))
        d.ellipse([(x - 8) * s, 206 * s, (x + 8) * s, 224 * s], fill="black")
        d.arc([(x - 34) * s, 170 * s, (x + 34) * s, 200 * s], 200, 340, fill="black", width=int(4 * s))
    d.line([256 * s, 235 * s, 242 * s, 300 * s, 262 * s, 304 * s], fill="black", width=int(4 * s))
    d.arc([206 * s, 320 * s, 306 * s, 370 * s], 15, 165, fill="black", width=int(5 * s))
    return np.asarray(im)


def _cat_drawing(size: int = 512) -> np.ndarray:
    im = Image.new("RGB", (size, size), (235, 240, 245))
    d = ImageDraw.Draw(im)
    s = size / 512
    d.polygon([(140 * s, 200 * s), (170 * s, 70 * s), (240 * s, 160 * s)], fill=(200, 130, 60))
    d.polygon([(372 * s, 200 * s), (342 * s, 70 * s), (272 * s, 160 * s)], fill=(200, 130, 60))
    d.ellipse([120 * s, 130 * s, 392 * s, 400 * s], fill=(215, 145, 70), outline=(90, 50, 20), width=int(5 * s))
    for x in (205, 307):
        d.ellipse([(x - 24) * s, 210 * s, (x + 24) * s, 250 * s], fill=(120, 200, 60))
        d.ellipse([(x - 5) * s, 212 * s, (x + 5) * s, 248 * s], fill="black")
    d.polygon([(240 * s, 285 * s), (272 * s, 285 * s), (256 * s, 305 * s)], fill=(230, 120, 140))
    for dy in (-12, 0, 12):
        d.line([110 * s, (300 + dy) * s, 220 * s, 305 * s], fill=(60, 40, 20), width=int(3 * s))
        d.line([402 * s, (300 + dy) * s, 292 * s, 305 * s], fill=(60, 40, 20), width=int(3 * s))
    return np.asarray(im)


def drawings() -> dict[str, np.ndarray]:
    """Drawn faces: the hostile corpus's cartoon in three colourings and sizes, a smiley, a pen drawing, a cat."""
    cartoon = cartoon_face()
    return {
        "cartoon": cartoon,
        "cartoon_small": _on_canvas(cartoon_face(256), 2.5, (250, 245, 235)),
        "cartoon_grey": np.repeat(cv2.cvtColor(cartoon, cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2),
        "cartoon_blue": np.ascontiguousarray(cartoon[..., ::-1]),
        "smiley": _smiley(),
        "smiley_red": _smiley(fill=(230, 90, 80)),
        "pen_drawing": _line_face(),
        "cat_drawing": _cat_drawing(),
    }


def all_pictures() -> dict[str, np.ndarray]:
    return {**cat_photos(), **drawings()}
