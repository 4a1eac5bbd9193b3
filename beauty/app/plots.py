"""Figures and overlays for the app: percentile gauge, ratings histogram, numbered face boxes.

Plotly figures are built from pre-binned data (a few dozen bars, not 5,500
points), so each response stays small. Box drawing is plain Pillow so it works
on any image the pipeline returns.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..percentile import human_ratings

ACCENT = "#e8590c"  # the user's score
NEUTRAL = "#8fa3bf"  # the dataset
BOX_COLORS = ["#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00", "#0c8599", "#c2255c", "#5c940d"]
BIN_WIDTH = 0.1


def _layout(fig, height: int, top: int = 50, bottom: int = 30):
    fig.update_layout(
        height=height,
        margin=dict(l=30, r=30, t=top, b=bottom),
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(family="Inter, system-ui, sans-serif", size=13),
    )
    return fig


def gauge(p: float | None, score: float | None = None):
    """Plotly gauge of the percentile (0..100) among the 5,500 human ratings."""
    import plotly.graph_objects as go

    value = 0.0 if p is None else float(p)
    title = "higher than this share of<br>the 5,500 human ratings"
    fig = go.Figure(
        go.Indicator(
            mode="gauge+number",
            value=value,
            number=dict(suffix="%", valueformat=".0f", font=dict(size=44)),
            title=dict(text=title, font=dict(size=14)),
            gauge=dict(
                axis=dict(range=[0, 100], tickvals=[0, 25, 50, 75, 100], ticksuffix="%"),
                bar=dict(color=ACCENT, thickness=0.3),
                bgcolor="rgba(0,0,0,0)",
                borderwidth=0,
                steps=[
                    dict(range=[0, 25], color="#e9ecef"),
                    dict(range=[25, 50], color="#dee2e6"),
                    dict(range=[50, 75], color="#ced4da"),
                    dict(range=[75, 100], color="#adb5bd"),
                ],
                threshold=dict(line=dict(color=ACCENT, width=4), thickness=0.9, value=value),
            ),
            domain=dict(x=[0, 1], y=[0, 1]),
        )
    )
    if p is None:
        fig.data[0].number.font.color = "rgba(0,0,0,0)"
    return _layout(fig, 250, top=60, bottom=10)


@lru_cache(maxsize=1)
def _bins() -> tuple[np.ndarray, np.ndarray]:
    edges = np.arange(1.0, 5.0 + BIN_WIDTH / 2, BIN_WIDTH)
    counts, _ = np.histogram(human_ratings(), bins=edges)
    return edges, counts


def histogram(score: float | None = None, others: list[float] | None = None):
    """Histogram of the 5,500 human mean ratings, with the score (and other faces) marked."""
    import plotly.graph_objects as go

    edges, counts = _bins()
    centers = (edges[:-1] + edges[1:]) / 2
    colors = [NEUTRAL] * len(counts)
    if score is not None:
        i = int(np.clip(np.searchsorted(edges, score, side="right") - 1, 0, len(counts) - 1))
        colors[i] = ACCENT
    fig = go.Figure(
        go.Bar(
            x=centers, y=counts, width=BIN_WIDTH * 0.92, marker_color=colors,
            hovertemplate="ratings %{x:.2f} ± 0.05: %{y} faces<extra></extra>",
        )
    )
    for s in others or []:
        fig.add_vline(x=s, line=dict(color="#495057", width=1, dash="dot"))
    if score is not None:
        fig.add_vline(x=score, line=dict(color=ACCENT, width=3))
        fig.add_annotation(
            x=score, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
            text=f"<b>{score:.2f}</b>", font=dict(color=ACCENT, size=14),
        )
    fig.update_xaxes(range=[1, 5], dtick=0.5, title_text="mean rating of 60 raters (1–5)")
    fig.update_yaxes(title_text="faces", showgrid=True, gridcolor="rgba(128,128,128,0.2)")
    fig.update_layout(
        title=dict(text="SCUT-FBP5500: the 5,500 human ratings", font=dict(size=14), x=0.5, xanchor="center"),
        showlegend=False, bargap=0,
    )
    return _layout(fig, 280)


@lru_cache(maxsize=8)
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
        color = BOX_COLORS[i % len(BOX_COLORS)]
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
