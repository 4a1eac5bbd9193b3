"""The page: photo tab, webcam tab (one-click snapshots + live), About; details under "Advanced".

    from beauty.app import ServeConfig, build_demo, serve
    serve(ServeConfig())            # or: build_demo(config).queue(...).launch(...)

Mobile first: on a phone the photo (with numbered face boxes once scored) comes first
and the score card right under it, so the score, its likely range and the percentile
are on the first screen. Charts are inline SVG in the page's colours (light and dark).
Model, API and detector details sit in a closed "Advanced" section.

One `Scorer` per process, loaded and warmed up when the demo is built; every
per-user value lives in `gr.State` (one per browser session, created on the
session's first event), never in module globals.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import gradio as gr

from ..pipeline import load_scorer
from ..runtime import model_info
from . import shots, text, view
from . import why
from .handlers import Handlers
from .serving import ServeConfig

log = logging.getLogger("beauty")

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"  # public-domain photos (examples/README.md)
EXAMPLE_FILES = ["obama.jpg", "obama_biden.jpg", "astronaut.jpg", "biden.jpg"]


def theme():
    return gr.themes.Soft(primary_hue="orange", secondary_hue="blue", neutral_hue="slate")


# In the <head> of the served HTML itself (Gradio sets the tab title only once its JavaScript runs).
HEAD = (f"<title>{text.TITLE}</title>"
        f'<meta name="description" content="{text.DESCRIPTION}">'
        f'<meta property="og:title" content="{text.TITLE}">'
        f'<meta property="og:description" content="{text.DESCRIPTION}">')

CSS = """
.gradio-container {max-width: 1180px !important; margin: 0 auto;}
#intro h1 {font-size: 1.45rem; margin: 0 0 0.1em 0;}
#intro p {margin: 0; font-size: 0.95rem;}
#intro .privacy {font-size: 0.8rem; opacity: 0.75; margin-top: 0.15em;}
#photo img {object-fit: contain;}
#photo:has(.image-frame img) label[data-testid="block-label"] {display: none;}  /* keep the face tags visible */
#photo .image-container, #photo .upload-container {max-height: 40vh;}
#photo .image-frame img {max-height: calc(40vh - 2.5rem); width: auto; margin: 0 auto;}
/* examples: a strip of square thumbnails; on a phone they give way to the scored photo */
#examples .gallery {display: flex; flex-wrap: nowrap; gap: 0.4em; overflow-x: auto;}
#examples .gallery-item, #examples button.gallery-item {flex: none; width: 72px; height: 72px; padding: 0;}
#examples img {width: 72px !important; height: 72px !important; object-fit: cover; border-radius: var(--radius-md);}
@media (max-width: 700px) {
  #photo-col:has(#photo .image-frame img) #examples-col {display: none;}
}
@media (min-width: 900px) {
  #photo .image-container, #photo .upload-container {max-height: 70vh;}
  #photo .image-frame img {max-height: calc(70vh - 2.5rem);}
}
#photo .upload-container {min-height: 180px;}

/* the result card */
.bs-result {color: var(--body-text-color);}
.bs-empty p {opacity: 0.75; margin: 0.5em 0;}
.bs-message {border: 1px solid var(--error-border-color); background: var(--error-background-fill);
  color: var(--error-text-color); border-radius: var(--radius-lg); padding: 0.6em 0.9em;}
.bs-message p {margin: 0.2em 0;}
.bs-message-title {font-weight: 700;}
.bs-top {display: flex; gap: 0.8em; align-items: center; flex-wrap: nowrap;}
.bs-crop {width: 92px; height: 92px; border-radius: var(--radius-lg); object-fit: cover; flex: none;}
.bs-numbers {flex: 1 1 auto; min-width: 0;}
.bs-numbers p {margin: 0.1em 0;}
.bs-score-line {display: flex; align-items: baseline; gap: 0.3em; flex-wrap: wrap;}
.bs-score {font-size: 2.6rem; font-weight: 800; line-height: 1.05; color: var(--body-text-color);}
.bs-of {font-size: 1.1rem; opacity: 0.7;}
.bs-range {font-size: 1.05rem; font-weight: 600; white-space: nowrap;}
.bs-pct {font-size: 0.95rem;}
.bs-note {font-size: 0.88rem; opacity: 0.9;}
.bs-warn {color: var(--color-accent); opacity: 1;}
.bs-label {font-weight: 700; margin: 0;}
.bs-notrated {font-size: 1.6rem; font-weight: 700; opacity: 0.8;}
.bs-gauge {flex: none; color: var(--body-text-color);}
.bs-hist {margin-top: 0.4em; max-width: 460px; color: var(--body-text-color);}
.bs-crop-wrap {position: relative; flex: none; line-height: 0;}
.bs-badge {color: white; font-weight: 700; border-radius: 6px; padding: 0.1em 0.35em; font-size: 0.9rem;
  line-height: 1.2; position: absolute; top: 4px; left: 4px;}
