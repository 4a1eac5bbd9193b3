"""Rate adults only: the age gate (beauty.age) on real age-labelled faces.

The faces are read at test time from $AGE_DEV_DIR (default ../shared/age-dev beside the repository:
UTKFace and All-Age-Faces chips with their age, research use only, never copied into the repository);
these tests skip when it is absent. The chips are tight crops, so each is padded with an
edge-replicated border of half its side before it goes through the app's own pipeline, as when the
gate was measured (beauty/training/age_gate.py).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

import beauty
from beauty.age import GATE_PATH, NOT_RATED, REFUSAL, for_model, load
from beauty.image import load_image
from beauty.model import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
AGE_DEV = Path(os.environ.get("AGE_DEV_DIR", ROOT.parent / "shared" / "age-dev"))
SPLIT = ROOT / "beauty" / "training" / "age_gate_split.json"

# Held-out chips (never trained on) far from the threshold, for the per-photo behaviour tests.
CHILDREN = ["utk_02894.jpg", "utk_01296.jpg", "aaf_02642.jpg"]  # aged 1, 8, 9
ADULTS = ["utk_00548.jpg", "aaf_01671.jpg", "utk_01460.jpg"]  # aged 36, 43, 28

needs_data = pytest.mark.skipif(not (AGE_DEV / "labels.csv").is_file(), reason=f"no age-dev data at {AGE_DEV}")


def padded(name: str) -> np.ndarray:
    rgb = load_image(AGE_DEV / "images" / name)
    p = max(rgb.shape[:2]) // 2
    return cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_REPLICATE)


def test_gate_file_matches_the_shipped_model():
    gate = for_model(DEFAULT_MODEL)
    assert gate is not None, "weights/age_gate.npz was fitted on other scoring weights: refit it"
    assert gate.feature_dim == 1280 and 0.5 < gate.threshold < 1
    # no pickle anywhere, float32 arrays only
    with np.load(GATE_PATH, allow_pickle=False) as a:
        assert sorted(a.files) == ["b", "mean", "scale", "w"] and all(a[k].dtype == np.float32 for k in a.files)


def test_refusal_sentence_is_exact():
    assert REFUSAL == "This app only rates adults; this face looks younger than 18, so it was not scored."
    assert str(beauty.age.refusal()) == REFUSAL and isinstance(beauty.age.refusal(), beauty.BeautyError)


def test_gate_reads_features_and_thresholds():
    gate = load()
    x = np.tile(gate.mean, (3, 1))
    x[1] += 4 * gate.scale * np.sign(gate.w)  # towards "minor"
    x[2] -= 4 * gate.scale * np.sign(gate.w)  # towards "adult"
    p = gate(x)
    assert p.shape == (3,) and p[1] > gate.threshold > p[2]
    assert list(gate.is_adult(x)) == [bool(p[0] < gate.threshold), False, True]
    with pytest.raises(ValueError):
        gate(np.zeros((1, 10)))


@pytest.fixture(scope="module")
def scorer():
    s = beauty.load_scorer()
    assert s.age_gate is not None, "the Scorer runs without its age gate"
    return s


@needs_data
@pytest.mark.parametrize("name", CHILDREN)
def test_child_alone_is_refused(scorer, name):
    with pytest.raises(beauty.ChildFaceError) as e:
        scorer.score(padded(name))
    assert str(e.value) == REFUSAL


@needs_data
@pytest.mark.parametrize("name", ADULTS)
def test_adult_is_scored(scorer, name):
    fs = scorer.score(padded(name)).main
    assert fs.adult and fs.refused is None and 1 <= fs.score <= 5


@needs_data
def test_group_photo_scores_the_adult_and_leaves_the_child_unrated(scorer):
    adult = cv2.resize(padded(ADULTS[0]), (400, 400))
    child = cv2.resize(padded(CHILDREN[0]), (400, 400))
    result = scorer.score(np.hstack([adult, child]))
    assert len(result.faces) == 2
    by_side = sorted(result.faces, key=lambda f: f.box[0])
    left, right = by_side
    assert left.adult and left.refused is None and 1 <= left.score <= 5
    assert not right.adult and right.refused == NOT_RATED and np.isnan(right.score)
    assert result.main is left
    d = right.to_dict()
    assert d["score"] is None and d["percentile"] is None and d["refused"] == NOT_RATED
    assert left.to_dict()["adult"] is True


@needs_data
def test_cli_refuses_a_child_and_scores_the_rest(tmp_path, capsys):
    from beauty.cli import main

    cv2.imwrite(str(tmp_path / "child.jpg"), padded(CHILDREN[1])[:, :, ::-1])
    cv2.imwrite(str(tmp_path / "adult.jpg"), padded(ADULTS[1])[:, :, ::-1])
    code = main(["score", str(tmp_path / "child.jpg"), str(tmp_path / "adult.jpg")])
    out, err = capsys.readouterr()
    assert code == 1
    assert f"child.jpg: {REFUSAL}" in err
    assert "adult.jpg\tface 1/1\tscore " in out and "child.jpg" not in out


@needs_data
def test_rates_on_a_held_out_sample(scorer):
    """Children refused, adults scored, on 24 held-out chips per band chosen by label only (not by the gate).

    Bounds sit below what the full held-out part measured through the app (weights/age_gate.json,
    `measured`), with room for sampling noise on 24 faces: a gate that stopped working, or one that
    refused everyone, fails.
    """
    rows = {r["file"]: r for r in csv.DictReader(open(AGE_DEV / "labels.csv"))}
    held = json.loads(SPLIT.read_text())["holdout"]
    rng = np.random.default_rng(0)
    bands = {"0-12": (0, 12), "13-17": (13, 17), "18-30": (18, 30), "31+": (31, 200)}
    refused = {}
    for band, (lo, hi) in bands.items():
        names = sorted(n for n in held if n in rows and lo <= int(rows[n]["age"]) <= hi)
        sample = rng.choice(names, 24, replace=False)
        n = 0
        for name in sample:
            try:
                scorer.score(padded(name))
            except beauty.ChildFaceError:
                n += 1
        refused[band] = n / len(sample)
    assert refused["0-12"] >= 0.45, refused
    assert refused["18-30"] <= 0.15, refused
    assert refused["31+"] <= 0.10, refused
    assert refused["0-12"] > refused["13-17"] - 0.1 and refused["0-12"] > refused["31+"] + 0.3, refused


@needs_data
def test_page_shows_the_sentence_and_not_rated_faces(scorer):
    """The web page's handlers in-process: a child's photo gets the sentence; a group photo lists the child as not rated."""
    import gradio as gr

    from beauty.app.handlers import Handlers

    handlers = Handlers(scorer)
    with pytest.raises(gr.Error) as e:
        handlers.score_photo(padded(CHILDREN[2]))
    assert e.value.message == REFUSAL
    page = handlers.show_photo(padded(CHILDREN[2]))
    assert REFUSAL in str(page[1])
    group = np.hstack([cv2.resize(padded(ADULTS[2]), (400, 400)), cv2.resize(padded(CHILDREN[0]), (400, 400))])
    _, html, _, table, summary = handlers.score_photo(group)
    assert len(table) == 2 and sorted(row[1] == "not rated" for row in table) == [False, True], table
    assert "not rated" in str(html)
    refused = [f for f in summary["faces"] if f["refused"]]
    assert len(refused) == 1 and refused[0]["score"] is None
