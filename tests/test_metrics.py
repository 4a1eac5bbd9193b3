"""The benchmark metrics on numbers worked out by hand."""

import numpy as np
import pytest

from beauty.training.metrics import BASELINES, by_group, format_table, regression_metrics


def test_regression_metrics_by_hand():
    # errors -1, 0, +1, +2: MAE 4/4 = 1, RMSE sqrt(6/4); PC: deviations (-2.5,-.5,.5,2.5), (-1,0,0,1): 5 / sqrt(13 * 2)
    m = regression_metrics([1, 3, 4, 6], [2, 3, 3, 4])
    assert m == pytest.approx({"pc": 5 / np.sqrt(26), "mae": 1.0, "rmse": np.sqrt(1.5), "n": 4})
    assert regression_metrics([1, 2, 3], [3, 2, 1])["pc"] == pytest.approx(-1)


def test_by_group_splits_and_sorts():
    g = by_group([1, 2, 3, 5], [1, 2, 4, 4], ["b", "a", "b", "a"])
    assert list(g) == ["a", "b"]
    assert g["a"]["mae"] == pytest.approx(0.5) and g["a"]["n"] == 2  # |2-2|, |5-4|
    assert g["b"]["rmse"] == pytest.approx(np.sqrt(0.5)) and g["b"]["pc"] == pytest.approx(1.0)


def test_table_lists_the_published_numbers_and_ours():
    table = format_table({"ours": {"pc": 0.909856, "mae": 0.2137501, "rmse": 0.2827354}}, "60-40")
    assert "0.8777  0.2518  0.3325" in table and "0.9117  0.2126  0.2813" in table  # arXiv 1801.06345, ComboLoss
    assert table.splitlines()[-1].split()[-3:] == ["0.9099", "0.2138", "0.2827"]
    assert set(BASELINES) == {"Liang et al. 2018, ResNeXt-50", "ComboLoss 2020, SEResNeXt-50"}
