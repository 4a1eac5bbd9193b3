"""The Gradio web app: upload tab, webcam best-shot tab (snapshots + live), About, footer.

    from beauty.ui import build_demo, launch_kwargs, QUEUE
    build_demo().queue(**QUEUE).launch(**launch_kwargs())

One `Scorer` per process, loaded and warmed up when the demo is built; every
per-user value lives in `gr.State` (one per browser session), never in module
globals. Photos are decoded in memory by `beauty.image`; the only files are
Gradio's own upload/output cache (cleared by `delete_cache`, see SERVING) and
the best-shot download, written to a private temp folder and deleted as soon as
it is superseded, reset, or the session ends.

API endpoints (gradio_client): /score, /shot, /reset, /stream.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import html
import io
import json
import logging
import os
import heapq
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from . import __version__, plots
from . import face as face_mod
from .errors import BeautyError
from .image import MAX_BYTES

log = logging.getLogger("beauty")

MAX_SHOTS = 12  # webcam shots kept per session (the best ones)
LIVE_EVERY = 0.1  # seconds between live webcam frames (10 fps at most; the browser waits for each answer)
LIVE_TIME_LIMIT = 60  # seconds a live session streams before it stops by itself
STATE_TTL = 3600  # seconds a session's shots are kept after the last update

# ---------------------------------------------------------------------------
# SERVING: queue, cache and launch settings. Owned by issue 5 (reliability and
# privacy) who tunes these values; keep them in this block.
# Measured in docs/reliability.md (tools/loadtest.py): 2 concurrent runs per event keep the CPU
# busy (the model and detector are serialised by locks anyway); up to 32 requests wait in line, more
# get Gradio's "queue is full" message instead of a timeout.
QUEUE = dict(default_concurrency_limit=2, max_size=32)
# Privacy: an upload is deleted UPLOAD_TTL s after it was scored (forget_upload); the images Gradio
# writes for the outputs (boxed photo, crops, gallery, best-shot download) are swept every 30 s once
# older than 120 s, so no user image stays on disk more than ~2.5 min (downloads work for >= 2 min).
BLOCKS = dict(delete_cache=(30, 120))
# Gradio stores uploads by content hash: two people uploading the same bytes share one file, and the
# second request may still wait in the queue when the first is scored. So a file is deleted only
# UPLOAD_TTL s after both its last scoring and its last (re-)upload (its ctime); UPLOAD_TTL must exceed
# the longest queue wait (loadtest: max ~11 s with 16 clients on 2 CPU cores).
UPLOAD_TTL = 30
MAX_FILE_SIZE = MAX_BYTES  # bytes, the same cap beauty.image enforces (15 MiB)

_forget_heap: list = []  # (due monotonic time, path)
_forget_cv = threading.Condition()
_forgetter: threading.Thread | None = None


def forget_upload(payload) -> None:
    """Schedule deletion of a user's uploaded/webcam image from Gradio's upload cache (see UPLOAD_TTL).

    Only files that came in through Gradio's upload route (the Blocks' upload_file_set, so never
    example files) and lie inside its upload folder are touched; shutdown deletes the rest anyway.
    """
    global _forgetter
    path = payload.get("path") if isinstance(payload, dict) else None
    if not path:
        return
    from gradio.context import LocalContext
    from gradio.utils import get_upload_folder, is_in_or_equal

    blocks = LocalContext.blocks.get(None)
    uploads = getattr(blocks, "upload_file_set", None)
    if uploads is not None and path not in uploads and Path(path) not in uploads:
        return
    if not is_in_or_equal(path, get_upload_folder()):
        return
    with _forget_cv:
        heapq.heappush(_forget_heap, (time.monotonic() + UPLOAD_TTL, path))
        if _forgetter is None:
            _forgetter = threading.Thread(target=_forget_loop, name="forget-uploads", daemon=True)
            _forgetter.start()
        _forget_cv.notify()


def _forget_loop() -> None:
    while True:
        with _forget_cv:
            while not _forget_heap or _forget_heap[0][0] > time.monotonic():
                _forget_cv.wait(timeout=_forget_heap[0][0] - time.monotonic() if _forget_heap else None)
            _, path = heapq.heappop(_forget_heap)
        try:
            age = time.time() - os.stat(path).st_ctime
            if age < UPLOAD_TTL:  # uploaded again since: a request for it may still be waiting
                with _forget_cv:
                    heapq.heappush(_forget_heap, (time.monotonic() + UPLOAD_TTL - age, path))
                continue
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError:
            log.warning("could not delete an expired upload")


def launch_kwargs(**overrides) -> dict:
    """Keyword arguments for `demo.launch()`: host/port from the environment, theme, upload cap."""
    on_space = bool(os.environ.get("SPACE_ID"))
    kw = dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1"),
        server_port=int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None,
        max_file_size=MAX_FILE_SIZE,
        show_error=False,  # only gr.Error messages reach the page, never exception text
        theme=THEME(),
        css=CSS,
    )
    kw.update(overrides)
    return kw


# ---------------------------------------------------------------------------


def THEME():  # noqa: N802 - a constant that needs gradio to build
    return gr.themes.Soft(primary_hue="orange", secondary_hue="blue", neutral_hue="slate")


CSS = """
#score-headline h2 {font-size: 2.6rem; margin: 0.2em 0 0.1em 0;}
#score-headline p {font-size: 1.05rem;}
#best-headline h3 {margin-top: 0.2em;}
#footer {opacity: 0.75; font-size: 0.85rem; text-align: center; margin-top: 1em;}
#disclaimer {font-size: 0.9rem; opacity: 0.85;}
"""

# ---------------------------------------------------------------- the model, once per process

_scorer = None
_scorer_lock = threading.Lock()


def get_scorer():
    """The process-wide Scorer, loaded and warmed up on first use (thread-safe)."""
    global _scorer
    with _scorer_lock:
        if _scorer is None:
            from .cli import load_scorer

            t = time.perf_counter()
            _scorer = load_scorer(quiet=False)
            log.info("scorer ready in %.1fs on %s", time.perf_counter() - t, _scorer.device)
        return _scorer


def model_info(scorer) -> dict:
    """Name, short hash, config and metrics of the loaded model (for About and the footer)."""
    path = Path(scorer.model_path)
    try:
        cfg = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        cfg = {}
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"name": path.stem, "sha": h.hexdigest()[:8], "config": cfg, "metrics": cfg.get("metrics")}


def accuracy_text(info: dict) -> str:
    """One sentence on measured accuracy, from the model .json's `metrics` (written by tools/model_card.py)."""
    m = (info.get("metrics") or {}).get("60-40")
    if not m:
        return "Its measured accuracy is documented in the model card (see the README)."
    return (f"Measured accuracy on the {m['n']:,} held-out test faces of the SCUT-FBP5500 60/40 split: "
            f"Pearson correlation **{m['pc']:.3f}** with the human mean ratings, mean absolute error "
            f"**{m['mae']:.3f}**, RMSE **{m['rmse']:.3f}** (on the 1–5 scale).")


