"""The web page in a real headless Chromium, as a visitor uses it: at desktop (1366×768) and phone
(390×844) sizes, in the light and the dark theme; upload, examples, refusals, webcam shots, live mode.

Needs Debian's Chromium at /usr/bin/chromium (or $CHROMIUM); CI installs it.
The fake camera plays a Y4M clip the test writes from a real face photo (a
SCUT-FBP5500 test image when $SCUT_FBP5500_DIR is set, else the astronaut).
Screenshots go to artifacts/; set UPDATE_SCREENSHOT=1 to also refresh
docs/screenshot.png and docs/screenshot-phone.png (public-domain photos only, never a dataset face).
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beauty.app import ServeConfig
from tests.support.fake_video import fake_webcam_clip, fit_on_canvas
from tests.support.paths import ROOT, dataset_root

LIVE_EVERY = ServeConfig().live_every
EXAMPLES = ROOT / "examples"

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
TIMEOUT_MS = 120_000
DESKTOP, PHONE = (1366, 768), (390, 844)
SCORE = ".bs-card:not([hidden]) .bs-score"  # the big number of the face shown


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
def browser(camera_clip):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera_clip}",
        ])
        yield b
        b.close()


@pytest.fixture(scope="module")
def open_page(browser, app_url):
    """open_page(size, theme) -> a fresh page of the app (its own browser session), ready to use."""
    contexts = []

    def make(size=DESKTOP, theme="light"):
        phone = size[0] < 500
        ctx = browser.new_context(viewport={"width": size[0], "height": size[1]}, permissions=["camera"],
                                  accept_downloads=True, is_mobile=phone, has_touch=phone,
                                  color_scheme="dark" if theme == "dark" else "light")
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(app_url + ("?__theme=dark" if theme == "dark" else ""))
        pg.wait_for_selector("#photo")
        return pg

    yield make
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="module")
def page(open_page):
    """One desktop page shared by the tests that do not care about the size."""
    return open_page(DESKTOP)


def _number(text: str, pattern: str) -> float:
    m = re.search(pattern, text)
    assert m, f"{pattern!r} not in {text!r}"
    return float(m.group(1))


def _upload(pg, path) -> float:
    """Upload a photo on the Photo tab; returns seconds until the result area has its answer."""
    remove = pg.locator("#photo button[aria-label='Remove Image']")
    if remove.count():
        remove.first.click()
        pg.wait_for_function("document.querySelector('#result').innerText.includes('Upload, paste')")
    t = time.perf_counter()
    pg.locator("#photo input[type=file]").set_input_files(str(path))
    pg.wait_for_function("(() => { const r = document.querySelector('#result');"
                         " return r.querySelector('.bs-score, .bs-message, .bs-notrated') !== null; })()")
    return time.perf_counter() - t


def _luminance(css_color: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css_color)[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


COLORS = """(sel) => {
    const e = document.querySelector(sel);
    const cs = getComputedStyle(e);
    let bg = 'rgba(0, 0, 0, 0)', n = e;
    while (n && n.nodeType === 1) {  // the first ancestor with a background of its own
        const b = getComputedStyle(n).backgroundColor;
        if (b && !/rgba\\(.*, 0\\)$/.test(b) && b !== 'transparent') { bg = b; break; }
        n = n.parentElement;
    }
    if (bg === 'rgba(0, 0, 0, 0)') bg = getComputedStyle(document.body).backgroundColor;
    return [e instanceof SVGElement ? cs.fill : cs.color, bg];
}"""


def test_served_page_has_a_title_and_description(app_url):
    with urllib.request.urlopen(app_url) as r:
        html = r.read().decode()
    assert "<title>Face beauty score</title>" in html
    assert 'name="description"' in html


def test_about_is_next_to_the_score_and_privacy_is_one_sentence(page):
    from beauty.app import text

    sentence = text.privacy(ServeConfig())
    assert sentence in page.locator("#intro").inner_text()
    footer = page.locator("#footer").inner_text()
    assert "for fun" in footer.lower() and "worth" in footer
    assert "beauty_mobilenet_v2" not in footer  # model and versions live under Advanced
    page.locator("#about-link").click()  # the button beside the score
    about = page.locator("#about")
    about.wait_for()
    text_ = about.inner_text()
    assert "SCUT-FBP5500" in text_ and "60 volunteers" in text_ and "accuracy" in text_.lower()
    assert "for fun" in text_.lower() and "worth" in text_
    assert "How sure it is" in text_ and "in-the-wild photos" in text_  # the range's and real photos' numbers
    assert "Photos are never logged" in text_
    page.get_by_role("tab", name="Photo").click()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_phone_shows_score_range_and_percentile_without_scrolling(open_page, scorer, theme, artifacts):
    photo = EXAMPLES / "obama.jpg"
    expected = scorer.score(photo).main
    pg = open_page(PHONE, theme)
    latency = _upload(pg, photo)
    pg.wait_for_selector(SCORE)
    score = pg.locator(SCORE)
    assert float(score.inner_text()) == pytest.approx(expected.score, abs=0.011)
    pct = pg.locator(".bs-card:not([hidden]) .bs-pct")
    assert f"{round(expected.percentile)}%" in pct.inner_text()
    shown = [score, pct]
    if expected.low is not None:  # the likely range, when the model has a calibration
        rng = pg.locator(".bs-card:not([hidden]) .bs-range")
        assert f"{expected.low:.2f}" in rng.inner_text() and f"{expected.high:.2f}" in rng.inner_text()
        shown.append(rng)
    for loc in shown:  # on the first screen after the upload, no scrolling
        box = loc.bounding_box()
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= PHONE[1], (loc, box)
    # one photo with numbered boxes replaces the upload preview; nothing wider than the phone
    assert pg.locator("#photo .image-frame img").count() == 1
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    # no chart toolbars; the charts' text is as legible as the page's
    assert pg.locator(".modebar").count() == 0
    for sel in [SCORE, ".bs-card:not([hidden]) .bs-hist svg text[fill=currentColor]",
                ".bs-card:not([hidden]) .bs-gauge svg text"]:
        fg, bg = pg.evaluate(COLORS, sel)
        assert abs(_luminance(fg) - _luminance(bg)) > 0.4, (theme, sel, fg, bg)
    _touch_targets(pg)  # "Download result card", "About this score", "Why this score?"
    time.sleep(0.5)
    pg.screenshot(path=str(artifacts / f"phone-{theme}.png"))
    if theme == "light" and os.environ.get("UPDATE_SCREENSHOT"):
        pg.screenshot(path=str(ROOT / "docs" / "screenshot-phone.png"))
    pg.locator("#advanced").get_by_text("Advanced").click()  # the table of every face fits the phone too
    pg.wait_for_selector("#faces-table table")
    time.sleep(0.5)
    assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    (artifacts / f"latency-phone-{theme}.json").write_text(json.dumps({"file_to_score_s": round(latency, 3)}))
    print(f"\nphone ({theme}): file -> score {latency:.2f} s")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_desktop_upload_matches_the_scorer(open_page, scorer, theme, artifacts):
    photo = EXAMPLES / "astronaut.jpg"
    expected = scorer.score(photo).main
    pg = open_page(DESKTOP, theme)
    latency = _upload(pg, photo)
    card = pg.locator(".bs-card:not([hidden])")
    assert float(pg.locator(SCORE).inner_text()) == pytest.approx(expected.score, abs=0.011)
    box = pg.locator(SCORE).bounding_box()
    assert box["y"] + box["height"] <= DESKTOP[1]
    assert card.locator(".bs-gauge svg").count() == 1 and card.locator(".bs-hist svg").count() == 1
    pg.locator("#share").wait_for(state="visible", timeout=10_000)  # the result card, one click away
    with pg.expect_download() as dl:
        pg.locator("#share").click()
    saved = artifacts / f"result-card-{theme}.png"
    dl.value.save_as(saved)
    with Image.open(saved) as im:
        assert im.format == "PNG" and im.size == (1200, 630)
    # details are one click further, under Advanced
    pg.locator("#advanced").get_by_text("Advanced").click()
    pg.wait_for_selector("#faces-table")
    assert "detector confidence" in pg.locator("#faces-table").inner_text()
    time.sleep(0.5)
    pg.locator("#advanced").get_by_text("Advanced").click()
    pg.screenshot(path=str(artifacts / f"desktop-{theme}.png"))
    if theme == "light" and os.environ.get("UPDATE_SCREENSHOT"):
        pg.screenshot(path=str(ROOT / "docs" / "screenshot.png"))
    print(f"\ndesktop ({theme}): file -> score {latency:.2f} s")


def test_examples_work(open_page, scorer, artifacts):
    pg = open_page(PHONE)
    expected = [fs.score for fs in scorer.score(EXAMPLES / "obama_biden.jpg").faces]
    pg.locator("#examples img").nth(1).click()  # the two-person example
    pg.wait_for_selector(SCORE)
    picker = pg.locator(".bs-pick")
    assert picker.count() == len(expected) == 2
    for i, s in enumerate(expected):  # every face's score, one tap away
        picker.nth(i).click()
        assert float(pg.locator(SCORE).inner_text()) == pytest.approx(s, abs=0.011)
        assert f"#{i + 1}" in pg.locator(".bs-card:not([hidden]) .bs-badge").inner_text()
    assert pg.locator("#photo .image-frame img").count() == 1  # the boxed example photo
    _touch_targets(pg)  # the face picker too
    pg.screenshot(path=str(artifacts / "example-two-faces.png"), full_page=True)


def test_cut_off_face_is_marked(page, scorer, tmp_path, artifacts):
    img = np.asarray(Image.open(EXAMPLES / "obama.jpg").convert("RGB"))
    cut = img[:, int(img.shape[1] * 0.45):]
    path = tmp_path / "cut.jpg"
    Image.fromarray(np.ascontiguousarray(cut)).save(path, quality=92)
    expected = scorer.score(path).main
    assert expected.warnings
    _upload(page, path)
    card = page.locator(".bs-card:not([hidden])")
    assert "partly outside the photo" in card.inner_text() and "less reliable" in card.inner_text()
    assert float(page.locator(SCORE).inner_text()) == pytest.approx(expected.score, abs=0.011)
    page.screenshot(path=str(artifacts / "cut-off.png"), full_page=True)


def test_refusals_are_one_lasting_message(page, no_face_path, tmp_path, artifacts):
    from skimage import data

    cat = tmp_path / "cat.jpg"
    Image.fromarray(data.chelsea()).save(cat, quality=92)
    for path, says in [(cat, "face"), (no_face_path, "No face was found")]:
        _upload(page, path)
        msg = page.locator("#result .bs-message")
        assert says in msg.inner_text() and msg.get_attribute("role") == "alert"
        assert page.locator(SCORE).count() == 0
        time.sleep(12)  # Gradio's toasts fade after ~10 s; this message stays
        assert msg.is_visible() and says in msg.inner_text()
        assert page.locator(".error, [data-testid='toast-body']").filter(has_text="Error").count() == 0
    page.screenshot(path=str(artifacts / "refused-cat.png"), full_page=True)
    notes = tmp_path / "notes.jpg"  # not an image, named like one
    notes.write_text("this is not a photo")
    _upload(page, notes)
    assert "not a photo" in page.locator("#result .bs-message").inner_text()
    assert page.locator("#photo .image-frame img").count() == 0  # no broken-image sliver left behind
    body = page.locator("body").inner_text()
    assert "Traceback" not in body and 'File "' not in body


def _touch_targets(pg, least: int = 44) -> None:
    """On a touch screen every visible text button is at least a finger's height."""
    heights = pg.evaluate("""[...document.querySelectorAll('button.sm, button.md, button.lg, .bs-pick')]
        .filter(b => b.offsetParent && b.innerText.trim()).map(b => [b.innerText.trim(), b.getBoundingClientRect().height])""")
    assert heights and all(h >= least - 0.5 for _, h in heights), heights


