"""Command line: `python -m beauty <command> …`.

    python -m beauty score photo.jpg [more.jpg dir/ …] [--json]

Each entry of `SUBCOMMANDS` names a function `add_parser(subparsers)` that
adds its parser and sets `func=<callable(args) -> int exit code>`. Adders import
only light modules; heavy imports (TensorFlow, MediaPipe, Gradio) happen inside
`func`, so `python -m beauty --help` stays instant.

Exit codes of `score`: 0 every file scored; 1 at least one file could not be
read or had no face (the others are still scored); 3 the model could not be
loaded; 2 usage errors (argparse).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from . import __version__

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff", ".heic", ".avif"}

# "module:function" adders, in the order they appear in --help.
SUBCOMMANDS: list[str] = [
    "beauty.cli:add_score_parser",
    "beauty.cli:add_explain_parser",
    "beauty.app.serving:add_parser",
    "beauty.ops.bench:add_parser",
    "beauty.ops.deploy:add_parser",
    "beauty.ops.deploy:add_publish_parser",
    "beauty.ops.export:add_parser",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m beauty",
        description="Facial beauty scorer (a model of SCUT-FBP5500 human ratings; for fun only).",
    )
    parser.add_argument("--version", action="version", version=f"beauty {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for spec in SUBCOMMANDS:
        module, _, func = spec.partition(":")
        getattr(importlib.import_module(module), func)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


# ---------------------------------------------------------------- score


def add_score_parser(sub) -> None:
    p = sub.add_parser(
        "score",
        help="score the faces in photos",
        description="Print one line per face: file, face number (1 = largest), score 1–5, the calibrated "
        "80 % range for the raters' mean ('likely LOW-HIGH'), percentile among the 5,500 human ratings of "
        "SCUT-FBP5500.",
    )
    p.add_argument("photos", nargs="+", metavar="PHOTO", help="image files, or folders of images")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text lines")
    p.add_argument("--model", metavar="NPZ", help="model weights (default: $BEAUTY_MODEL or the bundled model)")
    p.add_argument("--max-faces", type=int, default=8, metavar="N", help="score at most N faces per photo (default 8)")
    p.add_argument("--no-tta", action="store_true", help="skip flip test-time augmentation (faster, a bit less accurate)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the native TensorFlow/MediaPipe logs")
    p.set_defaults(func=run_score)


def expand_inputs(paths: list[str]) -> list[Path]:
    """Files as given; folders expand to their image files (sorted, not recursive)."""
    out = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    return out


def run_score(args) -> int:
    from .errors import BeautyError
    from .pipeline import load_scorer

    files = expand_inputs(args.photos)
    if not files:
        print("error: no image files found in the given folders", file=sys.stderr)
        return 1
    try:
        scorer = load_scorer(args.model, args.max_faces, not args.no_tta, quiet=not args.verbose)
    except BeautyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    except Exception as e:  # noqa: BLE001 - a damaged or mismatched weights file is exit 3 too, not a traceback
        name = Path(args.model).name if args.model else "the model"
        print(f"error: {name} could not be loaded ({type(e).__name__}: {str(e)[:200]}). "
              "Check the file or leave out --model to use the bundled weights.", file=sys.stderr)
        return 3

    failed = 0
    results = []
    try:
        # score_many batches the faces of several files into one model call; errors come back per file
        for f, result in scorer.score_many(files):
            if isinstance(result, BeautyError):
                failed += 1
                print(f"{f}: {result}", file=sys.stderr, flush=True)
                results.append({"file": str(f), "error": str(result), "error_type": type(result).__name__,
                                "faces": []})
                continue
            results.append({"file": str(f), **result.to_dict()})
            if not args.json:
                for fs in result.faces:
                    if fs.refused:  # looks under 18 (beauty.age): no score is printed
                        print(f"{f}\tface {fs.index}/{len(result.faces)}\tnot rated\t{fs.refused}", flush=True)
                        continue
                    likely = f"\tlikely {fs.low:.2f}-{fs.high:.2f}" if fs.low is not None else ""
                    note = "".join(f"\t{w}" for w in fs.warnings)  # e.g. the face is partly outside the photo
                    print(f"{f}\tface {fs.index}/{len(result.faces)}\tscore {fs.score:.2f}{likely}"
                          f"\tpercentile {fs.percentile:.1f}{note}", flush=True)
    finally:
        scorer.detector.close()

    if args.json:
        doc = {
            "model": Path(scorer.model_path).name,
            "device": scorer.device,
            "version": __version__,
            "results": results,
        }
        print(json.dumps(doc, indent=2))
    return 1 if failed else 0


# ---------------------------------------------------------------- explain


def add_explain_parser(sub) -> None:
    p = sub.add_parser(
        "explain",
        help="why this score: a heatmap over the scored face, and photo tips",
        description="Score one photo, write a heatmap of which parts of the scored crop raised (red) or lowered "
        "(blue) the score, measured by greying out each part in turn, and list the changes of the photo "
        "(light, size, sharpness, tilt) that raised scores of similar dataset photos most. Exit 1 when the "
        "photo cannot be read or has no whole face.",
    )
    p.add_argument("photo", metavar="PHOTO", help="an image file")
    p.add_argument("--out", metavar="PNG", help="write the heatmap here (the crop under the map)")
    p.add_argument("--face", type=int, default=1, metavar="N", help="explain face N (1 = largest; default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON document (map values, photo, tips)")
    p.add_argument("--model", metavar="NPZ", help="model weights (default: $BEAUTY_MODEL or the bundled model)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the native TensorFlow/MediaPipe logs")
    p.set_defaults(func=run_explain)


def run_explain(args) -> int:
    from .errors import BeautyError
    from .explain import explain
    from .pipeline import load_scorer
    from .runtime import quiet_native_stderr

    try:
        scorer = load_scorer(args.model, quiet=not args.verbose)
    except BeautyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3
    try:
        try:
            ex = explain(scorer, Path(args.photo), args.face)
        except BeautyError as e:
            print(f"{args.photo}: {e}", file=sys.stderr)
            return 1
        if args.out:
            from PIL import Image

            Image.fromarray(ex.heatmap.overlay()).save(args.out)
        if args.json:
            print(json.dumps({"file": args.photo, "heatmap_png": args.out, **ex.to_dict()}, indent=2))
        else:
            print(f"{args.photo}\tface {ex.index}/{ex.n_faces}\tscore {ex.score:.2f}")
            if args.out:
                print(f"heatmap: {args.out} (red raised the score, blue lowered it; strongest "
                      f"{ex.heatmap.cells.max():+.2f} / {ex.heatmap.cells.min():+.2f})")
            for i, t in enumerate(ex.tips, 1):
                print(f"tip {i}: {t.text.replace('**', '')}")
            if not ex.tips:
                print("tips: none - the light and tilt of this photo are within the dataset's range, "
                      "or undoing them moved the score too little")
            for t in ex.caveats:
                print(f"flatters the score: {t.text.replace('**', '')}")
            if ex.note:
                print(f"note: {ex.note}")
    finally:
        with quiet_native_stderr(not args.verbose):
            scorer.detector.close()
    return 0
