"""Evaluate models on the official SCUT-FBP5500 protocols, beside the published numbers.

    python -m beauty.training.evaluate                                   # shipped model, 60/40 test split
    python -m beauty.training.evaluate --crops both                      # app pipeline vs raw dataset images
    python -m beauty.training.evaluate --folds 'runs/fold{}/model.npz'   # 5-fold CV, one model per fold
    python -m beauty.training.evaluate --external mebeauty               # in-the-wild photos (MEBeauty val)
    python -m beauty.training.evaluate --nuisance                        # capture changes, 200 test photos

Prints PC / MAE / RMSE (and per subgroup), writes scatter.png (predicted vs
human), histograms.png (the two score distributions) and metrics.json.
`--external` and `--nuisance` run the app's own Scorer (detection, crop, flip
TTA, calibrated range) on whole photos and print their own tables.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import data
from .metrics import by_group, format_table, regression_metrics


def evaluate(model_path, root: Path, protocol: str, crops: str = "face", flip_tta: bool = True,
             cache_dir: str | None = "auto", whole_dataset: bool = True, verify: int = 0,
             features: bool = False, runtime: str = "keras") -> dict:
    """Metrics of one model on one protocol's test images; also returns predictions (and, with
    `features`, the pooled features the calibrated range is computed from).

    With a cache, `whole_dataset` shares the all-5,500-images crop cache that training builds;
    otherwise only the test images are cropped and cached. `verify`: see `data.face_crops`.
    `runtime`: "keras" (`beauty.model.predict`), or "app": what the app's Scorer runs the network
    with (`beauty.runtime.choose_runtime`: LiteRT on a CPU when it is installed and exported).
    """
    from ..model import load_model, predict
    from ..runtime import choose_runtime

    if runtime == "app":
        runtime, _ = choose_runtime(model_path)

    _, test = data.load_split(root, protocol)
    names = [n for n, _ in test]
    if cache_dir and whole_dataset:
        names = sorted(n for n, _ in data.read_labels(root / "train_test_files" / "All_labels.txt"))
    index = {n: i for i, n in enumerate(names)}
    x = data.face_crops(root, names, cache_dir, raw=crops == "raw", verify=verify)[[index[n] for n, _ in test]]
    y = np.array([s for _, s in test])
    if runtime == "lite":
        from ..lite import load_lite

        pred, feats = load_lite(model_path).predict(x, flip_tta=flip_tta, batch_size=64, features=True)
    else:
        pred, feats = predict(load_model(model_path), x, flip_tta=flip_tta, batch_size=64, features=True)
    out = {
        "overall": regression_metrics(pred, y),
        "groups": by_group(pred, y, [data.group_of(n) for n, _ in test]),
        "pred": pred,
        "true": y,
        "runtime": runtime,
    }
    if features:
        out["features"] = feats
    return out


MEBEAUTY_ENV = "MEBEAUTY_DIR"
MEBEAUTY_DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "MEBeauty-dev"


def mebeauty_dir(path=None) -> Path:
    """MEBeauty-dev (images/, labels.csv) from the argument, $MEBEAUTY_DIR or ../shared/MEBeauty-dev."""
    import os

    root = Path(path or os.environ.get(MEBEAUTY_ENV) or MEBEAUTY_DEFAULT)
    if not (root / "labels.csv").is_file() or not (root / "images").is_dir():
        raise data.DatasetError(f"{root} is not a MEBeauty-dev folder (images/ and labels.csv); set ${MEBEAUTY_ENV}.")
    return root


def mebeauty_rows(root: Path, split: str) -> list[dict]:
    """labels.csv rows of one split (file, score 1-10, gender, ethnicity), with `path`."""
    import csv

    with open(root / "labels.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == split]
    for r in rows:
        r["path"], r["score"] = root / "images" / r["file"], float(r["score"])
    return rows


def score_photos(scorer, paths) -> dict:
    """The largest face of each photo through the app's Scorer: score, low, high (NaN where none was scored)
    and `error`, the error's class name for photos that were not scored ('' otherwise)."""
    out = {k: np.full(len(paths), np.nan) for k in ("score", "low", "high")}
    out["error"] = [""] * len(paths)
    for i, (_, r) in enumerate(scorer.score_many(paths)):
        if isinstance(r, Exception):
            out["error"][i] = type(r).__name__
            continue
        out["score"][i] = r.main.score
        if r.main.low is not None:
            out["low"][i], out["high"][i] = r.main.low, r.main.high
    return out


