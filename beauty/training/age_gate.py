"""Fit and calibrate the age gate (beauty.age) on age-labelled faces, and measure it.

    python -m beauty.training.age_gate --age-dev ../shared/age-dev \
        --scut ../shared/SCUT-FBP5500_v2 --meb ../shared/MEBeauty-dev --out weights/age_gate.npz

1. Faces: each age-dev chip (a tight crop) is padded with an edge-replicated border of half its
   side and sent through the app's own detector and aligner (`beauty.face.find_faces`, largest
   face); SCUT-FBP5500 and MEBeauty-dev photos go through it unchanged (every face, as the app).
2. Features: the scoring model's pooled features (the input of its linear head) for the crop and
   its mirror image, from the same call that scores (`CompiledForward(..., features=True)`).
   Cached under --cache (one .npy per data set), because this is the slow part on a CPU.
3. Split (`age_gate_split.json`, committed): there are no identity labels, so chips whose ImageNet
   features are near-duplicates (centred cosine >= 0.80, union-find: 33 groups, mostly the same
   photo twice or the same person) stay together; whole groups go to 8 parts stratified by
   source x age band; 2 parts (800 chips, 25 %) are held out, untouched until the final numbers,
   and the other 6 are the cross-validation folds.
4. Head: logistic regression (L2 = 100 on standardised features, Newton's method) for "under 18",
   trained on both views of each dev chip.
5. Threshold on P(minor), from out-of-fold predictions: the most refusing one that keeps adults
   18-30 scored >= 92 %, 31+ >= 98 %, SCUT-FBP5500 (60 % train part) refused <= 1.5 %, and
   MEBeauty-dev train faces refused <= 2.5 % (without the children in it, `age_gate_meb_excluded.json`).
6. Measured: held-out chips per age band, source and ethnicity; all SCUT-FBP5500 photos (and each
   part of the 60/40 split); MEBeauty-dev val per ethnicity, per face and per photo.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SPLIT = HERE / "age_gate_split.json"
MEB_EXCLUDED = HERE / "age_gate_meb_excluded.json"
BANDS = {"0-12": (0, 12), "13-17": (13, 17), "18-30": (18, 30), "31+": (31, 200)}
LIMITS = {"18-30": 0.92, "31+": 0.98, "scut_train": 0.015, "meb_train": 0.025}  # scored >= / refused <=


def pad(rgb: np.ndarray) -> np.ndarray:
    """Edge-replicated border of half the longer side on every side: a tight chip becomes a photo."""
    import cv2

    p = max(rgb.shape[:2]) // 2
    return cv2.copyMakeBorder(rgb, p, p, p, p, cv2.BORDER_REPLICATE)


def view_features(model, crops: np.ndarray, batch: int = 16) -> np.ndarray:
    """(N, 2, D) pooled features of each crop and its mirror image."""
    from ..model import compiled_forward

    fwd = compiled_forward(model)
    out = np.zeros((len(crops), 2, fwd.feature_dim), np.float32)
    for i in range(0, len(crops), batch):
        c = np.asarray(crops[i:i + batch], np.float32)
        _, f = fwd(np.concatenate([c, c[:, :, ::-1]]), features=True)
        out[i:i + len(c), 0], out[i:i + len(c), 1] = f[:len(c)], f[len(c):]
    return out


def faces_of(items, detector, every_face: bool):
    """[(key, crop)] through the app's detector: the largest face, or every face (up to 8)."""
    from ..errors import BeautyError
    from ..face import find_faces
    from ..image import load_image

    out = []
    for key, src, padded in items:
        try:
            rgb = load_image(src)
            found = find_faces(pad(rgb) if padded else rgb, detector)[: 8 if every_face else 1]
        except BeautyError:
            continue
        out += [((key, j + 1), c) for j, (_, c) in enumerate(found)]
    return out


