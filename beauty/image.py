"""Decode whatever the user gives us into an RGB uint8 array, or say clearly why not.

Inputs are untrusted (web uploads, webcam frames, CLI paths), so decoding is
bounded before any pixel is decompressed:

* at most `MAX_BYTES` of file (the web app's upload limit is the same number);
* only the formats in `FORMATS` are even parsed (no EPS/Ghostscript, PSD, ICO,
  JPEG 2000, ... plugins);
* the declared size is checked against `MAX_PIXELS`, `MIN_SIDE` and
  `MAX_ASPECT` right after the header is read, before decoding, so a
  "decompression bomb" (a small file declaring a huge image) costs nothing;
* JPEGs are decoded at a reduced scale (libjpeg DCT scaling) and other formats
  are reduced right after decoding, so memory stays near `MAX_SIDE`² pixels;
* animated images (GIF, APNG, WebP) are scored on their first frame;
* EXIF orientation is applied (all 8 values); unreadable EXIF is ignored.

Every refusal is an `ImageError` subclass whose message says what is wrong and
what to do; nothing else escapes `load_image` for bytes/path/file input.
`Image.MAX_IMAGE_PIXELS` (Pillow's global bomb guard) is left at its default:
our own stricter limit is checked first, so it is only a backstop.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import os
import stat
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import (DamagedImageError, ImageError, ImageTooLargeError, ImageTooSmallError,
                     UnsupportedFormatError)

log = logging.getLogger("beauty")

MAX_BYTES = 15 * 1024 * 1024  # file size cap; also the web app's upload limit (max_file_size)
MAX_PIXELS = 50_000_000  # declared width × height cap (covers 48/50 MP phone photos)
MAX_SIDE = 2048  # longer sides are downscaled to this before detection
MIN_SIDE = 32  # shorter sides below this cannot hold a detectable face
MAX_ASPECT = 10  # longer/shorter side; beyond it the downscaled image is a sliver
FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "BMP", "TIFF")  # Pillow plugins we let parse input (JPEG covers MPO)
SUPPORTED = "JPEG, PNG or WebP"  # what messages suggest

# Images over Pillow's own limit are refused by our smaller MAX_PIXELS before any
# decoding, so its DecompressionBombWarning would only add noise to the server log.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
# Broken EXIF is ignored on purpose (see _orientation); Pillow's warning about it is noise too.
warnings.filterwarnings("ignore", message="Corrupt EXIF data", category=UserWarning)

_TRANSPOSE = {  # EXIF orientation -> the transpose that makes the image upright (as ImageOps.exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_REDUCIBLE = {"RGB", "RGBA", "L", "LA", "I", "F", "CMYK"}  # modes Image.reduce() accepts


def load_image(src) -> np.ndarray:
    """Return an HxWx3 uint8 RGB array from a path, bytes, file object, PIL image or array.

    Raises an `ImageError` subclass with a user-facing message for anything unusable.
    """
    if isinstance(src, np.ndarray):
        return _from_array(src)
    if isinstance(src, Image.Image):
        return _from_pil(src)
    if isinstance(src, (str, os.PathLike)):
        data = _read_path(Path(src))
    elif isinstance(src, (bytes, bytearray, memoryview)):
        data = bytes(src)
    elif hasattr(src, "read"):
        data = src.read(MAX_BYTES + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise ImageError("The upload did not contain file data. Please upload a photo file.")
    else:
        raise ImageError(f"Unsupported input ({type(src).__name__}). Please give a photo file ({SUPPORTED}).")
    return decode_bytes(data)


def _read_path(path: Path) -> bytes:
    """The bytes of a regular file, never more than MAX_BYTES + 1 of them.

    The file is opened once and checked through its descriptor (no check-then-open race), without
    blocking on a FIFO, and anything that is not a regular file (folder, device such as /dev/zero,
    FIFO, socket) is refused before a byte is read. A file that grows while it is read is still cut
    at the cap.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise ImageError(f"{path.name!r} is a folder, not a photo. Please give a photo file.") from None
    except OSError as e:
        raise _unreadable(path, e) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise ImageError(f"{path.name!r} is a folder, not a photo. Please give a photo file.")
        if not stat.S_ISREG(st.st_mode):
            raise ImageError(f"{path.name!r} is not a regular file (a device, pipe or socket). Please give a photo file.")
        if st.st_size > MAX_BYTES:
            raise _too_many_bytes(st.st_size)
        chunks, n = [], 0
        while n <= MAX_BYTES:
            chunk = os.read(fd, min(1 << 20, MAX_BYTES + 1 - n))
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
        if n > MAX_BYTES:
            raise _too_many_bytes(n)
        return b"".join(chunks)
    except OSError as e:
        raise _unreadable(path, e) from None
    finally:
        os.close(fd)


