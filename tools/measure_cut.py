"""How a face cut by the photo's border moves its score, for mirrored against neutral padding.

    python -m tools.measure_cut [--scut DIR] [--out artifacts/cut.json]

Each photo (20 SCUT-FBP5500 test photos when the dataset is there, the example photos and the
astronaut) is cut through the face from each side by steps of 0.1 eye distances; every cut is
scored twice: with the crop padded by mirroring everywhere (the old crop), and the app's way
(`beauty.face.crop_face`: mirrored only while the face region lies inside the photo, neutral grey
once it is cut). The table gives the score change against the uncut photo, by the share of the
face region outside the photo (`beauty.face.outside_fraction`). It set `MAX_OUTSIDE` and chose the
padding (README "Reliability").
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BINS = [(-1, 0), (0, 0.05), (0.05, 0.1), (0.1, 0.15), (0.15, 0.2), (0.2, 0.25), (0.25, 0.3), (0.3, 0.4), (0.4, 1)]


def cuts(rgb, det):
    """(side, fraction, cut image, x offset, y offset) cutting through the face from every side."""
    h, w = rgb.shape[:2]
    (x1, y1), (x2, y2) = det.right_eye, det.left_eye
    iod = np.hypot(x2 - x1, y2 - y1)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    for frac in [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2]:
        c = int(frac * iod)
        left, top = max(0, int(cx - iod) + c), max(0, int(cy - 0.8 * iod) + c)
        yield "left", frac, rgb[:, left:], left, 0
        yield "right", frac, rgb[:, :min(w, int(cx + iod) - c)], 0, 0
        yield "top", frac, rgb[top:], 0, top
        yield "bottom", frac, rgb[:min(h, int(cy + 1.6 * iod) - c)], 0, 0


def main(argv=None) -> int:
    from beauty import face as fc
    from beauty import load_scorer
    from beauty.image import load_image

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scut", default=os.environ.get("SCUT_FBP5500_DIR"))
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "cut.json"))
    args = ap.parse_args(argv)
    scorer = load_scorer()
    photos = {p.name: load_image(p) for p in sorted((ROOT / "examples").glob("*.jpg"))}
    if args.scut and (Path(args.scut) / "Images").is_dir():
        from beauty.training.data import SPLIT_DIR, read_labels

        test = read_labels(Path(args.scut) / "train_test_files" / SPLIT_DIR / "test.txt")
        photos.update({n: load_image(Path(args.scut) / "Images" / n) for n, _ in test[::110]})

    def mirrored(rgb, det, detector=None):
        return fc.warp(rgb, fc.align(rgb, det, detector))

    rows = []
    for name, rgb in photos.items():
        ref = scorer.score(rgb).faces
        for d0, ref_fs in zip(scorer.detector.detect(rgb), ref):
            if d0.outside > 0 or fc.outside_fraction(d0, rgb.shape) > 0:
                continue
            for side, frac, im, ox, oy in cuts(rgb, d0):
                im = np.ascontiguousarray(im)
                if min(im.shape[:2]) < 40:
                    continue
                near = [d for d in scorer.detector.detect(im) if np.hypot(
                    (d.box[0] + d.box[2]) / 2 + ox - (d0.box[0] + d0.box[2]) / 2,
                    (d.box[1] + d.box[3]) / 2 + oy - (d0.box[1] + d0.box[3]) / 2) < (d0.box[2] - d0.box[0]) / 2]
                if not near:
                    continue
                d = near[0]
                both = scorer.score_crops(np.stack([mirrored(im, d, scorer.detector), fc.crop_face(im, d, scorer.detector)]))
                rows.append({"photo": name, "side": side, "cut": frac, "outside": fc.outside_fraction(d, im.shape),
                             "mirrored": float(both[0]) - ref_fs.score, "app": float(both[1]) - ref_fs.score})
            break  # the largest face of each photo
    table = []
    for lo, hi in BINS:
        sel = [r for r in rows if lo < r["outside"] <= hi]
        if sel:
            m, a = np.abs([r["mirrored"] for r in sel]), np.abs([r["app"] for r in sel])
            table.append({"outside": f"{max(lo, 0):.2f}-{hi:.2f}" if lo >= 0 else "0", "n": len(sel),
                          "mirrored_median": round(float(np.median(m)), 3), "app_median": round(float(np.median(a)), 3),
                          "mirrored_p90": round(float(np.percentile(m, 90)), 3),
                          "app_p90": round(float(np.percentile(a, 90)), 3),
                          "mirrored_bias": round(float(np.mean([r["mirrored"] for r in sel])), 3),
                          "app_bias": round(float(np.mean([r["app"] for r in sel])), 3)})
    for t in table:
        print(json.dumps(t))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"table": table, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
