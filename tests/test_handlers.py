"""The web app's webcam handlers in-process, with the real Scorer and three photos that score differently.

Shooting the same photo again and again ties every score, so a gallery sorted worst-first looks right;
here each shot is a different face, taken in different orders.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from beauty.app import ServeConfig
from beauty.app.handlers import Handlers
from tests.support.paths import ROOT


@pytest.fixture(scope="module")
def faces(astronaut_rgb) -> dict[str, np.ndarray]:
    """Three different photos: the astronaut, Obama and Biden (examples/)."""
    from beauty.image import load_image

    return {"biden": load_image(ROOT / "examples" / "biden.jpg"), "astronaut": astronaut_rgb,
            "obama": load_image(ROOT / "examples" / "obama.jpg")}


@pytest.fixture(scope="module")
def scores(scorer, faces) -> dict[str, float]:
    s = {name: scorer.score(rgb).main.score for name, rgb in faces.items()}
    # measured 3.69, 2.55, 2.50: far enough apart that their two-decimal captions differ
    assert min(abs(a - b) for a in s.values() for b in s.values() if a is not b) > 0.03, s
    return s


def caption_scores(gallery) -> list[str]:
    return [re.search(r"score (\d\.\d\d)", caption).group(1) for _, caption in gallery]


def shoot(handlers, rgb, state):
    """/shot: (gallery, download button update, the line about this shot, state) of its outputs."""
    out = handlers.take_shot(rgb, state)
    download = next(o for o in out if isinstance(o, dict) and "label" in o)
    return out[0], download, out[-2], out[-1]


@pytest.mark.parametrize("order", [("obama", "astronaut", "biden"), ("biden", "obama", "astronaut"),
                                   ("astronaut", "biden", "obama")])
def test_gallery_is_best_first_in_any_shooting_order(scorer, faces, scores, order):
    handlers = Handlers(scorer)
    state = None
    for name in order:
        gallery, download, last, state = shoot(handlers, faces[name], state)
    best = max(scores, key=scores.get)
    assert caption_scores(gallery) == [f"{s:.2f}" for s in sorted(scores.values(), reverse=True)]
    assert gallery[0][1].startswith("★ ") and not any(c.startswith("★") for _, c in gallery[1:])
    assert [s["score"] for s in state["shots"]] == sorted(scores.values(), reverse=True)
    np.testing.assert_array_equal(state["shots"][0]["crop"], gallery[0][0])
    assert download["visible"] and download["label"].endswith(f"({scores[best]:.2f})")
    rank = sorted(scores.values(), reverse=True).index(scores[order[-1]]) + 1
    assert f"rank {rank} of 3." in last, last
    handlers.reset_shots(state)


def test_only_the_best_shots_are_kept(scorer, faces, scores):
    handlers = Handlers(scorer, ServeConfig(max_shots=2))
    state = None
    for name in ("biden", "obama", "astronaut"):
        gallery, download, last, state = shoot(handlers, faces[name], state)
    assert caption_scores(gallery) == [f"{scores['astronaut']:.2f}", f"{scores['obama']:.2f}"]
    gallery, download, last, state = shoot(handlers, faces["biden"], state)
    assert "not among the 2 best, so not kept" in last
    assert len(gallery) == 2 and len(state["shots"]) == 2
    out = handlers.reset_shots(state)
    assert out[0] == [] and out[-1]["shots"] == []
    assert not next(o for o in out if isinstance(o, dict) and "visible" in o)["visible"]


def test_live_keeps_its_best_frames(scorer, faces, scores):
    """Live mode keeps the LIVE_KEEP best frames it saw: a better frame pushes out the worst kept one, a
    worse one is dropped; a webcam shot stays beside them, and the gallery stays best-first."""
    from beauty.app import handlers as handlers_mod

    keep = getattr(handlers_mod, "LIVE_KEEP", 1)
    handlers = Handlers(scorer)
    *_, state = handlers.take_shot(faces["astronaut"], None)
    sent = ["astronaut", "obama", "obama", "biden", "obama"]
    for name in sent:
        *_, line, state = handlers.live_frame(faces[name], state)
        assert f"now **{scores[name]:.2f}**" in line, line
    live = [s["score"] for s in state["shots"] if s["source"] == "live"]
    assert live == pytest.approx(sorted((scores[n] for n in sent), reverse=True)[:keep], abs=1e-6), live
    assert [s["source"] for s in state["shots"]].count("shot") == 1
    assert [s["score"] for s in state["shots"]] == sorted((s["score"] for s in state["shots"]), reverse=True)


def test_a_payload_naming_a_server_file_is_refused(tmp_path, monkeypatch):
    """/score and /shot take a file path from the request: only a regular file inside Gradio's upload folder
    is read (outside an event there is no upload list, so the folder is the whole check)."""
    from beauty.app.handlers import source
    from beauty.errors import ImageError

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    upload = tmp_path / "gradio" / "0123abcd" / "face.jpg"
    upload.parent.mkdir(parents=True)
    upload.write_bytes(b"x")
    (tmp_path / "elsewhere.jpg").write_bytes(b"x")
    assert source({"path": str(upload)}) == str(upload.resolve())
    for path in ("/etc/passwd", str(tmp_path / "elsewhere.jpg"), str(tmp_path / "gradio" / ".." / "elsewhere.jpg"),
                 str(upload.parent)):
        for payload in ({"path": path}, path):
            with pytest.raises(ImageError):
                source(payload)
