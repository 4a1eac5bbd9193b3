"""Shared fixtures: the real Scorer, real photos, the dataset (when present), a running app.

Nothing is mocked. Tests that need SCUT-FBP5500 skip cleanly when
$SCUT_FBP5500_DIR is unset or absent; dataset images are only read at test
time, never copied into the repository. Test outputs (screenshots, measured
spreads, the app's log) go to artifacts/ (gitignored).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.support import ci_guard
from tests.support.paths import ARTIFACTS, dataset_root


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def scorer():
    """One real, warmed-up Scorer for the whole test session (bundled weights or $BEAUTY_MODEL)."""
    from beauty import load_scorer

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
    from beauty.training.data import SPLIT_DIR, read_labels

    rows = sorted(read_labels(root / "train_test_files" / SPLIT_DIR / "test.txt"), key=lambda r: r[1])
    picks = [rows[i] for i in np.linspace(0, len(rows) - 1, 12).round().astype(int)]
    return [(root / "Images" / name, score) for name, score in picks]


# ---------------------------------------------------------------- the app, as a real server


@pytest.fixture(scope="session")
def app_url(artifacts):
    """The app (`python -m beauty serve`, the same `serve()` app.py calls) on a free localhost port; its log goes to
    artifacts/app-server.log. Per-client limits are off: every test client comes from 127.0.0.1, so the production
    limit would throttle the suite itself (tests/test_security.py turns them on)."""
    from beauty.ops.server import start_server

    with start_server(log_path=artifacts / "app-server.log") as server:
        yield server.url


# ---------------------------------------------------------------- markers and the dataset guard

SERVER_FIXTURES = {"app_url", "server", "app_client", "client"}
DATASET_FIXTURES = {"scut_test_images"}


def pytest_collection_modifyitems(config, items):
    """Markers from what a test uses, so `-m "not server and not browser"` is a quick run that can't drift."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        module = item.module.__name__.rsplit(".", 1)[-1]
        if module in ("test_app_browser", "test_explain_browser"):
            item.add_marker(pytest.mark.browser)
        if fixtures & SERVER_FIXTURES or module in ("test_app_browser", "test_explain_browser", "test_api"):
            item.add_marker(pytest.mark.server)
        skipif = [m for m in item.iter_markers("skipif") if "SCUT" in str(m.kwargs.get("reason", ""))]
        if fixtures & DATASET_FIXTURES or skipif:
            item.add_marker(pytest.mark.dataset)
        if item.get_closest_marker("server"):  # more: @pytest.mark.slow in the test files
            item.add_marker(pytest.mark.slow)


def pytest_sessionstart(session):
    """In CI with ../shared, a $SCUT_FBP5500_DIR that is not the dataset stops the run before any test."""
    problem = ci_guard.setup_problem()
    if problem:
        raise pytest.UsageError(problem)


_dataset_skips: list[str] = []


def pytest_runtest_logreport(report):
    if report.skipped and ("dataset" in report.keywords or "SCUT" in str(report.longrepr)):
        _dataset_skips.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    """In CI the dataset lies beside the checkout: a dataset test that skips there means a broken set-up,
    and the model-card numbers would silently stop being re-checked."""
    if ci_guard.dataset_expected() and _dataset_skips:
        print(f"\nERROR: {len(_dataset_skips)} dataset test(s) skipped although CI has the dataset "
              f"(is $SCUT_FBP5500_DIR right?): {_dataset_skips[:5]}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
