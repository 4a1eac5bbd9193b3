"""Fit and check the calibrated score range (beauty/interval.py) of a model.

    python -m beauty.training.interval_fit                # shipped model -> beauty/interval.json, docs/coverage.png

Calibration faces must be faces the model never trained on. The shipped model
trained on the 60/40 train split, so:

* the feature reference (where typical faces lie) is fitted on the *train* photos'
  pooled features: that is the training distribution by definition;
* sigma's weights and the conformal quantile are fitted on the 2,200 *test* photos.
  The numbers reported are 2-fold cross-conformal: fit on one half, measure
  coverage on the other, both ways round (5 random splits, averaged). The shipped
  calibration is then fitted on all 2,200 test photos.

Every photo goes through the app's crops (`data.face_crops`, cached in .cache/)
and the model with flip TTA, as in the app.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import interval
from ..hub import sha256_file
from . import data

LEVEL = 0.8
SEEDS = range(5)  # random half splits averaged for the reported cross-conformal numbers


def names_for(cal_or_knots=interval.KNOTS) -> list[str]:
    return ["atypical"] + list(interval.hats(np.zeros(1), cal_or_knots))


def model_outputs(model_path, root: Path, cache_dir: str | None = ".cache") -> dict:
    """Scores (flip TTA) and pooled features of the 60/40 train and test photos, with labels and groups."""
    from ..model import load_model, predict

    train, test = data.load_split(root, "60-40")
    names = sorted(n for n, _ in data.read_labels(root / "train_test_files" / "All_labels.txt"))
    index = {n: i for i, n in enumerate(names)}
    crops = data.face_crops(root, names, cache_dir)
    model = load_model(model_path)
    out = {}
    for part, rows in (("train", train), ("test", test)):
        x = crops[[index[n] for n, _ in rows]]
        s, f = predict(model, x, batch_size=64, features=True)
        out[part] = {"score": s, "features": f, "y": np.array([v for _, v in rows]),
                     "group": np.array([data.group_of(n) for n, _ in rows])}
    return out


def calibrate(train_features, score, y, features, model_sha256: str = "", level: float = LEVEL):
    """(shipped Calibration fitted on all calibration faces, report of the cross-conformal check)."""
    ref = interval.Reference.fit(train_features)
    sig = interval.signals(score, features, ref)
    names = names_for()
    runs = [interval.cross_conformal(score, y, sig, names, level, folds=2, seed=s) for s in SEEDS]
    folds = [f for r in runs for f in r["folds"]]
    report = {
        "cross_conformal_2fold": {m: float(np.mean([r[m] for r in runs]))
                                  for m in ("coverage", "mean_width", "spearman_width_error")},
        "fold_coverage_range": [min(f["coverage"] for f in folds), max(f["coverage"] for f in folds)],
        "fold_spearman_range": [min(f["spearman_width_error"] for f in folds),
                                max(f["spearman_width_error"] for f in folds)],
        "constant_width_2fold": {m: float(np.mean([interval.cross_conformal(score, y, sig, [], level, 2, s)[m]
                                                   for s in SEEDS])) for m in ("coverage", "mean_width")},
    }
    note = (f"sigma weights and q fitted on the {len(y)} SCUT-FBP5500 60/40 test photos (the model trained on the "
            "train split only); feature reference fitted on the train photos' features")
    cal = interval.fit(score, y, sig, names, level, reference=ref, model_sha256=model_sha256, note=note)
    report["in_sample"] = interval.evaluate(cal, score, y, sig)
    extra = {"scut_test_cross_conformal_2fold": report["cross_conformal_2fold"],
             "single_halves": {"coverage": report["fold_coverage_range"],
                               "spearman_width_error": report["fold_spearman_range"]}}
    return replace(cal, extra=extra), report


def coverage_by_level(score, y, sig, levels=np.arange(0.5, 0.96, 0.05), seeds=SEEDS) -> list:
    """2-fold cross-conformal coverage at several nominal levels (for the coverage plot)."""
    names = names_for()
    return [float(np.mean([interval.cross_conformal(score, y, sig, names, lv, 2, s)["coverage"] for s in seeds]))
            for lv in levels]


def coverage_plot(score, y, sig, cal, out: Path, external: dict | None = None):
    """Left: coverage vs nominal level (2-fold cross-conformal). Right: coverage and |error| per width bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    levels = np.arange(0.5, 0.96, 0.05)
    cov = coverage_by_level(score, y, sig, levels)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    a.plot(levels, levels, "k--", lw=1, label="ideal")
    a.plot(levels, cov, "o-", label="SCUT-FBP5500 test, 2-fold cross-conformal")
    a.set(xlabel="nominal level", ylabel="share of human means inside the range", title="coverage vs nominal level")
    a.legend(fontsize=8)
    # per width bin: held-out halves (seed 0)
    part = np.random.default_rng(0).permutation(len(y)) % 2
    lo_all, hi_all = np.zeros(len(y)), np.zeros(len(y))
    for k in range(2):
        tr, te = part != k, part == k
        c = interval.fit(score[tr], y[tr], {n: v[tr] for n, v in sig.items()}, names_for(), cal.level)
        lo_all[te], hi_all[te] = c.range(score[te], {n: v[te] for n, v in sig.items()})
    width = hi_all - lo_all
    edges = np.quantile(width, np.linspace(0, 1, 6))
    mids, covs, errs = [], [], []
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (width >= lo) & (width <= hi)
        mids.append(width[m].mean())
        covs.append(np.mean((y[m] >= lo_all[m]) & (y[m] <= hi_all[m])))
        errs.append(np.mean(np.abs(y[m] - score[m])))
    b.plot(mids, covs, "o-", label="coverage (held-out half)")
    b.plot(mids, errs, "s-", label="mean |error|")
    b.axhline(cal.level, color="k", ls="--", lw=1)
    b.set(xlabel="range width (quintile bins)", ylim=(0, 1), title="per width bin, SCUT-FBP5500 test")
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    from ..model import DEFAULT_MODEL

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL))
    p.add_argument("--data", help=f"SCUT-FBP5500 folder (default ${data.ENV_VAR})")
    p.add_argument("--out", default=str(interval.INTERVAL_FILE), help="calibration JSON to write")
    p.add_argument("--plot", default="docs/coverage.png")
    p.add_argument("--cache-dir", default=".cache")
    a = p.parse_args(argv)
    outs = model_outputs(a.model, data.dataset_dir(a.data), a.cache_dir)
    te = outs["test"]
    cal, report = calibrate(outs["train"]["features"], te["score"], te["y"], te["features"],
                            sha256_file(a.model))
    Path(a.out).write_text(cal.to_json())
    sig = interval.signals(te["score"], te["features"], cal.reference)
    coverage_plot(te["score"], te["y"], sig, cal, Path(a.plot))
    print(json.dumps(report, indent=1))
    print(f"q {cal.q:.4f}, base {cal.base:.4f}, weights {json.dumps({k: round(v, 4) for k, v in cal.coef.items()})}")
    print(f"wrote {a.out}, {a.plot}")


if __name__ == "__main__":
    main()
