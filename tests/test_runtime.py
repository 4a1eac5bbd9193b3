"""Fast inference path, device selection and where the weights come from."""

import io
import time

import numpy as np
import pytest

from beauty.errors import ModelNotFoundError, NoFaceError
from beauty.model import DEFAULT_MODEL, compiled_forward, load_model, predict
from beauty.runtime import DeviceError, describe_device, requested_device, resolve_model_path


# `scorer` and `astronaut_rgb` are the shared session fixtures of tests/conftest.py.


@pytest.fixture(scope="module")
def photo(astronaut_rgb) -> bytes:
    """A real face photo, JPEG-encoded like an upload."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(astronaut_rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture(scope="module")
def crops(scorer, photo):
    """Real aligned crops: the astronaut's face, its mirror image and a darker copy."""
    from beauty.face import find_faces
    from beauty.image import load_image

    (_, c), = find_faces(load_image(photo), scorer.detector)
    return np.stack([c, c[:, ::-1], (c * 0.6).astype(np.uint8)])


@pytest.fixture(scope="module")
def keras_model():
    """The Keras reference model (the Scorer itself may run the LiteRT export, see tests/test_lite.py)."""
    return load_model(DEFAULT_MODEL)


def eager(model, x):
    return np.asarray(model(np.asarray(x, np.float32), training=False)).reshape(-1)


def test_compiled_predict_matches_the_eager_keras_call_on_real_crops(keras_model, crops):
    x = np.concatenate([crops, crops[:, :, ::-1]])
    y = eager(keras_model, x)
    want = np.clip((y[:3] + y[3:]) / 2, 1, 5)
    got = predict(keras_model, crops)
    assert got.shape == (3,)
    assert np.abs(got - want).max() < 1e-4
    assert np.abs(predict(keras_model, crops, flip_tta=False) - np.clip(y[:3], 1, 5)).max() < 1e-4


def test_one_compiled_program_serves_every_batch_size(keras_model, crops):
    fwd = compiled_forward(keras_model)
    for n in (1, 2, 3, 5, 8):
        predict(keras_model, np.repeat(crops[:1], n, axis=0))
    assert compiled_forward(keras_model) is fwd
    if fwd.backend == "tensorflow":
        assert fwd.trace_count == 1  # no retracing per batch size
    else:
        assert fwd.trace_count <= 4  # padded to powers of two: 2, 4, 8, 16


def test_large_batches_are_chunked_and_scored_like_single_crops(keras_model, crops):
    many = np.repeat(crops, 13, axis=0)  # 39 crops -> 78 with flips -> 3 calls of <= 32
    got = predict(keras_model, many)
    single = np.concatenate([predict(keras_model, c) for c in crops])
    assert got.shape == (39,)
    assert np.abs(got - np.repeat(single, 13)).max() < 1e-4
    assert predict(keras_model, crops[:0]).shape == (0,)


def test_score_many_sends_the_faces_of_several_files_in_one_model_call(scorer, photo):
    gray = np.full((200, 200, 3), 128, np.uint8)  # decodes fine, has no face
    srcs = [photo, gray, bytearray(photo), photo]
    before = scorer.model_calls
    out = list(scorer.score_many(srcs))
    assert scorer.model_calls - before == 1
    assert [s is src for (s, _), src in zip(out, srcs, strict=True)] == [True] * 4
    assert isinstance(out[1][1], NoFaceError)
    alone = scorer.score(photo).main.score
    for i in (0, 2, 3):
        assert abs(out[i][1].main.score - alone) < 1e-4


def test_device_override(monkeypatch):
    monkeypatch.setenv("BEAUTY_DEVICE", "tpu9000")
    with pytest.raises(DeviceError, match="auto, cpu, gpu"):
        requested_device()
    monkeypatch.setenv("BEAUTY_DEVICE", "CPU")
    assert describe_device().startswith("CPU")
    monkeypatch.delenv("BEAUTY_DEVICE")
    assert requested_device() == "auto"


