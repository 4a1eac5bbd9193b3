"""Hostile and odd inputs (tests/support/hostile.py) through the Python API, the CLI and the running web app.

Every input must end in a result or in a clear, specific message (what is wrong,
what to do) — never a traceback, a generic error, or a dead server. Real
MediaPipe, real model, a real server on 127.0.0.1 (one per module).
"""

from __future__ import annotations

import html
import io
import json
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from PIL import Image

from beauty.ops import server as app_server
from tools import loadtest
from tests.support import hostile
from tests.support.paths import ROOT

from beauty import image as image_mod
from beauty.errors import BeautyError, ImageError, ImageTooLargeError, ImageTooSmallError

CASES = hostile.build()
BY_NAME = {c.name: c for c in CASES}
SCORE_TOLERANCE = 0.15  # same photo, re-encoded/rotated: scores must agree this closely


def check(case: hostile.Case, n_faces: int, err: type | None, message: str, max_faces: int = 8) -> None:
    """The one rule for every front end: the case's expectation, and a message fit for a person."""
    if err is not None:
        assert issubclass(err, BeautyError), f"{case.name}: {err.__name__} escaped: {message}"
        assert not hostile.message_problems(message), (case.name, message, hostile.message_problems(message))
    if case.expect == "face":
        assert err is None, f"{case.name}: expected a face, got {err.__name__}: {message}"
        assert case.min_faces <= n_faces <= max_faces, (case.name, n_faces)
    elif case.expect == "error":
        assert err is not None, f"{case.name}: expected {case.error.__name__}, got {n_faces} face(s)"
        assert issubclass(err, case.error), f"{case.name}: expected {case.error.__name__}, got {err.__name__}: {message}"
        assert re.search(case.match, message, re.I), f"{case.name}: message {message!r} does not match {case.match!r}"


# ---------------------------------------------------------------- Python API


@pytest.fixture(scope="module")
def api(scorer, artifacts):
    rows = {r["case"].name: r for r in hostile.run_api(CASES, scorer)}
    (artifacts / "hostile-outcomes.md").write_text(hostile.table(list(rows.values())) + "\n")
    return rows


@pytest.mark.parametrize("name", list(BY_NAME))
def test_api(api, scorer, name):
    r = api[name]
    case = r["case"]
    check(case, r["faces"], r["error"], r["message"], scorer.max_faces)
    if case.reference:
        ref = api[case.reference]
        assert ref["score"] is not None
        assert abs(r["score"] - ref["score"]) <= SCORE_TOLERANCE, (name, r["score"], case.reference, ref["score"])


def test_bombs_are_refused_before_decoding():
    """A few hundred bytes declaring gigapixels cost (almost) nothing: refused on the header."""
    for name in ("bomb_png_header", "bomb_png_zeros", "bomb_gif", "bomb_jpeg"):
        t = time.perf_counter()
        with pytest.raises(ImageTooLargeError):
            image_mod.load_image(BY_NAME[name].data)
        assert time.perf_counter() - t < 0.5, name


def test_large_jpeg_is_decoded_reduced():
    """A 16 MP JPEG comes out capped at MAX_SIDE (the reduced-scale decode itself: tests/test_image.py)."""
    rgb = image_mod.load_image(BY_NAME["big_16mp"].data)
    assert max(rgb.shape[:2]) == image_mod.MAX_SIDE and rgb.dtype == np.uint8


ARRAYS = {  # name: (factory, accepted?) - built lazily, one is 160 MB
    "empty": (lambda: np.zeros((0, 0, 3), np.uint8), False),
    "gray": (lambda: np.zeros((480, 640), np.uint8), True),
    "one_channel_float": (lambda: np.zeros((480, 640, 1), np.float32), True),
    "nan": (lambda: np.full((480, 640, 3), np.nan, np.float32), True),
    "float64_0_1": (lambda: np.random.default_rng(0).random((480, 640, 3)), True),
    "bool": (lambda: np.zeros((480, 640, 3), bool), True),
    "uint16": (lambda: np.full((480, 640, 3), 65535, np.uint16), True),
    "negative_int16": (lambda: np.full((480, 640, 3), -5, np.int16), True),
    "gray_alpha": (lambda: np.zeros((480, 640, 2), np.uint8), True),
    "rgba": (lambda: np.zeros((480, 640, 4), np.uint8), True),
    "five_channels": (lambda: np.zeros((480, 640, 5), np.uint8), False),
    "1d": (lambda: np.zeros(100, np.uint8), False),
    "objects": (lambda: np.array([[object()] * 40] * 40), False),
    "tiny": (lambda: np.zeros((8, 8, 3), np.uint8), False),
    "160_megapixels": (lambda: np.zeros((20_000, 8_000), np.uint8), False),
}


