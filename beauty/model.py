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
    fill_from_npz(model, path, f"the {cfg['backbone']} model")
    model.beauty_config = cfg
    return model


def fill_from_npz(net, path: str | os.PathLike, what: str) -> None:
    """Assign every weight of a built Keras network from an .npz keyed by variable path (allow_pickle=False);
    ValueError naming `what` when the file lacks some of them."""
    path = Path(path)
    with np.load(path, allow_pickle=False) as arrays:
        missing = [v.path for v in net.weights if v.path not in arrays.files]
        if missing:
            raise ValueError(f"{path.name} does not match {what}: missing {missing[:3]}")
        for v in net.weights:
            v.assign(arrays[v.path].astype(v.dtype))


def predict(model, crops: np.ndarray, flip_tta: bool = True, batch_size: int = 32, features: bool = False):
    """Scores for N×350×350×3 crops, clipped to 1..5: one compiled model call per `batch_size` images.

    Flip test-time augmentation averages the crop and its mirror image: a face's
    mirror image was rated by nobody, but the model should not care. A crop and
    its mirror go through the model in the same call (one face = one batch of 2;
    16 faces = one batch of 32). Crops are converted to float32 one chunk at a
    time, so scoring thousands of uint8 crops does not need 4× their memory.
    `features=True` returns (scores, N×D pooled features that the linear head
    reads, averaged over the crop and its mirror with flip TTA): the same call.
    """
    x = np.asarray(crops)
    if x.ndim == 3:
        x = x[None]
    forward = compiled_forward(model)
    step = max(1, batch_size // 2) if flip_tta else batch_size
    out, feats = [np.zeros(0, np.float32)], [np.zeros((0, forward.feature_dim), np.float32)]
    for i in range(0, len(x), step):
        c = np.asarray(x[i : i + step], np.float32)
        y, f = forward(np.concatenate([c, c[:, :, ::-1]]) if flip_tta else c, features=True)
        y = y.reshape(-1)
        if flip_tta:
            y, f = (y[: len(c)] + y[len(c) :]) / 2, (f[: len(c)] + f[len(c) :]) / 2
        out.append(y)
        feats.append(f)
    scores = np.clip(np.concatenate(out), *SCORE_RANGE)
    return (scores, np.concatenate(feats)) if features else scores


def compiled_forward(model) -> CompiledForward:
    """The model's inference call, compiled on first use and kept on the model object."""
    fwd = model.__dict__.get("_beauty_forward")
    if fwd is None:
        fwd = CompiledForward(model)
        object.__setattr__(model, "_beauty_forward", fwd)  # bypass Keras attribute tracking
    return fwd


class CompiledForward:
    """`model(x, training=False)` as a compiled graph: float32 N×H×W×3 numpy in, numpy out.

    Why: an eager Keras call re-dispatches ~150 ops from Python on every request
    (~160 ms for one face on 2 CPU cores); a traced graph runs them in C++.
    TensorFlow: one `tf.function` with a batch dimension of None, so every batch
    size reuses a single trace (no padding, no retracing). XLA (`jit_compile`) is
    off: it has no kernel for the antialiased resize (ScaleAndTranslate).
    Other backends (JAX, torch): `predict_on_batch`, which Keras compiles per
    input shape, so batches are zero-padded to a power of two to bound retracing.
    Runs on whatever device the backend placed the model on (see beauty.runtime).
    The graph also returns the pooled features the head reads (`features=True`),
    at no extra cost: they are computed on the way to the score anyway.
    """

    def __init__(self, model):
        import keras

        self.model = model
        self.backend = keras.backend.backend()
        self.shapes: set[int] = set()  # padded batch sizes seen (non-TF backends)
        self.calls = 0  # model invocations, so tests can check that a batch is one call
        names = {layer.name for layer in model.layers}
        pooled = model.get_layer("head_dropout").input if "head_dropout" in names else None  # what the head reads
        self.feature_dim = int(pooled.shape[-1]) if pooled is not None else 0
        self._both = keras.Model(model.inputs, [model.outputs[0], pooled if pooled is not None else model.outputs[0]])
        if self.backend == "tensorflow":
            import tensorflow as tf

            spec = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
            self._fn = tf.function(lambda x: self._both(x, training=False), input_signature=[spec], jit_compile=False)

    def __call__(self, x: np.ndarray, features: bool = False):
        """Raw outputs (N×1); with `features`, (outputs, N×D pooled features) from the same call."""
        x = np.ascontiguousarray(x, np.float32)
        self.calls += 1
        if self.backend == "tensorflow":
            y, f = (t.numpy() for t in self._fn(x))
        else:
            n = len(x)
            b = 1 << (n - 1).bit_length()
            if b > n:
                x = np.concatenate([x, np.zeros((b - n, *x.shape[1:]), np.float32)])
            self.shapes.add(b)
            y, f = (np.asarray(t)[:n] for t in self._both.predict_on_batch(x))
        return (y, f) if features else y

    @property
    def trace_count(self) -> int:
        """How many programs were compiled so far (should stay 1 on TensorFlow)."""
        if self.backend == "tensorflow":
            return int(self._fn.experimental_get_tracing_count())
        return len(self.shapes)
