"""The beauty regressor: 350×350 face crop in, one SCUT-FBP5500 score (1..5) out.

backbone (ImageNet features, normalisation inside) + global pooling + a linear
head. The model takes the 350-px crop as uint8-valued floats and resizes it
itself, so the app, the trainer and the evaluator cannot disagree on
preprocessing. Weights are stored as a float16 `.npz` keyed by variable path
plus a JSON config: no pickle, no code in the file, loadable by any backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from .face import CROP_SIZE

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = WEIGHTS_DIR / "beauty_mobilenet_v2.npz"
IMAGENET_WEIGHTS = {"mobilenet_v2": WEIGHTS_DIR / "imagenet" / "mobilenet_v2_torchvision.weights.h5"}
SCORE_RANGE = (1.0, 5.0)


def build_regressor(backbone: str = "mobilenet_v2", image_size: int = 224, imagenet: str | None = "auto",
                    dropout: float = 0.2, mean_score: float = 3.0):
    """Keras model crop(350) -> score.

    `imagenet`: 'auto' (the bundled converted weights, when the backbone has them),
    None (random init), or what the backbone accepts (a path; 'imagenet' for ResNet50 online).
    """
    import keras

    from .backbones import BACKBONES

    inputs = keras.Input((CROP_SIZE, CROP_SIZE, 3), name="crop")
    x = keras.layers.Resizing(image_size, image_size, antialias=True, name="resize")(inputs)
    if imagenet == "auto":
        imagenet = IMAGENET_WEIGHTS.get(backbone)
        imagenet = str(imagenet) if imagenet and imagenet.exists() else None
    net = BACKBONES[backbone](input_shape=(image_size, image_size, 3), include_top=False, weights=imagenet)
    x = net(x)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    out = keras.layers.Dense(1, name="head", bias_initializer=keras.initializers.Constant(mean_score))(x)
    model = keras.Model(inputs, out, name=f"beauty_{backbone}")
    model.beauty_config = {"backbone": backbone, "image_size": image_size, "dropout": dropout}
    return model


def save_model(model, path: str | os.PathLike, config: dict | None = None, dtype=np.float16) -> Path:
    """Write weights as NAME.npz (float16 by default) and the build config as NAME.json."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {v.path: np.asarray(v.numpy() if hasattr(v, "numpy") else v, dtype=dtype) for v in model.weights}
    np.savez(path, **arrays)
    cfg = dict(model.beauty_config, **(config or {}))
    path.with_suffix(".json").write_text(json.dumps(cfg, indent=2) + "\n")
    return path


def load_model(path: str | os.PathLike = DEFAULT_MODEL):
    """Rebuild the network from NAME.json and fill it from NAME.npz (allow_pickle=False)."""
    path = Path(path)
    cfg = json.loads(path.with_suffix(".json").read_text())
    model = build_regressor(cfg["backbone"], cfg["image_size"], imagenet=None, dropout=cfg.get("dropout", 0.2))
    with np.load(path, allow_pickle=False) as arrays:
        missing = [v.path for v in model.weights if v.path not in arrays.files]
        if missing:
            raise ValueError(f"{path.name} does not match the {cfg['backbone']} model: missing {missing[:3]}")
        for v in model.weights:
            v.assign(arrays[v.path].astype(v.dtype))
    model.beauty_config = cfg
    return model


def predict(model, crops: np.ndarray, flip_tta: bool = True, batch_size: int = 32) -> np.ndarray:
    """Scores for N×350×350×3 crops in one batched call, clipped to 1..5.

    Flip test-time augmentation averages the crop and its mirror image: a face's
    mirror image was rated by nobody, but the model should not care.
    """
    x = np.asarray(crops, np.float32)
    if x.ndim == 3:
        x = x[None]
    if flip_tta:
        x = np.concatenate([x, x[:, :, ::-1]])
    y = np.asarray(model.predict(x, batch_size=batch_size, verbose=0) if len(x) > batch_size else model(x, training=False))
    y = y.reshape(-1)
    if flip_tta:
        y = (y[: len(y) // 2] + y[len(y) // 2 :]) / 2
    return np.clip(y, *SCORE_RANGE)
