"""Why this score: the occlusion map's sanity checks, the photo tips checked on held-out photos, the shot line,
the CLI and bad input.

The dataset checks (randomised weights, the 200-face deletion test, the tips on held-out photos) read
SCUT-FBP5500 test photos and skip without $SCUT_FBP5500_DIR; the trained model's maps of the 200 faces are
cached in .cache/explain/ (tools/explain_checks.py prints the same numbers).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from beauty import explain
from beauty.errors import FaceCutError, NoFaceError
from tests.support.paths import ROOT, dataset_root, needs_dataset

# words about the face itself; a photo tip must contain none of them
FACE_WORDS = ("nose", "lip", "skin", "eyebrow", "jaw", "chin", "cheek", "teeth", "makeup", "make-up", "wrinkle",
              "weight", "surgery", "hairstyle", "beard", "smile", "expression", "features")


@pytest.fixture(scope="module")
def astronaut_explained(scorer, astronaut_rgb):
    return explain.explain(scorer, astronaut_rgb)


def test_map_goes_through_the_scorers_own_preprocessing(scorer, astronaut_rgb, astronaut_explained):
    ex = astronaut_explained
    result = scorer.score(astronaut_rgb)
    assert np.array_equal(ex.heatmap.crop, result.main.crop)  # the same detect -> align -> crop
    assert ex.score == pytest.approx(result.main.score, abs=1e-4)  # the same runtime and flip TTA
    assert ex.heatmap.cells.shape == (6, 6)
    # one square greyed by hand and scored like any crop gives that square's value
    ps = explain.positions()
    crop = result.main.crop.copy()
    crop[ps[2]:ps[2] + explain.PATCH, ps[3]:ps[3] + explain.PATCH] = explain.GREY
    moved = result.main.score - float(scorer.score_crops(crop[None])[0])
    assert ex.heatmap.cells[2, 3] == pytest.approx(moved, abs=1e-4)
    assert np.abs(ex.heatmap.cells).max() > 0.02  # the map says something
    overlay = ex.heatmap.overlay()
    assert overlay.shape == (350, 350, 3) and overlay.dtype == np.uint8
    d = ex.to_dict()
    assert d["heatmap"]["method"] == "occlusion" and len(d["heatmap"]["cells"]) == 6
    json.dumps(d)  # serialisable as it is, for the API


def test_map_is_one_batch_of_crops(scorer, astronaut_explained):
    calls = scorer.model_calls
    explain.occlusion_map(astronaut_explained.heatmap.crop, scorer.score_crops)
    assert scorer.model_calls - calls <= 3  # 37 crops in one score_crops call (≤ 32 crops per model call)


def test_explain_refuses_bad_input_like_scoring(scorer, no_face_path, astronaut_rgb):
    with pytest.raises(NoFaceError):
        explain.explain(scorer, no_face_path)
    with pytest.raises(FaceCutError):
        explain.explain(scorer, np.ascontiguousarray(astronaut_rgb[:, 215:]))  # the face 40 % outside the frame


def test_lines_are_about_the_photo_never_the_face():
    effects = explain.load_effects()
    texts = [" ".join((f.heading, f.todo, f.phrase, f.condition, f.better)) for f in explain.FACTORS.values()]
    rng = np.random.default_rng(0)
    for _ in range(300):  # shots all over the descriptor space and the score range
        info = {"light": rng.uniform(0.05, 0.95), "side_light": rng.uniform(-0.8, 0.8),
                "face_px": rng.uniform(10, 200), "sharpness": rng.uniform(0.05, 1.2), "roll": rng.uniform(-30, 30),
                "yaw": rng.uniform(-0.5, 0.5), "pitch": rng.uniform(0.2, 1.0)}
        tried = {name: rng.uniform(-0.2, 0.2) for name in explain.fixable(info, effects)}  # per-photo checks
        for t in explain.findings(info, rng.uniform(1.2, 4.8), effects, tried):
            assert t.factor in explain.FACTORS and (t.effect > 0) == (t.kind == "tip")
            sim = effects["thresholds"]["simulated"].get(t.factor)
            if sim is not None:  # only what passed calibration is ever said
                assert t.effect == tried[t.factor] and abs(t.effect) >= sim["min_delta"]
            else:
                th = effects["thresholds"][t.kind]
                assert th is not None and abs(t.effect) >= th["min_gain"] and t.share >= th["min_share"]
            texts.append(t.text)
        texts.append(explain.pose_note(info, effects) or "")
    low = " ".join(texts).lower()
    assert not [w for w in FACE_WORDS if w in low]


def test_nothing_to_say_about_a_photo_like_the_datasets():
    effects = explain.load_effects()
    typical = {k: v["p50"] for k, v in effects["baseline"].items()}
    info = {"light": typical["light"], "side_light": typical["side_light"], "face_px": typical["face_px"],
            "sharpness": typical["sharpness"], "roll": typical["tilt"], "yaw": typical["yaw"], "pitch": typical["pitch"]}
    for score in (1.5, 2.5, 3.0, 3.5, 4.5):
        assert explain.findings(info, score, effects) == []
    assert explain.pose_note(info, effects) is None
    assert explain.fixable(info, effects, calibrated=False) == []  # nothing to undo, so no extra model call


def test_dim_photo_is_brightened_and_scored_again_through_the_app_path(scorer, astronaut_rgb):
    """The per-photo check is the app's own score of the photo with the condition undone by software."""
    effects = explain.load_effects()
    dim = explain.change_photo(astronaut_rgb, "exposure", 0.3)
    result = scorer.score(dim)
    det, info = explain.photo_face(scorer, result)
    assert info["light"] < effects["factors"]["darker"]["baseline"]["p5"]
    assert "darker" in explain.fixable(info, effects)
    tried = explain.try_fixes(scorer, dim, det, result.main.crop, info, effects)
    bright = scorer.score(explain.fix_photo(dim, "darker", det, info, effects))
    assert describe_light(scorer, bright) == pytest.approx(effects["factors"]["darker"]["baseline"]["p50"], abs=0.03)
    assert tried["darker"] == pytest.approx(bright.main.score - result.main.score, abs=1e-4)
    ex = explain.explain_result(scorer, result)
    lines = [t for t in ex.tips + ex.caveats if t.factor == "darker"]
    th = effects["thresholds"]["simulated"]["darker"]
    assert len(lines) == (abs(tried["darker"]) >= th["min_delta"])
    for t in lines:
        assert t.effect == pytest.approx(tried["darker"]) and f"{abs(t.effect):.2f}" in t.text
        assert "brightened by software" in t.text and f"{th['precision']:.0%}" in t.text
    # a photo in the dataset's range costs no extra model call
    normal = scorer.score(astronaut_rgb)
    calls = scorer.model_calls
    det0, info0 = explain.photo_face(scorer, normal)
    assert explain.try_fixes(scorer, astronaut_rgb, det0, normal.main.crop, info0, effects) == {}
    assert scorer.model_calls == calls


