"""Group photos: are all six faces found, with one of them rolled by up to ±45°?

    python -m tools.measure_groups [--scut DIR] [--out artifacts/groups.json]

Sixty faces (SCUT-FBP5500 photos, 300 px) make ten groups of six, laid out three ways: a row
(faces 15 % of the picture's width), a 2×3 grid (23 %) and a wide scene (10 %). In each group one
face is rolled by 0, 20, 30, 40, 45 or -45 degrees. Reported per layout: how often the rolled face
was found, all faces found, detections that match no face, and milliseconds per picture; for one
full-frame pass, for the search before the windows (the full frame, and four 60 % tiles only when it
found no face at all) and for `FaceDetector.detect`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from tests.support.hostile import group_scene, rolled

ROOT = Path(__file__).resolve().parents[1]
ANGLES = [0, 20, 30, 40, 45, -45]


def main(argv=None) -> int:
    from beauty.face import FaceDetector
    from beauty.image import load_image

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scut", default=os.environ.get("SCUT_FBP5500_DIR"))
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "groups.json"))
    args = ap.parse_args(argv)
    root = Path(args.scut or "") / "Images"
    if not root.is_dir():
        print("needs SCUT-FBP5500 (--scut or $SCUT_FBP5500_DIR)", file=sys.stderr)
        return 2
    det = FaceDetector()
    size = 300
    names = sorted(p.name for p in root.iterdir())[::92][:60]
    faces = [cv2.resize(load_image(root / n), (size, size), interpolation=cv2.INTER_AREA) for n in names]

    def before(rgb):
        """The search as it was: the full frame; the four 60 % tiles only when it found nothing."""
        from beauty.face import _iou

        faces = det._detect(rgb)
        h, w = rgb.shape[:2]
        if not faces and min(h, w) >= 256:
            th, tw = int(h * 0.6), int(w * 0.6)
            for y0 in (0, h - th):
                for x0 in (0, w - tw):
                    for f in det._detect(rgb[y0:y0 + th, x0:x0 + tw], (x0, y0)):
                        if all(_iou(f.box, g.box) < 0.3 for g in faces):
                            faces.append(f)
        return faces

    out = {}
    for layout in ("row", "grid", "wide"):
        for variant, fn in (("one pass", det._detect), ("before", before), ("detect", det.detect)):
            hits, found_all, n_all, extra, ms, n = {a: 0 for a in ANGLES}, 0, 0, 0, 0.0, 0
            for g in range(10):
                six, k = faces[g * 6:(g + 1) * 6], g % 6
                for a in ANGLES:
                    im, centres = group_scene([rolled(f, a) if j == k else f for j, f in enumerate(six)], layout)
                    t = time.perf_counter()
                    found = fn(im)
                    ms += 1000 * (time.perf_counter() - t)
                    n += 1
                    fc = [((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2) for f in found]
                    hit = [any(np.hypot(cx - x, cy - y) < size / 3 for x, y in fc) for cx, cy in centres]
                    hits[a] += hit[k]
                    found_all += sum(hit)
                    n_all += 6
                    extra += sum(1 for x, y in fc if all(np.hypot(cx - x, cy - y) >= size / 3 for cx, cy in centres))
            out[f"{layout}/{variant}"] = {"rolled_found": {str(a): f"{h}/10" for a, h in hits.items()},
                                          "faces_found": f"{found_all}/{n_all}", "not_a_face": extra,
                                          "ms_per_picture": round(ms / n, 1), "picture": list(im.shape[:2])}
            print(f"{layout}/{variant}", json.dumps(out[f"{layout}/{variant}"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    det.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
