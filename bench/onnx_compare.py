"""Would ONNX Runtime beat TensorFlow on the CPU? Export, parity check, interleaved timings.

Not part of the app: the TensorFlow graph path (beauty.model.predict) already
meets the latency targets, so no exported runtime is shipped. This script keeps
the measurement reproducible (README "Benchmarks" quotes it).

    pip install --no-deps --target /tmp/onnxsite tf2onnx==1.17.0 onnx==1.23.2
    PYTHONPATH=.:/tmp/onnxsite python bench/onnx_compare.py

tf2onnx has no converter for the antialiased resize (TF's ScaleAndTranslate op),
so the export replaces it with the same linear map written as two matrix
products (rows, then columns); the weights are read off TF's own resize of an
identity image, so it is the same operator, not an approximation (max diff ~1e-6).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def export(model, path: Path) -> None:
    import tensorflow as tf
    import tf2onnx
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    size, out = model.input_shape[1], model.beauty_config["image_size"]
    eye = np.eye(size, dtype=np.float32)[None, :, :, None]
    a = tf.image.resize(eye, (out, size), method="bilinear", antialias=True).numpy()[0, :, :, 0]  # out×size
    assert [layer.name for layer in model.layers[:2]] == ["crop", "resize"]

    def body(x):
        y = tf.einsum("hi,niwc->nhwc", a, x)
        y = tf.einsum("wj,nhjc->nhwc", a, y)
        for layer in model.layers[2:]:
            y = layer(y, training=False)
        return y

    spec = tf.TensorSpec([None, size, size, 3], tf.float32, name="crop")
    frozen = convert_variables_to_constants_v2(tf.function(body).get_concrete_function(spec))
    tf2onnx.convert.from_graph_def(frozen.graph.as_graph_def(), input_names=[t.name for t in frozen.inputs],
                                   output_names=[t.name for t in frozen.outputs], opset=17, output_path=str(path))


def main() -> None:
    import tempfile

    import onnxruntime as ort

    from beauty.model import compiled_forward, load_model

    model = load_model()
    inputs = ROOT / ".cache" / "gpucheck" / "inputs.npz"  # real crops (bench/gpu_check.sh prepare)
    crops = np.load(inputs)["crops"].astype(np.float32) if inputs.exists() else \
        np.random.default_rng(0).uniform(0, 255, (8, 350, 350, 3)).astype(np.float32)
    tf_fwd = compiled_forward(model)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "beauty.onnx"
        export(model, path)
        sessions = {}
        for threads in (1, 2):
            so = ort.SessionOptions()
            so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
            sessions[threads] = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    name = sessions[1].get_inputs()[0].name
    diff = np.abs(sessions[1].run(None, {name: crops})[0] - tf_fwd(crops)).max()
    print(f"parity on {len(crops)} crops: max |ONNX Runtime - TensorFlow| = {diff:.2e}")
    runners = {"tensorflow graph": tf_fwd,
               "onnxruntime 1 thread": lambda x: sessions[1].run(None, {name: x})[0],
               "onnxruntime 2 threads": lambda x: sessions[2].run(None, {name: x})[0]}
    for b in (1, 2, 8):
        x = np.repeat(crops[:1], b, axis=0)
        ts = {k: [] for k in runners}
        for f in runners.values():
            f(x), f(x)
        for _ in range(25 if b < 8 else 8):  # interleaved, so background load hits all alike
            for k, f in runners.items():
                t = time.perf_counter()
                f(x)
                ts[k].append((time.perf_counter() - t) * 1e3)
        print(f"batch {b}: " + ", ".join(f"{k} p50 {np.median(v):.1f} ms" for k, v in ts.items()))


if __name__ == "__main__":
    main()