def test_webcam_one_click_per_shot_and_the_camera_stays_on(open_page, scorer, camera_photo, artifacts, tmp_path):
    pg = open_page(PHONE)
    pg.get_by_role("tab", name="Webcam").click()
    pg.locator("#cam .cam-start").click()  # once
    pg.wait_for_function("!document.querySelector('#cam .cam-shot').disabled")
    frame = fit_on_canvas(camera_photo, (640, 480))[:, ::-1]  # the fake camera's frame, mirrored like a selfie
    expected = scorer.score(frame).main
    for n in (1, 2):
        pg.locator("#cam .cam-shot").click()  # one click per shot
        pg.wait_for_function(f"document.querySelector('#last-shot').innerText.includes('of {n}')")
        assert pg.evaluate("document.querySelector('#cam video').srcObject !== null")  # still on
        assert not pg.get_by_text("Click to Access Webcam").is_visible()
    best = _number(pg.locator("#best-headline").inner_text(), r"(\d\.\d\d)")
    assert best == pytest.approx(expected.score, abs=0.15)  # YUV 4:2:0 round trip and JPEG change pixels
    captions = pg.locator("#gallery").inner_text()
    assert len(re.findall(r"score \d\.\d\d · \d+(?:st|nd|rd|th) pct", captions)) == 2, captions
    assert "★ score" in captions and "…" not in captions  # full captions
    # each caption sits under its photo, not over the face, and the grid is as tall as its shots
    for img_box, cap_box in pg.evaluate("""[...document.querySelectorAll('#gallery .thumbnail-item')].map(t =>
        [t.querySelector('img').getBoundingClientRect().bottom, t.querySelector('.caption-label').getBoundingClientRect().top])"""):
        assert cap_box >= img_box - 1, (img_box, cap_box)
    grid, items = pg.evaluate("""[document.querySelector('#gallery .grid-wrap').getBoundingClientRect().height,
        document.querySelector('#gallery .grid-container').getBoundingClientRect().height]""")
    assert grid <= items + 40, (grid, items)  # no empty panel under one row of shots
    _touch_targets(pg)  # "Download best shot", "Reset shots"
    if expected.low is not None:  # two shots of the same still frame: their ranges overlap
        assert "too close to call" in (pg.locator("#best-headline").inner_text()
                                       + pg.locator("#last-shot").inner_text()).lower()
    with pg.expect_download() as dl:
        pg.locator("#download").click()
    saved = tmp_path / "best.jpg"
    dl.value.save_as(saved)
    with Image.open(saved) as im:
        assert im.format == "JPEG" and im.size == (640, 480)
    pg.screenshot(path=str(artifacts / "webcam.png"), full_page=True)
    pg.locator("#reset").click()
    pg.wait_for_function("document.querySelector('#best-headline').innerText.includes('No shots yet')")
    assert not pg.locator("#download").is_visible()


