"""Write a Y4M clip (what Chromium's --use-file-for-fake-video-capture plays as a webcam).

Y4M is a text header ("YUV4MPEG2 W.. H.. F30:1 Ip A1:1 C420jpeg") then, per
frame, "FRAME\\n" and the raw planar Y, U, V planes (4:2:0: chroma at half
resolution), BT.601 full-range ("jpeg") as Chromium expects.

    python -m tests.support.fake_video photo.jpg out.y4m [--size 640x480] [--frames 30]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image


def rgb_to_yuv420(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full-range BT.601 planes; width and height must be even."""
    x = rgb.astype(np.float32)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128
    h, w = y.shape
    sub = lambda c: c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))  # noqa: E731 - 2×2 average
    to8 = lambda c: np.clip(np.round(c), 0, 255).astype(np.uint8)  # noqa: E731
    return to8(y), to8(sub(u)), to8(sub(v))


def fit_on_canvas(rgb: np.ndarray, size: tuple[int, int], background=(90, 90, 90)) -> np.ndarray:
    """The image scaled to fit inside size=(w, h), centred on a plain background."""
    w, h = size
    im = Image.fromarray(rgb)
    im.thumbnail((w, h), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (w, h), background)
    canvas.paste(im, ((w - im.width) // 2, (h - im.height) // 2))
    return np.asarray(canvas)


def write_y4m(path: str | Path, frames, fps: int = 30) -> Path:
    """Write RGB frames (all the same even size) as a 4:2:0 Y4M file."""
    frames = list(frames)
    h, w = frames[0].shape[:2]
    assert w % 2 == 0 and h % 2 == 0, "Y4M 4:2:0 needs even width and height"
    path = Path(path)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            f.write(b"FRAME\n")
            for plane in rgb_to_yuv420(rgb):
                f.write(plane.tobytes())
    return path


def fake_webcam_clip(rgb: np.ndarray, path: str | Path, size=(640, 480), frames: int = 30) -> Path:
    """A still photo as a short webcam clip (Chromium loops it)."""
    frame = fit_on_canvas(rgb, size)
    return write_y4m(path, [frame] * frames)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo")
    ap.add_argument("out")
    ap.add_argument("--size", default="640x480")
    ap.add_argument("--frames", type=int, default=30)
    a = ap.parse_args()
    w, h = map(int, a.size.lower().split("x"))
    rgb = np.asarray(Image.open(a.photo).convert("RGB"))
    print(fake_webcam_clip(rgb, a.out, (w, h), a.frames))
