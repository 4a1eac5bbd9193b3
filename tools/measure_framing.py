"""Measure how SCUT-FBP5500 photos frame the face, with the app's own detector.

Prints the median eye-midpoint position and inter-ocular distance (as fractions
of the image side) that `beauty.face.FRAMING` must hold, and their spread.
Usage: python -m tools.measure_framing [DATASET_DIR]
"""

import os
import sys

import numpy as np

from beauty.face import FaceDetector
from beauty.image import load_image


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("SCUT_FBP5500_DIR", "../shared/SCUT-FBP5500_v2")
    names = sorted(os.listdir(os.path.join(root, "Images")))
    det = FaceDetector()
    rows, missing, multi = [], [], 0
    for n in names:
        rgb = load_image(os.path.join(root, "Images", n))
        h, w = rgb.shape[:2]
        faces = det.detect(rgb)
        if not faces:
            missing.append(n)
            continue
        multi += len(faces) > 1
        f = faces[0]
        (x1, y1), (x2, y2) = f.right_eye, f.left_eye
        rows.append([(x1 + x2) / 2 / w, (y1 + y2) / 2 / h, np.hypot(x2 - x1, y2 - y1) / w,
                     np.degrees(np.arctan2(y2 - y1, x2 - x1)), (f.box[2] - f.box[0]) / w, w, h])
    a = np.array(rows)
    print(f"images {len(names)}  detected {len(a)}  missed {len(missing)} {missing[:10]}  several faces {multi}")
    print("image sizes:", np.unique(a[:, 5:7], axis=0)[:5])
    for i, k in enumerate(["eye_x", "eye_y", "eye_dist", "roll_deg", "box_w"]):
        q = np.percentile(a[:, i], [5, 25, 50, 75, 95])
        print(f"{k:9s} median {q[2]:.4f}  p5..p95 {q[0]:.4f}..{q[4]:.4f}  IQR {q[1]:.4f}..{q[3]:.4f}")


if __name__ == "__main__":
    main()
