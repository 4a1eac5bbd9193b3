"""Benchmark metrics of SCUT-FBP5500 and the published numbers to compare with."""

from __future__ import annotations

import numpy as np

# (PC, MAE, RMSE) as published, on the same protocols.
BASELINES = {
    "Liang et al. 2018, ResNeXt-50": {"60-40": (0.8777, 0.2518, 0.3325), "5-fold": (0.8997, 0.2291, 0.3017)},
    "ComboLoss 2020, SEResNeXt-50": {"60-40": (0.9117, 0.2126, 0.2813), "5-fold": (0.9199, 0.2050, 0.2704)},
}


def regression_metrics(pred, true) -> dict:
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    err = pred - true
    return {
        "pc": float(np.corrcoef(pred, true)[0, 1]),
        "mae": float(np.abs(err).mean()),
        "rmse": float(np.sqrt((err**2).mean())),
        "n": int(len(true)),
    }


def by_group(pred, true, groups) -> dict:
    """Metrics per subgroup (e.g. Asian female), so gaps between groups are visible."""
    groups = np.asarray(groups)
    return {g: regression_metrics(np.asarray(pred)[groups == g], np.asarray(true)[groups == g]) for g in sorted(set(groups))}


def format_table(rows: dict, protocol: str) -> str:
    """Our rows beside the published baselines, one line each."""
    lines = [f"{'model':44s} {'PC':>7s} {'MAE':>7s} {'RMSE':>7s}"]
    for name, b in BASELINES.items():
        pc, mae, rmse = b[protocol]
        lines.append(f"{name + ' (published)':44s} {pc:7.4f} {mae:7.4f} {rmse:7.4f}")
    for name, m in rows.items():
        lines.append(f"{name:44s} {m['pc']:7.4f} {m['mae']:7.4f} {m['rmse']:7.4f}")
    return "\n".join(lines)
