"""The calibrated score range (beauty/interval.py): its maths on synthetic data, the shipped calibration,
and its coverage on real photos through the app's Scorer (skipped without the datasets)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from beauty import interval
from beauty.model import DEFAULT_MODEL
from tests.support.paths import ROOT, dataset_root

MEBEAUTY = Path(os.environ.get("MEBEAUTY_DIR") or ROOT.parent / "shared" / "MEBeauty-dev")
needs_scut = pytest.mark.skipif(dataset_root() is None, reason="SCUT-FBP5500 not available: set $SCUT_FBP5500_DIR")
needs_mebeauty = pytest.mark.skipif(not (MEBEAUTY / "labels.csv").is_file(),
                                    reason="MEBeauty-dev not available: set $MEBEAUTY_DIR")


def synthetic(n, rng):
    """Scores with errors whose spread grows with a signal, like a model that is less sure of unusual faces."""
    signal = rng.gamma(2.0, 0.5, n)
    score = rng.uniform(2.5, 3.5, n)  # away from the 1-5 clip, which would cut the widest ranges
    truth = score + rng.normal(0, 1, n) * (0.1 + 0.2 * signal)
    return score, truth, {"s": signal}


def test_split_conformal_covers_fresh_data_at_each_level():
    rng = np.random.default_rng(0)
    cal_data, fresh = synthetic(1000, rng), synthetic(50_000, rng)
    for level in (0.5, 0.8, 0.9):
        cal = interval.fit(*cal_data, ["s"], level)
        got = interval.evaluate(cal, *fresh)
        assert abs(got["coverage"] - level) < 0.03, (level, got)
        assert cal.coef["s"] > 0  # the signal was found and used
        assert got["spearman_width_error"] > 0.2
    # what adapting buys: the faces with the most doubt are covered too, not only on average
    score, truth, sig = fresh
    top = sig["s"] > np.quantile(sig["s"], 0.75)
    for names, ok in (([], False), (["s"], True)):
        cal = interval.fit(*cal_data, names, 0.8)
        lo, hi = cal.range(score[top], {"s": sig["s"][top]})
        cov_top = np.mean((truth[top] >= lo) & (truth[top] <= hi))
        assert (abs(cov_top - 0.8) < 0.04 if ok else cov_top < 0.65), (names, cov_top)


def test_a_useless_signal_gets_no_weight_and_weights_never_go_negative():
    rng = np.random.default_rng(1)
    score, truth, sig = synthetic(2000, rng)
    sig = {"s": sig["s"], "noise": rng.normal(size=2000), "inverse": -sig["s"]}
    base, coef = interval.fit_sigma(np.abs(truth - score), sig, ["s", "noise", "inverse"])
    assert base > 0 and all(w >= 0 for w in coef.values())
    assert coef["inverse"] == 0 and coef["s"] > 0.1


def test_conformal_quantile_is_the_finite_sample_rank():
    r = np.arange(1, 10, dtype=float)  # n = 9: ceil(10 * 0.8) = 8th smallest
    assert interval.conformal_quantile(r, 0.8) == 8.0
    assert interval.conformal_quantile(r, 0.99) == 9.0  # capped at the largest


def test_score_hats_are_a_partition_of_unity():
    s = np.linspace(0.5, 5.5, 501)
    total = sum(interval.hats(s).values())
    assert np.allclose(total, 1.0)


def test_spearman_matches_scipy():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 20, 300), rng.normal(size=300)  # with ties
    assert interval.spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


@pytest.fixture(scope="module")
def shipped():
    return interval.load()


def test_the_shipped_calibration_belongs_to_the_shipped_weights_and_is_small(shipped):
    assert shipped.model_sha256 == interval.sha256_file(DEFAULT_MODEL)
    assert interval.for_model(DEFAULT_MODEL) is not None
    assert interval.INTERVAL_FILE.stat().st_size < 64_000
    assert shipped.level == 0.8 and shipped.q > 0 and shipped.base > 0
    assert all(w >= 0 for w in shipped.coef.values()) and shipped.coef["atypical"] > 0
    assert shipped.reference.basis.shape == (interval.COMPONENTS, 1280)
    assert json.loads(shipped.to_json())["q"] == shipped.q  # round trip
    other = interval.Calibration.from_dict(json.loads(shipped.to_json()))
    assert np.array_equal(other.reference.basis, shipped.reference.basis)


def test_width_grows_with_how_unusual_the_face_is(shipped):
    rng = np.random.default_rng(3)
    feats = shipped.reference.mean + rng.normal(0, 0.05, (1, 1280))
    direction = rng.normal(0, 1, 1280)
    direction -= shipped.reference.basis.T @ (shipped.reference.basis @ direction)  # outside the typical subspace
    direction /= np.linalg.norm(direction)
    steps = np.linspace(0, 4, 9)
    widths = []
    for t in steps:
        lo, hi = shipped.ranges([3.0], feats + t * direction)
        widths.append(float(hi[0] - lo[0]))
    assert np.all(np.diff(widths) > 0), widths
    # and never narrower for a face the model is less sure of at any score
    for score in np.linspace(1.2, 4.8, 13):
        lo1, hi1 = shipped.ranges([score], feats)
        lo2, hi2 = shipped.ranges([score], feats + 2 * direction)
        assert hi2[0] - lo2[0] >= hi1[0] - lo1[0]
        assert lo2[0] <= score <= hi2[0]


def test_a_calibration_for_other_weights_gives_no_range(tmp_path, shipped):
    from dataclasses import replace

    p = tmp_path / "interval.json"
    p.write_text(replace(shipped, model_sha256="0" * 64).to_json())
    assert interval.for_model(DEFAULT_MODEL, p) is None
    assert interval.for_model(DEFAULT_MODEL, tmp_path / "missing.json") is None


def test_the_scorer_gives_every_face_a_range(scorer, astronaut_path):
    fs = scorer.score(astronaut_path).main
    assert fs.low is not None and fs.low < fs.score < fs.high
    d = fs.to_dict()
    assert d["low"] == round(fs.low, 4) and d["high"] == round(fs.high, 4)
    # the range comes from the same model call as the score: the crop scored alone gives the same range
    scores, feats = scorer.score_crops(fs.crop[None], features=True)
    (lo, hi), = scorer.ranges(scores, feats)
    assert lo == pytest.approx(fs.low, abs=1e-6) and hi == pytest.approx(fs.high, abs=1e-6)


def _scut_sample(step=10):
    from beauty.training.data import load_split

    root = dataset_root()
    _, test = load_split(root, "60-40")
    test = sorted(test)[::step]
    return [root / "Images" / n for n, _ in test], np.array([y for _, y in test])


@needs_scut
@pytest.mark.dataset
@pytest.mark.slow
def test_coverage_on_real_test_photos_through_the_scorer(scorer):
    """220 of the 2,200 held-out test photos through the app: about 80 % of human means inside the range."""
    from beauty.training.evaluate import score_photos

    paths, y = _scut_sample()
    got = score_photos(scorer, paths)
    inside = (y >= got["low"]) & (y <= got["high"])
    cov = float(inside.mean())
    err = np.abs(y - got["score"])
    rho = interval.spearman(got["high"] - got["low"], err)
    print(f"\n{len(y)} SCUT test photos: coverage {cov:.3f}, mean width {np.mean(got['high'] - got['low']):.3f}, "
          f"Spearman(width, |error|) {rho:.3f}")
    # 3 binomial SDs at n=220 is 0.081
    assert 0.72 <= cov <= 0.88
    assert rho > 0


@needs_scut
@needs_mebeauty
@pytest.mark.dataset
@pytest.mark.slow
def test_in_the_wild_photos_get_wider_ranges(scorer):
    """MEBeauty val (real photos, six ethnic groups) vs SCUT-FBP5500 test photos: the model is less sure there."""
    import csv

    from beauty.training.evaluate import score_photos

    with open(MEBEAUTY / "labels.csv", newline="") as f:
        val = sorted(r["file"] for r in csv.DictReader(f) if r["split"] == "val")[::4]
    wild = score_photos(scorer, [MEBEAUTY / "images" / n for n in val])
    paths, _ = _scut_sample(step=40)
    lab = score_photos(scorer, paths)
    w_wild, w_lab = np.nanmean(wild["high"] - wild["low"]), np.nanmean(lab["high"] - lab["low"])
    print(f"\nmean width: MEBeauty val {w_wild:.3f} ({len(val)} photos), SCUT test {w_lab:.3f} ({len(paths)})")
    assert w_wild > 1.2 * w_lab
