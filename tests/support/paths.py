"""Where the tests find the repository, their output folder and the datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


def dataset_root() -> Path | None:
    """SCUT-FBP5500 from $SCUT_FBP5500_DIR, or None when unset or absent."""
    p = os.environ.get("SCUT_FBP5500_DIR")
    return Path(p) if p and (Path(p) / "Images").is_dir() else None


needs_dataset = pytest.mark.skipif(dataset_root() is None, reason="SCUT-FBP5500 not available: set $SCUT_FBP5500_DIR")
