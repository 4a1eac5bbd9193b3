"""The LiteRT runtime (beauty/lite.py) against the Keras reference, on real crops; its export and its hash."""

import json
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest

from beauty import hub, lite
from beauty.model import DEFAULT_MODEL, load_model, predict
from tests.support.paths import ROOT, dataset_root, needs_dataset

TFLITE = lite.lite_path(DEFAULT_MODEL)
PARITY = 1e-3  # max |score difference| LiteRT vs Keras (measured ~5e-6)


@pytest.fixture(scope="module")
def keras_model():
    return load_model(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def lite_model():
    return lite.load_lite(DEFAULT_MODEL)


@pytest.fixture(scope="module")
def real_crops(scorer, astronaut_rgb):
    """The app's own crops: the astronaut's face, plus 24 SCUT-FBP5500 photos when the dataset is there."""
    from beauty.face import find_faces
    from beauty.image import load_image

    crops = [c for _, c in find_faces(astronaut_rgb, scorer.detector)]
    root = dataset_root()
    if root is not None:
        names = sorted(p.name for p in (root / "Images").iterdir())
        for name in names[:: max(1, len(names) // 24)][:24]:
            crops += [c for _, c in find_faces(load_image(root / "Images" / name), scorer.detector)[:1]]
    return np.stack(crops)


def test_the_scorer_runs_lite_on_this_cpu(scorer):
    from beauty.runtime import nvidia_gpu_present, requested_runtime

    if nvidia_gpu_present() or requested_runtime() == "keras":
        pytest.skip("the Keras runtime is expected here")
    assert scorer.runtime == "lite" and scorer.device.startswith("CPU (LiteRT")


def test_scores_match_keras_on_real_crops(lite_model, keras_model, real_crops):
    with_tta = np.abs(lite_model.predict(real_crops) - predict(keras_model, real_crops)).max()
    without = np.abs(lite_model.predict(real_crops, flip_tta=False)
                     - predict(keras_model, real_crops, flip_tta=False)).max()
    print(f"\n{len(real_crops)} real crops: max |LiteRT - Keras| {with_tta:.1e} with flip TTA, {without:.1e} without")
    assert with_tta <= PARITY and without <= PARITY


@needs_dataset
def test_parity_covers_dataset_faces(real_crops):
    assert len(real_crops) >= 20


def test_resize_is_tensorflows_to_the_bit(lite_model, keras_model, real_crops):
    """The numpy resize equals the model's own Resizing layer, for a crop and its mirror image."""
    x = real_crops[:2]
    s = lite_model.resize.size_out
    want = np.asarray(keras_model.layers[1](np.concatenate([x, x[:, :, ::-1]]).astype(np.float32)))
    got = np.zeros((2 * len(x), s, s, 3), np.float32)
    for i in range(len(x)):
        lite_model.resize(x[i], got[i], got[len(x) + i])
    assert np.abs(got - want).max() <= 1e-4  # measured: 0 for the crop (same products in the same order), 3e-5 for its mirror


def test_a_batch_scores_like_single_calls(lite_model, real_crops):
    x = real_crops[:16] if len(real_crops) >= 16 else np.resize(real_crops, (16, *real_crops.shape[1:]))
    calls = lite_model.calls
    batch = lite_model.predict(x)
    assert lite_model.calls - calls == 1  # 16 faces with their mirrors: one model call
    singles = np.concatenate([lite_model.predict(c) for c in x])
    assert np.array_equal(batch, singles)
    assert np.array_equal(lite_model.predict(x, flip_tta=False),
                          np.concatenate([lite_model.predict(c, flip_tta=False) for c in x]))
    assert lite_model.predict(x[:0]).shape == (0,)
    assert np.abs(lite_model.predict(x.astype(np.float32)) - batch).max() < 1e-5  # float input too


def test_concurrent_callers_get_their_own_scores(lite_model, real_crops):
    x = real_crops[:4]
    want = [lite_model.predict(c) for c in x]
    got, errors = {}, []

    def work(i):
        try:
            for _ in range(3):
                got.setdefault(i, []).append(lite_model.predict(x[i % len(x)]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, ys in got.items():
        assert all(np.array_equal(y, want[i % len(x)]) for y in ys)


def test_the_export_is_recorded_and_belongs_to_the_weights():
    assert TFLITE.name in hub.MODEL_FILES
    assert hub.recorded_hashes()[TFLITE.name] == hub.file_record(TFLITE)
    meta = lite.read_metadata(TFLITE.read_bytes())
    assert json.loads(meta[lite.META_CONFIG])["source_sha256"] == hub.sha256_file(DEFAULT_MODEL)


def test_a_stale_export_falls_back_to_keras_or_fails_when_lite_is_required(tmp_path, monkeypatch):
    from beauty.ops.export import with_metadata
    from beauty.pipeline import Scorer
    from beauty.runtime import DeviceError

    npz = tmp_path / DEFAULT_MODEL.name
    shutil.copy(DEFAULT_MODEL, npz)
    shutil.copy(DEFAULT_MODEL.with_suffix(".json"), npz.with_suffix(".json"))
    content = TFLITE.read_bytes()
    cfg = json.loads(lite.read_metadata(content)[lite.META_CONFIG])
    cfg["source_sha256"] = "0" * 64  # exported from other weights
    lite.lite_path(npz).write_bytes(with_metadata(content, {lite.META_CONFIG: json.dumps(cfg).encode()}))
    with pytest.raises(lite.StaleExportError, match="export-lite"):
        lite.load_lite(npz)
    monkeypatch.setenv("BEAUTY_RUNTIME", "lite")
    with pytest.raises(DeviceError, match="export-lite"):
        Scorer(npz)
    monkeypatch.setenv("BEAUTY_RUNTIME", "auto")
    s = Scorer(npz)
    try:
        assert s.runtime == "keras"
    finally:
        s.detector.close()


def test_runtime_choice(monkeypatch, tmp_path):
    from beauty.runtime import DeviceError, choose_runtime

    monkeypatch.setenv("BEAUTY_RUNTIME", "keras")
    assert choose_runtime(DEFAULT_MODEL)[0] == "keras"
    monkeypatch.setenv("BEAUTY_RUNTIME", "tflite9000")
    with pytest.raises(DeviceError, match="auto, lite, keras"):
        choose_runtime(DEFAULT_MODEL)
    monkeypatch.setenv("BEAUTY_RUNTIME", "lite")
    monkeypatch.setenv("BEAUTY_DEVICE", "cpu")
    assert choose_runtime(DEFAULT_MODEL)[0] == "lite"
    with pytest.raises(DeviceError, match="export-lite"):
        choose_runtime(tmp_path / "other.npz")  # no .tflite beside it
    monkeypatch.setenv("BEAUTY_DEVICE", "gpu")
    with pytest.raises(DeviceError, match="CPU"):
        choose_runtime(DEFAULT_MODEL)
    monkeypatch.setenv("BEAUTY_RUNTIME", "auto")
    assert choose_runtime(DEFAULT_MODEL)[0] == "keras"  # the GPU path
    assert choose_runtime(tmp_path / "other.npz")[0] == "keras"


def test_serving_never_imports_tensorflow(astronaut_path):
    """A fresh process scores a photo on the default runtime without loading TensorFlow, Keras or MediaPipe (whose
    detector model runs on LiteRT, beauty/blazeface.py)."""
    code = ("import sys, beauty; s = beauty.load_scorer(); r = s.score(sys.argv[1]); s.detector.close(); "
            "print(s.runtime, round(r.main.score, 4), sorted(m for m in ('tensorflow', 'keras', 'mediapipe') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(astronaut_path)], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "BEAUTY_RUNTIME": "auto", "BEAUTY_DEVICE": "cpu"})
    assert out.returncode == 0, out.stderr[-2000:]
    runtime, score, heavy = out.stdout.strip().splitlines()[-1].split(" ", 2)
    assert runtime == "lite" and heavy == "[]" and 1 <= float(score) <= 5


@pytest.mark.slow
def test_export_lite_rebuilds_the_committed_file(tmp_path, real_crops):
    """`python -m beauty export-lite` from the shipped weights gives the committed .tflite: the same size, metadata
    (resize matrix, source hash) and tensors, and the same outputs on the app's crops. Not byte for byte: the
    converter folds batch norm into the weights with the CPU's own float rounding, so a file built on one x86
    machine differs from one built on another in most weight bytes (measured: 486,956 bytes, outputs within 2e-6)."""
    out = tmp_path / "rebuilt.tflite"
    r = subprocess.run([sys.executable, "-m", "beauty", "export-lite", "--out", str(out)], cwd=ROOT,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "max |LiteRT - Keras|" in r.stdout
    rebuilt, committed = out.read_bytes(), TFLITE.read_bytes()
    assert len(rebuilt) == len(committed) and lite.read_metadata(rebuilt) == lite.read_metadata(committed)
    a, b = lite.LiteModel(out), lite.LiteModel(TFLITE)
    assert [(t["name"], list(t["shape"]), t["dtype"]) for t in a._it.get_tensor_details()] == \
        [(t["name"], list(t["shape"]), t["dtype"]) for t in b._it.get_tensor_details()]
    (ya, fa), (yb, fb) = (m.predict(real_crops, features=True) for m in (a, b))
    assert np.abs(ya - yb).max() < 1e-4 and np.abs(fa - fb).max() < 1e-3


def test_hub_downloads_check_the_export_and_do_without_it(tmp_path, monkeypatch):
    """A model repo's .tflite must match its recorded hash; a repo without one still serves, on Keras."""
    from tests.test_deploy import REPO, fill_hub_cache, shipped_files

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    files = shipped_files()
    tampered = dict(files, **{TFLITE.name: files[TFLITE.name][:-1] + b"\0"})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "a"))
    fill_hub_cache(tmp_path / "a", tampered)
    with pytest.raises(hub.ModelIntegrityError, match=TFLITE.name):
        hub.fetch_model(REPO)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "b"))
    fill_hub_cache(tmp_path / "b", {k: v for k, v in files.items() if k != TFLITE.name})
    path = hub.fetch_model(REPO)
    assert path.name == DEFAULT_MODEL.name and not lite.lite_path(path).exists()
    from beauty.runtime import choose_runtime

    monkeypatch.setenv("BEAUTY_RUNTIME", "auto")
    assert choose_runtime(path)[0] == "keras"
