"""User-facing errors: their message is shown as is, so it says what is wrong and what to do.

Every message is one or two complete sentences, names no internals (no paths,
no exception class names, no stack traces) and ends with what the user can do.
Front ends (web UI, CLI) show `str(err)` for any `BeautyError` and a generic
sentence for anything else.
"""


class BeautyError(Exception):
    """Base class; `str(err)` is a complete sentence fit for the page."""


class ImageError(BeautyError):
    """The input is not an image we can read."""


class UnsupportedFormatError(ImageError):
    """A file we recognise but do not read (HEIC, SVG, PDF, video, text, ...) or cannot identify."""


class DamagedImageError(ImageError):
    """An image format we read, but the file is truncated or corrupt."""


class ImageTooLargeError(ImageError):
    """Too many bytes or too many pixels (decompression bombs land here)."""


class ImageTooSmallError(ImageError):
    """Too few pixels to hold a face."""


class NoFaceError(BeautyError):
    """The image was read but no face was found."""


class NotHumanError(NoFaceError):
    """Something face-like was found, but not a photographed human face (an animal, a drawing)."""


class FaceCutError(NoFaceError):
    """Faces were found, but every one is largely cut off by the photo's border."""


class ChildFaceError(BeautyError):
    """Every face found looks under 18 (beauty.age): the app rates adults only."""


class ModelNotFoundError(BeautyError):
    """No model weights locally and none to fetch."""