.bs-faces-title {margin: 0 0 0.3em 0; font-size: 0.9rem; opacity: 0.85;}
.bs-picker {display: flex; flex-wrap: wrap; gap: 0.35em; margin-bottom: 0.6em;}
.bs-pick {border: 2px solid var(--face); border-radius: 999px; padding: 0.15em 0.7em; font-size: 0.95rem;
  background: transparent; color: var(--body-text-color); cursor: pointer;}
.bs-pick[aria-pressed=true] {background: var(--face); color: white;}
.bs-pick-n {font-weight: 700;}
@media (max-width: 420px) {
  .bs-top {gap: 0.55em;}
  .bs-crop {width: 68px; height: 68px;}
  .bs-score {font-size: 2.3rem;}
  .bs-range {font-size: 0.98rem;}
  .bs-gauge svg {width: 84px; height: 51px;}
}
#result-actions {gap: 0.5em; flex-wrap: wrap;}
/* the Advanced table scrolls inside its box; it never widens the page */
#advanced {max-width: calc(100vw - 40px);}
#faces-table {max-width: calc(100vw - 72px); overflow-x: auto !important;}
#faces-table table {width: 100% !important; min-width: 0 !important; table-layout: fixed;}
#faces-table th, #faces-table td {min-width: 0 !important; width: auto !important; white-space: normal !important;
  overflow-wrap: anywhere; font-size: 0.85rem;}
#faces-table .table-container, #faces-table .table-wrap {max-width: 100%; overflow-x: auto;}
#technical pre, #technical code {white-space: pre-wrap; overflow-wrap: anywhere; max-width: 100%;}
#result-actions > * {flex: 1 1 auto; min-width: 150px;}
/* on a touch screen every text button is at least a finger's height (44 px, as platform guidelines ask) */
@media (pointer: coarse) {
  button.sm, button.md, button.lg {min-height: 44px !important; font-size: var(--text-md) !important;}
  .bs-pick {min-height: 44px; padding: 0.3em 0.9em;}
}

/* the webcam */
#cam .cam-box {position: relative; background: #111; border-radius: var(--radius-lg); overflow: hidden;
  aspect-ratio: 4 / 3; max-height: 56vh; display: flex; align-items: center; justify-content: center;}
#cam video {width: 100%; height: 100%; object-fit: contain; transform: scaleX(-1); display: none;}
#cam.on video, #cam .on video {display: block;}
#cam .cam-status {color: #eee; padding: 1em; text-align: center; position: absolute;}
#cam .cam-buttons {display: flex; gap: 0.5em; margin-top: 0.5em;}
#cam .cam-buttons button {flex: 1; padding: 0.6em; border-radius: var(--radius-lg); font-weight: 600;
  font-size: 1rem; border: 1px solid var(--border-color-primary); cursor: pointer;}
#cam .cam-shot {background: var(--button-primary-background-fill); color: var(--button-primary-text-color);}
#cam .cam-shot:disabled {opacity: 0.5; cursor: default;}
#cam .cam-start {background: var(--button-secondary-background-fill); color: var(--button-secondary-text-color);}
#cam .flash .cam-box {outline: 4px solid var(--color-accent);}
/* kept shots: the caption under its photo, not over it (on a phone a 3-column thumbnail is ~110 px and an
   overlaid caption hid the face), and the grid as tall as its shots: no empty panel, no scroll inside the page */
