"""Sanity checks of the occlusion map (beauty.explain), as numbers: what tests/test_explain.py asserts.

    SCUT_FBP5500_DIR=../shared/SCUT-FBP5500_v2 python -m tools.explain_checks --faces 200 --random-faces 20

* Model randomisation (Adebayo et al., "Sanity Checks for Saliency Maps", 2018): the map of a
  network with random weights must not resemble the trained network's map. Spearman rank
  correlation of the 36 squares, per face, signed and of the absolute values.
  A freshly initialised MobileNetV2 (`build_regressor(imagenet=None)`) passes no signal at all:
  without trained BatchNorm statistics its activations shrink to ~1e-12 over 17 blocks and
  every input scores exactly the head's bias, so its map is all zeros. The random network's
  BatchNorm statistics are therefore set from one batch of real crops (momentum 0, one
  forward pass in training mode); every weight stays random.
* Deletion: grey out the 10 % of the crop the map marks as most important (largest |value|)
  and, separately, 10 % chosen at random — the same kind of region: the top 10 % of a map
  built from random square values — and compare how far the score moves. The share of faces
  for which the map's region moves it more.

Faces: test photos of the official 60/40 split (evenly spread over the sorted list), cropped by
the app's pipeline (crop cache in .cache/). Maps of the trained model are cached in .cache/explain/
(keyed by the model file, the runtime, the faces and the map's settings).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache"


def test_faces(root: Path, n: int) -> tuple[list[str], np.ndarray]:
    """(names, crops) of `n` test-split photos spread evenly over the sorted list."""
    from beauty.training.data import SPLIT_DIR, face_crops, read_labels

    names = sorted(name for name, _ in read_labels(root / "train_test_files" / SPLIT_DIR / "test.txt"))
    names = [names[i] for i in np.linspace(0, len(names) - 1, n).round().astype(int)]
    return names, face_crops(root, names, cache_dir=CACHE)


def trained_maps(scorer, names: list[str], crops, log=None) -> tuple[np.ndarray, np.ndarray]:
    """(cells N×6×6, base scores N) of the scorer's maps, cached."""
    from beauty import explain
    from beauty.face import PIPELINE_VERSION

    h = hashlib.sha256(Path(scorer.model_path).read_bytes())
    h.update(repr((names, scorer.runtime, scorer.flip_tta, explain.PATCH, explain.STRIDE, explain.GREY,
                   PIPELINE_VERSION)).encode())
    path = CACHE / "explain" / f"maps-{len(names)}-{h.hexdigest()[:12]}.npz"
    if path.exists():
        with np.load(path) as z:
            return z["cells"], z["score"]
    cells, score = [], []
    for i, crop in enumerate(crops):
        hm = explain.occlusion_map(np.asarray(crop), scorer.score_crops)
        cells.append(hm.cells)
        score.append(hm.score)
        if log and (i + 1) % 20 == 0:
            log(f"  maps {i + 1}/{len(crops)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, cells=np.array(cells), score=np.array(score))
    return np.array(cells), np.array(score)


def random_network(calibration: np.ndarray, seed: int = 0):
    """score_fn of a MobileNetV2 regressor with random weights (Keras path, flip TTA, not clipped).

    BatchNorm statistics come from one training-mode pass over `calibration` crops (see module doc).
    """
    import keras

    from beauty.model import build_regressor, compiled_forward

    keras.utils.set_random_seed(seed)
    model = build_regressor(imagenet=None)
    bns = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.BatchNormalization)]
    for bn in bns:
        bn.momentum = 0.0  # moving statistics := this batch's statistics
    model(np.asarray(calibration, np.float32), training=True)
    forward = compiled_forward(model)

    def score_fn(crops):
        c = np.asarray(crops, np.float32)
        out = []
        for i in range(0, len(c), 16):
            b = c[i:i + 16]
            y = forward(np.concatenate([b, b[:, :, ::-1]])).reshape(-1)
            out.append((y[:len(b)] + y[len(b):]) / 2)
        return np.concatenate(out)

    return score_fn