def _unreadable(path: Path, e: OSError) -> ImageError:
    reason = (e.strerror or "cannot be read").lower()
    return ImageError(f"Could not read the file {path.name!r} ({reason}). Please check the file name.")


def data_url_bytes(url: str) -> bytes:
    """The bytes of a base64 `data:` URL (how browsers send webcam frames), refused above MAX_BYTES
    before anything is decoded."""
    comma = url.find(",", 0, 256)  # the header is short; the payload is not copied before its size is known
    if comma < 0 or not url.startswith("data:") or not url[:comma].endswith(";base64"):
        raise ImageError(f"This image data could not be read. Please upload a photo file ({SUPPORTED}).")
    n = len(url) - comma - 1
    if n > (MAX_BYTES + 2) // 3 * 4:
        raise _too_many_bytes(n * 3 // 4)
    try:
        return base64.b64decode(url[comma + 1:], validate=True)
    except (binascii.Error, ValueError):
        raise DamagedImageError("The image data is damaged and could not be decoded. "
                                "Please try again or upload a photo file.") from None


def decode_bytes(data: bytes) -> np.ndarray:
    """Decode an encoded image (see module doc for the limits)."""
    if not data:
        raise DamagedImageError(f"The file is empty (0 bytes). Please upload a photo ({SUPPORTED}).")
    if len(data) > MAX_BYTES:
        raise _too_many_bytes(len(data))
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as im:
            _check_size(*im.size)
            orientation = _orientation(im)
            if im.format in ("JPEG", "MPO"):
                im.draft(None, (MAX_SIDE, MAX_SIDE))  # DCT-domain downscale by 1/2..1/8, never below MAX_SIDE
            im.load()
            return _to_rgb_array(im, orientation)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise _unsupported(data) from None
    except Image.DecompressionBombError:
        raise ImageTooLargeError(
            f"The image declares an enormous size (over {MAX_PIXELS // 1_000_000} megapixels) and was refused. "
            "Please upload a normal photo."
        ) from None
    except MemoryError:
        raise ImageTooLargeError("The image is too large to process. Please upload a smaller photo.") from None
    except Exception as e:  # noqa: BLE001 - any decoder failure on untrusted bytes is "damaged", not a crash
        log.warning("undecodable image (%s: %.120s)", type(e).__name__, e)
        raise DamagedImageError(
            "The image file is damaged or incomplete and could not be decoded. "
            "Please upload the photo again or try another one."
        ) from None


def _too_many_bytes(n: int) -> ImageTooLargeError:
    return ImageTooLargeError(
        f"The file is too large ({n / 1e6:.1f} MB). Please upload a photo under {MAX_BYTES // (1024 * 1024)} MB."
    )


def _check_size(w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise ImageTooLargeError(
            f"The image is too large ({w}×{h} pixels). "
            f"Please upload a photo under {MAX_PIXELS // 1_000_000} megapixels."
        )
    if min(w, h) < MIN_SIDE:
        raise ImageTooSmallError(
            f"The image is tiny ({w}×{h} pixels). Please upload a photo of at least {MIN_SIDE}×{MIN_SIDE} pixels "
            "(a few hundred pixels or more is best) with the face clearly visible."
        )
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ImageTooSmallError(
            f"The image is {w}×{h} pixels: far too long and narrow for a face photo. "
            "Please crop it around the face or upload a regular photo."
        )


def _orientation(im: Image.Image) -> int:
    """EXIF orientation 1..8; 1 when absent or unreadable (broken EXIF never fails a photo)."""
    try:
        o = int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001
        return 1
    return o if o in _TRANSPOSE else 1


def _to_rgb_array(im: Image.Image, orientation: int = 1) -> np.ndarray:
    """Reduce, convert any mode to RGB (transparency onto white), apply the orientation, cap the size."""
    factor = max(im.size) // MAX_SIDE
    if factor >= 2 and im.mode in _REDUCIBLE:  # cheap integer box reduction before any conversion copies
        im = im.reduce(factor)
    im = _to_rgb(im)
    if orientation in _TRANSPOSE:
        im = im.transpose(_TRANSPOSE[orientation])
    if max(im.size) > MAX_SIDE:
        im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode.startswith("I") or im.mode == "F":  # 16/32-bit integer or float samples: scale, don't clip
        return Image.fromarray(_to_uint8(np.asarray(im))).convert("RGB")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, im).convert("RGB")
    return im.convert("RGB")


def _to_uint8(a: np.ndarray) -> np.ndarray:
    """Samples of any numeric type to 0..255: 8-bit kept, 16-bit scaled by 1/257, floats 0..1 by 255."""
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype.kind == "u" and a.dtype.itemsize == 2:  # 16-bit PNG/TIFF samples
        return (a // 257).astype(np.uint8)
    is_float = a.dtype.kind == "f"
    a = np.nan_to_num(a.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if is_float and lo >= 0.0 and hi <= 1.0:
        a = a * 255.0
    elif hi > 255:  # 32-bit integer or float samples: 16-bit range if it fits, else stretch
        a = a / 257.0 if lo >= 0 and hi <= 65535 else (a - lo) * (255.0 / max(hi - lo, 1e-6))
    return np.clip(a, 0, 255).astype(np.uint8)


def _unsupported(data: bytes) -> UnsupportedFormatError:
    """A specific message for files Pillow will not (or may not) open, from their first bytes."""
    head = data[:64]
    low = data[:2048].lstrip().lower()
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"):
            return UnsupportedFormatError(
                "HEIC/HEIF photos (the iPhone default) are not supported. Please convert the photo to JPEG, "
                "or set the iPhone to Settings › Camera › Formats › Most Compatible."
            )
        if brand in (b"avif", b"avis"):
            return UnsupportedFormatError("This AVIF image could not be read. Please upload it as JPEG or PNG.")
        return UnsupportedFormatError(f"This is a video, not a photo. Please upload a photo ({SUPPORTED}).")
    if head.startswith(b"\x1a\x45\xdf\xa3") or head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return UnsupportedFormatError(f"This is a video, not a photo. Please upload a photo ({SUPPORTED}).")
    if head.startswith(b"%PDF"):
        return UnsupportedFormatError(f"This is a PDF document, not a photo. Please upload a photo ({SUPPORTED}).")
    if b"<svg" in low or (low.startswith(b"<?xml") and b"svg" in low):
        return UnsupportedFormatError(
            f"SVG drawings are not supported. Please upload a photo ({SUPPORTED})."
        )
    if head.startswith((b"8BPS", b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51", b"\x00\x00\x01\x00", b"%!PS", b"II\xbc")):
        return UnsupportedFormatError(f"This image format is not supported. Please save it as {SUPPORTED} and try again.")
    if _looks_like_text(data[:4096]):
        return UnsupportedFormatError(f"This is a text file, not a photo. Please upload a photo ({SUPPORTED}).")
    return UnsupportedFormatError(f"This file is not an image we can read. Please upload a photo ({SUPPORTED}).")


def _looks_like_text(chunk: bytes) -> bool:
    try:
        s = chunk.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(s) and sum(c.isprintable() or c.isspace() for c in s) >= 0.95 * len(s)


def _from_pil(im: Image.Image) -> np.ndarray:
    try:
        _check_size(*im.size)
        orientation = _orientation(im)
        im.load()
        return _to_rgb_array(im, orientation)
    except ImageError:
        raise
    except Exception as e:  # noqa: BLE001 - a lazily loaded PIL image can still fail to decode
        log.warning("undecodable PIL image (%s: %.120s)", type(e).__name__, e)
        raise DamagedImageError("The image could not be decoded. Please upload another photo.") from None


def _from_array(a: np.ndarray) -> np.ndarray:
    """Webcam frames and arrays: HxW, HxWx1/2/3/4 of any numeric dtype."""
    if a.dtype.kind not in "biuf":
        raise ImageError(f"Unsupported pixel type ({a.dtype}). Please give a photo.")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (2, 3, 4)):
        raise ImageError(f"Unsupported image array shape {a.shape}. Expected height×width×3 (RGB).")
    h, w = a.shape[:2]
    _check_size(w, h)
    if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 and max(h, w) <= MAX_SIDE:
        return np.ascontiguousarray(a)  # the webcam fast path: nothing to convert
    a = _to_uint8(a)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    elif a.shape[2] == 2:  # gray + alpha
        a = np.concatenate([np.repeat(a[:, :, :1], 3, axis=2), a[:, :, 1:]], axis=2)
    return _to_rgb_array(Image.fromarray(np.ascontiguousarray(a)))
