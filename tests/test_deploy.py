"""Space deployment plan, front matter validation, verified Hub weights. No network needed.

The Hub tests use real `hf_hub_download` against a pre-filled Hugging Face cache
(the layout the library writes: models--OWNER--NAME/{refs/main, snapshots/<commit>/…})
with HF_HUB_OFFLINE=1, so they exercise the same code path as a Space restart.
"""

import json
import shutil
from pathlib import Path

import pytest

from beauty import hub
from beauty.ops import deploy
from beauty.errors import ModelNotFoundError
from beauty.model import DEFAULT_MODEL, WEIGHTS_DIR
from beauty.runtime import resolve_model_path

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
REPO = "someone/beauty-model"


# ---------------------------------------------------------------- recorded hashes


def test_recorded_hashes_match_the_shipped_weights():
    recorded = hub.recorded_hashes()
    actual = hub.compute_hashes(WEIGHTS_DIR)
    assert recorded == actual, (
        "weights/ changed but beauty/model_hashes.json did not: run "
        "`python -m beauty publish-model --update-hashes` and commit the result"
    )


# ---------------------------------------------------------------- fetching weights from the Hub


def fill_hub_cache(cache: Path, files: dict[str, bytes], repo: str = REPO, commit: str = COMMIT) -> Path:
    folder = cache / f"models--{repo.replace('/', '--')}"
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(commit)
    for name, data in files.items():
        (snap / name).write_bytes(data)
    return snap


def shipped_files() -> dict[str, bytes]:
    return {n: (WEIGHTS_DIR / n).read_bytes() for n in hub.MODEL_FILES}


@pytest.fixture
def offline_hub(tmp_path, monkeypatch):
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.delenv("BEAUTY_MODEL", raising=False)
    monkeypatch.delenv("BEAUTY_MODEL_REVISION", raising=False)
    return cache


def test_weights_come_from_the_hub_cache_when_weights_dir_is_empty(offline_hub, tmp_path, monkeypatch):
    snap = fill_hub_cache(offline_hub, shipped_files())
    monkeypatch.setenv("BEAUTY_MODEL_REPO", REPO)
    path = resolve_model_path(default=tmp_path / "empty" / DEFAULT_MODEL.name)
    assert path == snap / DEFAULT_MODEL.name
    assert path.with_suffix(".json").read_bytes() == DEFAULT_MODEL.with_suffix(".json").read_bytes()
    monkeypatch.setenv("BEAUTY_MODEL_REVISION", COMMIT)  # a pinned commit resolves to the same snapshot
    assert resolve_model_path(default=tmp_path / "empty" / DEFAULT_MODEL.name) == path


def test_downloaded_weights_load_and_predict_like_the_local_ones(offline_hub):
    import numpy as np

    from beauty.model import load_model, predict

    fill_hub_cache(offline_hub, shipped_files())
    path = hub.fetch_model(REPO)
    x = np.full((1, 350, 350, 3), 120, np.uint8)
    assert np.allclose(predict(load_model(path), x), predict(load_model(DEFAULT_MODEL), x), atol=1e-5)


def test_a_tampered_hub_file_is_refused(offline_hub):
    files = shipped_files()
    npz = bytearray(files[hub.MODEL_FILES[0]])
    npz[-100] ^= 0xFF  # one flipped byte
    files[hub.MODEL_FILES[0]] = bytes(npz)
    fill_hub_cache(offline_hub, files)
    with pytest.raises(hub.ModelIntegrityError, match="refused"):
        hub.fetch_model(REPO)


def test_a_swapped_config_is_refused_too(offline_hub):
    files = shipped_files()
    cfg = json.loads(files[hub.MODEL_FILES[1]])
    cfg["image_size"] = 160
    files[hub.MODEL_FILES[1]] = json.dumps(cfg).encode()
    fill_hub_cache(offline_hub, files)
    with pytest.raises(hub.ModelIntegrityError):
        hub.fetch_model(REPO)