def cached(cache: Path, name: str, model, make_items, every_face: bool):
    """(keys, (N, 2, D) features) of a data set, computed once."""
    f, k = cache / f"{name}_feats.npy", cache / f"{name}_keys.json"
    if f.exists() and k.exists():
        return [tuple(x) for x in json.loads(k.read_text())], np.load(f)
    from ..face import FaceDetector

    found = faces_of(make_items(), FaceDetector(), every_face)
    feats = view_features(model, np.stack([c for _, c in found])) if found else np.zeros((0, 2, 1280), np.float32)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(f, feats)
    k.write_text(json.dumps([list(key) for key, _ in found]))
    return [key for key, _ in found], feats


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iters: int = 50):
    """L2-penalised logistic regression (bias unpenalised) by Newton's method."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], l2)
    reg[-1] = 0
    for _ in range(iters):
        p = 1 / (1 + np.exp(-np.clip(xb @ w, -30, 30)))
        step = np.linalg.solve((xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9), xb.T @ (p - y) + reg * w)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    return w[:-1], float(w[-1])


def fit_gate(views: np.ndarray, ages: np.ndarray, l2: float):
    """(mean, scale, w, b) of a gate trained on both views of each face."""
    x = views.reshape(-1, views.shape[-1]).astype(np.float64)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    w, b = fit_logistic((x - mean) / scale, np.repeat(ages < 18, 2).astype(float), l2)
    return mean, scale, w, b


def logit(params, feats: np.ndarray) -> np.ndarray:
    mean, scale, w, b = params
    return ((np.asarray(feats, np.float64) - mean) / scale) @ w + b


def band_rates(lg: np.ndarray, ages: np.ndarray, src: np.ndarray, t: float) -> dict:
    out = {}
    for band, (lo, hi) in BANDS.items():
        m = (ages >= lo) & (ages <= hi)
        out[band] = {"n": int(m.sum()), "refused": _r(np.mean(lg[m] >= t))}
        for s in sorted(set(src)):
            out[band][f"refused_{s}"] = _r(np.mean(lg[m & (src == s)] >= t))
    return out


def _r(x) -> float:
    return round(float(x), 4)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--age-dev", default=os.environ.get("AGE_DEV_DIR", "../shared/age-dev"))
    ap.add_argument("--scut", default=os.environ.get("SCUT_FBP5500_DIR", "../shared/SCUT-FBP5500_v2"))
    ap.add_argument("--meb", default="../shared/MEBeauty-dev")
    ap.add_argument("--model", default=None, help="scoring weights (default: the bundled ones)")
    ap.add_argument("--cache", default=".cache/age_gate")
    ap.add_argument("--l2", type=float, default=100.0)
    ap.add_argument("--out", default=None, help="where to write the gate (default: weights/age_gate.npz)")
    args = ap.parse_args(argv)

    from ..age import GATE_PATH, AgeGate
    from ..hub import sha256_file
    from ..model import DEFAULT_MODEL, load_model

    model_path = Path(args.model or DEFAULT_MODEL)
    model = load_model(model_path)
    cache = Path(args.cache) / sha256_file(model_path)[:12]
    age_dev, scut, meb = Path(args.age_dev), Path(args.scut), Path(args.meb)

    rows = {r["file"]: r for r in csv.DictReader(open(age_dev / "labels.csv"))}
    keys, views = cached(cache, "agedev", model, lambda: [
        (n, age_dev / "images" / n, True) for n in sorted(rows)], every_face=False)
    names = [k[0] for k in keys]
    ages = np.array([int(rows[n]["age"]) for n in names])
    src = np.array([rows[n]["source"].split("_")[0][:3] for n in names])  # utk / aaf
    eth = np.array([rows[n]["ethnicity"] for n in names])
    split = json.loads(SPLIT.read_text())
    fold = np.array([split["cv_fold"].get(n, -1) for n in names])
    held = np.isin(names, split["holdout"])
    dev = fold >= 0

    scut_names = sorted(p.name for p in (scut / "Images").iterdir())
    train_file = scut / "train_test_files" / "split_of_60%training and 40%testing" / "train.txt"
    scut_train = {line.split()[0] for line in open(train_file) if line.strip()}
    skeys, sfeats = cached(cache, "scut", model, lambda: [
        (n, scut / "Images" / n, False) for n in scut_names], every_face=False)
    meb_rows = {r["file"]: r for r in csv.DictReader(open(meb / "labels.csv"))}
    mkeys, mfeats = cached(cache, "meb", model, lambda: [
        (n, meb / "images" / n, False) for n in sorted(meb_rows)], every_face=True)
    excluded = {tuple(x) for k in ("child", "nonface") for x in json.loads(MEB_EXCLUDED.read_text())[k]}
    s_tr = np.array([k[0] in scut_train for k in skeys])
    m_val = np.array([meb_rows[k[0]]["split"] == "val" for k in mkeys])
    m_adult = np.array([tuple(k) not in excluded for k in mkeys])

    # out-of-fold logits on the dev part, then the final head on all of it
    oof = np.zeros(len(names))
    for k in sorted(set(fold[dev])):
        oof[fold == k] = logit(fit_gate(views[dev & (fold != k)], ages[dev & (fold != k)], args.l2),
                               views[fold == k].mean(1))
    params = fit_gate(views[dev], ages[dev], args.l2)
    ls, lm = logit(params, sfeats.mean(1)), logit(params, mfeats.mean(1))

    a1, a2 = oof[dev & (ages >= 18) & (ages <= 30)], oof[dev & (ages >= 31)]
    ok = [t for t in np.unique(np.concatenate([oof[dev], ls, lm]))
          if np.mean(a1 < t) >= LIMITS["18-30"] and np.mean(a2 < t) >= LIMITS["31+"]
          and np.mean(ls[s_tr] >= t) <= LIMITS["scut_train"] and np.mean(lm[~m_val & m_adult] >= t) <= LIMITS["meb_train"]]
    if not ok:
        raise SystemExit("no threshold meets the adult-side limits")
    t = float(min(ok))

    lh = logit(params, views[held].mean(1))
    measured = {
        "age_dev_cv_dev_part": band_rates(oof[dev], ages[dev], src[dev], t),
        "age_dev_holdout": band_rates(lh, ages[held], src[held], t),
        "age_dev_holdout_per_ethnicity": {
            e: {"n_adults": int(np.sum((eth[held] == e) & (ages[held] >= 18))),
                "adults_refused": _r(np.mean(lh[(eth[held] == e) & (ages[held] >= 18)] >= t)),
                "minors_refused": _r(np.mean(lh[(eth[held] == e) & (ages[held] < 18)] >= t))}
            for e in sorted(set(eth))},
        "scut_fbp5500": {"n": len(ls), "refused": _r(np.mean(ls >= t)), "train_60": _r(np.mean(ls[s_tr] >= t)),
                         "test_40": _r(np.mean(ls[~s_tr] >= t)),
                         **{g: _r(np.mean(ls[np.array([k[0][:2] == g for k in skeys])] >= t))
                            for g in ("AF", "AM", "CF", "CM")}},
        "mebeauty_dev_val": {"faces": int(m_val.sum()), "faces_refused": _r(np.mean(lm[m_val] >= t)),
                             "per_ethnicity": {e: _r(np.mean(lm[m_val & np.array([meb_rows[k[0]]["ethnicity"] == e for k in mkeys])] >= t))
                                               for e in sorted({r["ethnicity"] for r in meb_rows.values()})}},
    }
    cfg = {"feature": "pooled features of the scoring model (input of its linear head), mean of crop and mirror",
           "head": f"logistic regression, L2 {args.l2:g} on standardised features, trained on crop and mirror views",
           "threshold_logit": _r(t), "limits": LIMITS, "measured": measured,
           "note": "measured on cached crops; the app-pipeline numbers are in weights/MODEL_CARD.md"}
    gate = AgeGate(*params[:3], params[3], float(1 / (1 + np.exp(-t))), sha256_file(model_path), cfg)
    out = gate.save(args.out or GATE_PATH)
    print(json.dumps(measured, indent=1))
    print(f"threshold P(minor) >= {gate.threshold:.4f}; wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
