"""Where the model runs and where its weights come from."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ModelNotFoundError


def describe_device() -> str:
    """Human-readable device Keras will use ('GPU: …' or 'CPU'); BEAUTY_DEVICE=cpu hides GPUs."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if os.environ.get("BEAUTY_DEVICE", "").lower() == "cpu":
            tf.config.set_visible_devices([], "GPU")
        gpus = tf.config.list_logical_devices("GPU")
        return f"GPU ({gpus[0].name}, TensorFlow)" if gpus else "CPU (TensorFlow)"
    if backend == "jax":
        import jax

        d = jax.devices()[0]
        return f"{d.platform.upper()} ({d.device_kind}, JAX)"
    return f"{backend}"


def resolve_model_path(path: str | Path | None = None) -> Path:
    """The model file to load: the argument, $BEAUTY_MODEL, or the bundled weights/ file."""
    from .model import DEFAULT_MODEL

    p = Path(path or os.environ.get("BEAUTY_MODEL") or DEFAULT_MODEL)
    if not p.exists() or not p.with_suffix(".json").exists():
        raise ModelNotFoundError(f"Model weights not found at {p} (and its .json).")
    return p
