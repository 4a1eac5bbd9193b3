"""User-facing errors: their message is shown as is, so it says what is wrong and what to do."""


class BeautyError(Exception):
    """Base class; `str(err)` is a complete sentence fit for the page."""


class ImageError(BeautyError):
    """The input is not an image we can read."""


class NoFaceError(BeautyError):
    """The image was read but no face was found."""


class ModelNotFoundError(BeautyError):
    """No model weights locally and none to fetch."""
