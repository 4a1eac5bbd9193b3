"""The "Why this score?" view in a real headless Chromium, the /explain API, and the webcam's shot line.

Needs Debian's Chromium at /usr/bin/chromium (or $CHROMIUM). The fake camera plays a Y4M clip made from
the astronaut photo. Screenshots go to artifacts/.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.support.fake_video import fake_webcam_clip

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)")
TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def page(app_url, astronaut_rgb, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    clip = fake_webcam_clip(astronaut_rgb, tmp_path_factory.mktemp("cam") / "face.y4m", (640, 480), frames=10)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={clip}",
        ])
        context = browser.new_context(viewport={"width": 1366, "height": 900}, permissions=["camera"])
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(app_url)
        pg.wait_for_selector("#photo")
        yield pg
        context.close()
        browser.close()


def _upload(pg, path):
    remove = pg.locator("#photo button[aria-label='Remove Image']")
    if remove.count():
        remove.first.click()
        pg.wait_for_selector("#photo input[type=file]", state="attached")
    pg.locator("#photo input[type=file]").set_input_files(str(path))
    pg.wait_for_function("/\\d\\.\\d\\d/.test(document.querySelector('#result, #score-headline').innerText)"
                         " || document.querySelector('#result .bs-message') !== null")


def test_why_shows_heatmap_and_tips(page, scorer, astronaut_path, artifacts):
    from beauty import explain

    expected = explain.explain(scorer, astronaut_path)
    _upload(page, astronaut_path)
    assert not page.locator("#why-map img").is_visible()  # computed on request only
    page.locator("#why-button").click()
    page.wait_for_selector("#why-map img")
    page.wait_for_function("document.querySelector('#why-tips').innerText.includes('Why')")
    tips = page.locator("#why-tips").inner_text()
    assert f"Why {expected.score:.2f}?" in tips and "Red areas raised the score" in tips
    assert ("For a better photo" in tips) == bool(expected.tips)
    for t in expected.tips + expected.caveats:
        assert f"{abs(t.effect):.2f}" in tips
    src = page.locator("#why-map img").get_attribute("src")
    assert src  # the overlay is shown as an image
    page.locator("#why-map").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "why.png"), full_page=True)
    body = page.locator("body").inner_text()
    assert "Traceback" not in body


def test_about_says_what_the_map_and_tips_mean(page):
    page.get_by_role("tab", name="About").click()  # tabs render when first shown
    text = page.locator("#about-why").inner_text()
    assert "greys out each 70-pixel square" in text and "does not say that a feature is beautiful" in text
    assert "never suggest changing your face" in text
    page.get_by_role("tab", name="Photo").click()


def test_why_without_a_face_says_so(page, no_face_path):
    _upload(page, no_face_path)
    page.locator("#why-button").click()
    page.get_by_text("Upload a photo with a face first", exact=False).first.wait_for()
    assert not page.locator("#why-map img").is_visible()


def test_explain_api(app_url, astronaut_path, no_face_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    client = Client(app_url, verbose=False)
    image, markdown, summary = client.predict(handle_file(str(astronaut_path)), api_name="/explain")
    assert Path(image).is_file() and "Red areas raised the score" in markdown
    assert summary["heatmap"]["method"] == "occlusion" and len(summary["heatmap"]["cells"]) == 6
    assert summary["photo"]["face_px"] > 0 and isinstance(summary["tips"], list)
    with pytest.raises(AppError, match="No face was found"):
        client.predict(handle_file(str(no_face_path)), api_name="/explain")


def test_webcam_line_on_what_differed(page, artifacts):
    page.get_by_role("tab", name=re.compile("^Webcam")).click()
    start = page.locator("#cam .cam-start")
    if start.count():  # the page's own camera
        start.click()
        page.wait_for_function("!document.querySelector('#cam .cam-shot').disabled")
        shoot = page.locator("#cam .cam-shot").click
    else:  # Gradio's webcam component
        def shoot():
            page.locator("#cam").get_by_text("Click to Access Webcam").click()
            page.locator("#cam button[aria-label='capture photo']").click()
    shoot()
    page.wait_for_function("/\\d\\.\\d\\d/.test(document.querySelector('#last-shot').innerText)")
    assert " had " not in page.locator("#shot-diff").inner_text()  # one shot: nothing to compare
    shoot()
    page.wait_for_function("/ had /.test(document.querySelector('#shot-diff').innerText)")
    line = page.locator("#shot-diff").inner_text()
    # the same still frame twice: nothing about the photo differed
    assert re.search(r"(your best one|your previous best, this shot) had about the same light, pose", line), line
    page.screenshot(path=str(artifacts / "why-webcam.png"), full_page=True)


@pytest.mark.parametrize("size,theme", [((1366, 900), "light"), ((390, 844), "dark")])
def test_dim_photo_gets_its_own_light_line(page, app_url, scorer, tmp_path, artifacts, size, theme):
    """A photo darker than the dataset's: the page brightens it in software, scores it again and says by how much."""
    from PIL import Image

    from beauty import explain
    from beauty.image import load_image
    from tests.support.paths import ROOT

    dim = tmp_path / "dim.jpg"
    Image.fromarray(explain.change_photo(load_image(ROOT / "examples" / "biden.jpg"), "exposure", 0.25)).save(
        dim, quality=92)
    expected = explain.explain(scorer, dim)
    light = [t for t in expected.tips + expected.caveats if t.factor == "darker"]
    assert light, "the dimmed photo should get a line about the light"
    ctx = page.context.browser.new_context(viewport={"width": size[0], "height": size[1]}, color_scheme=theme)
    try:
        pg = ctx.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        pg.goto(page.url.split("?")[0] + ("?__theme=dark" if theme == "dark" else ""))
        pg.wait_for_selector("#photo")
        _upload(pg, dim)
        pg.locator("#why-button").click()
        pg.wait_for_selector("#why-map img")
        pg.wait_for_function("document.querySelector('#why-tips').innerText.includes('Why')")
        text = pg.locator("#why-tips").inner_text()
        assert "brightened by software" in text and f"{abs(light[0].effect):.2f}" in text, text
        assert ("More light on your face" in text) == (light[0].kind == "tip")
        pg.locator("#why-tips").scroll_into_view_if_needed()
        pg.screenshot(path=str(artifacts / f"why-dim-{theme}-{size[0]}.png"), full_page=False)
    finally:
        ctx.close()
