"""The shipped model, for real: its model-card metrics must hold on the 2,200 test photos.

Runs the app's own pipeline (detect, align, crop, flip TTA) over the official
60/40 test split, so it takes about a minute on two CPU cores.
"""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from beauty.model import DEFAULT_MODEL, load_model, predict

REAL = os.environ.get("SCUT_FBP5500_DIR")
CARD = DEFAULT_MODEL.parent / "MODEL_CARD.md"


def shipped_metrics():
    return json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())["metrics"]["60-40"]


@pytest.mark.skipif(not REAL or not Path(REAL).is_dir(), reason="$SCUT_FBP5500_DIR not set")
def test_model_card_metrics_hold_on_test_split():
    from beauty.training import data
    from beauty.training.evaluate import evaluate

    claimed = shipped_metrics()
    result = evaluate(DEFAULT_MODEL, data.dataset_dir(REAL), "60-40", crops="face", flip_tta=True, cache_dir=None,
                      features=True)
    got = result["overall"]
    print(f"test split: PC {got['pc']:.4f} MAE {got['mae']:.4f} RMSE {got['rmse']:.4f} (card: {claimed})")
    assert got["n"] == 2200
    for k in ("pc", "mae", "rmse"):
        assert abs(got[k] - claimed[k]) <= 0.005, (k, got[k], claimed[k])
    for group, m in result["groups"].items():
        assert abs(m["pc"] - claimed["groups"][group]["pc"]) <= 0.005, group
    # the calibrated 80 % range (beauty/interval.py), fitted on these photos: still calibrated for these crops
    from beauty import interval

    cal = interval.for_model(DEFAULT_MODEL)
    assert cal is not None, "beauty/interval.json does not belong to the shipped weights: refit it"
    sig = interval.signals(result["pred"], result["features"], cal.reference, cal.knots)
    got = interval.evaluate(cal, result["pred"], result["true"], sig)
    recorded = cal.extra["scut_test_cross_conformal_2fold"]
    print(f"80 % range on the test split: coverage {got['coverage']:.4f}, mean width {got['mean_width']:.3f}, "
          f"Spearman(width, |error|) {got['spearman_width_error']:.3f} (cross-conformal: {recorded})")
    assert abs(got["coverage"] - cal.level) <= 0.01
    assert abs(got["mean_width"] - recorded["mean_width"]) <= 0.02
    assert got["spearman_width_error"] >= 0.15 and recorded["spearman_width_error"] >= 0.15
    assert 0.78 <= recorded["coverage"] <= 0.82


def test_model_card_states_the_recorded_metrics():
    m = shipped_metrics()
    card = CARD.read_text()
    for k in ("pc", "mae", "rmse"):
        assert f"{m[k]:.4f}" in card, k


def test_model_card_states_the_range_calibration():
    from beauty import interval

    recorded = interval.load().extra["scut_test_cross_conformal_2fold"]
    card = CARD.read_text()
    for k in ("coverage", "mean_width", "spearman_width_error"):
        assert f"{recorded[k]:.3f}" in card, k
    assert "docs/coverage.png" in card


def test_weights_are_small_float16_and_load_without_pickle():
    with np.load(DEFAULT_MODEL, allow_pickle=False) as f:
        assert all(f[k].dtype == np.float16 for k in f.files)
    assert DEFAULT_MODEL.stat().st_size < 10_000_000
    model = load_model(DEFAULT_MODEL)
    gray = np.full((2, 350, 350, 3), 128, np.uint8)
    scores = predict(model, gray)
    assert scores.shape == (2,) and np.all((scores >= 1) & (scores <= 5))
