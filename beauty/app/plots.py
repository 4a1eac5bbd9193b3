"""What the app draws: percentile gauge and ratings histogram (inline SVG), numbered face boxes, share card.

The charts are small SVG strings, not plotting-library figures: no toolbar, no
JavaScript, a few kilobytes each, and their text and axes use the page's own
colours (`currentColor` and Gradio's CSS variables), so they stay legible in the
light and the dark theme. Box drawing and the share card are plain Pillow.
"""

from __future__ import annotations

import io
from functools import lru_cache
from html import escape

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..percentile import human_ratings

ACCENT = "#e8590c"  # the user's score, in both themes
NEUTRAL = "#8fa3bf"  # the dataset's ratings, legible on white and on near-black
BOX_COLORS = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c940d"]
BIN_WIDTH = 0.1


def box_color(index: int) -> str:
    """Colour of face `index` (1-based) in the boxed photo, its tag and its card."""
    return BOX_COLORS[(index - 1) % len(BOX_COLORS)]


# ---------------------------------------------------------------- charts (SVG)


def gauge(p: float | None, size: int = 120) -> str:
    """A half-circle gauge of the percentile (0..100) among the 5,500 human ratings, as inline SVG."""
    r, cx, cy, stroke = 44, 60, 54, 12

    def arc(a0: float, a1: float) -> str:
        # angles in percent of the half circle, 0 = left end, 100 = right end
        t0, t1 = np.pi * (1 - a0 / 100), np.pi * (1 - a1 / 100)
        x0, y0 = cx + r * np.cos(t0), cy - r * np.sin(t0)
        x1, y1 = cx + r * np.cos(t1), cy - r * np.sin(t1)
        return f"M{x0:.1f},{y0:.1f} A{r},{r} 0 0 1 {x1:.1f},{y1:.1f}"

    value = "" if p is None else f'<path d="{arc(0, max(0.5, min(100.0, float(p))))}" stroke="{ACCENT}" ' \
                                 f'stroke-width="{stroke}" fill="none" stroke-linecap="butt"/>'
    label = "–" if p is None else f"{int(np.clip(round(float(p)), 0, 100))}%"
    return (
        f'<svg class="gauge" viewBox="0 0 120 72" width="{size}" height="{size * 0.6:.0f}" role="img" '
        f'aria-label="percentile gauge: {label}">'
        f'<path d="{arc(0, 100)}" stroke="{NEUTRAL}" stroke-opacity="0.35" stroke-width="{stroke}" fill="none"/>'
        f"{value}"
        f'<text x="{cx}" y="{cy - 2}" text-anchor="middle" font-size="20" font-weight="700" '
        f'fill="currentColor">{label}</text>'
        f'<text x="{cx - r}" y="70" text-anchor="middle" font-size="9" fill="currentColor" opacity="0.7">0</text>'
        f'<text x="{cx + r}" y="70" text-anchor="middle" font-size="9" fill="currentColor" opacity="0.7">100</text>'
        "</svg>"
    )


@lru_cache(maxsize=1)
def _bins() -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(1.0, 5.0 + BIN_WIDTH / 2, BIN_WIDTH)
    counts, _ = np.histogram(human_ratings(), bins=edges)
    return edges, counts


def histogram(score: float | None = None, others: list[float] | None = None,
              low: float | None = None, high: float | None = None) -> str:
    """Histogram of the 5,500 human mean ratings with the score (and its likely range, other faces) marked."""
    edges, counts = _bins()
    w, h, left, right, top, bottom = 320, 120, 8, 8, 18, 24
    pw, ph = w - left - right, h - top - bottom
    x = lambda v: left + (float(v) - 1.0) / 4.0 * pw  # noqa: E731 - the axis mapping, used inline below
    peak = counts.max()
    parts = [f'<svg class="histogram" viewBox="0 0 {w} {h}" width="100%" role="img" '
             f'aria-label="histogram of the 5,500 human ratings{"" if score is None else f", your score {score:.2f}"}">']
    if low is not None and high is not None:
        parts.append(f'<rect x="{x(low):.1f}" y="{top}" width="{max(1.0, x(high) - x(low)):.1f}" height="{ph}" '
                     f'fill="{ACCENT}" fill-opacity="0.15"><title>likely {low:.2f}–{high:.2f}</title></rect>')
    hit = -1 if score is None else int(np.clip(np.searchsorted(edges, score, side="right") - 1, 0, len(counts) - 1))
    for i, c in enumerate(counts):
        bh = ph * c / peak
        parts.append(f'<rect x="{x(edges[i]) + 0.4:.1f}" y="{top + ph - bh:.1f}" width="{pw / len(counts) - 0.8:.1f}" '
                     f'height="{bh:.1f}" fill="{ACCENT if i == hit else NEUTRAL}"/>')
    for s in others or []:
        parts.append(f'<line x1="{x(s):.1f}" x2="{x(s):.1f}" y1="{top}" y2="{top + ph}" stroke="currentColor" '
                     f'stroke-opacity="0.6" stroke-dasharray="2 2"/>')
    if score is not None:
        parts.append(f'<line x1="{x(score):.1f}" x2="{x(score):.1f}" y1="{top - 2}" y2="{top + ph}" '
                     f'stroke="{ACCENT}" stroke-width="2"/>')
        anchor = "start" if score < 1.6 else "end" if score > 4.4 else "middle"
        parts.append(f'<text x="{x(score):.1f}" y="{top - 5}" text-anchor="{anchor}" font-size="11" '
                     f'font-weight="700" fill="{ACCENT}">{score:.2f}</text>')
    parts.append(f'<line x1="{left}" x2="{w - right}" y1="{top + ph}" y2="{top + ph}" stroke="currentColor" '
                 f'stroke-opacity="0.4"/>')
    for t in (1, 2, 3, 4, 5):
        parts.append(f'<text x="{x(t):.1f}" y="{top + ph + 12}" text-anchor="middle" font-size="10" '
                     f'fill="currentColor" opacity="0.8">{t}</text>')
    parts.append(f'<text x="{w / 2}" y="{h - 1}" text-anchor="middle" font-size="9" fill="currentColor" '
                 f'opacity="0.7">{escape("the 5,500 SCUT-FBP5500 faces, by mean human rating (1–5)")}</text>')
    parts.append("</svg>")
    return "".join(parts)


