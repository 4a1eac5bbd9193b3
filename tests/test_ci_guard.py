"""The CI guard (tests/support/ci_guard.py, hooked in conftest.py) really fails a CI run that would lose the
dataset tests: real pytest runs in subprocesses, with CI=true, on the light tests of tests/test_data.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.ci_guard import SHARED_DATASET
from tests.support.paths import ROOT

pytestmark = pytest.mark.skipif(not (SHARED_DATASET / "Images").is_dir(),
                                reason=f"no dataset beside this checkout ({SHARED_DATASET.parent})")


def pytest_run(*args, dataset_dir: str | None, ci: str = "true") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("SCUT_FBP5500_DIR", "CI", "PYTEST_ADDOPTS")}
    env["CI"] = ci
    if dataset_dir is not None:
        env["SCUT_FBP5500_DIR"] = dataset_dir
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)


@pytest.mark.parametrize("dataset_dir", [str(ROOT), None])
def test_ci_run_without_the_dataset_fails_before_any_test(dataset_dir):
    """Not the dataset, or unset: the run stops, even when it selects no dataset test at all
    (the dataset cases of the hostile corpus would vanish without a skip)."""
    r = pytest_run("tests/test_data.py", "-m", "not dataset", dataset_dir=dataset_dir)
    assert r.returncode == pytest.ExitCode.USAGE_ERROR, r.stdout[-2000:] + r.stderr[-2000:]
    assert "SCUT_FBP5500_DIR" in r.stderr and "passed" not in r.stdout


def test_ci_run_where_a_dataset_test_skips_fails(tmp_path):
    skipping = tmp_path / "test_skipping.py"
    skipping.write_text("import pytest\n\n\n@pytest.mark.skipif(True, reason='SCUT-FBP5500 not available')\n"
                        "def test_needs_the_dataset():\n    pass\n")
    r = pytest_run("-p", "tests.conftest", "--rootdir", str(ROOT), str(skipping),
                   dataset_dir=str(SHARED_DATASET))
    assert r.returncode == pytest.ExitCode.TESTS_FAILED, r.stdout[-2000:] + r.stderr[-2000:]
    assert "1 dataset test(s) skipped although CI has the dataset" in r.stdout


def test_ci_run_with_the_dataset_passes_and_outside_ci_nothing_is_enforced():
    ok = pytest_run("tests/test_data.py", "-m", "dataset", dataset_dir=str(SHARED_DATASET))
    assert ok.returncode == 0 and "skipped" not in ok.stdout, ok.stdout[-2000:]
    local = pytest_run("tests/test_data.py", "-m", "dataset", dataset_dir="/nonexistent", ci="false")
    assert local.returncode == 0 and "skipped" in local.stdout, local.stdout[-2000:]