def spearman(a, b) -> float:
    """Spearman rank correlation (ties get their order of appearance, which is rare for float maps)."""
    ra = np.argsort(np.argsort(np.ravel(a), kind="stable"), kind="stable").astype(float)
    rb = np.argsort(np.argsort(np.ravel(b), kind="stable"), kind="stable").astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def randomisation(trained_cells: np.ndarray, crops, score_fn) -> dict:
    """Rank correlation between the trained and the random network's maps, per face."""
    from beauty import explain

    signed, absolute, spread = [], [], []
    for cells, crop in zip(trained_cells, crops):
        rc = explain.occlusion_map(np.asarray(crop), score_fn).cells
        spread.append(float(np.ptp(rc)))
        signed.append(spearman(cells, rc))
        absolute.append(spearman(np.abs(cells), np.abs(rc)))
    return {"faces": len(signed), "spearman_signed_mean": float(np.mean(signed)),
            "spearman_abs_mean": float(np.mean(absolute)),
            "spearman_signed_median_abs": float(np.median(np.abs(signed))),
            "random_map_range_mean": float(np.mean(spread)), "per_face_signed": [round(x, 3) for x in signed],
            "per_face_abs": [round(x, 3) for x in absolute]}


def deletion(scorer, crops, cells: np.ndarray, scores: np.ndarray, share: float = 0.1, draws: int = 5,
             seed: int = 0) -> dict:
    """How far greying the map's top `share` moves the score, against `draws` random regions of the same kind."""
    from beauty import explain

    rng = np.random.default_rng(seed)
    d_map, d_rand = [], []
    for crop, c, s in zip(crops, cells, scores):
        crop = np.asarray(crop)
        masks = [explain.most_important(explain.Heatmap(crop, s, c).pixels(), share)]
        for _ in range(draws):
            fake = explain.Heatmap(crop, s, rng.normal(size=c.shape))
            masks.append(explain.most_important(fake.pixels(), share))
        moved = np.abs(scorer.score_crops(np.stack([explain.grey_out(crop, m) for m in masks])) - s)
        d_map.append(moved[0])
        d_rand.append(moved[1:])
    d_map, d_rand = np.array(d_map), np.array(d_rand)
    return {"faces": len(d_map), "share": share,
            "map_beats_one_random_region": float(np.mean(d_map > d_rand[:, 0])),
            "map_beats_mean_of_random_regions": float(np.mean(d_map > d_rand.mean(1))),
            "mean_move_map": float(d_map.mean()), "mean_move_random": float(d_rand.mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", help="SCUT-FBP5500_v2 folder (default $SCUT_FBP5500_DIR)")
    ap.add_argument("--faces", type=int, default=200, help="faces for the deletion test")
    ap.add_argument("--random-faces", type=int, default=20, help="faces for the randomisation test")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from beauty import load_scorer
    from beauty.training.data import dataset_dir

    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    root = dataset_dir(args.data)
    scorer = load_scorer()
    names, crops = test_faces(root, args.faces)
    cells, scores = trained_maps(scorer, names, crops, log)
    out = {"deletion": deletion(scorer, crops, cells, scores)}
    k = min(args.random_faces, len(names))
    out["randomisation"] = randomisation(cells[:k], crops[:k], random_network(crops[-16:]))
    scorer.detector.close()
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        d, r = out["deletion"], out["randomisation"]
        print(f"deletion ({d['faces']} faces, {d['share']:.0%} greyed): the map's region moved the score more than "
              f"a random one for {d['map_beats_one_random_region']:.1%} of faces (than the mean of 5 random: "
              f"{d['map_beats_mean_of_random_regions']:.1%}); mean |move| {d['mean_move_map']:.3f} vs "
              f"{d['mean_move_random']:.3f}")
        print(f"randomised weights ({r['faces']} faces): Spearman signed {r['spearman_signed_mean']:+.3f}, of |map| "
              f"{r['spearman_abs_mean']:+.3f} (median |rho| {r['spearman_signed_median_abs']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
