"""The page's "Why this score?" block and the webcam shots' difference line (the work is in beauty.explain).

* Photo tab: when a photo arrives, its main face is found again and its crop, photo descriptors and
  per-photo checks (`explain.try_fixes`: only for a photo with a condition software can undo, such as
  dim light; otherwise no model call, so plain scoring costs what it did) are kept in the session; the button then maps
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
        n_real = sum(v[k]["naming_the_change_made"] for k in ("tips", "caveats"))
        ok_real = sum(v[k]["naming_the_change_made_moved_as_said"] for k in ("tips", "caveats"))
        measured = eff["photos"]["measured"]
        checked = (f" On {eff['photos']['held_out']} other test photos changed at random, the change a line "
                   f"named was undone for real {n_real} times, and the score moved the way the line said "
                   f"{ok_real} times ({ok_real / n_real:.0%})." if n_real else "")
        simulated = [n for n, t in (eff["thresholds"].get("simulated") or {}).items() if t is not None]
    except (OSError, KeyError):
        checked, measured, simulated = "", 200, []
    kinds = [k for k, names in (("the light on the face", ("darker", "brighter")), ("the head's tilt", ("tilt",)),
                                ("light from one side", ("side_left", "side_right"))) if set(names) & set(simulated)]
    which = " or ".join(kinds) or "nothing"
    return f"""
**Why this score? (the map).** The button greys out each 70-pixel square of the scored face crop in
turn (a 6 × 6 grid of overlapping squares) and scores every greyed copy with the same model and
steps as the score itself. Red marks squares whose removal lowered the score — those parts raised
it; blue marks squares whose removal raised it. The map shows what *this model* responds to in
*this photo*, in score points. It does not say that a feature is beautiful or not, it is coarse
(squares, not pixels), the effects of squares do not add up exactly, and red on hair, background or
shadows means the model uses them too — a limit of the model, not a fact about the face.

**Photo lines.** They come from this model, not from rules of thumb. When {which} of your photo lies
outside the range of the dataset's photos, the page changes your photo in software the way a better
photo would differ (brightens it to the dataset's typical light, turns the head upright), scores it
again through the same steps, and tells you by how much the score moved. A **tip** says the change
raised the score; **what flatters this score** says it lowered it, so the condition flatters this
model and a better photo would likely score lower. A line is shown only when the change is big enough
to have called the direction right in at least 85 % of checks on {measured} test photos of
SCUT-FBP5500 that were darkened, tilted and so on on purpose.{checked} Face size, sharpness, too
much light and light from one side get no line: for this model a change made in software did not
call the direction of the real photo's score often enough (the model was trained to give the same
score whatever the camera, and these changes move its scores little). The lines never suggest
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
    info = explain.describe(rgb, det, crop)
    # the photo itself is not kept: a condition software can undo is tried now (no model call for most photos)
    tried = explain.try_fixes(scorer, rgb, det, crop, info)
    return {"crop": crop, "info": info, "tried": tried, "faces": len(found)}, hidden, EMPTY


def why(scorer, kept):
    """The button: map and tips of the kept face."""
    if not kept:
        raise gr.Error("Upload a photo with a face first.", title="No photo", print_exception=False)
    ex = explain.explain_face(scorer, kept["crop"], kept["info"], 1, kept["faces"], tried=kept.get("tried"))
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
