"""GPU check for the beauty model: CPU-vs-GPU parity, batch-1 latency, batch-256 throughput.

Two steps, driven by bench/gpu_check.sh:

  prepare  (here, TensorFlow backend, MediaPipe available): real aligned face crops
           and their TensorFlow-CPU scores -> .cache/gpucheck/inputs.npz
  run      (on the GPU machine, KERAS_BACKEND=jax, no MediaPipe needed): scores the
           same crops with the model on the CPU and on the GPU through
           beauty.model.predict, compares them with each other and with the
           TensorFlow reference, and times the GPU -> JSON.

Parity is reported twice on the GPU: with JAX's default float32 matmul/conv
precision (TF32 on Ampere and newer, what serving would use) and with "highest"
(true float32), which must agree with the CPU to ~1e-4.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
INPUTS = ROOT / ".cache" / "gpucheck" / "inputs.npz"  # .cache/ is git-ignored


def prepare(out: Path = INPUTS) -> None:
    import cv2
    from skimage import data

    from beauty.face import find_faces
    from beauty.model import predict
    from beauty.pipeline import Scorer

    scorer = Scorer()
    (_, face), = find_faces(data.astronaut(), scorer.detector)
    rng = np.random.default_rng(0)
    crops = [face, face[:, ::-1], (face * 0.6).astype(np.uint8), np.clip(face * 1.3, 0, 255).astype(np.uint8)]
    for img in (data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field()):  # real photos, no faces
        y, x = rng.integers(0, img.shape[0] - 200), rng.integers(0, img.shape[1] - 200)
        crops.append(cv2.resize(np.ascontiguousarray(img[y:y + 200, x:x + 200]), (350, 350)))
    crops = np.stack(crops)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, crops=crops, tf_cpu=predict(scorer.model, crops, flip_tta=False),
                        tf_cpu_tta=predict(scorer.model, crops))
    scorer.detector.close()
    print(f"wrote {out} ({len(crops)} crops, {out.stat().st_size / 1e6:.1f} MB)")


def run(inputs: Path = INPUTS) -> dict:
    import jax
    import keras

    from beauty.ops.bench import timed  # stdlib + numpy only at import: fine on the GPU machine
    from beauty.model import load_model, predict

    ref = np.load(inputs)
    crops = ref["crops"].astype(np.float32)
    res = {"backend": keras.backend.backend(), "jax": jax.__version__, "keras": keras.__version__,
           "devices": [str(d) for d in jax.devices()]}
    cpu = jax.devices("cpu")[0]
    with jax.default_device(cpu):
        m_cpu = load_model()
        s_cpu = predict(m_cpu, crops, flip_tta=False)
        res["cpu_b1"] = timed(lambda: predict(m_cpu, crops[:1], flip_tta=False), 10)
    res["max_diff_jax_cpu_vs_tf_cpu"] = float(np.abs(s_cpu - ref["tf_cpu"]).max())
    if jax.default_backend() == "cpu":
        res["gpu"] = None
        print("no GPU visible to JAX: only the CPU part ran", file=sys.stderr)
        return res

    gpu = jax.devices()[0]
    res["gpu"] = str(gpu.device_kind)
    with jax.default_device(gpu):
        m_gpu = load_model()
        assert all(d.platform == "gpu" for d in m_gpu.weights[0].value.devices()), "weights are not on the GPU"
        s_gpu = predict(m_gpu, crops, flip_tta=False)
        res["max_diff_gpu_default_vs_cpu"] = float(np.abs(s_gpu - s_cpu).max())
        res["max_diff_gpu_tta_vs_tf_cpu_tta"] = float(np.abs(predict(m_gpu, crops) - ref["tf_cpu_tta"]).max())
        res["gpu_b1"] = timed(lambda: predict(m_gpu, crops[:1], flip_tta=False), 100)
        res["gpu_one_face_tta"] = timed(lambda: predict(m_gpu, crops[:1]), 100)
        big = np.repeat(crops, 32, axis=0)  # 256
        t = timed(lambda: predict(m_gpu, big, flip_tta=False, batch_size=256), 10, warmup=2)
        res["gpu_b256"] = dict(t, images_per_s=256e3 / t["p50_ms"])
        with jax.default_matmul_precision("highest"):
            m_hi = load_model()
            res["max_diff_gpu_highest_vs_cpu"] = float(np.abs(predict(m_hi, crops, flip_tta=False) - s_cpu).max())
    res["parity_ok"] = res["max_diff_gpu_highest_vs_cpu"] < 1e-3 and res["max_diff_gpu_default_vs_cpu"] < 0.05
    return res


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("step", choices=["prepare", "run"])
    p.add_argument("--out", help="run: also write the JSON here")
    a = p.parse_args()
    if a.step == "prepare":
        prepare()
        return 0
    res = run()
    text = json.dumps(res, indent=2)
    print(text)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(text + "\n")
    return 0 if res.get("gpu") and res.get("parity_ok") else 1


if __name__ == "__main__":
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    sys.exit(main())