def test_live_mode_counts_frames_and_keeps_the_best_few(open_page, artifacts):
    from beauty.app.handlers import LIVE_KEEP

    pg = open_page(DESKTOP)
    frames = []
    pg.on("request", lambda r: frames.append(time.perf_counter()) if "/gradio_api/stream/" in r.url else None)
    pg.get_by_role("tab", name="Webcam").click()
    pg.get_by_role("tab", name="Live").click()
    pg.locator("#live-cam").get_by_text("Click to Access Webcam").click()
    pg.locator("#live-cam button[aria-label='capture photo']").click()  # the Record button
    pg.wait_for_function("/Live: \\d+ frames? scored/.test(document.querySelector('#last-shot').innerText)")
    n0 = len(frames)
    pg.wait_for_timeout(4000)  # (not time.sleep: Playwright delivers request events while it waits)
    fps = (len(frames) - n0) / 4.0
    line = pg.locator("#last-shot").inner_text()
    scored = _number(line, r"Live: (\d+) frames? scored")
    assert scored >= 2 and re.search(r"now \d\.\d\d", line)
    pg.wait_for_function("document.querySelector('#gallery').innerText.includes('(live)')")
    kept = pg.locator("#gallery").inner_text().count("(live)")
    assert 1 <= kept <= LIVE_KEEP
    pg.screenshot(path=str(artifacts / "live.png"), full_page=True)
    (artifacts / "live_frames.json").write_text(json.dumps({"frames_sent": len(frames), "fps": fps}))
    print(f"\nlive mode: {fps:.1f} frames/s sent and scored (stream_every={LIVE_EVERY}), {scored:.0f} counted")
    assert len(frames) >= 3
