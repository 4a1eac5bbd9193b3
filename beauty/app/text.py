"""Every sentence the page shows about a score, in one place, so the wording stays consistent."""

from __future__ import annotations

import numpy as np

from .. import __version__

NO_SHOTS = "### No shots yet\n\nTake a snapshot, or start live mode: every shot is scored and the best one is kept."
EMPTY_HEADLINE = "## – <small>/ 5</small>\n\nUpload or paste a photo with a face to get a score."
TABLE_HEADERS = ["face", "score (1–5)", "percentile", "detector confidence"]


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


def headline(fs, n_faces: int) -> str:
    """Markdown headline for the main face of a photo."""
    more = ""
    if n_faces > 1:
        more = f"\n\nFace **#1** (the largest) of {n_faces}; every face is in the table below."
    return f"## {fs.score:.2f} <small>/ 5</small>\n\n{percentile_sentence(fs.percentile)}{more}"


def faces_table(faces) -> list[list]:
    """Rows of display strings (two decimals, as on the rest of the page); /score's JSON has the numbers."""
    return [[fs.index, f"{fs.score:.2f}", f"{fs.percentile:.1f}", f"{fs.confidence:.2f}"] for fs in faces]


def best_shot(best: dict, n_kept: int, max_shots: int) -> str:
    return (f"### ★ Best shot: {best['score']:.2f} / 5\n\n{percentile_sentence(best['percentile'])}\n\n"
            f"{n_kept} shot{'s' if n_kept != 1 else ''} kept (the best {max_shots} at most), "
            f"in this browser session only.")


def accuracy(info: dict) -> str:
    """One sentence on measured accuracy, from the model .json's `metrics` (written by tools/model_card.py)."""
    m = (info.get("metrics") or {}).get("60-40")
    if not m:
        return "Its measured accuracy is documented in the model card (see the README)."
    return (f"Measured accuracy on the {m['n']:,} held-out test faces of the SCUT-FBP5500 60/40 split: "
            f"Pearson correlation **{m['pc']:.3f}** with the human mean ratings, mean absolute error "
            f"**{m['mae']:.3f}**, RMSE **{m['rmse']:.3f}** (on the 1–5 scale).")


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


def footer(device: str, info: dict) -> str:
    import gradio as gr

    return (f"Model `{info['name']}` ({info['sha']}) on **{device}** · beauty {__version__} · "
            f"Gradio {gr.__version__} · for fun only; says nothing about anyone's worth")
