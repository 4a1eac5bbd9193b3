"""The page's "Why this score?" block and the webcam shots' difference line (the work is in beauty.explain).

* Photo tab: when a photo arrives, its main face is found again and its crop and photo descriptors
  are kept in the session (no model call, so plain scoring costs what it did); the button then maps
  that crop — 37 crops through the scorer, about a second — and lists photo tips. Keeping the crop
  means the button still works after the upload itself was deleted from the server.
* API: `/explain` takes a photo and returns the heatmap, the Markdown and a JSON summary.
* Webcam tab: after each snapshot, one line on how the best shot's photo differed from the latest one.
"""

from __future__ import annotations

import logging

import gradio as gr

from .. import explain
from ..errors import BeautyError

log = logging.getLogger("beauty")

def about() -> str:
    """What the map and the photo lines mean and do not mean (the About tab), with the measured numbers."""
    try:
        eff = explain.load_effects()
        v = eff["verification"]
        n_lines = v["tips"]["shown"] + v["caveats"]["shown"]
        ok = v["tips"]["moved_as_said"] + v["caveats"]["moved_as_said"]
        measured = eff["photos"]["measured"]
        checked = (f" On {eff['photos']['held_out']} other test photos, changed at random, {ok} of the "
                   f"{n_lines} lines shown ({ok / max(n_lines, 1):.0%}) moved the score the way they said."
                   if n_lines else "")
        no_tips = eff["thresholds"].get("tip") is None
        no_lines = no_tips and eff["thresholds"].get("caveat") is None
    except (OSError, KeyError):
        checked, no_tips, no_lines, measured = "", False, False, 200
    found = (" For this model the measurements found no change of light, face size, sharpness or tilt that "
             "reliably raises a score: worse photos pull scores towards the middle, and on average up, so you "
             "will mostly see the second kind.") if no_tips else ""
    if no_lines:
        found = (" For the shipped model no line passes: it was trained to give the same score whatever the "
                 "camera, and the changes move its scores little (by 0.00–0.07 on average) and not the "
                 "same way often enough, so the page shows none rather than guess.")
    return f"""
**Why this score? (the map).** The button greys out each 70-pixel square of the scored face crop in
turn (a 6 × 6 grid of overlapping squares) and scores every greyed copy with the same model and
steps as the score itself. Red marks squares whose removal lowered the score — those parts raised
it; blue marks squares whose removal raised it. The map shows what *this model* responds to in
*this photo*, in score points. It does not say that a feature is beautiful or not, it is coarse
(squares, not pixels), the effects of squares do not add up exactly, and red on hair, background or
shadows means the model uses them too — a limit of the model, not a fact about the face.

**Photo lines.** They come from measurements on this model, not from rules of thumb: {measured} test
photos of SCUT-FBP5500 were darkened, brightened, lit from one side, tilted, shrunk and blurred, and
every changed photo was scored. A photo outside the range of the dataset's photos in one of these
ways gets a line only when, for photos like it (changed the same way and scoring about as high), the
score moved the same way often enough to be right in cross-checks.{checked} A **tip** says that
undoing the condition raised such photos' scores; **what flatters this score** says that the
condition raised them, so a better photo would likely score lower.{found} The lines never suggest
changing your face, and never suggest making a photo worse. Head turn and expression could not be
measured (a turned head cannot be made from a frontal photo), so they get a note at most, never a number.
"""


EMPTY = "Press **Why this score?** to see which parts of the photo raised or lowered the score, and photo tips."


def keep(scorer, source, photo):
    """On a new photo: keep its main face's crop and photo descriptors for the button (no model call).

    Returns (kept state, hidden map, tips Markdown). Errors are left to the scoring event, which shows them.
    """
    try:
        src = source(photo)
    except BeautyError:
        src = None
    return _keep(scorer, src)


def _keep(scorer, src):
    from ..face import find_faces
    from ..image import load_image

    hidden = gr.update(value=None, visible=False)
    if src is None:
        return None, hidden, ""
    try:
        rgb = load_image(src)
        found = find_faces(rgb, scorer.detector)[: scorer.max_faces]
    except BeautyError:
        return None, hidden, ""
    det, crop = found[0]
    return {"crop": crop, "info": explain.describe(rgb, det, crop), "faces": len(found)}, hidden, EMPTY


