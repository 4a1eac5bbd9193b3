"""The result area as HTML: the score card of each face, the face picker, messages, the best webcam shot.

Everything a visitor needs sits in one block, so a phone shows the score, its likely
range and the percentile right under the photo. Text and chart colours come from the
page's theme (see `layout.CSS`), so the light and the dark theme both read well.
A photo with several faces gets one card per face and a row of face buttons; the
buttons switch cards in the browser (`layout.RESULT_JS`), with no server round trip.
"""

from __future__ import annotations

import base64
from html import escape

from . import plots, text


def _img(jpeg: bytes, alt: str, cls: str) -> str:
    return f'<img class="{cls}" alt="{escape(alt)}" src="data:image/jpeg;base64,{base64.b64encode(jpeg).decode()}">'


def empty() -> str:
    return f'<div class="bs-result bs-empty"><p>{escape(text.EMPTY_RESULT)}</p></div>'


def busy() -> str:
    return '<div class="bs-result bs-empty"><p>Scoring…</p></div>'


def message(sentence: str, title: str = "Could not score this photo") -> str:
    """One lasting message in the result area (instead of an error badge on every output)."""
    return (f'<div class="bs-result bs-message" role="alert"><p class="bs-message-title">{escape(title)}</p>'
            f"<p>{escape(sentence)}</p></div>")


def _face_card(fs, n_faces: int, others: list[float], hidden: bool) -> str:
    color = plots.box_color(fs.index)
    badge = (f'<span class="bs-badge" style="background:{color}">#{fs.index}</span>' if n_faces > 1 else "")
    # the face's number sits on its crop, in its box's colour, so the score line keeps its width
    crop = (f'<div class="bs-crop-wrap">{_img(plots.thumbnail_jpeg(fs.crop), f"face {fs.index}, as scored", "bs-crop")}'
            f"{badge}</div>")
    badge = ""
    reason = text.not_rated(fs)
    if reason:
        body = (f'<div class="bs-score-line">{badge}<span class="bs-notrated">not rated</span></div>'
                f'<p class="bs-note">{escape(reason)}</p>')
        return (f'<div class="bs-card" data-face="{fs.index}"{" hidden" if hidden else ""}>'
                f'<div class="bs-top">{crop}<div class="bs-numbers">{body}</div></div></div>')
    rng = text.range_text(fs)
    notes = "".join(f'<p class="bs-note bs-warn">⚠ {escape(n)}</p>' for n in text.notes(fs))
    r = text.score_range(fs)
    return (
        f'<div class="bs-card" data-face="{fs.index}"{" hidden" if hidden else ""}>'
        f'<div class="bs-top">{crop}<div class="bs-numbers">'
        f'<div class="bs-score-line">{badge}<span class="bs-score" data-score="{fs.score:.4f}">'
        f"{fs.score:.2f}</span><span class=\"bs-of\">/ 5</span></div>"
        + (f'<p class="bs-range">{escape(rng)}</p>' if rng else "")
        + f"</div>"
        f'<div class="bs-gauge">{plots.gauge(fs.percentile)}</div></div>'
        f'<p class="bs-pct">{_pct_sentence(fs.percentile)}</p>'
        + (f'<p class="bs-note">{escape(sure)}</p>' if (sure := _how_sure(fs)) else "")
        + f"{notes}"
        f'<div class="bs-hist">{plots.histogram(fs.score, others, *(r or (None, None)))}</div>'
        "</div>"
    )


def _how_sure(fs) -> str:
    """What the likely range means for this face (text.how_sure, with the calibrated ranges)."""
    how = getattr(text, "how_sure", None)
    return how(fs) if how else ""


def _pct_sentence(p: float) -> str:
    q = text.pct_int(p)
    return f"Higher than <b>{q}%</b> of the 5,500 human ratings (<b>{text.ordinal(q)} percentile</b>)."


def result(result) -> str:
    """The score card(s) of a scored photo: face 1 shown, a face picker when there are several."""
    faces = result.faces
    rated = [fs for fs in faces if not text.not_rated(fs)]
    first = rated[0] if rated else faces[0]
    cards = []
    for fs in faces:
        others = [o.score for o in rated if o is not fs]
        cards.append(_face_card(fs, len(faces), others, hidden=fs is not first))
    picker = ""
    if len(faces) > 1:
        buttons = []
        for fs in faces:
            label = "not rated" if text.not_rated(fs) else f"{fs.score:.2f}"
            warn = " ⚠" if text.notes(fs) else ""
            buttons.append(
                f'<button type="button" class="bs-pick" data-face="{fs.index}" '
                f'aria-pressed="{"true" if fs is first else "false"}" style="--face:{plots.box_color(fs.index)}">'
                f'<span class="bs-pick-n">#{fs.index}</span> {label}{warn}</button>')
        picker = (f'<p class="bs-faces-title">{len(faces)} faces · tap a face to see its score</p>'
                  f'<div class="bs-picker" role="group" aria-label="faces">{"".join(buttons)}</div>')
    return (f'<div class="bs-result">{picker}{"".join(cards)}'
            '<p class="bs-note bs-again">Another photo: press × on this one, or drop a new one on it.</p></div>')


def best_shot(best: dict, n_kept: int, max_shots: int, second: dict | None = None) -> str:
    """The best webcam shot as a compact card (crop, score, range, percentile, close-call note)."""
    rng = text.range_text(best)
    close = ""
    if second is not None and text.close_call(best, second):
        close = (f'<p class="bs-note">Your two best shots ({best["score"]:.2f} and {second["score"]:.2f}) are '
                 f"<b>too close to call</b>: their likely ranges overlap.</p>")
    return (
        f'<div class="bs-result"><div class="bs-card"><div class="bs-top">'
        f'{_img(plots.thumbnail_jpeg(best["crop"]), "best shot, as scored", "bs-crop")}<div class="bs-numbers">'
        f'<p class="bs-label">★ Best shot</p>'
        f'<div class="bs-score-line"><span class="bs-score">{best["score"]:.2f}</span><span class="bs-of">/ 5</span></div>'
        + (f'<p class="bs-range">{escape(rng)}</p>' if rng else "")
        + f'</div></div><p class="bs-pct">{_pct_sentence(best["percentile"])}</p>{close}'
        f'<p class="bs-note">{n_kept} shot{"s" if n_kept != 1 else ""} kept (the best {max_shots} at most), '
        f"in this browser session only.</p></div></div>"
    )


def no_shots() -> str:
    return ('<div class="bs-result bs-empty"><p>No shots yet. Start the camera and take a shot, or use live mode: '
            "every shot is scored and the best ones are kept.</p></div>")