def describe_light(scorer, result) -> float:
    return explain.photo_face(scorer, result)[1]["light"]


def test_photo_effects_table_is_current_and_verified():
    effects = explain.load_effects()
    model = ROOT / "weights" / effects["model"]
    assert effects["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()[:16], \
        "the model changed: re-run " + effects["command"]
    from beauty.face import PIPELINE_VERSION

    assert effects["pipeline_version"] == PIPELINE_VERSION, "the face crops changed: re-run " + effects["command"]
    assert effects["photos"]["measured"] >= 400 and effects["photos"]["held_out"] >= 400
    for factor in effects["factors"].values():
        assert len(factor["levels"]) >= 2 and all(lv["n"] >= 100 for lv in factor["levels"])  # faces still found
    # what the page says, applied to held-out photos. Light and tilt are checked on the photo itself (undone by
    # software and scored again), shown from the |change| at which that check called the real direction right
    # >= 85 % of the time in cross-checks within the measured half; the other conditions speak from the table of
    # average effects only with thresholds that reached the same precision (for the shipped weights none does:
    # the best table caveats were right 84 % of the time, and 71 % on held-out photos).
    v, th = effects["verification"], effects["thresholds"]
    assert th["target_precision"] >= 0.85
    sim = th["simulated"]
    assert set(sim) == set(explain.SIMULATION)
    for name, t in sim.items():
        assert t is None or (t["precision"] >= th["target_precision"] and t["lines"] >= 50), (name, t)
    assert sim["darker"] is not None  # dim light: the check of the photo itself qualifies
    for kind, key in (("tips", "tip"), ("caveats", "caveat")):
        assert v[kind]["shown"] >= 20 and v[kind]["rate"] >= 0.75, (kind, v[kind])
        # the lines whose change was really made and really undone: the honest part of the check
        assert v[kind]["naming_the_change_made"] >= 20 and v[kind]["rate_naming_the_change_made"] >= 0.75, v[kind]
        if th[key] is None:  # no table thresholds qualified: every candidate in the grid missed the target precision
            assert all(g["precision"] < th["target_precision"] or g["off_target"] > th["max_off_target"]
                       for g in th["grid"][key]), key
    # a photo like the dataset's rarely gets a line (only when its light or tilt is beyond p5..p95 already)
    assert v["unchanged_photos_with_a_tip"] <= 0.05 * v["unchanged_photos"] and v["cases"] >= 1000


def test_shot_line_names_what_differed(scorer, astronaut_rgb):
    def info(rgb):
        return explain.photo_info(scorer, scorer.score(rgb))

    base = info(astronaut_rgb)
    dark = info(explain.change_photo(astronaut_rgb, "exposure", 0.3))
    line = explain.compare(base, dark)
    assert line.startswith("Compared with this shot, your best one had more light on the face"), line
    canvas = np.full((512, 512, 3), 200, np.uint8)
    canvas[128:384, 128:384] = astronaut_rgb[::2, ::2]  # the same photo from twice as far
    assert "a larger face" in explain.compare(base, info(canvas))
    tilted = info(explain.change_photo(astronaut_rgb, "roll", -20, center=(256, 150)))  # her head is tilted +5° already
    assert "the head more upright" in explain.compare(base, tilted)
    assert "about the same" in explain.compare(base, base)


def test_cli_explain_writes_heatmap_and_tips(astronaut_path, no_face_path, tmp_path):
    out = tmp_path / "heatmap.png"
    run = subprocess.run([sys.executable, "-m", "beauty", "explain", str(astronaut_path), "--out", str(out), "--json"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    doc = json.loads(run.stdout)
    assert doc["heatmap"]["method"] == "occlusion" and isinstance(doc["tips"], list) and doc["photo"]["face_px"] > 0
    with Image.open(out) as im:
        assert im.size == (350, 350)
    bad = subprocess.run([sys.executable, "-m", "beauty", "explain", str(no_face_path), "--out", str(tmp_path / "x.png")],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert bad.returncode == 1 and "No face was found" in bad.stderr
    assert "Traceback" not in bad.stderr and not (tmp_path / "x.png").exists()


# ---------------------------------------------------------------- on SCUT-FBP5500 test photos


@pytest.fixture(scope="module")
def faces_200(scorer):
    """200 test-split faces (app crops) and the trained model's maps of them (cached)."""
    from tools import explain_checks as checks

    names, crops = checks.test_faces(dataset_root(), 200)
    cells, scores = checks.trained_maps(scorer, names, crops)
    return crops, cells, scores


@needs_dataset
@pytest.mark.slow
def test_randomised_weights_change_the_map(faces_200):
    """Adebayo et al. 2018: a map that survives randomising the weights explains the image, not the model."""
    from tools import explain_checks as checks

    crops, cells, _ = faces_200
    r = checks.randomisation(cells[:20], crops[:20], checks.random_network(crops[-16:]))
    print(f"\nrandomised weights, 20 faces: Spearman signed {r['spearman_signed_mean']:+.3f}, "
          f"of |map| {r['spearman_abs_mean']:+.3f}")
    assert r["random_map_range_mean"] > 1e-3  # the random network does respond to greying
    assert r["spearman_signed_mean"] < 0.3 and r["spearman_abs_mean"] < 0.3


@needs_dataset
@pytest.mark.slow
def test_deletion_beats_random_regions_on_200_faces(scorer, faces_200):
    from tools import explain_checks as checks

    crops, cells, scores = faces_200
    d = checks.deletion(scorer, crops, cells, scores)
    print(f"\ndeletion, 200 faces: the map's 10 % moved the score more than a random 10 % for "
          f"{d['map_beats_one_random_region']:.1%} (mean |move| {d['mean_move_map']:.3f} vs {d['mean_move_random']:.3f})")
    assert d["faces"] == 200 and d["map_beats_one_random_region"] >= 0.8


@needs_dataset
@pytest.mark.slow
def test_lines_hold_on_held_out_photos(scorer):
    """A fresh draw of changes on the 200 held-out photos (the table's own check used other draws)."""
    from tools import measure_photo_effects as measure

    effects = explain.load_effects()
    _, held_out = measure.pick_photos(dataset_root(), effects["photos"]["measured"] + effects["photos"]["held_out"])
    v = measure.verify(measure.Runner(scorer), dataset_root(), held_out[::2], effects, seed=1, draws=3)
    shown = v["tips"]["shown"] + v["caveats"]["shown"]
    moved = v["tips"]["moved_as_said"] + v["caveats"]["moved_as_said"]
    named = v["tips"]["naming_the_change_made"] + v["caveats"]["naming_the_change_made"]
    named_ok = v["tips"]["naming_the_change_made_moved_as_said"] + v["caveats"]["naming_the_change_made_moved_as_said"]
    print(f"\nlines on {len(held_out[::2])} held-out photos, fresh changes: {moved}/{shown} moved the score as said; "
          f"{named_ok}/{named} of those naming the change made")
    assert v["cases"] >= 500 and v["unchanged_photos_with_a_tip"] <= 0.05 * v["unchanged_photos"]
    # sampling SD of a rate near 0.9 on ~50 lines is about 0.04
    assert shown >= 40 and moved / shown >= 0.75, {k: v[k] for k in v if k != "details"}
    assert named >= 30 and named_ok / named >= 0.75, {k: v[k] for k in v if k != "details"}