def why(scorer, kept):
    """The button: map and tips of the kept face."""
    if not kept:
        raise gr.Error("Upload a photo with a face first.", title="No photo", print_exception=False)
    ex = explain.explain_face(scorer, kept["crop"], kept["info"], 1, kept["faces"])
    md = ex.markdown()
    if ex.n_faces > 1:
        md = f"Face **#1** (the largest) of {ex.n_faces}.\n\n" + md
    return gr.update(value=ex.heatmap.overlay(), visible=True), md


def explain_photo(handlers, photo):
    """Why this score: a heatmap over the scored crop of face 1 (red: regions that raised the score, blue:
    regions that lowered it, found by greying out each 70-px square in turn), Markdown with the photo tips,
    and a JSON summary (map values in score points, photo descriptors, tips with their measured gains)."""
    result = handlers._score(photo)  # the same checks, errors and upload clean-up as /score
    ex = explain.explain_result(handlers.scorer, result)
    return ex.heatmap.overlay(), ex.markdown(), ex.to_dict()


def add_photo_block(handlers, photo, ttl: float | None = None) -> dict:
    """The button, the map and the tips, under the result; wired to uploads of `photo`. Returns the parts."""
    from .handlers import source

    kept = gr.State(None, time_to_live=ttl)
    with gr.Group(elem_id="why"):
        button = gr.Button("Why this score?", variant="secondary", size="sm", elem_id="why-button")
        heatmap = gr.Image(label="What raised (red) and lowered (blue) the score", interactive=False,
                           visible=False, format="png", height=300, elem_id="why-map")
        tips = gr.Markdown("", elem_id="why-tips")
    scorer = handlers.scorer
    # uploads only: the photo box later shows the boxed photo, which is not what was scored
    photo.upload(lambda p: keep(scorer, source, p), photo, [kept, heatmap, tips], api_visibility="private",
                 show_progress="hidden", preprocess=False)
    photo.clear(lambda: _keep(scorer, None), None, [kept, heatmap, tips], api_visibility="private",
                show_progress="hidden")
    button.click(lambda k: why(scorer, k), kept, [heatmap, tips], api_visibility="private",
                 show_progress="minimal", show_progress_on=[tips])
    api_out = gr.JSON(visible=False)
    api_button = gr.Button(visible=False, elem_id="explain-api")
    api_button.click(lambda p: explain_photo(handlers, p), photo, [heatmap, tips, api_out], api_name="explain",
                     preprocess=False)
    return {"kept": kept, "button": button, "heatmap": heatmap, "tips": tips, "scorer": scorer}


def follow_examples(block: dict, picker) -> None:
    """The example photos (a gr.Dataset of server-side files, picked by index) feed the button too."""
    if picker is None:
        return
    paths = [row[0] for row in picker.raw_samples]
    scorer = block["scorer"]

    def pick(i):
        try:
            return _keep(scorer, paths[int(i)])
        except (TypeError, ValueError, IndexError):
            return _keep(scorer, None)

    picker.click(pick, picker, [block["kept"], block["heatmap"], block["tips"]], api_visibility="private",
                 show_progress="hidden")


# ---------------------------------------------------------------- webcam


def shot_info(scorer, shot: dict) -> dict | None:
    """`describe` of a kept shot (its photo is decoded and its largest face found again), cached in the shot."""
    if "why_info" not in shot:
        from ..image import load_image

        info = None
        try:
            rgb = load_image(shot["photo"])
            dets = scorer.detector.detect(rgb)
            if dets:
                info = explain.describe(rgb, dets[0], shot["crop"])
        except BeautyError:
            pass
        shot["why_info"] = info
    return shot["why_info"]


def shot_difference(scorer, state) -> str:
    """One line: what differed between the best shot's photo and the latest one (light, pose, size, sharpness)."""
    shots = (state or {}).get("shots") or []
    if len(shots) < 2:
        return ""
    latest = max(shots, key=lambda s: s["time"])
    seen = state.setdefault("why_compared", set())
    if latest["id"] in seen:
        return ""  # the latest shot was not kept, so there is nothing new to compare
    seen.add(latest["id"])
    if shots[0] is not latest:
        return explain.compare(shot_info(scorer, shots[0]), shot_info(scorer, latest))
    return explain.compare(shot_info(scorer, latest), shot_info(scorer, shots[1]),
                           lead="A new best! Compared with your previous best, this shot had")