def external(model_path, meb_root: Path, scut_root: Path | None = None, cache_dir: str | None = ".cache") -> dict:
    """The model on MEBeauty val (in-the-wild photos, other raters, 1-10 scale): correlations overall and per
    gender x ethnicity, beside SCUT-FBP5500 60/40 test; the calibrated range's width on both; and, for
    information, the range's coverage on val once the 1-10 scale is mapped linearly to 1-5 with a mapping
    fitted on MEBeauty *train* only (mean and SD of the mapped train labels = those of the model's train scores)."""
    from ..hub import sha256_file
    from ..interval import spearman
    from ..pipeline import load_scorer

    scorer = load_scorer(model_path, age_gate=False)  # the model's scores, also for faces the app would refuse
    val = mebeauty_rows(meb_root, "val")
    got = score_photos(scorer, [r["path"] for r in val])
    y = np.array([r["score"] for r in val])
    ok = ~np.isnan(got["score"])
    s = got["score"]
    from collections import Counter

    rep = {"n": len(val), "not_scored": int((~ok).sum()), "errors": dict(Counter(e for e in got["error"] if e)),
           "overall": {"n": int(ok.sum()), "pearson": float(np.corrcoef(s[ok], y[ok])[0, 1]),
                       "spearman": spearman(s[ok], y[ok])}, "groups": {}}
    groups = np.array([f"{r['gender']} {r['ethnicity']}" for r in val])
    for g in sorted(set(groups)):
        m = ok & (groups == g)
        rep["groups"][g] = {"n": int(m.sum()), "pearson": float(np.corrcoef(s[m], y[m])[0, 1]),
                            "spearman": spearman(s[m], y[m])}
    if scut_root is not None:
        r = evaluate(model_path, scut_root, "60-40", cache_dir=cache_dir)
        rep["scut_6040_test"] = {"n": len(r["true"]), "pearson": r["overall"]["pc"],
                                 "spearman": spearman(r["pred"], r["true"])}
    if scorer.interval is not None:
        width = got["high"] - got["low"]
        rep["range"] = {"mebeauty_val_mean_width": float(np.nanmean(width)),
                        "scut_test_mean_width": scorer.interval.extra.get("scut_test_cross_conformal_2fold", {})
                        .get("mean_width")}
        # scale mapping, fitted on MEBeauty train only (scores of its photos cached per model)
        train = mebeauty_rows(meb_root, "train")
        cache = Path(cache_dir) / f"mebeauty-train-{sha256_file(model_path)[:12]}.npy" if cache_dir else None
        if cache is not None and cache.exists():
            ts = np.load(cache)
        else:
            ts = score_photos(scorer, [r["path"] for r in train])["score"]
            if cache is not None:
                cache.parent.mkdir(parents=True, exist_ok=True)
                np.save(cache, ts)
        ty = np.array([r["score"] for r in train])
        tok = ~np.isnan(ts)
        slope = ts[tok].std() / ty[tok].std()
        offset = ts[tok].mean() - slope * ty[tok].mean()
        mapped = offset + slope * y
        inside = (mapped >= got["low"]) & (mapped <= got["high"])
        rep["range"].update({"mapping": f"mapped = {offset:.3f} + {slope:.4f} x score_1_10 (fitted on "
                                        f"{int(tok.sum())} MEBeauty train photos)",
                             "mebeauty_val_coverage_mapped": float(inside[ok].mean())})
    scorer.detector.close()
    return rep


def format_external(rep: dict) -> str:
    why = ", ".join(f"{n} {e}" for e, n in rep["errors"].items())
    lines = [f"MEBeauty val: {rep['n']} photos, largest face each; {rep['not_scored']} not scored"
             + (f" ({why})" if why else ""),
             f"{'':26s} {'n':>5s} {'Pearson':>8s} {'Spearman':>8s}"]
    if "scut_6040_test" in rep:
        t = rep["scut_6040_test"]
        lines.append(f"{'SCUT-FBP5500 60/40 test':26s} {t['n']:5d} {t['pearson']:8.4f} {t['spearman']:8.4f}")
    o = rep["overall"]
    lines.append(f"{'MEBeauty val, all':26s} {o['n']:5d} {o['pearson']:8.4f} {o['spearman']:8.4f}")
    for g, m in rep["groups"].items():
        lines.append(f"{'  ' + g:26s} {m['n']:5d} {m['pearson']:8.4f} {m['spearman']:8.4f}")
    if "range" in rep:
        r = rep["range"]
        sw = f"{r['scut_test_mean_width']:.3f}" if r.get("scut_test_mean_width") is not None else "?"
        lines += [f"80 % range: mean width {r['mebeauty_val_mean_width']:.3f} on MEBeauty val, {sw} on SCUT test",
                  f"coverage on MEBeauty val after mapping its scale (information only): "
                  f"{r['mebeauty_val_coverage_mapped']:.3f}; {r['mapping']}"]
    return "\n".join(lines)


