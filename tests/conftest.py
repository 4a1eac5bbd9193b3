"""Shared fixtures: the real Scorer, real photos, the dataset (when present), a running app.

Nothing is mocked. Tests that need SCUT-FBP5500 skip cleanly when
$SCUT_FBP5500_DIR is unset or absent; dataset images are only read at test
time, never copied into the repository. Test outputs (screenshots, measured
spreads, the app's log) go to artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "artifacts"
sys.path.insert(0, str(ROOT / "tools"))  # loadtest.start_server runs the app for the tests


def dataset_root() -> Path | None:
    p = os.environ.get("SCUT_FBP5500_DIR")
    return Path(p) if p and (Path(p) / "Images").is_dir() else None


needs_dataset = pytest.mark.skipif(dataset_root() is None, reason="SCUT-FBP5500 not available: set $SCUT_FBP5500_DIR")


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def scorer():
    """One real, warmed-up Scorer for the whole test session (bundled weights or $BEAUTY_MODEL)."""
    from beauty.cli import load_scorer

    s = load_scorer()
    yield s
    s.detector.close()


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    from skimage import data

    return data.astronaut()


@pytest.fixture(scope="session")
def astronaut_path(tmp_path_factory, astronaut_rgb) -> Path:
    from PIL import Image

    p = tmp_path_factory.mktemp("photos") / "astronaut.png"
    Image.fromarray(astronaut_rgb).save(p)
    return p


@pytest.fixture(scope="session")
def no_face_path(tmp_path_factory) -> Path:
    from PIL import Image
    from skimage import data

    p = tmp_path_factory.mktemp("photos") / "coffee.jpg"
    Image.fromarray(data.coffee()).save(p, quality=90)
    return p


@pytest.fixture(scope="session")
def scut_test_images():
    """(path, human mean rating) for 12 images of the official 60/40 test split, spread over the score range."""
    root = dataset_root()
    if root is None:
        pytest.skip("SCUT-FBP5500 not available: set $SCUT_FBP5500_DIR")
    from beauty.data import SPLIT_DIR, read_labels

    rows = sorted(read_labels(root / "train_test_files" / SPLIT_DIR / "test.txt"), key=lambda r: r[1])
    picks = [rows[i] for i in np.linspace(0, len(rows) - 1, 12).round().astype(int)]
    return [(root / "Images" / name, score) for name, score in picks]


# ---------------------------------------------------------------- the app, as a real server


@pytest.fixture(scope="session")
def app_url(artifacts):
    """`python app.py` itself on a free localhost port; its log goes to artifacts/app-server.log."""
    import loadtest

    with loadtest.start_server(argv=[sys.executable, "app.py"], log_path=artifacts / "app-server.log") as server:
        yield server.url
