"""Decoding: EXIF orientation gives the upright pixels for all 8 values, big JPEGs are decoded at reduced scale.

The stored (sideways, mirrored) pixels are made here with plain numpy from the EXIF definition of each
value, not with beauty.image's table, and the result is compared pixel for pixel with the upright photo.
A wrong transform cannot hide behind the score: a mirrored face scores the same under flip TTA.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from beauty.image import MAX_SIDE, load_image
from tests.support.paths import ROOT

# EXIF orientation -> how the camera stored an upright picture `a` (rows, columns): the inverse of what a
# viewer does to show it. 2: mirrored; 3: upside down; 4: flipped vertically; 5: transposed; 6: the
# viewer turns it 90° clockwise, so it was stored turned 90° anticlockwise; 7: transverse; 8: the viewer
# turns it 90° anticlockwise.
STORED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1, :],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, 1),
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, -1),
}


@pytest.fixture(scope="module")
def upright() -> np.ndarray:
    """A non-square picture with nothing symmetric about it: the astronaut's top 384 rows, with a marker."""
    from skimage import data

    im = Image.fromarray(data.astronaut()[:384])
    ImageDraw.Draw(im).rectangle([20, 30, 90, 60], fill=(255, 0, 0))  # top left: any flip or turn moves it
    return np.asarray(im)


def with_exif(stored: np.ndarray, orientation: int, fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(stored)).save(buf, fmt, exif=exif.tobytes(),
                                                       **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_png_gives_the_upright_pixels_exactly(upright, orientation):
    data = with_exif(STORED[orientation](upright), orientation, "PNG")
    assert Image.open(io.BytesIO(data)).getexif()[0x0112] == orientation
    out = load_image(data)
    assert out.shape == upright.shape
    np.testing.assert_array_equal(out, upright)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_jpeg_matches_the_upright_photo_and_pillow(upright, orientation):
    """Phones write JPEG: lossy, so compared with the upright photo within JPEG noise (measured mean 2.0;
    any wrong orientation differs by 83), and exactly with Pillow's own exif_transpose."""
    data = with_exif(STORED[orientation](upright), orientation, "JPEG")
    out = load_image(data)
    assert out.shape == upright.shape
    assert np.abs(out.astype(int) - upright).mean() < 5
    np.testing.assert_array_equal(out, np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB")))


def test_out_of_range_or_broken_orientation_is_ignored(upright):
    for value in (0, 9, 65535):
        np.testing.assert_array_equal(load_image(with_exif(upright, value, "PNG")), upright)


def test_orientation_of_a_pil_image_is_applied_too(upright):
    with Image.open(io.BytesIO(with_exif(STORED[6](upright), 6, "PNG"))) as im:
        np.testing.assert_array_equal(load_image(im), upright)


def test_transparent_pixels_become_white_not_black():
    """A cut-out portrait (transparent background) is flattened on white, as a viewer shows it."""
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[:, :32] = (200, 0, 0, 0)  # transparent (its colour must not show)
    rgba[:, 32:] = (0, 0, 200, 255)  # opaque blue
    half = rgba.copy()
    half[:, :32, 3] = 128  # half-transparent red over white: (255+200)/2, 255/2, 255/2
    for src in (rgba, half):
        buf = io.BytesIO()
        Image.fromarray(src, "RGBA").save(buf, "PNG")
        out = load_image(buf.getvalue())
        np.testing.assert_array_equal(out[:, 32:], np.broadcast_to([0, 0, 200], (64, 32, 3)))
        want = [255, 255, 255] if src is rgba else [228, 127, 127]
        assert np.abs(out[:, :32].astype(int) - want).max() <= 1, out[0, 0]


# ---------------------------------------------------------------- reduced-scale JPEG decoding

# Peak resident memory of this process image (VmHWM; not getrusage's ru_maxrss, which a child inherits from
# the pytest process that forked it), before and after one decode.
PEAK_PROBE = """
import sys
from beauty.image import load_image

def peak_kb():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])

data = open(sys.argv[1], "rb").read()
before = peak_kb()
out = load_image(data)
print(out.shape[0], out.shape[1], (peak_kb() - before) // 1024)
"""


def test_big_jpeg_is_decoded_at_reduced_scale(tmp_path):
    """A 48 MP JPEG (8000×6000): libjpeg decodes it at 1/2 scale, so the decoder's peak memory stays well
    under the 137 MiB the full-size pixels alone would take. Measured in a fresh process: +84 MiB with the
    reduced decode, +233 MiB without."""
    im = Image.new("RGB", (8000, 6000), (150, 120, 100))
    ImageDraw.Draw(im).ellipse([2000, 1000, 6000, 5000], fill=(220, 180, 160))
    path = tmp_path / "48mp.jpg"
    im.save(path, quality=80)
    del im
    out = subprocess.run([sys.executable, "-c", PEAK_PROBE, str(path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    h, w, peak_mb = map(int, out.stdout.split())
    assert (w, h) == (MAX_SIDE, MAX_SIDE * 3 // 4)
    assert peak_mb < 8000 * 6000 * 3 / 2**20, f"decoding took +{peak_mb} MiB: the JPEG was decoded at full size"