def about_markdown(info: dict) -> str:
    return f"""
**What the score is.** A neural network (MobileNetV2) trained to predict the *average* attractiveness
rating that 60 volunteers gave each of the 5,500 faces in the research dataset
[SCUT-FBP5500](https://github.com/HCIILAB/SCUT-FBP5500-Database-Release), on a scale of 1 to 5.
The faces are Asian and Caucasian adults aged 15–60, photographed frontally; the raters were
mostly young Chinese volunteers. The percentile compares your score with those 5,500 human
ratings: "higher than 62 %" means 62 % of the dataset's faces got a lower average rating.

{accuracy_text(info)} Even a good model only mirrors the taste of that group of raters on that set
of photos: lighting, pose, expression, glasses, make-up, camera and crop all move the number,
and faces unlike the dataset's (other ages, ethnicities, angles) get less reliable scores.

**It is for fun.** The number says nothing about a person's worth, character or how others
will see them. Please don't use it to judge anyone, and don't score people without their consent.

**Privacy.** Photos are processed in memory and never stored: uploads and results live only in
a short-lived temporary cache that is wiped within minutes, the webcam gallery lives in your
browser session and is discarded when you close the tab or press *Reset*, and nothing is logged.
"""


def footer_markdown(scorer, info: dict) -> str:
    return (
        f"Model `{info['name']}` ({info['sha']}) on **{scorer.device}** · beauty {__version__} · "
        f"Gradio {gr.__version__} · for fun only; says nothing about anyone's worth"
    )


# ---------------------------------------------------------------- helpers


def _source(payload):
    """What `load_image` accepts, from an Image payload (events run with preprocess=False).

    Gradio has already moved uploads into its cache and checked the path is one it served;
    decoding is left to beauty.image so every input gets the same limits and messages.
    """
    if payload is None:
        return None
    if isinstance(payload, dict):
        if payload.get("path"):
            return payload["path"]
        url = payload.get("url") or ""
        if url.startswith("data:") and "," in url:
            return base64.b64decode(url.split(",", 1)[1])
        return None
    if isinstance(payload, (str, np.ndarray, Image.Image)):
        return payload
    return None