# ---------------------------------------------------------------- images (Pillow)


@lru_cache(maxsize=16)
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow built without FreeType
        return ImageFont.load_default()


def draw_boxes(image: np.ndarray, boxes, labels=None, numbered: bool = True) -> np.ndarray:
    """Copy of `image` with a colored box per face and its number (1 = largest) in a tag above it.

    `boxes` are (x0, y0, x1, y1) in image pixels; `labels` optional extra text per box (e.g. the score).
    """
    im = Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).convert("RGB")
    w, h = im.size
    draw = ImageDraw.Draw(im)
    width = max(2, round(max(w, h) / 250))
    font = _font(max(12, round(max(w, h) / 30)))
    for i, box in enumerate(boxes):
        color = box_color(i + 1)
        x0, y0, x1, y1 = (float(v) for v in box)
        x0, x1 = np.clip([x0, x1], 0, w - 1)
        y0, y1 = np.clip([y0, y1], 0, h - 1)
        draw.rectangle([x0, y0, x1, y1], outline=color, width=width)
        parts = [f"#{i + 1}"] if numbered else []
        if labels is not None and labels[i]:
            parts.append(str(labels[i]))
        if not parts:
            continue
        text = " ".join(parts)
        tx0, ty0, tx1, ty1 = draw.textbbox((0, 0), text, font=font)
        tw, th = tx1 - tx0, ty1 - ty0
        pad = max(2, th // 4)
        lx = float(np.clip(x0, 0, max(0, w - tw - 2 * pad)))
        ly = y0 - th - 2 * pad if y0 - th - 2 * pad >= 0 else min(y1, h - th - 2 * pad)
        draw.rectangle([lx, ly, lx + tw + 2 * pad, ly + th + 2 * pad], fill=color)
        draw.text((lx + pad - tx0, ly + pad - ty0), text, fill="white", font=font)
    return np.asarray(im)


def thumbnail_jpeg(rgb: np.ndarray, side: int = 176, quality: int = 85) -> bytes:
    """A small JPEG of a crop, for the result card (inline, so no file is written for it)."""
    im = Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).convert("RGB")
    im.thumbnail((side, side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def share_card(crop: np.ndarray, lines: list[tuple[str, int, str]], footer: str) -> bytes:
    """A 1200×630 PNG (the usual link-preview size): the scored crop on the left, `lines` of
    (text, font size, colour) on the right, `footer` (the "for fun" sentence) along the bottom."""
    w, h, pad = 1200, 630, 40
    card = Image.new("RGB", (w, h), "#fff7f0")
    draw = ImageDraw.Draw(card)
    side = h - 2 * pad - 50
    face = Image.fromarray(np.ascontiguousarray(crop, dtype=np.uint8)).convert("RGB").resize(
        (side, side), Image.Resampling.LANCZOS)
    card.paste(face, (pad, pad))
    draw.rectangle([pad - 1, pad - 1, pad + side, pad + side], outline="#e9d8c8", width=2)
    x, y = pad + side + 48, pad + 10
    for text, size, color in lines:
        font = _font(size)
        for line in _wrap(draw, text, font, w - x - pad):
            draw.text((x, y), line, fill=color, font=font)
            y += round(size * 1.25)
        y += round(size * 0.35)
    font = _font(22)
    fy = h - pad - 24
    for line in _wrap(draw, footer, font, w - 2 * pad)[:1]:
        draw.text((pad, fy), line, fill="#6b5b4e", font=font)
    buf = io.BytesIO()
    card.save(buf, format="PNG", optimize=False, compress_level=3)
    return buf.getvalue()


def _wrap(draw, text: str, font, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        trial = f"{line} {word}".strip()
        if line and draw.textlength(trial, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = trial
    return lines + ([line] if line else [])