def nuisance(model_path, scut_root: Path, n: int = 200) -> dict:
    """Score changes under capture changes (beauty.training.nuisance) on a fixed subset of the 60/40 test photos:
    every (2200 // n)-th name in sorted order, `n` photos."""
    from ..pipeline import load_scorer
    from .nuisance import nuisance_table

    _, test = data.load_split(scut_root, "60-40")
    names = sorted(name for name, _ in test)
    names = names[:: max(1, len(names) // n)][:n]
    scorer = load_scorer(model_path, age_gate=False)  # the model's scores, also for faces the app would refuse
    try:
        return nuisance_table(scorer, [scut_root / "Images" / name for name in names])
    finally:
        scorer.detector.close()


def plots(pred, true, out: Path, title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(true, pred, s=4, alpha=0.4)
    ax.plot([1, 5], [1, 5], "k--", lw=1)
    ax.set(xlim=(1, 5), ylim=(1, 5), xlabel="human mean rating", ylabel="model score", title=title)
    fig.tight_layout()
    fig.savefig(out / "scatter.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(1, 5, 41)
    ax.hist(true, bins, alpha=0.6, label="human mean rating")
    ax.hist(pred, bins, alpha=0.6, label="model score")
    ax.set(xlabel="score", ylabel="images", title=title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "histograms.png", dpi=110)
    plt.close(fig)


def main(argv=None):
    from ..model import DEFAULT_MODEL

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=str(DEFAULT_MODEL), help="model .npz (with its .json)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--split", choices=["60-40"], default="60-40")
    g.add_argument("--fold", type=int, choices=range(1, 6))
    g.add_argument("--folds", help="pattern of 5 fold models, '{}' = fold number; missing ones are reported")
    p.add_argument("--crops", choices=["face", "raw", "both"], default="face",
                   help="face: the app's detect/align/crop pipeline (default); raw: dataset images as they are")
    p.add_argument("--no-tta", action="store_true", help="no flip test-time augmentation")
    p.add_argument("--data", help=f"dataset folder (default ${data.ENV_VAR})")
    p.add_argument("--out", default="artifacts/eval", help="folder for PNGs and metrics.json")
    p.add_argument("--cache-dir", default="auto",
                   help="where crops are cached (default: $BEAUTY_CACHE_DIR, $XDG_CACHE_HOME/beauty or ~/.cache/beauty)")
    g.add_argument("--external", choices=["mebeauty"], help="score an in-the-wild dataset's val photos instead")
    g.add_argument("--nuisance", nargs="?", type=int, const=200, metavar="N",
                   help="capture changes on N test photos (default 200)")
    p.add_argument("--mebeauty", help=f"MEBeauty-dev folder (default ${MEBEAUTY_ENV} or ../shared/MEBeauty-dev)")
    a = p.parse_args(argv)
    if a.cache_dir == "auto":  # external() builds its own cache file names from it
        a.cache_dir = str(data.default_cache_dir())

    if a.external:
        try:
            scut = data.dataset_dir(a.data)
        except data.DatasetError:
            scut = None
        rep = external(a.model, mebeauty_dir(a.mebeauty), scut, a.cache_dir)
        print(format_external(rep))
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "external.json").write_text(json.dumps(rep, indent=2) + "\n")
        return
    root = data.dataset_dir(a.data)
    if a.nuisance:
        from .nuisance import format_table as nuisance_format

        table = nuisance(a.model, root, a.nuisance)
        print(f"score change (changed - original photo), {a.nuisance} SCUT-FBP5500 60/40 test photos, app pipeline:")
        print(nuisance_format(table))
        Path(a.out).mkdir(parents=True, exist_ok=True)
        (Path(a.out) / "nuisance.json").write_text(json.dumps(table, indent=2) + "\n")
        return
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tta = not a.no_tta
    report = {}
    if a.folds:
        per_fold = {}
        for k in range(1, 6):
            path = Path(a.folds.format(k))
            if not path.exists():
                print(f"fold {k}: no model at {path}")
                continue
            per_fold[f"fold{k}"] = evaluate(path, root, f"fold{k}", "face", tta, a.cache_dir)
        rows = {f"ours, {k}": r["overall"] for k, r in per_fold.items()}
        if per_fold:
            rows[f"ours, mean of {len(per_fold)} folds"] = {
                m: float(np.mean([r["overall"][m] for r in per_fold.values()])) for m in ("pc", "mae", "rmse")}
        print(format_table(rows, "5-fold"))
        report = {k: {"overall": r["overall"], "groups": r["groups"]} for k, r in per_fold.items()}
    else:
        protocol = f"fold{a.fold}" if a.fold else a.split
        kinds = ["face", "raw"] if a.crops == "both" else [a.crops]
        results = {c: evaluate(a.model, root, protocol, c, tta, a.cache_dir) for c in kinds}
        label = {"face": "app pipeline crops", "raw": "raw dataset images"}
        print(format_table({f"ours ({label[c]})": r["overall"] for c, r in results.items()},
                           "60-40" if protocol == "60-40" else "5-fold"))
        main_r = results[kinds[0]]
        print("\nper subgroup (" + label[kinds[0]] + "):")
        for g_, m in main_r["groups"].items():
            print(f"  {g_:17s} n={m['n']:4d}  PC {m['pc']:.4f}  MAE {m['mae']:.4f}  RMSE {m['rmse']:.4f}")
        plots(main_r["pred"], main_r["true"], out, f"{Path(a.model).stem}, {protocol} test")
        report = {c: {"overall": r["overall"], "groups": r["groups"]} for c, r in results.items()}
        report["protocol"], report["flip_tta"] = protocol, tta
        print(f"\nwrote {out / 'scatter.png'}, {out / 'histograms.png'}")
    (out / "metrics.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
