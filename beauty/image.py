"""Decode whatever the user gives us into an RGB uint8 array, or say clearly why not."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

MAX_PIXELS = 40_000_000  # larger declared sizes are refused as decompression bombs
MAX_SIDE = 2048  # longer sides are downscaled before detection; faces stay far above detector size


def load_image(src) -> np.ndarray:
    """Return an HxWx3 uint8 RGB array from a path, bytes, file object, PIL image or array."""
    if isinstance(src, np.ndarray):
        return _from_array(src)
    if isinstance(src, Image.Image):
        return _to_rgb_array(src)
    if isinstance(src, (str, os.PathLike)):
        try:
            data = Path(src).read_bytes()
        except OSError as e:
            raise ImageError(f"Could not read the file {Path(src).name!r}: {e.strerror or e}.") from None
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif hasattr(src, "read"):
        data = src.read()
    else:
        raise ImageError(f"Unsupported input type {type(src).__name__}; give a photo file.")
    return decode_bytes(data)


def decode_bytes(data: bytes) -> np.ndarray:
    if not data:
        raise ImageError("The file is empty. Please upload a photo (JPEG, PNG or WebP).")
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            if w * h > MAX_PIXELS:
                raise ImageError(
                    f"The image is too large ({w}×{h} pixels). Please upload a photo under {MAX_PIXELS // 1_000_000} megapixels."
                )
            im.load()
            return _to_rgb_array(im)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError("The image declares an absurd size and was refused. Please upload a normal photo.") from None
    except UnidentifiedImageError:
        raise ImageError("This file is not an image we can read. Please upload a photo (JPEG, PNG or WebP).") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"The image file is damaged or truncated ({e}). Please upload another photo.") from None


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    """Apply EXIF orientation, flatten transparency onto white, convert any mode to RGB, cap size."""
    im = ImageOps.exif_transpose(im)
    if getattr(im, "n_frames", 1) > 1:
        im.seek(0)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        a = a * (255.0 / max(a.max(), 1.0)) if a.max() > 255 else a
        im = Image.fromarray(a.clip(0, 255).astype(np.uint8))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    im = im.convert("RGB")
    if max(im.size) > MAX_SIDE:
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    a = np.asarray(im, dtype=np.uint8)
    if min(a.shape[:2]) < 16:
        raise ImageError(f"The image is tiny ({a.shape[1]}×{a.shape[0]} pixels). Please upload a photo where the face is visible.")
    return np.ascontiguousarray(a)


def _from_array(a: np.ndarray) -> np.ndarray:
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4):
        raise ImageError(f"Unsupported array shape {a.shape}; expected HxW, HxWx3 or HxWx4.")
    if a.dtype != np.uint8:
        a = np.clip(a * 255 if a.dtype.kind == "f" and a.max() <= 1.0 else a, 0, 255).astype(np.uint8)
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    return _to_rgb_array(Image.fromarray(a))
