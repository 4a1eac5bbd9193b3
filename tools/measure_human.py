"""How often the app refuses a photo as "not a person's face", through its own detect -> crop -> check path.

    python -m tools.measure_human [--scut DIR] [--mebeauty DIR] [--agedev DIR] [--out artifacts/human.json]

Real photos (SCUT-FBP5500: all 5,500; MEBeauty validation split; age-labelled chips, padded as their README
says) must not be refused: each refused face is listed. The pictures of tests/support/nonhuman.py (a cat in
seven framings, eight drawn faces) must all be refused. Datasets are read in place, never copied.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def faces_of(rgb, detector):
    """(n faces found, n refused as not human, n cut off) for one picture, the way find_faces decides."""
    from beauty import face as fc
    from beauty.human import looks_human

    dets = detector.detect(rgb)
    refused = cut = 0
    for d in dets:
        if fc.outside_fraction(d, rgb.shape) > fc.MAX_OUTSIDE:
            cut += 1
        elif not looks_human(fc.crop_face(rgb, d, detector), d.confidence):
            refused += 1
    return len(dets), refused, cut


def run_set(name, items, detector, main_only=False):
    """items: (label, rgb loader). main_only: only the largest face counts (SCUT photos hold one person)."""
    from beauty import face as fc
    from beauty.human import looks_human

    t, n_photos, n_faces, refused, examples = time.time(), 0, 0, 0, []
    for label, load in items:
        rgb = load()
        dets = detector.detect(rgb)
        if main_only:
            dets = dets[:1]
        n_photos += 1
        for d in dets:
            if fc.outside_fraction(d, rgb.shape) > fc.MAX_OUTSIDE:
                continue
            n_faces += 1
            if not looks_human(fc.crop_face(rgb, d, detector), d.confidence):
                refused += 1
                examples.append(label)
        if n_photos % 500 == 0:
            print(f"  {name}: {n_photos} photos, {refused} refused, {time.time() - t:.0f} s", flush=True)
    out = {"photos": n_photos, "faces": n_faces, "refused": refused, "refused_files": examples[:50],
           "seconds": round(time.time() - t, 1)}
    print(name, json.dumps(out), flush=True)
    return out


def main(argv=None) -> int:
    from beauty.face import FaceDetector
    from beauty.image import load_image
    from tests.support.nonhuman import all_pictures

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scut", default=None, help="SCUT-FBP5500 folder (default: $SCUT_FBP5500_DIR)")
    ap.add_argument("--mebeauty", default=None, help="MEBeauty-dev folder (labels.csv, images/); its val split")
    ap.add_argument("--agedev", default=None, help="age-dev folder (labels.csv, images/): tight chips, padded")
    ap.add_argument("--out", default=str(ROOT / "artifacts" / "human.json"))
    args = ap.parse_args(argv)
    import os

    det = FaceDetector()
    report = {}
    pics = all_pictures()
    nh = {"pictures": len(pics), "scored": []}
    for name, rgb in pics.items():
        n, refused, cut = faces_of(rgb, det)
        if n - refused - cut > 0:
            nh["scored"].append(name)
    print("non-human", json.dumps(nh), flush=True)
    report["nonhuman"] = nh
    examples = sorted((ROOT / "examples").glob("*.jpg"))
    report["examples"] = run_set("examples", [(p.name, lambda p=p: load_image(p)) for p in examples], det)
    scut = Path(args.scut or os.environ.get("SCUT_FBP5500_DIR", "")) / "Images"
    if scut.is_dir():
        files = sorted(scut.iterdir())
        report["scut"] = run_set("scut", [(p.name, lambda p=p: load_image(p)) for p in files], det, main_only=True)
    if args.mebeauty:
        root = Path(args.mebeauty)
        rows = [r for r in csv.DictReader(open(root / "labels.csv")) if r["split"] == "val"]
        report["mebeauty_val"] = run_set("mebeauty_val", [(r["file"], lambda r=r: load_image(root / "images" / r["file"]))
                                                          for r in rows], det)
    if args.agedev:
        root = Path(args.agedev)

        from beauty.training.age_gate import pad

        rows = list(csv.DictReader(open(root / "labels.csv")))
        report["agedev"] = run_set("agedev", [(r["file"], lambda r=r: pad(load_image(root / "images" / r["file"])))
                                              for r in rows], det, main_only=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    det.close()
    return 0 if not nh["scored"] and not report.get("scut", {}).get("refused") else 1


if __name__ == "__main__":
    raise SystemExit(main())