def test_gpu_requested_without_a_gpu_is_a_clear_error(monkeypatch):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    monkeypatch.setenv("BEAUTY_DEVICE", "gpu")
    with pytest.raises(DeviceError, match="sees no GPU"):
        describe_device()


def test_model_path_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("BEAUTY_MODEL", raising=False)
    monkeypatch.delenv("BEAUTY_MODEL_REPO", raising=False)
    assert resolve_model_path() == DEFAULT_MODEL
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_model_path(tmp_path / "nope.npz")
    monkeypatch.setenv("BEAUTY_MODEL", str(tmp_path / "nope.npz"))
    with pytest.raises(ModelNotFoundError):
        resolve_model_path()


def test_no_local_weights_and_no_repo_names_both_options(monkeypatch, tmp_path):
    monkeypatch.delenv("BEAUTY_MODEL", raising=False)
    monkeypatch.delenv("BEAUTY_MODEL_REPO", raising=False)
    with pytest.raises(ModelNotFoundError) as e:
        resolve_model_path(default=tmp_path / "weights" / DEFAULT_MODEL.name)
    assert "weights/" in str(e.value) and "BEAUTY_MODEL_REPO" in str(e.value)


def test_bench_stages_and_report(scorer, photo):
    """The benchmark's per-stage timing runs on the real pipeline and its report states the verdicts."""
    from beauty.ops import bench

    st = bench.stages(scorer, photo, runs=3, reference=lambda: time.sleep(0.3))
    assert st["faces"] == 1 and st["total"]["runs"] == 3 and st["reference"]["p50_ms"] >= 300
    assert st["model"]["p50_ms"] > 0 and st["total"]["p50_ms"] >= st["detect"]["p50_ms"]
    frame = bench.webcam_frame(np.zeros((512, 512, 3), np.uint8))
    assert frame.shape == (480, 640, 3)
    ms = {"p50_ms": 10.0, "p95_ms": 12.0, "mean_ms": 10.0, "runs": 3}
    model = {k: dict(ms) for k in ("lite_tta", "lite_b1", "keras_tta", "keras_b1")}
    model.update({f"{rt}_{k}": dict(ms, p50_ms=160.0, p95_ms=192.0, per_crop_ms=10.0)
                  for rt in ("lite", "keras") for k in ("b16", "16_singles")}, resnet50_b1=dict(ms, p50_ms=50.0))
    res = {"machine": bench.machine(), "runtime": "lite", "device": scorer.device, "stages": st, "model": model,
           "webcam": {"frame": dict(ms), "reference": dict(ms, p50_ms=300.0), "fps": 100.0},
           "bulk": {"photos": 61, "one_photo_s": [3.0], "all_photos_s": [6.0], "per_photo_ms": 50.0,
                    "reference": dict(ms, p50_ms=300.0), "score_many_per_photo_ms": 40.0},
           "load": {"scorer_init_s": 1, "first_predict_s": 1, "import_tf_keras_s": 1, "tensorflow_on_serving_path": False},
           "app": {"cold_start_s": 20.0, "cold_start_cpu_s": 9.0, "warm_request_ms": 200, "app_peak_rss_gb": 1.0}}
    res["verdict"] = bench.verdict(res)
    assert res["verdict"]["pass"] == {"model_tta_vs_resnet50": False, "e2e_vs_resnet50": st["total"]["p50_ms"] <= 45,
                                      "cli_bulk_per_photo_vs_resnet50": False, "webcam_fps": True,
                                      "cold_start_s": False, "peak_rss_gb": True}
    text = bench.report(res)
    assert "| total |" in text and "target cold_start_s: 20.000 <= 5.000  FAIL" in text
    assert "| LiteRT, one face + flip (batch 2) | 10.0 |" in text and "| LiteRT, batch 16, per crop | 10.0 | 12.0 |" in text
