"""The whole pipeline on real faces: photo -> detector -> aligned crop -> model -> score, percentile.

Synthetic scenes paste a face into a larger picture at several sizes and
positions, as a selfie or a group photo would frame it; the score must stay
close to the score of the face on its own, because the crop re-frames it the
way the dataset is framed. The measured spread is written to
artifacts/scene_spread.json and printed (run with -s to see it).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from beauty.errors import ChildFaceError, ImageError, NoFaceError
from beauty.face import CROP_SIZE
from beauty.percentile import human_ratings

from tests.support.paths import dataset_root, needs_dataset

# |score in scene - score alone|, 5 faces × 27 placements (artifacts/scene_spread.json after a run), no face
# missed. Stage-1 weights: max 0.24, median per face 0.04-0.11. Shipped (stage-2) weights: medians 0.02-0.07 for
# four faces, but CF55 scores +0.22 ± 0.05 higher in every scene than alone (max 0.31): alone, her crop reaches
# past the 350-px photo and is padded by mirroring; in a scene it holds the real surroundings.
MAX_DELTA = 0.35  # per placement
MAX_MEDIAN_DELTA = 0.25  # median per face
SIZES = (250, 350, 500)  # face photo side in the 1280×960 scene
POSITIONS = ((0.5, 0.5), (0.2, 0.3), (0.8, 0.7))  # face centre as a fraction of the free area
# A 250-px dataset photo makes a face ~150 px wide, under 1/8 of a 1280-px scene: below the short-range
# detector's reach on the full frame, found by the tile search in beauty.face.FaceDetector.detect.


# The astronaut through the whole pipeline with the shipped model (measured; deterministic on one machine,
# within 1e-4 across CPUs and runtimes). Without flip TTA she scores 3.5426. Any change to detection,
# alignment, framing, padding or the model moves this (with the previous weights, a window search that took a
# worse detection of her face moved her from 3.3155 to 3.2552): a deliberate change updates the numbers here.
ASTRONAUT_SCORE = 3.6862
ASTRONAUT_PERCENTILE = 79.47  # 4371 of the 5,500 human ratings lie below 3.6862, none equals it


def test_astronaut_one_face(scorer, astronaut_rgb):
    result = scorer.score(astronaut_rgb)
    assert len(result.faces) == 1
    fs = result.main
    assert fs.index == 1
    assert fs.score == pytest.approx(ASTRONAUT_SCORE, abs=0.005)
    assert fs.percentile == pytest.approx(ASTRONAUT_PERCENTILE, abs=0.3)
    r = human_ratings()  # the percentile of the unrounded score, by counting
    assert fs.percentile == pytest.approx(100 * ((r < fs.score).sum() + 0.5 * (r == fs.score).sum()) / len(r))
    assert fs.crop.shape == (CROP_SIZE, CROP_SIZE, 3) and fs.crop.dtype == np.uint8
    x0, y0, x1, y1 = fs.box
    assert 150 < (x0 + x1) / 2 < 300 and 60 < (y0 + y1) / 2 < 220  # her face, not the flag or the helmet
    assert fs.confidence > 0.7
    assert scorer.score(astronaut_rgb).main.score == pytest.approx(fs.score, abs=1e-5)  # deterministic
    d = fs.to_dict()
    assert {k: d[k] for k in ("face", "score", "percentile", "box", "confidence")} == {
        "face": 1, "score": round(fs.score, 4), "percentile": round(fs.percentile, 2),
        "box": [round(v, 1) for v in fs.box], "confidence": round(fs.confidence, 3)}


def test_inputs_agree_path_bytes_array(scorer, astronaut_rgb, astronaut_path):
    s_arr = scorer.score(astronaut_rgb).main.score
    s_path = scorer.score(astronaut_path).main.score
    s_bytes = scorer.score(astronaut_path.read_bytes()).main.score
    s_pil = scorer.score(Image.open(astronaut_path)).main.score
    assert s_path == pytest.approx(s_arr, abs=1e-4)
    assert s_bytes == pytest.approx(s_arr, abs=1e-4)
    assert s_pil == pytest.approx(s_arr, abs=1e-4)


def test_errors_are_user_sentences(scorer, no_face_path, tmp_path):
    with pytest.raises(NoFaceError) as e:
        scorer.score(no_face_path)
    assert str(e.value).startswith("No face")
    bad = tmp_path / "notes.jpg"
    bad.write_text("this is not a photo")
    with pytest.raises(ImageError) as e:
        scorer.score(bad)
    assert str(e.value).endswith(".") and "Traceback" not in str(e.value)


def test_batch_matches_single(scorer, astronaut_rgb):
    crop = scorer.score(astronaut_rgb).main.crop
    flipped = crop[:, ::-1].copy()
    batch = scorer.score_crops(np.stack([crop, flipped, crop]))
    assert batch.shape == (3,)
    assert batch[0] == pytest.approx(batch[2], abs=1e-5)
    assert batch[0] == pytest.approx(batch[1], abs=1e-3)  # flip TTA makes a face and its mirror image equal
    assert batch[0] == pytest.approx(scorer.score_crops(crop[None])[0], abs=1e-4)


def test_many_photos_read_ahead_keep_their_order_and_their_errors(scorer, astronaut_rgb):
    """score_many finds faces in a thread ahead of the model: results still come in input order, a bad
    file yields its own error, every face scores as alone, and stopping early leaves nothing running."""
    import threading

    photos = [astronaut_rgb, b"not an image", astronaut_rgb[:, ::-1].copy(), np.zeros((64, 64, 3), np.uint8)] * 3
    alone = {0: scorer.score(photos[0]).main.score, 2: scorer.score(photos[2]).main.score}
    out = list(scorer.score_many(photos, batch_faces=2, ahead=4))
    assert [src is p for (src, _), p in zip(out, photos)] == [True] * len(photos)
    for i, (_, r) in enumerate(out):
        if i % 4 == 1:
            assert isinstance(r, ImageError)
        elif i % 4 == 3:
            assert isinstance(r, NoFaceError)
        else:
            assert r.main.score == pytest.approx(alone[i % 4], abs=1e-4)
    gen = scorer.score_many(iter(photos), ahead=8)
    next(gen)
    gen.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("faces-ahead")]


@needs_dataset
def test_scut_test_faces(scorer, scut_test_images, artifacts):
    """Dataset test photos (the model never trained on them): one face each, scores follow the human ratings."""
    rows = []
    gate, scorer.age_gate = scorer.age_gate, None  # the model's own scores, whatever the age gate says
    try:
        for path, human in scut_test_images:
            result = scorer.score(path)
            assert len(result.faces) >= 1, path.name
            rows.append((path.name, human, result.main.score))
    finally:
        scorer.age_gate = gate
    pred = np.array([r[2] for r in rows])
    true = np.array([r[1] for r in rows])
    mae = float(np.abs(pred - true).mean())
    pc = float(np.corrcoef(pred, true)[0, 1])
    (artifacts / "scut_sample_scores.json").write_text(json.dumps({"mae": mae, "pc": pc, "rows": rows}, indent=1))
    print(f"\nSCUT test sample (n={len(rows)}, spread over the rating range): MAE {mae:.4f}, Pearson {pc:.4f}")
    # each photo's score as measured with the shipped model; flip TTA alone moves some by 0.065, and the
    # detector's move from MediaPipe Tasks to LiteRT (keypoints within ~0.1 px) moved them by up to 0.012
    assert {name: round(score, 3) for name, _, score in rows} == pytest.approx(SCUT_SAMPLE_SCORES, abs=0.005)
    assert mae == pytest.approx(0.2919, abs=0.002) and pc == pytest.approx(0.9021, abs=0.002)


# The 12 photos of scut_test_images (conftest.py) and their measured scores.
SCUT_SAMPLE_SCORES = {
    "AF1986.jpg": 1.101, "CM161.jpg": 3.152, "CM80.jpg": 2.519, "AM1815.jpg": 2.537, "AF605.jpg": 2.755,
    "AM335.jpg": 2.720, "AM875.jpg": 2.855, "AF450.jpg": 2.774, "CF537.jpg": 3.081, "AM141.jpg": 3.755,
    "AM68.jpg": 3.295, "AF1973.jpg": 4.031,
}


# ---------------------------------------------------------------- synthetic scenes


def _backgrounds():
    from skimage import data

    rng = np.random.default_rng(0)
    gray = np.full((960, 1280, 3), 128, np.uint8)
    noise = rng.integers(0, 256, (960, 1280, 3), dtype=np.uint8)
    noise = np.asarray(Image.fromarray(noise).resize((320, 240)).resize((1280, 960), Image.Resampling.BILINEAR))
    room = np.asarray(Image.fromarray(data.coffee()).resize((1280, 960), Image.Resampling.BICUBIC))
    return {"gray": gray, "noise": noise, "photo": room}


def paste(background: np.ndarray, face: np.ndarray, size: int, pos: tuple[float, float]):
    """Paste `face` resized to size×size with its centre at `pos` (fraction of the free area); returns (scene, box)."""
    scene = background.copy()
    h, w = scene.shape[:2]
    x0 = round(pos[0] * (w - size))
    y0 = round(pos[1] * (h - size))
    scene[y0:y0 + size, x0:x0 + size] = np.asarray(Image.fromarray(face).resize((size, size), Image.Resampling.LANCZOS))
    return scene, (x0, y0, x0 + size, y0 + size)


def _scene_faces(scorer, astronaut_rgb):
    """350×350 face photos framed like the dataset: SCUT test-split images when available, plus the astronaut."""
    faces = {}
    root = dataset_root()
    if root is not None:
        for name in ("AF95.jpg", "CM462.jpg", "AM58.jpg", "CF55.jpg"):  # one per group, from the 60/40 test split
            p = root / "Images" / name
            if p.exists():
                faces[name] = np.asarray(Image.open(p).convert("RGB"))
    faces["astronaut"] = scorer.score(astronaut_rgb).main.crop  # her face framed the dataset way by the pipeline
    return faces


def _contains(box, det_box, slack=0.15):
    x0, y0, x1, y1 = box
    cx, cy = (det_box[0] + det_box[2]) / 2, (det_box[1] + det_box[3]) / 2
    s = (x1 - x0) * slack
    return x0 - s <= cx <= x1 + s and y0 - s <= cy <= y1 + s


@pytest.fixture(scope="module")
def scene_runs(scorer, astronaut_rgb, artifacts):
    """Every face × background × size × position: Δ = score in the scene − score of the face photo alone."""
    report = {}
    for name, face in _scene_faces(scorer, astronaut_rgb).items():
        alone = scorer.score(face).main.score
        deltas, misses, refused = {}, [], []
        for bg_name, bg in _backgrounds().items():
            for size in SIZES:
                for pos in POSITIONS:
                    scene, box = paste(bg, face, size, pos)
                    key = f"{bg_name} {size}px at {pos}"
                    try:
                        found = [f for f in scorer.score(scene).faces if _contains(box, f.box)]
                    except NoFaceError:
                        found = []
                    except ChildFaceError:  # found, but the age gate (beauty.age) judged it under 18
                        refused.append(key)
                        continue
                    if not found:
                        misses.append(key)
                        continue
                    deltas[key] = round(found[0].score - alone, 4)
        v = np.array(list(deltas.values()))
        report[name] = {"alone": round(alone, 4), "n": len(v), "misses": misses, "refused_as_minor": refused,
                        "max_abs_delta": round(float(np.abs(v).max()), 4),
                        "median_abs_delta": round(float(np.median(np.abs(v))), 4),
                        "mean_delta": round(float(v.mean()), 4), "std": round(float(v.std()), 4), "deltas": deltas}
        print(f"\n{name}: alone {alone:.3f}; {len(v)} scenes: Δ mean {v.mean():+.3f}, std {v.std():.3f}, "
              f"median |Δ| {np.median(np.abs(v)):.3f}, max |Δ| {np.abs(v).max():.3f}; not detected: {len(misses)}; "
              f"refused as under 18: {len(refused)}")
    (artifacts / "scene_spread.json").write_text(json.dumps(report, indent=1))
    return report


def test_scene_faces_are_found(scene_runs):
    """Every placement is detected, the 250-px ones (face ~1/9 of the scene width) included."""
    for name, r in scene_runs.items():
        assert not r["misses"], f"{name}: face not found in {r['misses']}"
        # adults all: the age gate (beauty.age) must not take a smaller or busier photo of one for a child
        assert not r["refused_as_minor"], f"{name}: refused as under 18 in {r['refused_as_minor']}"


def test_scene_placement_keeps_score(scene_runs):
    """A face pasted at 250–500 px, anywhere in a 1280×960 scene, scores close to the face photo alone."""
    for name, r in scene_runs.items():
        assert r["max_abs_delta"] < MAX_DELTA, (name, r)
        assert r["median_abs_delta"] < MAX_MEDIAN_DELTA, (name, r)


def test_two_faces_largest_first(scorer, astronaut_rgb):
    faces = list(_scene_faces(scorer, astronaut_rgb).values())
    a = faces[0]
    b = faces[1] if len(faces) > 1 else a[:, ::-1]
    bg = np.full((960, 1280, 3), 110, np.uint8)
    scene, small_box = paste(bg, a, 280, (0.05, 0.4))  # left, smaller
    scene, big_box = paste(scene, b, 460, (0.95, 0.5))  # right, larger
    result = scorer.score(scene)
    assert len(result.faces) == 2
    first, second = result.faces
    assert (first.index, second.index) == (1, 2)
    assert _contains(big_box, first.box) and _contains(small_box, second.box)
    area = lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1])  # noqa: E731
    assert area(first) > area(second)
    # each face scores as it does alone: one batched model call, no cross-talk between faces
    assert first.score == pytest.approx(scorer.score(b).main.score, abs=MAX_DELTA)
    assert second.score == pytest.approx(scorer.score(a).main.score, abs=MAX_DELTA)
