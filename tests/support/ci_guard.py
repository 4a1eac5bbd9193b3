"""When must the dataset tests run? In CI, where SCUT-FBP5500 lies in ../shared beside the checkout.

There a missing or wrong $SCUT_FBP5500_DIR would not only skip the dataset tests: the dataset cases of
the hostile corpus, the dataset faces of the scene test and the dataset photos of the privacy test
would silently vanish from the run. So conftest.py stops such a run before any test, and fails it at
the end if a dataset test skipped anyway.
"""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.paths import ROOT, dataset_root

SHARED_DATASET = ROOT.parent / "shared" / "SCUT-FBP5500_v2"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def dataset_expected() -> bool:
    """CI with the dataset beside the checkout: every dataset test must run."""
    return in_ci() and (SHARED_DATASET / "Images").is_dir()


def setup_problem() -> str | None:
    """Why a run that expects the dataset cannot use it (None when it can, or when it is not expected)."""
    if not dataset_expected() or dataset_root() is not None:
        return None
    where = os.environ.get("SCUT_FBP5500_DIR")
    return (f"CI has the dataset at {SHARED_DATASET}, but $SCUT_FBP5500_DIR "
            + (f"= {where!r} is not a SCUT-FBP5500_v2 folder (no Images/ in it)" if where else "is not set")
            + f": set SCUT_FBP5500_DIR={Path('..') / 'shared' / 'SCUT-FBP5500_v2'}, or the dataset tests "
              "and the dataset cases of the other tests would silently not run.")
