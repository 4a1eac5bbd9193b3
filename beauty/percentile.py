"""Where a score falls among the 5,500 human mean ratings of SCUT-FBP5500.

The reference is the raters' own means (shipped as `ratings.txt`, 5,500 numbers
with no image names or pixels), never model predictions: "beats 80 %" means 80 %
of the dataset's faces got a lower human rating.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

RATINGS_FILE = Path(__file__).resolve().parent / "ratings.txt"


@lru_cache(maxsize=1)
def human_ratings() -> np.ndarray:
    """The 5,500 human mean ratings, sorted."""
    return np.sort(np.loadtxt(RATINGS_FILE, dtype=np.float64))


def percentile(score: float) -> float:
    """Share (0..100) of dataset faces whose human mean rating lies below `score`; ties count half."""
    r = human_ratings()
    below = np.searchsorted(r, score, side="left")
    upto = np.searchsorted(r, score, side="right")
    return float(100.0 * (below + upto) / 2 / len(r))
