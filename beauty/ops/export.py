"""`python -m beauty export-lite`: build the LiteRT network the app runs on CPU (beauty/lite.py).

    python -m beauty export-lite                 # weights/beauty_mobilenet_v2.npz -> .tflite beside it
    python -m beauty publish-model --update-hashes   # then record its sha256 (commit both)

The Keras model (loaded with beauty.model.load_model) is exported without its
first layer, the antialiased 350→224 Resizing, which TensorFlow Lite cannot
run exactly. Instead the resize matrix is read off TensorFlow's own resize
(an identity basis resized with the layer's settings) and stored in the file
as metadata, for beauty.lite to apply in numpy. Float32 weights: float16 ones
halve the file but move scores by up to ~7e-3 (BatchNorm is folded into the
convolutions before rounding), against ~1e-5 for float32.
Before writing, the export is checked against the Keras model: scores must
agree within 1e-3 (measured ~1e-5). Needs TensorFlow; the app does not.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

TOLERANCE = 1e-3  # max |score difference| LiteRT vs Keras accepted at export


def resize_matrix(model) -> np.ndarray:
    """The model's Resizing layer as an out×in matrix A (output = A·x·Aᵀ per channel), read off TensorFlow."""
    import tensorflow as tf

    layer = model.layers[1]
    cfg = layer.get_config()
    if cfg.get("interpolation") != "bilinear" or cfg.get("crop_to_aspect_ratio") or cfg.get("pad_to_aspect_ratio"):
        raise ValueError(f"unsupported Resizing layer settings: {cfg}")
    n, s = model.input_shape[1], cfg["height"]
    eye = np.eye(n, dtype=np.float32)[None, :, :, None]  # resizing only the rows of I gives A itself
    a = tf.image.resize(eye, (s, n), method="bilinear", antialias=bool(cfg.get("antialias"))).numpy()[0, :, :, 0]
    return np.ascontiguousarray(a, np.float32)


def convert(model) -> bytes:
    """The network after the Resizing layer as a float32 .tflite flatbuffer (batch dimension dynamic).

    Two outputs: the N×1 scores and the N×D pooled features the linear head reads
    (beauty.interval measures how unusual a face is from them).
    """
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    if [layer.name for layer in model.layers[:2]] != ["crop", "resize"]:
        raise ValueError(f"expected the crop input and the resize layer first, got {[x.name for x in model.layers[:2]]}")
    s = model.beauty_config["image_size"]

    def body(x):
        pooled = x
        for layer in model.layers[2:]:
            if layer.name == "head_dropout":
                pooled = x
            x = layer(x, training=False)
        return x, pooled

    fn = tf.function(body, input_signature=[tf.TensorSpec([None, s, s, 3], tf.float32, name="image")])
    frozen = convert_variables_to_constants_v2(fn.get_concrete_function())  # weights as constants, BN folded
    return tf.lite.TFLiteConverter.from_concrete_functions([frozen]).convert()


def with_metadata(content: bytes, entries: dict[str, bytes]) -> bytes:
    """`content` with extra named metadata buffers (the TFLite schema's Model.metadata)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(content), 0)
    model.metadata = [m for m in (model.metadata or []) if (m.name.decode() if isinstance(m.name, bytes)
                                                              else m.name) not in entries]
    for name, data in entries.items():
        buf = schema.BufferT()
        buf.data = np.frombuffer(data, np.uint8)
        model.buffers.append(buf)
        md = schema.MetadataT()
        md.name, md.buffer = name, len(model.buffers) - 1
        model.metadata.append(md)
    builder = flatbuffers.Builder(len(content) + sum(map(len, entries.values())) + (1 << 16))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def check_crops(model) -> np.ndarray:
    """Inputs for the export check: the astronaut's aligned face (and mirror) when available, plus smooth noise."""
    crops = []
    try:
        from skimage import data

        from ..face import FaceDetector, find_faces

        det = FaceDetector()
        try:
            crops += [c for _, c in find_faces(data.astronaut(), det)]
        finally:
            det.close()
    except Exception:  # noqa: BLE001 - optional (scikit-image is a dev dependency)
        pass
    n = model.input_shape[1]
    rng = np.random.default_rng(0)
    for _ in range(3):
        low = rng.uniform(0, 255, (n // 25, n // 25, 3)).astype(np.float32)
        crops.append(np.clip(np.kron(low, np.ones((25, 25, 1), np.float32)) + rng.normal(0, 8, (n, n, 3)), 0, 255)
                     .astype(np.uint8))
    return np.stack(crops)


def export_lite(model_path: str | Path | None = None, out: str | Path | None = None, check: bool = True,
                log=print) -> Path:
    """Write NAME.tflite for NAME.npz; returns its path. Raises ValueError if the check fails."""
    from .. import lite
    from ..hub import sha256_file
    from ..model import DEFAULT_MODEL, load_model, predict

    model_path = Path(model_path or DEFAULT_MODEL)
    out = Path(out) if out else lite.lite_path(model_path)
    model = load_model(model_path)
    a = resize_matrix(model)
    npy = io.BytesIO()
    np.save(npy, a, allow_pickle=False)
    config = {"source": model_path.name, "source_sha256": sha256_file(model_path),
              "crop_size": int(model.input_shape[1]), "image_size": int(a.shape[0]),
              "backbone": model.beauty_config.get("backbone"), "dtype": "float32"}
    content = with_metadata(convert(model), {lite.META_RESIZE: npy.getvalue(),
                                             lite.META_CONFIG: json.dumps(config, sort_keys=True).encode()})
    if check:
        with tempfile.TemporaryDirectory() as tmp:
            tmp_file = Path(tmp) / out.name
            tmp_file.write_bytes(content)
            lm = lite.LiteModel(tmp_file, source=model_path)
            x = check_crops(model)
            diff = float(np.abs(lm.predict(x) - predict(model, x)).max())
            diff_raw = float(np.abs(lm.forward(x) - predict(model, x, flip_tta=False)).max())
            _, f_lite = lm.predict(x, features=True)
            _, f_keras = predict(model, x, features=True)
            scale = float(np.abs(f_keras).max())
            diff_f = float(np.abs(f_lite - f_keras).max()) / scale if f_lite is not None else np.inf
        log(f"check on {len(x)} crops: max |LiteRT - Keras| = {max(diff, diff_raw):.1e} on scores, "
            f"{diff_f:.1e} on features relative to their largest (limit {TOLERANCE:g})")
        if not max(diff, diff_raw, diff_f) <= TOLERANCE:
            raise ValueError(f"the export disagrees with the Keras model by {max(diff, diff_raw, diff_f):.2e}; "
                             "not written")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(content)
    log(f"wrote {out} ({len(content) / 1e6:.1f} MB, from {model_path.name} sha256 {config['source_sha256'][:12]}…)")
    return out


def add_parser(sub) -> None:
    p = sub.add_parser("export-lite", help="build the LiteRT (.tflite) network the app runs on CPU",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--model", metavar="NPZ", help="Keras weights (default: the bundled weights/beauty_mobilenet_v2.npz)")
    p.add_argument("--out", metavar="TFLITE", help="output file (default: NAME.tflite beside the .npz)")
    p.add_argument("--no-check", action="store_true", help="skip the LiteRT-vs-Keras score check")
    p.set_defaults(func=main)


def main(args) -> int:
    import os

    from ..runtime import quiet_native_stderr

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with quiet_native_stderr():
            export_lite(args.model, args.out, check=not args.no_check, log=lambda s: print(s, flush=True))
    except (ValueError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("next: python -m beauty publish-model --update-hashes   (records its sha256; commit both)")
    return 0
