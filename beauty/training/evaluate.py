"""Evaluate models on the official SCUT-FBP5500 protocols, beside the published numbers.

    python -m beauty.training.evaluate                                   # shipped model, 60/40 test split
    python -m beauty.training.evaluate --crops both                      # app pipeline vs raw dataset images
    python -m beauty.training.evaluate --folds 'runs/fold{}/model.npz'   # 5-fold CV, one model per fold

Prints PC / MAE / RMSE (and per subgroup), writes scatter.png (predicted vs
human), histograms.png (the two score distributions) and metrics.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from . import data
from .metrics import by_group, format_table, regression_metrics


def evaluate(model_path, root: Path, protocol: str, crops: str = "face", flip_tta: bool = True,
             cache_dir: str | None = ".cache") -> dict:
    """Metrics of one model on one protocol's test images; also returns predictions."""
    from ..model import load_model, predict

    _, test = data.load_split(root, protocol)
    names = [n for n, _ in test]
    if cache_dir:  # share the whole-dataset cache that training builds
        names = sorted(n for n, _ in data.read_labels(root / "train_test_files" / "All_labels.txt"))
    index = {n: i for i, n in enumerate(names)}
    x = data.face_crops(root, names, cache_dir, raw=crops == "raw")[[index[n] for n, _ in test]]
    y = np.array([s for _, s in test])
    pred = predict(load_model(model_path), x, flip_tta=flip_tta, batch_size=64)
    return {
        "overall": regression_metrics(pred, y),
        "groups": by_group(pred, y, [data.group_of(n) for n, _ in test]),
        "pred": pred,
        "true": y,
    }


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
    p.add_argument("--cache-dir", default=".cache")
    a = p.parse_args(argv)

    root = data.dataset_dir(a.data)
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
