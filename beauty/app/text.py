"""Every sentence the page shows about a score, in one place, so the wording stays consistent."""

from __future__ import annotations

import numpy as np

from .. import __version__

NO_SHOTS = "### No shots yet\n\nTake a snapshot, or start live mode: every shot is scored and the best one is kept."
EMPTY_HEADLINE = "## – <small>/ 5</small>\n\nUpload or paste a photo with a face to get a score."
EMPTY_RESULT = "Upload, paste or drop a photo with a face, or pick an example, to get a score."
TABLE_HEADERS = ["face", "score (1–5)", "likely range", "percentile", "notes", "detector confidence"]
FOR_FUN = "For fun only: a model of one group of raters' taste, it says nothing about anyone's worth."
TITLE = "Face beauty score"
TAGLINE = "A model of SCUT-FBP5500 raters' average taste, on a 1–5 scale. For fun only."
DESCRIPTION = ("How a model of SCUT-FBP5500's raters would score a face from 1 to 5, and where that falls "
               "among the dataset's 5,500 human ratings. For fun only.")


def ordinal(n: int) -> str:
    """1 -> '1st', 22 -> '22nd', 13 -> '13th'."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def pct_int(p: float) -> int:
    """Whole percentile shown to users, 0..100 (rounded)."""
    return int(np.clip(round(float(p)), 0, 100))


def pct_label(p: float) -> str:
    """Percentile as a short ordinal for captions: 81.2 -> '81st pct'."""
    return f"{ordinal(pct_int(p))} pct"


def caption(score: float, p: float) -> str:
    """Gallery caption, e.g. 'score 3.42 · 81st pct'."""
    return f"score {score:.2f} · {pct_label(p)}"


def short_line(score: float, p: float) -> str:
    """'**3.42** (81st percentile)' for one-line summaries."""
    return f"**{score:.2f}** ({ordinal(pct_int(p))} percentile)"


def percentile_sentence(p: float) -> str:
    q = pct_int(p)
    return (f"Higher than **{q}%** of the 5,500 human ratings in SCUT-FBP5500 "
            f"(**{ordinal(q)} percentile**).")


def score_range(x) -> tuple[float, float] | None:
    """(low, high) of a FaceScore or a webcam shot, when the scorer gives a likely range."""
    get = x.get if isinstance(x, dict) else lambda k: getattr(x, k, None)
    low, high = get("low"), get("high")
    return None if low is None or high is None else (float(low), float(high))


def range_text(x) -> str:
    """'likely 3.02–3.60', or '' without a range."""
    r = score_range(x)
    return "" if r is None else f"likely {r[0]:.2f}–{r[1]:.2f}"


def not_rated(fs) -> str | None:
    """Why a face found in the photo was not rated (e.g. it looks like a child's), or None when it was."""
    reason = getattr(fs, "refused", None)
    if not reason:
        return None
    return reason if isinstance(reason, str) else "not rated"


def notes(fs) -> list[str]:
    """Short notes a face's score comes with (e.g. 'partly outside the photo — score less reliable')."""
    return [str(w) for w in (getattr(fs, "warnings", None) or [])]


def headline(fs, n_faces: int) -> str:
    """Markdown headline for the main face of a photo."""
    more = ""
    if n_faces > 1:
        more = f"\n\nFace **#1** (the largest) of {n_faces}; every face is in the table below."
    rng = range_text(fs)
    sure = how_sure(fs)
    return (f"## {fs.score:.2f} <small>/ 5{' · ' + rng if rng else ''}</small>\n\n"
            f"{percentile_sentence(fs.percentile)}{' ' + sure if sure else ''}{more}")


def how_sure(fs) -> str:
    """One sentence on what the likely range means, and whether this one is wider than usual."""
    r = score_range(fs)
    if r is None:
        return ""
    from ..interval import typical_width

    typical = typical_width()
    if typical and r[1] - r[0] > 1.25 * typical:
        return ("The range is wider than usual: this face or photo is unlike the dataset's, "
                "so the model is less sure.")
    return "On held-out dataset photos, the raters' average fell inside such a range 8 times in 10."


def faces_table(faces) -> list[list]:
    """Rows of display strings (two decimals, as on the rest of the page); /score's JSON has the numbers."""
    rows = []
    for fs in faces:
        reason = not_rated(fs)
        if reason:
            rows.append([fs.index, "not rated", "", "", reason, f"{fs.confidence:.2f}"])
            continue
        r = score_range(fs)
        rows.append([fs.index, f"{fs.score:.2f}", f"{r[0]:.2f}–{r[1]:.2f}" if r else "", f"{fs.percentile:.1f}",
                     "; ".join(notes(fs)), f"{fs.confidence:.2f}"])
    return rows


def close_call(a, b) -> bool:
    """Two scores (FaceScores or shots) whose likely ranges overlap: too close to call which is higher."""
    ra, rb = score_range(a), score_range(b)
    return ra is not None and rb is not None and ra[0] <= rb[1] and rb[0] <= ra[1]


def best_shot(best: dict, n_kept: int, max_shots: int, second: dict | None = None) -> str:
    rng = range_text(best)
    text = (f"### ★ Best shot: {best['score']:.2f} / 5\n\n{rng + ' · ' if rng else ''}"
            f"{percentile_sentence(best['percentile'])}\n\n")
    if second is not None and close_call(best, second):
        text += (f"Your two best shots ({best['score']:.2f} and {second['score']:.2f}) are **too close to call**: "
                 f"their likely ranges overlap.\n\n")
    return text + (f"{n_kept} shot{'s' if n_kept != 1 else ''} kept (the best {max_shots} at most), "
                   f"in this browser session only.")


def accuracy(info: dict) -> str:
    """One sentence on measured accuracy, from the model .json's `metrics` (written by tools/model_card.py)."""
    m = (info.get("metrics") or {}).get("60-40")
    if not m:
        return "Its measured accuracy is documented in the model card (see the README)."
    return (f"Measured accuracy on the {m['n']:,} held-out test faces of the SCUT-FBP5500 60/40 split: "
            f"Pearson correlation **{m['pc']:.3f}** with the human mean ratings, mean absolute error "
            f"**{m['mae']:.3f}**, RMSE **{m['rmse']:.3f}** (on the 1–5 scale).")


def how_sure_about(info: dict) -> str:
    """The About's paragraph on the likely range and on everyday photos, from the measured numbers (the range's
    held-out check in beauty/interval.json; the in-the-wild agreement in the model .json, tools/model_card.py)."""
    from ..interval import held_out_check

    check = held_out_check()
    metrics = info.get("metrics") or {}
    wild, test = metrics.get("mebeauty-dev val"), metrics.get("60-40")
    out = []
    if check:
        out.append(f"Every score comes with a likely range (\"3.31 · likely 3.02–3.60\"): on held-out dataset photos "
                   f"the raters' average fell inside it for {check['coverage']:.0%} of faces, and it is wider for a face "
                   "or photo unlike the dataset's. Two scores whose ranges overlap are too close to call.")
    if wild and test:
        out.append(f"Everyday photos are harder: on {wild['n']} in-the-wild photos of people of six ethnic groups, "
                   f"rated by another panel, the scores follow those people's average ratings much less closely "
                   f"(Pearson **{wild['pearson']:.2f}**, against {test['pc']:.2f} on the dataset's own test photos).")
    return f"**How sure it is.** {' '.join(out)}" if out else ""


def age_gate_rates() -> str:
    """The age gate's measured rates, from weights/age_gate.json (beauty.age); children to a tenth of a point, so
    96.6 % is not shown as a round 97 %."""
    try:
        from ..age import read_config

        cfg = read_config()
        m = (cfg.get("measured_app_pipeline") or cfg["measured"])["age_dev_holdout"]
        return (f"on held-out test faces it refused {m['0-12']['refused']:.1%} of children under 13 and "
                f"{m['13-17']['refused']:.0%} of 13–17-year-olds, and scored "
                f"{1 - m['18-30']['refused']:.0%} of adults aged 18–30 and {1 - m['31+']['refused']:.0%} of older adults")
    except (OSError, KeyError, ValueError):
        return "its measured error rates are in the model card"


def about(info: dict, config=None) -> str:
    return f"""
**What the score is.** A neural network (MobileNetV2) trained to predict the *average* attractiveness
rating that 60 volunteers gave each of the 5,500 faces in the research dataset
[SCUT-FBP5500](https://github.com/HCIILAB/SCUT-FBP5500-Database-Release), on a scale of 1 to 5.
The faces are Asian and Caucasian adults aged 15–60, photographed frontally; the raters were
mostly young Chinese volunteers. The percentile compares your score with those 5,500 human
ratings: "higher than 62 %" means 62 % of the dataset's faces got a lower average rating.

{accuracy(info)} Even a good model only mirrors the taste of that group of raters on that set
of photos: lighting, pose, expression, glasses, make-up, camera and crop all move the number,
and faces unlike the dataset's (other ages, ethnicities, angles) get less reliable scores.

{how_sure_about(info)}

**Adults only.** Faces that look younger than 18 are not rated: a photo of a child gets no score,
and in a group photo a child's face is marked "not rated". The check is a small separate network
that estimates age from the face alone, helped by what the scoring network itself reads in the face
({age_gate_rates()}); when unsure it refuses, so it
sometimes leaves a young-looking adult unrated, and it can still miss a child: please only upload
photos of adults.

**It is for fun.** The number says nothing about a person's worth, character or how others
will see them. Please don't use it to judge anyone, and don't score people without their consent.

**Privacy.** {privacy(config, detailed=True)}
"""


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        hours = round(seconds / 3600, 1)
        return "1 hour" if hours == 1 else f"{hours:g} hours"
    if seconds >= 90:
        return f"{round(seconds / 60, 1):g} minutes"
    return f"{seconds:.0f} seconds"


def privacy(config=None, detailed: bool = False) -> str:
    """What happens to photos, with the app's real limits (beauty.app.ServeConfig; docs/reliability.md)."""
    if config is None:
        from .serving import ServeConfig

        config = ServeConfig()
    files = _duration(config.max_file_life)
    shots = _duration(max(config.state_ttl, 3600))  # Gradio keeps a closed tab's state for an hour
    if not detailed:
        return (f"Photos are never logged; temporary files are deleted within {files}, "
                f"webcam shots at the latest {shots} after your last shot.")
    return (f"Photos are never logged, and kept only as long as the page needs them. They are scored on the "
            f"server: an upload is deleted {_duration(config.upload_ttl)} after it is scored (or uploaded again), "
            f"and every temporary image file (an upload never scored, the result images, the best-shot download) "
            f"within {files} of its last use. Webcam shots stay in server memory for your browser session only, "
            f"until you press *Reset*, and at the latest {shots} after your last shot.")


def footer() -> str:
    return f"{FOR_FUN} Not for judging anyone; please don't score people without their consent."


def technical(device: str, info: dict) -> str:
    """Model, runtime and versions, for the Advanced section."""
    import gradio as gr

    return (f"Model `{info['name']}` ({info['sha']}) on **{device}** · beauty {__version__} · "
            f"Gradio {gr.__version__}")
