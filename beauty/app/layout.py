"""The page: upload tab, webcam best-shot tab (snapshots + live), About, footer.

    from beauty.app import ServeConfig, build_demo, serve
    serve(ServeConfig())            # or: build_demo(config).queue(...).launch(...)

One `Scorer` per process, loaded and warmed up when the demo is built; every
per-user value lives in `gr.State` (one per browser session, created on the
session's first event), never in module globals.
"""

from __future__ import annotations

import logging
import time

import gradio as gr

from ..pipeline import load_scorer
from ..runtime import model_info
from . import plots, shots, text
from .handlers import Handlers
from .serving import ServeConfig

log = logging.getLogger("beauty")


def theme():
    return gr.themes.Soft(primary_hue="orange", secondary_hue="blue", neutral_hue="slate")


CSS = """
#score-headline h2 {font-size: 2.6rem; margin: 0.2em 0 0.1em 0;}
#score-headline p {font-size: 1.05rem;}
#best-headline h3 {margin-top: 0.2em;}
#footer {opacity: 0.75; font-size: 0.85rem; text-align: center; margin-top: 1em;}
#disclaimer {font-size: 0.9rem; opacity: 0.85;}
"""


def build_demo(config: ServeConfig | None = None, scorer=None) -> gr.Blocks:
    """The Blocks app. Loads (or takes) the Scorer now, so the first visitor isn't slow."""
    config = config or ServeConfig()
    if scorer is None:
        t = time.perf_counter()
        scorer = load_scorer(quiet=False)
        log.info("scorer ready in %.1fs on %s", time.perf_counter() - t, scorer.device)
    h = Handlers(scorer, config)
    info = model_info(scorer.model_path)

    with gr.Blocks(title="Face beauty score · SCUT-FBP5500 model", analytics_enabled=False,
                   delete_cache=(config.sweep_every, config.sweep_age)) as demo:
        gr.Markdown(
            "# Face beauty score\n"
            "How a model of 60 raters' average judgement on the SCUT-FBP5500 research dataset would rate a face, "
            "from 1 to 5, and where that falls among the dataset's 5,500 human ratings. "
            f"**For fun only** — it says nothing about anyone's worth. {text.privacy(config)}",
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
                        headline = gr.Markdown(text.EMPTY_HEADLINE, label="Score", elem_id="score-headline")
                        with gr.Row():
                            crop = gr.Image(label="Scored crop", interactive=False, height=260,
                                            width=260, format="jpeg", elem_id="crop", scale=2)
                            gauge_plot = gr.Plot(plots.gauge(None), label="Percentile", show_label=False,
                                                 elem_id="gauge", scale=3)
                        hist_plot = gr.Plot(plots.histogram(None), label="Dataset ratings", show_label=False,
                                            elem_id="histogram")
                        table = gr.Dataframe(headers=text.TABLE_HEADERS, datatype=["number", "str", "str", "str"],
                                             interactive=False, label="Every face", elem_id="faces-table",
                                             column_count=4)
                        with gr.Accordion("Details (JSON)", open=False):
                            details = gr.JSON(label="Result", elem_id="details")

                outputs = [boxed, crop, headline, gauge_plot, hist_plot, table, details]
                # the clear step is queued like everything else: nothing on the page runs outside the queue's limits
                photo.change(h.clear_outputs, None, outputs, api_visibility="private", show_progress="hidden").then(
                    h.score_photo, photo, outputs, api_name="score", preprocess=False, show_progress="minimal")

            with gr.Tab("Webcam: best shot", id="webcam"):
                session = gr.State(None, time_to_live=config.state_ttl, delete_callback=shots.end_session)
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
                                            f"{config.live_time_limit} s.")
                        last = gr.Markdown("", label="This shot", elem_id="last-shot")
                        reset = gr.Button("Reset shots", variant="secondary", elem_id="reset")
                    with gr.Column(scale=6):
                        with gr.Row(equal_height=False):
                            with gr.Column(scale=1, min_width=220):
                                best_img = gr.Image(label="Best shot (aligned face)", interactive=False, height=260,
                                                    format="jpeg", elem_id="best-crop")
                            with gr.Column(scale=1, min_width=220):
                                best_md = gr.Markdown(text.NO_SHOTS, label="Best shot", elem_id="best-headline")
                                download = gr.DownloadButton("Download best shot", visible=False, size="md",
                                                             variant="primary", elem_id="download")
                        gallery = gr.Gallery(label=f"Your shots, best first (up to {config.max_shots})", columns=3,
                                             height="auto", object_fit="contain", format="jpeg", preview=False,
                                             fit_columns=False, interactive=False, elem_id="gallery")
                shot_outputs = [gallery, best_img, best_md, download, last, session]
                # after each shot, clear the snapshot in the browser so the camera view and button come back
                cam.upload(h.take_shot, [cam, session], shot_outputs, api_name="shot", preprocess=False).then(
                    None, None, cam, js="() => null", api_visibility="private")
                reset.click(h.reset_shots, session, shot_outputs, api_name="reset")
                live.stream(h.live_frame, [live, session], shot_outputs, api_name="stream", preprocess=False,
                            stream_every=config.live_every, time_limit=config.live_time_limit, show_progress="hidden")

        with gr.Accordion("About this score", open=False, elem_id="about"):
            gr.Markdown(text.about(info, config))
        gr.Markdown(text.footer(scorer.device, info), elem_id="footer")
    return demo