def _user_error(e: Exception, title: str = "Could not score this photo") -> gr.Error:
    return gr.Error(html.escape(str(e)), title=title, print_exception=False)


def _score(payload, what: str = "photo"):
    """Scorer.score on a payload; BeautyError -> gr.Error with its sentence; anything else -> generic."""
    src = _source(payload)
    if src is None:
        raise gr.Error(f"Please provide a {what} first.", title="No image", print_exception=False)
    try:
        return get_scorer().score(src)
    except BeautyError as e:
        raise _user_error(e) from None
    except Exception:
        log.exception("scoring failed")
        raise gr.Error("Something went wrong while scoring this image. Please try another photo.",
                       print_exception=False) from None
    finally:
        forget_upload(payload)  # privacy: the upload leaves the disk UPLOAD_TTL s after scoring


def _crop_with_box(fs) -> np.ndarray:
    """The aligned 350×350 crop that was scored, with the face box the detector finds in it.

    Detecting on the crop itself (~2 ms) draws exactly what the crop holds, whatever refinement
    beauty.face applies when it aligns the face.
    """
    dets = get_scorer().detector.detect(fs.crop)
    if not dets:
        return fs.crop
    return plots.draw_boxes(fs.crop, [face_mod.central(dets, fs.crop.shape[1]).box], numbered=False)


def _headline(fs, n_faces: int) -> str:
    p = plots.pct_int(fs.percentile)
    more = ""
    if n_faces > 1:
        more = f"\n\nFace **#1** (the largest) of {n_faces}; every face is in the table below."
    return (
        f"## {fs.score:.2f} <small>/ 5</small>\n\n"
        f"Higher than **{p}%** of the 5,500 human ratings in SCUT-FBP5500 "
        f"(**{plots.ordinal(p)} percentile**).{more}"
    )


def _faces_table(faces) -> list[list]:
    """Rows of display strings (two decimals, as on the rest of the page); /score's JSON has the numbers."""
    return [[fs.index, f"{fs.score:.2f}", f"{fs.percentile:.1f}", f"{fs.confidence:.2f}"] for fs in faces]


TABLE_HEADERS = ["face", "score (1–5)", "percentile", "detector confidence"]
NO_SHOTS = "### No shots yet\n\nTake a snapshot, or start live mode: every shot is scored and the best one is kept."
EMPTY_HEADLINE = "## – <small>/ 5</small>\n\nUpload or paste a photo with a face to get a score."


# ---------------------------------------------------------------- upload tab


def clear_outputs():
    """Reset the result panel while a new photo is scored (internal, not an API endpoint)."""
    return None, None, EMPTY_HEADLINE, plots.gauge(None), plots.histogram(None), [], None


def score_photo(photo):
    """Score every face in a photo.

    Returns: the photo with numbered boxes (1 = largest face), the aligned crop of face 1 with its box,
    a Markdown headline, the percentile gauge, the ratings histogram, a table (face, score, percentile,
    detector confidence) and a JSON summary.
    """
    if _source(photo) is None:
        return clear_outputs()
    result = _score(photo)
    main = result.main
    boxed = plots.draw_boxes(result.image, [fs.box for fs in result.faces],
                             labels=[f"{fs.score:.2f}" for fs in result.faces])
    summary = {
        "faces": [
            {"face": fs.index, "score": round(fs.score, 4), "percentile": round(fs.percentile, 2),
             "box": [round(v, 1) for v in fs.box], "confidence": round(fs.confidence, 3)}
            for fs in result.faces
        ]
    }
    return (
        boxed,
        _crop_with_box(main),
        _headline(main, len(result.faces)),
        plots.gauge(main.percentile),
        plots.histogram(main.score, others=[fs.score for fs in result.faces[1:]]),
        _faces_table(result.faces),
        summary,
    )


# ---------------------------------------------------------------- webcam tab: per-session shots

_DOWNLOADS = Path(tempfile.mkdtemp(prefix="beauty-best-"))
atexit.register(shutil.rmtree, _DOWNLOADS, ignore_errors=True)


DOWNLOAD_TTL = 20  # seconds our copy of the best photo exists; Gradio serves its own cached copy


def new_session() -> dict:
    return {"id": uuid.uuid4().hex, "shots": [], "live_best": None}


