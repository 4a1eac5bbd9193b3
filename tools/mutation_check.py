"""Mutation check of the test suite: apply one deliberate bug at a time to a scratch checkout, run the tests
that should catch it, record caught or survived, put the file back. Results: docs/mutation.md.

    git worktree add --detach ../mut HEAD
    python -m tools.mutation_check ../mut                     # every mutant (about 20 minutes on 2 cores)
    python -m tools.mutation_check ../mut no-draft exif-2-ignored

Never point it at a checkout you are editing: it refuses one with uncommitted changes. The tests run with
PYTHONPATH set to that checkout, so `import beauty` is its copy (check `beauty.__file__` if in doubt);
$SCUT_FBP5500_DIR should point at the dataset, as for the tests themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

T = "tests/"
# id, file, old text (must occur exactly once), new text, pytest arguments, the bug in words
MUTANTS = [
    # id, file, old, new, tests (pytest args), what
    ("percentile-ties-full", "beauty/percentile.py", "(below + upto) / 2 / len(r)", "upto / len(r)",
     [T + "test_percentile.py"], "ties counted fully"),
    ("percentile-ties-none", "beauty/percentile.py", "(below + upto) / 2 / len(r)", "below / len(r)",
     [T + "test_percentile.py"], "ties not counted"),
    ("framing-eye-y+10%", "beauty/face.py", '"eye_y": 0.460', '"eye_y": 0.506', [T + "test_face.py"],
     "crop framing: eye height moved by 10 %"),
    ("framing-eye-x+5%", "beauty/face.py", '"eye_x": 0.507', '"eye_x": 0.532', [T + "test_face.py"],
     "crop framing: eye x moved by 5 %"),
    ("framing-eye-dist+10%", "beauty/face.py", '"eye_dist": 0.253', '"eye_dist": 0.278', [T + "test_face.py"],
     "crop framing: faces 10 % larger"),
    ("eyes-swapped", "beauty/face.py", "e1, e2 = sorted(kp[:2])", "e2, e1 = sorted(kp[:2])", [T + "test_face.py"],
     "right/left eye swapped (crop upside down)"),
    ("no-refinement", "beauty/face.py", "    again = detector.detect(warp(rgb, m, neutral=neutral))",
     "    return m\n    again = detector.detect(warp(rgb, m, neutral=neutral))",
     [T + "test_face.py", T + "test_pipeline.py", "-k", "astronaut or levels or onto"],
     "alignment not refined by the second detection"),
    ("faces-smallest-first", "beauty/face.py", "return sorted(faces, key=lambda f: f.area, reverse=True)",
     "return sorted(faces, key=lambda f: f.area)", [T + "test_face.py", T + "test_pipeline.py", "-k", "two"],
     "faces listed smallest first"),
    ("max-outside-0.5", "beauty/face.py", "MAX_OUTSIDE = 0.2", "MAX_OUTSIDE = 0.5", [T + "test_face.py"],
     "cut-off faces accepted"),
    ("exif-2-ignored", "beauty/image.py", "    2: Image.Transpose.FLIP_LEFT_RIGHT,\n", "", [T + "test_image.py"],
     "EXIF orientation 2 ignored"),
    ("exif-4-as-180", "beauty/image.py", "    4: Image.Transpose.FLIP_TOP_BOTTOM,", "    4: Image.Transpose.ROTATE_180,",
     [T + "test_image.py"], "EXIF orientation 4 turned 180 degrees"),
    ("exif-6-8-swapped", "beauty/image.py", "    6: Image.Transpose.ROTATE_270,", "    6: Image.Transpose.ROTATE_90,",
     [T + "test_image.py"], "EXIF orientation 6 turned the wrong way"),
    ("no-draft", "beauty/image.py", "                im.draft(None, (MAX_SIDE, MAX_SIDE))", "                pass",
     [T + "test_image.py", "-k", "big_jpeg"], "JPEG reduced-scale decode removed"),
    ("no-pixel-cap", "beauty/image.py", "    if w * h > MAX_PIXELS:", "    if w * h > 100 * MAX_PIXELS:",
     [T + "test_bad_input.py", "-k", "bombs"], "declared-size bomb check 100x looser"),
    ("float-not-scaled", "beauty/image.py", "        a = a * 255.0", "        a = a * 1.0",
     [T + "test_bad_input.py", "-k", "scaled"], "float 0..1 images not scaled to 0..255"),
    ("alpha-on-black", "beauty/image.py", "(255, 255, 255, 255)", "(0, 0, 0, 255)", [T + "test_image.py"],
     "transparency flattened on black"),
    ("no-flip-tta", "beauty/model.py", "        if flip_tta:\n", "        if False:\n",
     [T + "test_model.py", "-m", "not slow"], "flip TTA dropped in predict()"),
    ("allow-pickle", "beauty/model.py", "with np.load(path, allow_pickle=False) as arrays:",
     "with np.load(path, allow_pickle=True) as arrays:", [T + "test_privacy.py", "-k", "pickle or loaders"],
     "model loading allows pickle"),
    ("percentile-of-rounded", "beauty/pipeline.py", "percentile(float(s))", "percentile(round(float(s), 1))",
     [T + "test_pipeline.py", "-k", "astronaut"], "percentile of the score rounded to 0.1"),
    ("no-max-faces", "beauty/pipeline.py", "found = face_mod.find_faces(rgb, self.detector)[: self.max_faces]",
     "found = face_mod.find_faces(rgb, self.detector)", [T + "test_bad_input.py", "-k", "test_api and faces"],
     "max_faces not applied"),
    ("cli-load-exit-1", "beauty/cli.py", "        print(f\"error: {e}\", file=sys.stderr)\n        return 3\n    except Exception",
     "        print(f\"error: {e}\", file=sys.stderr)\n        return 1\n    except Exception",
     [T + "test_cli.py", "-k", "exits_3"], "model-load failure exits 1 instead of 3"),
    ("cli-always-0", "beauty/cli.py", "    return 1 if failed else 0", "    return 0", [T + "test_cli.py"],
     "exit 0 although files failed"),
    ("gallery-worst-first", "beauty/app/shots.py", 'state["shots"].sort(key=lambda s: s["score"], reverse=True)',
     'state["shots"].sort(key=lambda s: s["score"])', [T + "test_handlers.py"], "webcam gallery sorted worst-first"),
    ("keeps-one-too-many", "beauty/app/shots.py", 'del state["shots"][max_shots:]', 'del state["shots"][max_shots + 1:]',
     [T + "test_handlers.py"], "one shot more than max_shots kept"),
    ("live-keeps-worse", "beauty/app/handlers.py", 'if len(live) >= keep and fs.score <= min(s["score"] for s in live):',
     'if len(live) >= keep and fs.score >= min(s["score"] for s in live):', [T + "test_handlers.py", "-k", "live"],
     "live mode drops better frames and keeps worse ones"),
    ("live-evicts-best", "beauty/app/handlers.py", 'worst = min(live, key=lambda s: s["score"])',
     'worst = max(live, key=lambda s: s["score"])', [T + "test_handlers.py", "-k", "live"],
     "live mode evicts its best frame to make room"),
    ("queue-64-100000", "beauty/app/serving.py", "    concurrency: int = 2 ", "    concurrency: int = 64 ",
     [T + "test_privacy.py", "-k", "launch_settings"], "queue concurrency 64"),
    ("queue-size-100000", "beauty/app/serving.py", "    max_queue: int = 32 ", "    max_queue: int = 100_000 ",
     [T + "test_privacy.py", "-k", "launch_settings"], "queue 100,000 waiting"),
    ("show-error", "beauty/app/serving.py", "show_error=False,", "show_error=True,",
     [T + "test_privacy.py", "-k", "launch_settings"], "exception text shown on the page"),
    ("janitor-anywhere", "beauty/app/serving.py", "        if not is_in_or_equal(path, get_upload_folder()):\n            return\n", "",
     [T + "test_privacy.py", "-k", "forget"], "upload janitor deletes files outside the upload folder"),
    ("hub-no-sha-check", "beauty/hub.py", "        if got != want:", "        if False:",
     [T + "test_deploy.py"], "downloaded weights not verified"),
    ("deploy-ships-training", "beauty/ops/deploy.py", "and p.relative_to(root / \"beauty\").parts[0] not in OFFLINE_PACKAGES",
     "", [T + "test_deploy.py"], "training/ops code uploaded to the Space"),
    ("deploy-sdk-unchecked", "beauty/ops/deploy.py", 'if fm.get("sdk_version") not in (None, gradio_version):',
     "if False:", [T + "test_deploy.py"], "sdk_version not compared with the gradio pin"),
    ("labels-up-to-10", "beauty/training/data.py", "not 1.0 <= score <= 5.0", "not 1.0 <= score <= 10.0",
     [T + "test_data.py"], "label scores up to 10 accepted"),
    ("cache-unchecked", "beauty/training/data.py", "not picks or np.array_equal(", "True or np.array_equal(",
     [T + "test_data.py", "-k", "cache"], "crop cache never verified"),
    ("rmse-is-mae", "beauty/training/metrics.py", '"rmse": float(np.sqrt((err**2).mean())),',
     '"rmse": float(np.abs(err).mean()),', [T + "test_metrics.py"], "RMSE computed as MAE"),
    ("ci-guard-off", "tests/support/ci_guard.py", "    return in_ci() and (SHARED_DATASET / \"Images\").is_dir()",
     "    return False", [T + "test_ci_guard.py"], "CI dataset guard never active"),
    ("rate-limiter-off", "beauty/app/security.py", "        allowed = tokens >= 1.0", "        allowed = True",
     [T + "test_security.py", "-k", "rate_limiter"], "per-client rate limit never refuses"),
    ("upload-path-anywhere", "beauty/app/security.py", "    if not real.startswith(root + os.sep):\n        return None\n", "",
     [T + "test_security.py", T + "test_handlers.py", "-k", "finding_1 or server_file"],
     "any server path accepted as an upload"),
]


def run(checkout: Path, ids: set[str]) -> list[dict]:
    if subprocess.run(["git", "-C", str(checkout), "status", "--porcelain"], capture_output=True,
                      text=True).stdout.strip():
        raise SystemExit(f"{checkout} has uncommitted changes: use a scratch worktree")
    env = dict(os.environ, PYTHONPATH=str(checkout), TF_CPP_MIN_LOG_LEVEL="2")
    results = []
    for mid, file, old, new, tests, what in MUTANTS:
        if ids and mid not in ids:
            continue
        path = checkout / file
        src = path.read_text()
        if src.count(old) != 1:
            print(json.dumps({"id": mid, "error": f"the text to change occurs {src.count(old)} times"}), flush=True)
            continue
        path.write_text(src.replace(old, new))
        t = time.time()
        try:
            r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests],
                               cwd=checkout, env=env, capture_output=True, text=True, timeout=1500)
            rc, tail = r.returncode, (r.stdout + r.stderr).strip().splitlines()
        except subprocess.TimeoutExpired:
            rc, tail = -1, ["timeout"]
        finally:
            path.write_text(src)
        rec = {"id": mid, "file": file, "what": what, "tests": " ".join(tests), "caught": rc not in (0, 5),
               "by": [line for line in tail if line.startswith(("FAILED", "ERROR"))][:3], "last": tail[-1:],
               "seconds": round(time.time() - t)}
        results.append(rec)
        print(json.dumps(rec), flush=True)
    return results


if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out = run(Path(sys.argv[1]).resolve(), set(sys.argv[2:]))
    print(f"{sum(r['caught'] for r in out)} of {len(out)} mutants caught")
