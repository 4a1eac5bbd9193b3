"""The web page in a real headless Chromium: upload a photo, take webcam shots with a fake camera, live mode.

Needs Debian's Chromium at /usr/bin/chromium (or $CHROMIUM); CI installs it.
The fake camera plays a Y4M clip the test writes from a real face photo (a
SCUT-FBP5500 test image when $SCUT_FBP5500_DIR is set, else the astronaut).
Screenshots go to artifacts/; set UPDATE_SCREENSHOT=1 to also refresh
docs/screenshot.png (astronaut only, never a dataset face).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beauty.app import ServeConfig
from tests.support.fake_video import fake_webcam_clip, fit_on_canvas
from tests.support.paths import ROOT, dataset_root

LIVE_EVERY = ServeConfig().live_every

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def camera_photo(astronaut_rgb) -> np.ndarray:
    root = dataset_root()
    if root is not None and (root / "Images" / "CF55.jpg").exists():  # a 60/40 test-split face
        return np.asarray(Image.open(root / "Images" / "CF55.jpg").convert("RGB"))
    return astronaut_rgb


@pytest.fixture(scope="module")
def camera_clip(camera_photo, tmp_path_factory) -> Path:
    return fake_webcam_clip(camera_photo, tmp_path_factory.mktemp("cam") / "face.y4m", (640, 480), frames=10)


@pytest.fixture(scope="module")
def page(app_url, camera_clip):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_clip}",
        ])
        context = browser.new_context(viewport={"width": 1280, "height": 1000}, permissions=["camera"],
                                      accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(app_url)
        pg.wait_for_selector("#photo")
        yield pg
        context.close()
        browser.close()


def _number(text: str, pattern: str) -> float:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in {text!r}"
    return float(m.group(1))


def test_page_says_what_it_is(page):
    footer = page.locator("#footer").inner_text()
    assert "CPU" in footer or "GPU" in footer
    assert "beauty_mobilenet_v2" in footer
    from playwright.sync_api import expect

    page.locator("#about").get_by_text("About this score").click()
    expect(page.locator("#about")).to_contain_text("never logged")  # the accordion renders its content lazily
    about = page.locator("#about").inner_text()
    assert "SCUT-FBP5500" in about and "60 volunteers" in about
    assert "for fun" in about.lower() and "worth" in about
    assert "accuracy" in about.lower()
    page.locator("#about").get_by_text("About this score").click()  # closed again for the screenshots


def test_upload_shows_score_like_scorer(page, scorer, astronaut_path, artifacts):
    expected = scorer.score(astronaut_path).main
    t = time.perf_counter()
    page.locator("#photo input[type=file]").set_input_files(str(astronaut_path))
    page.wait_for_function("/\\d\\.\\d\\d/.test(document.querySelector('#score-headline').innerText)")
    latency = time.perf_counter() - t
    headline = page.locator("#score-headline").inner_text()
    score = _number(headline, r"(\d\.\d\d)\s*/\s*5")
    pct = _number(headline, r"(\d+)%")
    assert score == pytest.approx(expected.score, abs=0.011)
    assert pct == pytest.approx(expected.percentile, abs=1)
    # gauge and histogram are drawn by plotly; the crop, the boxed photo and the table are there
    page.wait_for_selector("#gauge .main-svg")
    page.wait_for_selector("#histogram .main-svg")
    assert re.search(rf"(^|\n){round(expected.percentile)}%", page.locator("#gauge").inner_text())  # its number
    page.wait_for_selector("#crop img")
    page.wait_for_selector("#boxed img")
    assert f"{expected.score:.2f}" in page.locator("#faces-table").inner_text()
    time.sleep(1.0)  # let plotly finish its transition before the screenshot
    page.screenshot(path=str(artifacts / "upload.png"), full_page=True)
    if os.environ.get("UPDATE_SCREENSHOT"):
        (ROOT / "docs").mkdir(exist_ok=True)
        page.screenshot(path=str(ROOT / "docs" / "screenshot.png"), full_page=True)
    (artifacts / "latency.json").write_text(json.dumps({"upload_to_score_s": round(latency, 3)}))
    print(f"\nupload -> score on the page: {latency:.2f} s")


def test_two_faces_numbered_with_a_row_each(page, scorer, astronaut_rgb, tmp_path, artifacts):
    head = Image.fromarray(astronaut_rgb[0:300, 100:360])  # her head and shoulders, 260×300
    scene = np.full((700, 1000, 3), 200, np.uint8)
    scene[40:670, 40:586] = np.asarray(head.resize((546, 630)))  # larger, left
    scene[250:580, 680:966] = np.asarray(head.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((286, 330)))
    path = tmp_path / "two.png"
    Image.fromarray(scene).save(path)
    expected = scorer.score(scene)
    assert len(expected.faces) == 2 and expected.faces[0].box[0] < 500  # #1 is the larger, left face
    page.locator("#photo input[type=file]").set_input_files(str(path))
    page.wait_for_function("document.querySelector('#score-headline').innerText.includes('of 2')")
    table = page.locator("#faces-table").inner_text()
    cells = [c.strip() for c in table.split("detector confidence", 1)[1].split() if c.strip()]
    rows = [cells[i:i + 4] for i in range(0, len(cells), 4)]
    assert [r[0] for r in rows] == ["1", "2"], table
    for r, fs in zip(rows, expected.faces):
        assert r[1] == f"{fs.score:.2f}"  # two decimals, as everywhere on the page
    page.screenshot(path=str(artifacts / "two-faces.png"), full_page=True)


def test_upload_without_face_shows_message(page, no_face_path, artifacts):
    page.locator("#photo input[type=file]").set_input_files(str(no_face_path))
    toast = page.get_by_text("No face was found", exact=False).first
    toast.wait_for()
    page.screenshot(path=str(artifacts / "no-face.png"), full_page=True)
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body
    assert "Upload or paste a photo" in page.locator("#score-headline").inner_text()  # stale result cleared
    toast_text = page.locator("[data-testid='toast-body']").first.inner_text()
    assert "No face was found" in toast_text
    page.locator("[data-testid='toast-close']").first.click()


def test_webcam_shots_gallery_best_and_download(page, scorer, camera_photo, artifacts, tmp_path):
    page.get_by_role("tab", name="Webcam: best shot").click()
    page.locator("#cam").get_by_text("Click to Access Webcam").click()
    capture = page.locator("#cam button[aria-label='capture photo']")
    capture.click()
    page.wait_for_function("document.querySelector('#best-headline').innerText.includes('Best shot')")
    # the fake camera shows the photo centred on a 640×480 frame, mirrored like a selfie preview
    frame = fit_on_canvas(camera_photo, (640, 480))[:, ::-1]
    expected = scorer.score(frame).main
    best_text = page.locator("#best-headline").inner_text()
    best = _number(best_text, r"Best shot: (\d\.\d\d)")
    assert best == pytest.approx(expected.score, abs=0.15)  # YUV 4:2:0 round trip and JPEG upload change pixels
    # a second shot: the app clears the snapshot, so the camera is one click away again
    page.locator("#cam").get_by_text("Click to Access Webcam").click()
    page.locator("#cam button[aria-label='capture photo']").click()
    page.wait_for_function("document.querySelector('#best-headline').innerText.includes('2 shots')")
    captions = page.locator("#gallery").inner_text()
    assert len(re.findall(r"score \d\.\d\d · \d+(?:st|nd|rd|th) pct", captions)) == 2, captions
    assert "★ score" in captions
    with page.expect_download() as dl:
        page.locator("#download").click()
    saved = tmp_path / "best.jpg"
    dl.value.save_as(saved)
    with Image.open(saved) as im:
        assert im.format == "JPEG" and im.size == (640, 480)
    page.screenshot(path=str(artifacts / "webcam.png"), full_page=True)
    page.locator("#reset").click()
    page.wait_for_function("document.querySelector('#best-headline').innerText.includes('No shots yet')")
    assert not page.locator("#download").is_visible()


def test_live_mode_keeps_best_frame(page, artifacts):
    frames = []
    page.on("request", lambda r: frames.append(time.perf_counter()) if "/gradio_api/stream/" in r.url else None)
    page.get_by_role("tab", name="Webcam: best shot").click()
    page.get_by_role("tab", name="Live").click()
    page.locator("#live-cam").get_by_text("Click to Access Webcam").click()
    page.locator("#live-cam button[aria-label='capture photo']").click()  # the Record button
    page.wait_for_function("document.querySelector('#last-shot').innerText.includes('Live: now')")
    n0 = len(frames)
    page.wait_for_timeout(4000)  # (not time.sleep: Playwright delivers request events while it waits)
    fps = (len(frames) - n0) / 4.0
    page.wait_for_function("document.querySelector('#gallery').innerText.includes('(live)')")
    assert re.search(r"Live: now \d\.\d\d", page.locator("#last-shot").inner_text())
    assert "★ score" in page.locator("#gallery").inner_text()
    page.screenshot(path=str(artifacts / "live.png"), full_page=True)
    (artifacts / "live_frames.json").write_text(json.dumps({"frames_sent": len(frames), "fps": fps}))
    print(f"\nlive mode: {fps:.1f} frames/s sent and scored (stream_every={LIVE_EVERY})")
    assert len(frames) >= 3