def _write_download(state: dict, shot: dict) -> Path:
    """The best photo as a JPEG file for gr.DownloadButton, deleted again DOWNLOAD_TTL s later.

    Gradio copies an output file into its own cache (swept by delete_cache) when the response is
    sent, so this copy is only needed for a moment.
    """
    path = _DOWNLOADS / state["id"] / uuid.uuid4().hex[:8] / f"best-shot-{shot['score']:.2f}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(shot["photo"])
    timer = threading.Timer(DOWNLOAD_TTL, shutil.rmtree, (path.parent,), {"ignore_errors": True})
    timer.daemon = True
    timer.start()
    return path


def _encode_jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def _add_shot(state: dict, result, source: str) -> dict:
    fs = result.main
    shot = {
        "id": uuid.uuid4().hex[:8],
        "score": fs.score,
        "percentile": fs.percentile,
        "crop": fs.crop,
        "photo": _encode_jpeg(result.image),  # kept in memory only, for the download
        "source": source,
        "time": time.time(),
    }
    state["shots"].append(shot)
    state["shots"].sort(key=lambda s: s["score"], reverse=True)
    del state["shots"][MAX_SHOTS:]
    return shot


def _shots_view(state: dict):
    """(gallery items, best crop, best headline, download button update) for the session's shots."""
    shots = state["shots"]
    if not shots:
        return [], None, NO_SHOTS, gr.update(value=None, visible=False)
    gallery = [
        (s["crop"], ("★ " if i == 0 else "") + plots.caption(s["score"], s["percentile"])
         + (" (live)" if s["source"] == "live" else ""))
        for i, s in enumerate(shots)
    ]
    best = shots[0]
    p = plots.pct_int(best["percentile"])
    md = (f"### ★ Best shot: {best['score']:.2f} / 5\n\nHigher than **{p}%** of the dataset's human ratings "
          f"({plots.ordinal(p)} percentile).\n\n{len(shots)} shot{'s' if len(shots) != 1 else ''} kept "
          f"(the best {MAX_SHOTS} at most), in this browser session only.")
    path = _write_download(state, best)
    download = gr.update(value=str(path), visible=True, label=f"Download best shot ({best['score']:.2f})")
    return gallery, best["crop"], md, download


def _cleanup_session(state) -> None:
    """gr.State delete_callback: the session ended or expired; its shots go, and any download file."""
    if isinstance(state, dict):
        state.get("shots", []).clear()
        shutil.rmtree(_DOWNLOADS / state.get("id", "-"), ignore_errors=True)


def take_shot(frame, state):
    """Score a webcam snapshot (or any photo) and add it to this session's gallery of best shots.

    Returns: gallery of kept shots sorted by score with captions, best crop, best-shot Markdown,
    download button for the best photo, a line about this shot, and the session state.
    """
    state = state or new_session()
    if _source(frame) is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), state
    result = _score(frame, "webcam shot")
    shot = _add_shot(state, result, "shot")
    rank = next((i + 1 for i, s in enumerate(state["shots"]) if s is shot), None)
    fs = result.main
    p = plots.pct_int(fs.percentile)
    last = f"This shot: **{fs.score:.2f}** ({plots.ordinal(p)} percentile)"
    last += f", rank {rank} of {len(state['shots'])}." if rank else f", not among the {MAX_SHOTS} best, so not kept."
    return (*_shots_view(state), last, state)


def reset_shots(state):
    """Forget this session's shots and delete the best-shot download."""
    state = state or new_session()
    state["shots"].clear()
    state["live_best"] = None
    return (*_shots_view(state), "Shots cleared.", state)


def live_frame(frame, state):
    """Score one live webcam frame; keep the best live frame in the gallery.

    Frames without a face are skipped silently. Returns the same outputs as /shot.
    """
    state = state or new_session()
    src = _source(frame)
    if src is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), state
    try:
        result = get_scorer().score(src)
    except BeautyError:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), "Live: no face in view.", state
    finally:
        forget_upload(frame)
    fs = result.main
    best = state.get("live_best")
    line = f"Live: now **{fs.score:.2f}**" + (f" · best live frame **{best:.2f}**" if best is not None else "")
    if best is not None and fs.score <= best:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), line, state
    state["shots"] = [s for s in state["shots"] if s["source"] != "live"]
    _add_shot(state, result, "live")
    state["live_best"] = fs.score
    line = f"Live: now **{fs.score:.2f}** · new best live frame kept"
    return (*_shots_view(state), line, state)


# ---------------------------------------------------------------- layout