def test_no_weights_anywhere_is_a_clear_error(offline_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("BEAUTY_MODEL_REPO", REPO)  # set, but not cached and no network
    with pytest.raises(ModelNotFoundError) as e:
        resolve_model_path(default=tmp_path / "empty" / DEFAULT_MODEL.name)
    assert REPO in str(e.value) and "weights/" in str(e.value)
    assert not isinstance(e.value, hub.ModelIntegrityError)


# ---------------------------------------------------------------- Space front matter


def valid_fm(**changes):
    fm = dict(deploy.SPACE_CONFIG, sdk_version="6.31.0")
    fm.update(changes)
    return fm


def test_default_front_matter_is_valid():
    assert deploy.validate_front_matter(valid_fm(), "6.31.0", {"app.py"}) == []


@pytest.mark.parametrize("changes, problem", [
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"colorFrom": "orange"}, "colorFrom: must be one of"),
    ({"short_description": "x" * 61}, "short_description"),
    ({"sdk_version": "5.0.0"}, "differs from gradio==6.31.0"),
    ({"python_version": 3.1}, "python_version"),  # what an unquoted `3.10` parses to
    ({"sdk": "streamlit"}, "sdk"),
    ({"pinned": "yes"}, "pinned"),
    ({"suggested_hardware": "h100-huge"}, "suggested_hardware"),
    ({"suggested_storage": "tiny"}, "suggested_storage"),
    ({"header": "big"}, "header"),
    ({"startup_duration_timeout": "ten minutes"}, "startup_duration_timeout"),
    ({"custom_headers": {"X-Frame-Options": "DENY"}}, "custom_headers"),
    ({"app_file": "main.py"}, "not among the uploaded files"),
])
def test_bad_front_matter_is_rejected(changes, problem):
    problems = deploy.validate_front_matter(valid_fm(**changes), "6.31.0", {"app.py"})
    assert any(problem in p for p in problems), problems


def test_accepted_optional_keys():
    fm = valid_fm(suggested_hardware="t4-small", suggested_storage="small", header="mini", fullWidth=True,
                  startup_duration_timeout="1h", models=[REPO], license="other", disable_embedding=False,
                  custom_headers={"cross-origin-opener-policy": "same-origin"}, hf_oauth=False)
    assert deploy.validate_front_matter(fm, "6.31.0", {"app.py"}) == []


# ---------------------------------------------------------------- what the Space gets