#gallery .grid-wrap {min-height: 0 !important; max-height: none !important; overflow-y: visible !important;}
#gallery .grid-container {padding-top: 2.2rem;}
#gallery .thumbnail-item {aspect-ratio: auto !important; height: auto !important; display: flex;
  flex-direction: column;}
#gallery .thumbnail-item > img {aspect-ratio: 1 / 1; height: auto !important;}
#gallery .caption-label, #gallery figcaption {position: static !important; white-space: normal !important;
  overflow: visible !important; text-overflow: clip !important; max-width: none !important; border: none !important;
  border-radius: 0 !important; text-align: center !important; opacity: 1 !important; line-height: 1.25;}
#footer {opacity: 0.75; font-size: 0.85rem; text-align: center; margin-top: 1em;}
"""

# The face picker of the result card: switches cards in the browser (the card HTML holds every face).
RESULT_JS = """
element.addEventListener('click', (e) => {
  const b = e.target.closest('.bs-pick');
  if (!b) return;
  const n = b.dataset.face;
  element.querySelectorAll('.bs-pick').forEach(x => x.setAttribute('aria-pressed', String(x.dataset.face === n)));
  element.querySelectorAll('.bs-card').forEach(c => { c.hidden = c.dataset.face !== n; });
});
"""

CAMERA_HTML = """
<div class="cam-wrap">
  <div class="cam-box"><video playsinline muted aria-label="camera preview"></video>
    <p class="cam-status">Press <b>Start camera</b>; then every press of <b>Take shot</b> scores one photo.
    The camera stays on until you stop it.</p></div>
  <div class="cam-buttons"><button type="button" class="cam-start">Start camera</button>
    <button type="button" class="cam-shot" disabled>Take shot</button></div>
