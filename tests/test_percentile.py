"""Where a score falls among the 5,500 human ratings: exact values, ties counted half, the README's example."""

import re

import numpy as np
import pytest

from beauty.percentile import human_ratings, percentile
from tests.support.paths import ROOT

N = 5500
# Counted in beauty/ratings.txt: below 3.11 lie 3498 ratings and none equals it; below 3.0 lie 3253 and 37 equal
# it; 2.666667 (160/60) is the most common rating, 102 faces, 1996 below; 4.75 is the top rating, one face.


@pytest.mark.parametrize("score, expected", [
    (3.11, 63.6),  # the README's example line
    (3.0, 100 * (3253 + 37 / 2) / N),  # 59.48: ties count half, not fully (59.82) nor not at all (59.15)
    (2.666667, 100 * (1996 + 102 / 2) / N),  # 37.22
    (4.75, 100 * (N - 1 + 0.5) / N),  # the single top rating: 99.99, not 100
    (1.016667, 100 * 0.5 / N),  # the single bottom rating
    (1.0, 0.0), (0.5, 0.0), (5.0, 100.0), (4.9, 100.0),
])
def test_exact_values(score, expected):
    assert percentile(score) == pytest.approx(expected, abs=1e-9)


def test_agrees_with_counting_on_a_fine_grid_and_at_every_rating():
    r = np.loadtxt(ROOT / "beauty" / "ratings.txt")  # counted here without percentile()'s sorted search
    for s in np.concatenate([np.linspace(0.9, 5.1, 421), np.unique(r)]):
        expected = 100 * ((r < s).sum() + 0.5 * (r == s).sum()) / len(r)
        assert percentile(float(s)) == pytest.approx(expected, abs=1e-9), s


def test_ratings_are_the_datasets_5500_means_of_60_raters():
    r = human_ratings()
    assert r.shape == (N,) and np.all(np.diff(r) >= 0)
    assert (r.min(), r.max()) == (1.016667, 4.75)
    assert r.mean() == pytest.approx(2.99089, abs=1e-5)
    assert np.abs(r * 60 - np.round(r * 60)).max() < 1e-3  # every rating is a mean of 60 integer votes


def test_readme_example_lines_are_possible():
    """Each `score S percentile P` line of the README could come out of the CLI: some score that rounds to S
    has a percentile that rounds to P."""
    lines = re.findall(r"\tscore (\d\.\d\d)(?:\tlikely \S+)?\tpercentile (\d+\.\d)", (ROOT / "README.md").read_text())
    assert len(lines) >= 3, lines
    for s, p in lines:
        candidates = np.linspace(float(s) - 0.005, float(s) + 0.005, 10_001)[:-1]
        shown = {f"{percentile(float(c)):.1f}" for c in candidates}
        assert p in shown, (s, p, sorted(shown))
