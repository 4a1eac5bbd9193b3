"""`python -m beauty score` as a user runs it: a real subprocess, real model, real files."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.support.paths import ROOT

LINE = re.compile(r"^(?P<file>.+)\tface (?P<i>\d+)/(?P<n>\d+)\tscore (?P<score>\d\.\d\d)"
                  r"\tlikely (?P<low>\d\.\d\d)-(?P<high>\d\.\d\d)\tpercentile (?P<pct>\d+\.\d)$")


def run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "beauty", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory, no_face_path):
    d = tmp_path_factory.mktemp("bad")
    text = d / "notes.jpg"
    text.write_text("this is not a photo")
    return {"text": text, "missing": d / "missing.jpg", "no_face": no_face_path}


def test_help_lists_score():
    r = run("--help", timeout=60)
    assert r.returncode == 0
    assert "score" in r.stdout


def test_score_mixed_files_keeps_going(scorer, astronaut_path, bad_files):
    """Good and bad files in one run: a line per face, a sentence per failure on stderr, exit 1, no traceback."""
    r = run("score", bad_files["missing"], astronaut_path, bad_files["text"], bad_files["no_face"], astronaut_path)
    assert r.returncode == 1, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 2, r.stdout  # the astronaut twice: the bad files did not stop the run
    expected = scorer.score(astronaut_path).main
    for line in lines:
        m = LINE.match(line)
        assert m, line
        assert m["file"] == str(astronaut_path) and (m["i"], m["n"]) == ("1", "1")
        assert float(m["score"]) == pytest.approx(expected.score, abs=0.011)
        assert float(m["pct"]) == pytest.approx(expected.percentile, abs=0.11)
        assert float(m["low"]) == pytest.approx(expected.low, abs=0.011)
        assert float(m["high"]) == pytest.approx(expected.high, abs=0.011)
        assert float(m["low"]) < float(m["score"]) < float(m["high"])
    err = r.stderr
    assert "Traceback" not in err
    assert f"{bad_files['missing']}: " in err and f"{bad_files['text']}: " in err
    assert f"{bad_files['no_face']}: No face" in err


def test_score_json(scorer, astronaut_path, bad_files):
    r = run("score", "--json", astronaut_path, bad_files["no_face"])
    assert r.returncode == 1
    doc = json.loads(r.stdout)  # stdout is exactly one JSON document, logs stay on stderr
    assert doc["device"] and doc["model"].endswith(".npz")
    ok, bad = doc["results"]
    assert ok["file"] == str(astronaut_path) and "error" not in ok
    (face,) = ok["faces"]
    expected = scorer.score(astronaut_path).main
    assert face["face"] == 1
    assert face["score"] == pytest.approx(expected.score, abs=1e-3)
    assert face["percentile"] == pytest.approx(expected.percentile, abs=0.01)
    assert len(face["box"]) == 4
    assert face["low"] == pytest.approx(expected.low, abs=1e-3) and face["high"] == pytest.approx(expected.high, abs=1e-3)
    assert face["low"] < face["score"] < face["high"]
    assert bad["faces"] == [] and bad["error_type"] == "NoFaceError" and bad["error"].startswith("No face")


def test_score_all_good_exits_zero(astronaut_path):
    r = run("score", astronaut_path)
    assert r.returncode == 0, r.stderr
    assert LINE.match(r.stdout.strip())
    assert "Traceback" not in r.stderr and "Exception ignored" not in r.stderr


# ---------------------------------------------------------------- exit code 3: the model cannot be loaded
# In-process through beauty.cli.main (what `python -m beauty` passes to sys.exit), so no second TensorFlow start.


def _bad_models(tmp_path):
    from beauty.model import DEFAULT_MODEL

    missing = tmp_path / "missing.npz"
    damaged = tmp_path / "damaged.npz"  # the first KB of the real file: not a zip archive any more
    damaged.write_bytes(DEFAULT_MODEL.read_bytes()[:1000])
    damaged.with_suffix(".json").write_text(DEFAULT_MODEL.with_suffix(".json").read_text())
    mismatched = tmp_path / "mismatched.npz"  # a valid .npz without the network's weights
    np.savez(mismatched, nothing=np.zeros(3, np.float16))
    mismatched.with_suffix(".json").write_text(DEFAULT_MODEL.with_suffix(".json").read_text())
    return {"missing": missing, "damaged": damaged, "mismatched": mismatched}


@pytest.mark.parametrize("kind", ["missing", "damaged", "mismatched"])
def test_model_that_cannot_be_loaded_exits_3_with_a_sentence(kind, astronaut_path, tmp_path, capsys):
    from beauty.cli import main

    model = _bad_models(tmp_path)[kind]
    assert main(["score", "--model", str(model), str(astronaut_path)]) == 3
    out, err = capsys.readouterr()
    assert out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and last.endswith("."), err[-1000:]
    assert model.name in last and "Traceback" not in err


def test_cut_off_face_is_scored_with_a_warning(tmp_path):
    """A face partly outside the photo: scored, with the warning as the line's last field and in --json."""
    from PIL import Image

    img = Image.open(ROOT / "examples" / "obama.jpg")
    path = tmp_path / "cut.jpg"
    img.crop((int(img.width * 0.45), 0, img.width, img.height)).save(path, quality=92)
    r = run("score", path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip("\n").endswith("\tpartly outside the photo — score less reliable"), r.stdout
    doc = json.loads(run("score", "--json", path).stdout)
    (face,) = doc["results"][0]["faces"]
    assert face["warnings"] == ["partly outside the photo — score less reliable"] and 0 < face["outside"] <= 0.2


def test_app_entry_point_serves_the_package_app():
    """app.py (what a Space runs) is `beauty.app.serve` and nothing else; the server tests start that same serve()."""
    out = subprocess.run([sys.executable, "-c", "import app, beauty.app; print(app.serve is beauty.app.serve)"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "True", out.stderr[-500:]