</div>
"""

# One click per shot: the page keeps its own camera stream open and sends a JPEG of the current
# frame (mirrored, like the preview) with each press; nothing is sent while no shot is taken.
CAMERA_JS = """
const video = element.querySelector('video');
const start = element.querySelector('.cam-start');
const shoot = element.querySelector('.cam-shot');
const status = element.querySelector('.cam-status');
let stream = null;
function stop(message) {
  if (stream) stream.getTracks().forEach(t => t.stop());
  stream = null; video.srcObject = null;
  element.classList.remove('on'); shoot.disabled = true; start.textContent = 'Start camera';
  status.style.display = ''; if (message) status.textContent = message;
}
async function open() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    status.textContent = 'This browser cannot open a camera on this page.'; return;
  }
  status.textContent = 'Starting the camera…';
  try {
    stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: {ideal: 1280}, height: {ideal: 720}, facingMode: 'user'}, audio: false});
    video.srcObject = stream; await video.play();
    element.classList.add('on'); shoot.disabled = false; start.textContent = 'Stop camera';
    status.style.display = 'none';
  } catch (err) {
    stop(err && err.name === 'NotAllowedError'
      ? 'Camera access was refused: allow it for this site in the browser, then press Start camera again.'
      : 'No camera could be started (' + ((err && err.name) || err) + ').');
  }
}
start.addEventListener('click', () => { if (stream) stop('Camera stopped.'); else open(); });
shoot.addEventListener('click', () => {
  if (!stream || !video.videoWidth) return;
  const c = document.createElement('canvas');
  c.width = video.videoWidth; c.height = video.videoHeight;
  const ctx = c.getContext('2d');
  ctx.translate(c.width, 0); ctx.scale(-1, 1); ctx.drawImage(video, 0, 0);
  element.classList.add('flash'); setTimeout(() => element.classList.remove('flash'), 180);
  trigger('submit', {image: c.toDataURL('image/jpeg', 0.92)});
});
// the camera goes off when its tab is left (the preview is hidden then)
new IntersectionObserver((entries) => {
  if (stream && !entries[0].isIntersecting && element.offsetParent === null) stop('Camera stopped.');
}).observe(element);
"""

API_HELP = """
**Web API.** Every action on this page is an endpoint for
[`gradio_client`](https://www.gradio.app/guides/getting-started-with-the-python-client):

```python
from gradio_client import Client, handle_file
client = Client("<this page's address>")
boxed, result_html, card, table, details = client.predict(
    handle_file("photo.jpg"), api_name="/score")
print(details["faces"])  # score, likely range, percentile, box,
                         # detector confidence, warnings per face
```

`/shot` adds a photo to this session's webcam shots, `/reset` forgets them, `/stream` is live mode.
"""


class PageHead:
    """ASGI middleware putting HEAD (the <title>, the description) into the page's HTML as served, so
    browsers' history, bookmarks, link previews and search engines see it before any JavaScript runs."""

    def __init__(self, app, head: str = HEAD):
        self.app, self.head = app, head.encode()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") not in ("/", ""):
            return await self.app(scope, receive, send)
        start, chunks = None, []

        async def buffered(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body":
                return await send(message)
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            headers = list(start.get("headers", []))
            html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
            encoded = any(k.lower() == b"content-encoding" for k, _ in headers)
            if html and not encoded and b"<title" not in body:
                body = body.replace(b"<head>", b"<head>" + self.head, 1)
                headers = [(k, str(len(body)).encode() if k.lower() == b"content-length" else v)
                           for k, v in headers]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        return await self.app(scope, receive, buffered)


def with_page_head(app_kwargs: dict) -> dict:
    """`launch(app_kwargs=...)` with PageHead added as the innermost middleware."""
    from starlette.middleware import Middleware

    kw = dict(app_kwargs or {})
    kw["middleware"] = [*kw.get("middleware", []), Middleware(PageHead)]
    return kw


def _examples(photo, outputs, h: Handlers):
    """Example photos as a strip of thumbnails. Not gr.Examples: its loader runs outside the queue, which
    the server refuses (beauty/app/security.py), and it would send the photo's server path back from the
    browser. Here the browser sends only the index, and the photo is read on the server."""
    files = [EXAMPLES / n for n in EXAMPLE_FILES if (EXAMPLES / n).is_file()]
    if not files:
        return None
    picker = gr.Dataset(components=[photo], samples=[[str(f)] for f in files], type="index",
                        label="No photo at hand? Try one (public domain)", samples_per_page=8, elem_id="examples")
    paths = [str(f) for f in files]
    picker.click(h.busy_outputs, None, outputs[1:], api_visibility="private", show_progress="hidden").then(
        lambda i: h.show_example(i, paths), picker, outputs, api_visibility="private",
        show_progress="minimal", show_progress_on=[outputs[1]])
    return picker


def build_demo(config: ServeConfig | None = None, scorer=None) -> gr.Blocks:
    """The Blocks app. Loads (or takes) the Scorer now, so the first visitor isn't slow."""
    config = config or ServeConfig()
    if scorer is None:
        t = time.perf_counter()
        scorer = load_scorer(quiet=False)
        log.info("scorer ready in %.1fs on %s", time.perf_counter() - t, scorer.device)
    h = Handlers(scorer, config)
    info = model_info(scorer.model_path)

    with gr.Blocks(title=text.TITLE, analytics_enabled=False,
                   delete_cache=(config.sweep_every, config.sweep_age)) as demo:
        gr.HTML(f"<h1>{text.TITLE}</h1><p>{text.TAGLINE}</p><p class='privacy'>{text.privacy(config)}</p>",
                elem_id="intro", js_on_load=None)
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Photo", id="upload"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=300, elem_id="photo-col"):
                        photo = gr.Image(label="Your photo (upload, drop or paste)", sources=["upload", "clipboard"],
                                         type="filepath", image_mode=None, format="jpeg", elem_id="photo",
                                         buttons=["fullscreen"])
                        examples = gr.Column(elem_id="examples-col")
                    with gr.Column(scale=5, min_width=300, elem_id="result-col"):
                        result = gr.HTML(view.empty(), elem_id="result", js_on_load=RESULT_JS)
                        with gr.Row(elem_id="result-actions"):
                            share = gr.DownloadButton("Download result card", visible=False, size="sm",
                                                      variant="primary", elem_id="share")
                            about_link = gr.Button("About this score", size="sm", variant="secondary",
                                                   elem_id="about-link")
                        why_block = why.add_photo_block(h, photo, config.state_ttl)  # map and photo lines
                        with gr.Accordion("Advanced: all numbers, API, model", open=False,
                                          elem_id="advanced"):
                            table = gr.Dataframe(headers=text.TABLE_HEADERS, interactive=False,
                                                 label="Every face", elem_id="faces-table",
                                                 column_count=len(text.TABLE_HEADERS), wrap=True)
                            details = gr.JSON(label="Result (what /score returns)", elem_id="details")
                            gr.Markdown(API_HELP + "\n\n" + text.technical(scorer.device, info),
                                        elem_id="technical")
                outputs = [photo, result, share, table, details]
                with examples:
                    picker = _examples(photo, outputs, h)
                why.follow_examples(why_block, picker)

                # the page: old results go at once, the new ones (or one lasting message) replace them
                photo.upload(h.busy_outputs, None, outputs[1:], api_visibility="private",
                             show_progress="hidden").then(
                    h.show_photo, photo, outputs, api_visibility="private", preprocess=False,
                    show_progress="minimal", show_progress_on=[result])
                photo.clear(h.clear_outputs, None, outputs[1:], api_visibility="private", show_progress="hidden")
                # the API: the same scoring, with errors as gradio_client's AppError
                score_api = gr.Button(visible=False, elem_id="score-api")
                score_api.click(h.score_photo, photo, outputs, api_name="score", preprocess=False)

            with gr.Tab("Webcam", id="webcam"):
                session = gr.State(None, time_to_live=config.state_ttl, delete_callback=shots.end_session)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5, min_width=300):
                        with gr.Tabs():
                            with gr.Tab("Snapshots", id="snap"):
                                cam = gr.HTML(CAMERA_HTML, elem_id="cam", js_on_load=CAMERA_JS)
                            with gr.Tab("Live", id="live"):
                                live = gr.Image(label="Live: frames are scored continuously, the best ones are kept",
                                                sources=["webcam"], streaming=True, type="filepath", image_mode=None,
                                                elem_id="live-cam")
                                gr.Markdown(f"Press record to start; live mode stops by itself after "
                                            f"{config.live_time_limit} s.")
                        last = gr.Markdown("", elem_id="last-shot")
                        shot_diff = gr.Markdown("", elem_id="shot-diff")  # how the best shot's photo differed from the latest
                        last.change(lambda state: why.shot_difference(scorer, state), session, shot_diff,
                                    api_visibility="private", show_progress="hidden")
                    with gr.Column(scale=5, min_width=300):
                        best = gr.HTML(view.no_shots(), elem_id="best-headline", js_on_load=None)
                        with gr.Row():
                            download = gr.DownloadButton("Download best shot", visible=False, size="sm",
                                                         variant="primary", elem_id="download")
                            reset = gr.Button("Reset shots", variant="secondary", size="sm", elem_id="reset")
                        gallery = gr.Gallery(label=f"Your shots, best first (up to {config.max_shots})", columns=3,
                                             height="auto", object_fit="contain", format="jpeg", preview=False,
                                             fit_columns=False, interactive=False, elem_id="gallery")
                shot_outputs = [gallery, best, download, last, session]
                cam.submit(h.camera_shot, session, shot_outputs, api_visibility="private", show_progress="minimal",
                           show_progress_on=[last])
                shot_in = gr.Image(visible=False, type="filepath", sources=["upload"], elem_id="shot-in")
                shot_api = gr.Button(visible=False, elem_id="shot-api")
                shot_api.click(h.take_shot, [shot_in, session], shot_outputs, api_name="shot", preprocess=False)
                reset.click(h.reset_shots, session, shot_outputs, api_name="reset")
                live.stream(h.live_frame, [live, session], shot_outputs, api_name="stream", preprocess=False,
                            stream_every=config.live_every, time_limit=config.live_time_limit, show_progress="hidden")

            with gr.Tab("About", id="about"):
                gr.Markdown(text.about(info, config), elem_id="about")
                gr.Markdown(why.about(), elem_id="about-why")

        about_link.click(lambda: gr.Tabs(selected="about"), None, tabs, api_visibility="private",
                         show_progress="hidden")
        gr.Markdown(text.footer(), elem_id="footer")
    return demo