def build_demo(scorer=None) -> gr.Blocks:
    """The Blocks app. Loads (or takes) the Scorer now, so the first visitor isn't slow."""
    global _scorer
    if scorer is not None:
        _scorer = scorer
    scorer = get_scorer()
    info = model_info(scorer)

    with gr.Blocks(title="Face beauty score · SCUT-FBP5500 model", **BLOCKS) as demo:
        gr.Markdown(
            "# Face beauty score\n"
            "How a model of 60 raters' average judgement on the SCUT-FBP5500 research dataset would rate a face, "
            "from 1 to 5, and where that falls among the dataset's 5,500 human ratings. "
            "**For fun only** — it says nothing about anyone's worth. Photos are processed in memory and never stored.",
            elem_id="intro",
        )
        with gr.Tabs():
            with gr.Tab("Upload", id="upload"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5):
                        photo = gr.Image(label="Photo (upload, drop or paste)", sources=["upload", "clipboard"],
                                         type="filepath", image_mode=None, height=420, elem_id="photo")
                        boxed = gr.Image(label="Faces found (1 = largest)", interactive=False, height=420,
                                         format="jpeg", elem_id="boxed")
                    with gr.Column(scale=5):
                        headline = gr.Markdown(EMPTY_HEADLINE, label="Score", elem_id="score-headline")
                        with gr.Row():
                            crop = gr.Image(label="Scored crop", interactive=False, height=260,
                                            width=260, format="jpeg", elem_id="crop", scale=2)
                            gauge_plot = gr.Plot(plots.gauge(None), label="Percentile", show_label=False,
                                                 elem_id="gauge", scale=3)
                        hist_plot = gr.Plot(plots.histogram(None), label="Dataset ratings", show_label=False,
                                            elem_id="histogram")
                        table = gr.Dataframe(headers=TABLE_HEADERS, datatype=["number", "str", "str", "str"],
                                             interactive=False, label="Every face", elem_id="faces-table",
                                             column_count=4)
                        with gr.Accordion("Details (JSON)", open=False):
                            details = gr.JSON(label="Result", elem_id="details")

                outputs = [boxed, crop, headline, gauge_plot, hist_plot, table, details]
                photo.change(clear_outputs, None, outputs, queue=False, api_visibility="private",
                             show_progress="hidden").then(
                    score_photo, photo, outputs, api_name="score", preprocess=False, show_progress="minimal")

            with gr.Tab("Webcam: best shot", id="webcam"):
                session = gr.State(new_session(), time_to_live=STATE_TTL, delete_callback=_cleanup_session)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=4):
                        with gr.Tabs():
                            with gr.Tab("Snapshots", id="snap"):
                                cam = gr.Image(label="Take a snapshot: each one is scored", sources=["webcam"],
                                               type="filepath", image_mode=None, height=360, elem_id="cam")
                            with gr.Tab("Live", id="live"):
                                live = gr.Image(label="Live: frames are scored continuously, the best one is kept",
                                                sources=["webcam"], streaming=True, type="filepath", image_mode=None,
                                                height=360, elem_id="live-cam")
                                gr.Markdown(f"Press record to start; live mode stops by itself after "
                                            f"{LIVE_TIME_LIMIT} s.")
                        last = gr.Markdown("", label="This shot", elem_id="last-shot")
                        reset = gr.Button("Reset shots", variant="secondary", elem_id="reset")
                    with gr.Column(scale=6):
                        with gr.Row(equal_height=False):
                            with gr.Column(scale=1, min_width=220):
                                best_img = gr.Image(label="Best shot (aligned face)", interactive=False, height=260,
                                                    format="jpeg", elem_id="best-crop")
                            with gr.Column(scale=1, min_width=220):
                                best_md = gr.Markdown(NO_SHOTS, label="Best shot", elem_id="best-headline")
                                download = gr.DownloadButton("Download best shot", visible=False, size="md",
                                                             variant="primary", elem_id="download")
                        gallery = gr.Gallery(label=f"Your shots, best first (up to {MAX_SHOTS})", columns=3,
                                             height="auto", object_fit="contain", format="jpeg", preview=False,
                                             fit_columns=False, interactive=False, elem_id="gallery")
                shot_outputs = [gallery, best_img, best_md, download, last, session]
                # after each shot, clear the snapshot in the browser so the camera view and button come back
                cam.upload(take_shot, [cam, session], shot_outputs, api_name="shot", preprocess=False).then(
                    None, None, cam, js="() => null", api_visibility="private")
                reset.click(reset_shots, session, shot_outputs, api_name="reset")
                live.stream(live_frame, [live, session], shot_outputs, api_name="stream", preprocess=False,
                            stream_every=LIVE_EVERY, time_limit=LIVE_TIME_LIMIT, show_progress="hidden")

        with gr.Accordion("About this score", open=False, elem_id="about"):
            gr.Markdown(about_markdown(info))
        gr.Markdown(footer_markdown(scorer, info), elem_id="footer")
    return demo