def fake_checkout(root: Path, readme: str = "# Beauty\n\nHello.\n", gradio: str = "6.31.0") -> Path:
    """A checkout with everything a Space needs plus everything it must not get."""
    for rel in ["app.py", "beauty/__init__.py", "beauty/model.py", "beauty/ratings.txt",
                "beauty/app/__init__.py", "beauty/app/layout.py", "beauty/model_hashes.json", "weights/face_detection_short_range.tflite", "weights/MODEL_CARD.md",
                "weights/age_gate.npz", "weights/age_gate.json", "weights/age_gate.tflite",
                "beauty/training/age_gate_split.json",
                "examples/obama.jpg", "examples/README.md",
                *deploy.model_files(),
                # must stay behind:
                "weights/imagenet/mobilenet_v2_torchvision.weights.h5", "tests/test_x.py", "tests/data/ref.npz",
                "tools/convert.py", "beauty/training/train.py", "beauty/ops/deploy.py", "runs/mnv2/model.npz", ".cache/crops.npy", "artifacts/eval.json",
                "beauty/__pycache__/model.cpython-311.pyc", "data/Images/1.jpg", "bench/gpu_check.sh",
                ".git/HEAD", "venv/bin/python"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x" * 10)
    (root / "requirements.txt").write_text(f"gradio=={gradio}\ntensorflow-cpu==2.21.0\n")
    (root / "README.md").write_text(readme)
    hub.write_hashes(root / "weights", root / "beauty" / "model_hashes.json")
    return root


def test_space_gets_exactly_the_runtime_files(tmp_path):
    root = fake_checkout(tmp_path)
    files, fm = deploy.plan(root)
    assert sorted(f.path_in_repo for f in files) == sorted([
        "app.py", "requirements.txt", "README.md", "beauty/__init__.py", "beauty/model.py",
        "beauty/app/__init__.py", "beauty/app/layout.py", "beauty/ratings.txt", "beauty/model_hashes.json", "weights/face_detection_short_range.tflite",
        "weights/MODEL_CARD.md", "weights/beauty_mobilenet_v2.npz", "weights/beauty_mobilenet_v2.json",
        "weights/beauty_mobilenet_v2.tflite", "examples/obama.jpg", "examples/README.md",
        "weights/age_gate.npz", "weights/age_gate.json", "weights/age_gate.tflite",
    ])
    readme = next(f for f in files if f.path_in_repo == "README.md").content.decode()
    assert readme.startswith("---\ntitle: Facial Beauty Scorer\n")
    assert "sdk_version: 6.31.0\n" in readme and "python_version: '3.11'\n" in readme
    assert readme.endswith("# Beauty\n\nHello.\n")
    assert fm["sdk_version"] == "6.31.0"


def test_space_with_model_repo_downloads_instead_of_uploading_weights(tmp_path):
    files, fm = deploy.plan(fake_checkout(tmp_path), model_repo=REPO)
    names = {f.path_in_repo for f in files}
    assert "weights/beauty_mobilenet_v2.npz" not in names and "beauty/model_hashes.json" in names
    assert fm["models"] == [REPO]


def test_readme_front_matter_is_used_and_validated(tmp_path):
    good = "---\ntitle: Mine\nemoji: 🙂\ncolorFrom: red\ncolorTo: blue\nsdk: gradio\napp_file: app.py\n---\n# Body\n"
    files, fm = deploy.plan(fake_checkout(tmp_path, readme=good))
    assert fm["title"] == "Mine" and fm["sdk_version"] == "6.31.0"
    bad = good.replace("colorTo: blue", "colorTo: teal\nsdk_version: 4.0.0")
    with pytest.raises(deploy.DeployError) as e:
        deploy.plan(fake_checkout(tmp_path / "b", readme=bad))
    assert "colorTo" in str(e.value) and "sdk_version" in str(e.value)


def test_missing_gradio_pin_or_files_stop_the_deploy(tmp_path):
    root = fake_checkout(tmp_path)
    (root / "requirements.txt").write_text("gradio>=6\n")
    with pytest.raises(deploy.DeployError, match="pin gradio"):
        deploy.plan(root)
    (root / "requirements.txt").write_text("gradio==6.31.0\n")
    (root / "weights" / "beauty_mobilenet_v2.npz").write_bytes(b"retrained")  # record not updated
    with pytest.raises(deploy.DeployError, match="update-hashes"):
        deploy.plan(root)
    (root / "weights" / "MODEL_CARD.md").unlink()
    with pytest.raises(deploy.DeployError, match="MODEL_CARD.md"):
        deploy.plan(root)


def test_dry_run_prints_files_sizes_and_front_matter(tmp_path, capsys):
    root = fake_checkout(tmp_path)
    assert deploy.deploy("someone/space", dry_run=True, root=root) == 0
    out = capsys.readouterr().out
    assert "10  app.py" in out and "weights/beauty_mobilenet_v2.npz" in out and "imagenet" not in out
    assert "front matter:\n---\ntitle: Facial Beauty Scorer" in out and "nothing uploaded" in out


def test_real_checkout_plan():
    """The repository itself deploys: every needed file exists and the front matter is valid."""
    if not (ROOT / "weights" / "MODEL_CARD.md").exists():
        pytest.skip("weights/MODEL_CARD.md not written yet")
    files, _ = deploy.plan(ROOT)
    names = [f.path_in_repo for f in files]
    assert "app.py" in names and "beauty/ratings.txt" in names and "weights/beauty_mobilenet_v2.npz" in names
    assert "examples/obama.jpg" in names and "examples/README.md" in names  # the page's example photos
    assert not [n for n in names if n.startswith(("weights/imagenet", "tests/", "tools/", "runs/", "bench/"))]
    assert sum(f.size for f in files) < 30_000_000  # the weights (budget 25 MB, tests/test_age.py), code, example photos


# ---------------------------------------------------------------- publish-model


def test_publish_model_dry_run_and_hash_update(tmp_path, capsys):
    root = fake_checkout(tmp_path)
    for n in hub.MODEL_FILES:
        shutil.copy(WEIGHTS_DIR / n, root / "weights" / n)
    (root / "beauty" / "model_hashes.json").write_text("{}")
    with pytest.raises(deploy.DeployError, match="update-hashes"):
        deploy.publish_model(REPO, dry_run=True, root=root)
    assert deploy.publish_model(None, update_hashes=True, root=root) == 0
    assert hub.recorded_hashes(root / "beauty" / "model_hashes.json") == hub.recorded_hashes()
    capsys.readouterr()
    assert deploy.publish_model(REPO, dry_run=True, root=root) == 0
    out = capsys.readouterr().out
    assert hub.recorded_hashes()[hub.MODEL_FILES[0]]["sha256"] in out
    assert "beauty_mobilenet_v2.npz" in out and "README.md" in out
    card = next(f for f in deploy.model_repo_files(root) if f.path_in_repo == "README.md")
    assert card.content.decode().startswith("---\nlibrary_name: keras")