@pytest.mark.parametrize("name", list(ARRAYS))
def test_arrays(name):
    """Webcam frames and other arrays: any dtype/shape ends in an RGB uint8 image or an ImageError."""
    make, ok = ARRAYS[name]
    arr = make()
    if ok:
        out = image_mod.load_image(arr)
        assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    else:
        with pytest.raises(ImageError) as e:
            image_mod.load_image(arr)
        assert not hostile.message_problems(str(e.value)), str(e.value)


def test_array_values_are_scaled_not_clipped():
    assert image_mod.load_image(np.full((64, 64, 3), 65535, np.uint16)).min() == 255  # 16-bit white
    assert image_mod.load_image(np.full((64, 64, 3), 0.5, np.float32)).max() == 127  # float 0..1
    assert image_mod.load_image(np.ones((64, 64, 3), bool)).min() == 255


def test_other_sources(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        image_mod.load_image(tmp_path / "missing.jpg")
    with pytest.raises(ImageError, match="folder"):
        image_mod.load_image(tmp_path)
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\xff\xd8" + bytes(image_mod.MAX_BYTES))
    with pytest.raises(ImageTooLargeError, match="MB"):
        image_mod.load_image(big)

    class Endless(io.RawIOBase):  # a file object that never ends must not be read to the end
        def readable(self):
            return True

        def readinto(self, b):
            b[:] = bytes(len(b))
            return len(b)

    with pytest.raises(ImageTooLargeError):
        image_mod.load_image(io.BufferedReader(Endless()))
    with pytest.raises(ImageError, match="Unsupported input"):
        image_mod.load_image(12345)
    with Image.open(io.BytesIO(BY_NAME["truncated_jpeg"].data)) as lazy:  # lazily opened PIL image
        with pytest.raises(ImageError, match="could not be decoded"):
            image_mod.load_image(lazy)
    assert image_mod.load_image(io.BytesIO(BY_NAME["jpeg"].data)).shape == (512, 512, 3)
    with pytest.raises(ImageTooSmallError):
        image_mod.load_image(Image.new("RGB", (10, 500)))


# ---------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    paths = {}
    for c in CASES:
        p = d / f"{c.name}__{c.filename}"
        p.write_bytes(c.data)
        paths[c.name] = p
    return paths


@pytest.mark.slow  # a TensorFlow start and ~70 files
def test_cli(corpus_dir, api):
    """One `python -m beauty score --json` over the whole corpus: per-file results/messages, exit 1, no traceback."""
    files = [str(p) for p in corpus_dir.values()] + [str(corpus_dir["jpeg"].parent / "does-not-exist.jpg")]
    proc = subprocess.run([sys.executable, "-m", "beauty", "score", "--json", *files], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    by_file = {r["file"]: r for r in doc["results"]}
    for name, path in corpus_dir.items():
        r, ref = by_file[str(path)], api[name]
        if ref["error"] is None:
            assert "error" not in r and len(r["faces"]) == ref["faces"], (name, r)
            assert abs(r["faces"][0]["score"] - ref["score"]) < 0.01, (name, r)
        else:
            assert r["error"] == ref["message"] and r["error_type"] == ref["error"].__name__, (name, r)
            assert f"{path}: {ref['message']}" in proc.stderr, name
    missing = by_file[files[-1]]
    assert "no such file" in missing["error"] and not hostile.message_problems(missing["error"])


@pytest.mark.slow  # a TensorFlow start; exit 0 is also checked by tests/test_cli.py
def test_cli_exit_code_zero_when_all_good(corpus_dir):
    ok = subprocess.run([sys.executable, "-m", "beauty", "score", str(corpus_dir["jpeg"]), str(corpus_dir["cmyk_jpeg"])],
                        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0 and ok.stdout.count("score") == 2 and "Traceback" not in ok.stderr, ok.stderr[-2000:]


# ---------------------------------------------------------------- the web app (gradio_client)

OVERLOAD_QUEUE = {"max_queue": 6}  # small, so going past it is cheap; concurrency stays the default


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with app_server.start_server(tmp_path_factory.mktemp("server"), settings=OVERLOAD_QUEUE) as s:
        yield s


@pytest.fixture(scope="module")
def app_client(server, tmp_path_factory):
    c = app_server.client(server.url, tmp_path_factory.mktemp("downloads"))
    yield c
    c.close()


def _via_app(c, path) -> tuple[int, float | None, type | None, str]:
    """(faces, main score, error class, message) for one upload to /score."""
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    try:
        out = c.predict(handle_file(str(path)), api_name="/score")
    except AppError as e:
        return 0, None, AppError, html.unescape(str(e))
    faces = out[-1]["faces"]  # the JSON summary, /score's last output
    return len(faces), faces[0]["score"], None, ""


@pytest.mark.parametrize("name", [n for n in BY_NAME if n != "too_many_bytes"])
def test_app(server, app_client, corpus_dir, api, name):
    """Each case uploaded to /score: the same outcome and the same sentence as the Python API."""
    n, score, err, message = _via_app(app_client, corpus_dir[name])
    ref = api[name]
    if ref["error"] is None:
        assert err is None, f"{name}: app said {message!r}"
        assert n == ref["faces"] and abs(score - ref["score"]) < 0.01, (name, n, score, ref["score"])
    else:
        assert err is not None, f"{name}: expected {ref['message']!r}"
        assert message == ref["message"], name
    assert server.alive()


def test_app_upload_cap(server, app_client, corpus_dir):
    """Over max_file_size: gradio_client refuses before sending; a raw upload gets HTTP 413 with a message."""
    import httpx
    from gradio_client import handle_file

    with pytest.raises(ValueError, match="maximum file size"):
        app_client.predict(handle_file(str(corpus_dir["too_many_bytes"])), api_name="/score")
    r = httpx.post(server.url + "gradio_api/upload", timeout=60,
                   files={"files": ("huge.jpg", BY_NAME["too_many_bytes"].data, "image/jpeg")})
    assert r.status_code == 413 and "maximum allowed size" in r.text


def test_app_odd_file_names(app_client, tmp_path):
    """Names with traversal, unicode, spaces, no extension or a wrong one are just names."""
    data = BY_NAME["jpeg"].data
    for name in ("..%2F..%2Fetc%2Fpasswd.jpg", "фото лица.JPG", "no_extension", "photo.png.exe", "a" * 200 + ".jpg"):
        p = tmp_path / name
        p.write_bytes(data)
        n, score, err, message = _via_app(app_client, p)
        assert err is None and n == 1, (name, message)


def test_app_serves_after_bad_input_under_concurrency(server, corpus_dir):
    """4 sessions at once mixing good and hostile uploads: good ones all scored, bad ones all get messages."""
    names = ["jpeg", "random_bytes", "png", "bomb_png_zeros", "cmyk_jpeg", "truncated_jpeg", "blank", "webp"]
    results, lock = [], threading.Lock()

    def session(i):
        c = app_server.client(server.url)
        for k in range(len(names)):
            name = names[(i + k) % len(names)]
            out = _via_app(c, corpus_dir[name])
            with lock:
                results.append((name, out))
        c.close()

    app_server.run_concurrently(session, 4, timeout=180)
    assert len(results) == 4 * len(names)
    for name, (n, _, err, message) in results:
        assert (err is None) == (BY_NAME[name].expect == "face"), (name, message)
    assert server.alive()


def test_app_overload_degrades_to_busy_message(server, corpus_dir):
    """More simultaneous requests than the queue holds: each one is scored or told the queue is full; none fail."""
    total = OVERLOAD_QUEUE["max_queue"] + 2 + 12
    out = loadtest.run_overload(server, corpus_dir["big_16mp"], total, time_limit=120)  # ~0.5 s of work each
    assert out["failed"] == 0, out
    assert out["busy"] > 0 and out["ok"] >= OVERLOAD_QUEUE["max_queue"], out
    assert all(re.search("queue is full", s, re.I) for s in out["busy_samples"]), out
    assert out["serves_afterwards"]


def test_app_log_has_no_tracebacks(server, corpus_dir):
    """Hostile inputs sent by this test itself (so it holds in any order, and after all the tests above when
    run in full) are handled: nothing reaches Gradio's error logging, while our own warnings do."""
    c = app_server.client(server.url)
    for name in ("truncated_jpeg", "random_bytes", "bomb_png_zeros", "blank", "face_cut_40", "jpeg"):
        n, _, err, message = _via_app(c, corpus_dir[name])
        assert (err is None) == (BY_NAME[name].expect == "face"), (name, message)
    c.close()
    deadline = time.monotonic() + 10
    while "undecodable image" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    log = server.log()
    assert "undecodable image" in log, log[-2000:]  # the truncated JPEG's warning: this is the handlers' log
    assert "Traceback" not in log, log[-3000:]
    assert "scoring failed" not in log
