"""`python -m beauty bench`: how fast is the app on this machine, and is it fast enough?

Measures, in one run:
  * the model call for one face with flip TTA (a batch of 2), batch 1 and batch 16,
    for the runtime the app uses and, as the baseline, for the other one (LiteRT
    `beauty.lite` vs the compiled Keras/TensorFlow graph), interleaved;
  * per-stage latency for one photo (decode, detect, align+crop, model, percentile,
    and the whole `Scorer.score`), p50/p95 over --runs runs after warm-up;
  * the live-webcam handler's per-frame cost (`Scorer.score` on a 640×480 frame);
  * "Why this score?" (`beauty.explain.explain`: the occlusion map of one face and its photo tips);
  * the CLI in bulk: `python -m beauty score` on 61 SCUT-FBP5500 photos against
    1 photo, so the difference / 60 is the cost per photo without the start-up;
  * Scorer load time, and app cold start (`python app.py` until the first
    answered /score request) with the app's peak RSS;
  * the reference: the seed's ResNet50 at 350×350, batch-1 forward, through the
    compiled TensorFlow call, timed inside the same loops as the figures above.
Absolute numbers move with the machine and its load (other jobs on the same
cores), so the targets are checked as ratios against the reference measured in
the same loop, and the machine's load average is printed with them.
`--runtime keras|lite|auto` sets BEAUTY_RUNTIME for the whole run (app included).
The photo is skimage.data.astronaut() (a real face photo that ships with
scikit-image), JPEG-encoded as an upload would be; --photo takes another.
"""

from __future__ import annotations

import io
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {  # on a 2-core CPU; ratios are p50 / ResNet50-350 batch-1 p50 in the same loop
    "model_tta_vs_resnet50": 0.10,  # the model call for one face with flip TTA
    "e2e_vs_resnet50": 0.15,  # one selfie end to end (Scorer.score)
    "cli_bulk_per_photo_vs_resnet50": 0.15,  # `python -m beauty score` on many photos, per photo
    "webcam_fps": 30.0,  # live webcam frames scored per second
    "cold_start_s": 5.0,  # python app.py until the first answered /score
    "peak_rss_gb": 1.5,
    "explain_s": 2.0,  # "Why this score?": the map of one face and its photo tips, seconds
}
BULK_PHOTOS = 61


def timed(fn, runs: int, warmup: int = 3) -> dict:
    """p50/p95/mean in ms of `fn()` over `runs` calls after `warmup` calls."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return _stats(ts)


def _stats(ts) -> dict:
    a = np.asarray(ts)
    return {"p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "mean_ms": float(a.mean()), "runs": len(a)}


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version()}


def bench_photo(path: str | None = None) -> bytes:
    """Encoded photo bytes: --photo, else skimage's astronaut as a JPEG (quality 90)."""
    if path:
        return Path(path).read_bytes()
    try:
        from skimage import data
    except ImportError:
        raise SystemExit("bench needs scikit-image for its test photo (pip install scikit-image) or --photo") from None
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def webcam_frame(rgb: np.ndarray) -> np.ndarray:
    """A 640×480 frame: the photo scaled to 480 high, edge-padded to 640 wide."""
    import cv2

    h, w = rgb.shape[:2]
    s = cv2.resize(rgb, (round(w * 480 / h), 480), interpolation=cv2.INTER_AREA)[:, :640]
    pad = 640 - s.shape[1]
    return np.pad(s, ((0, 0), (pad // 2, pad - pad // 2), (0, 0)), mode="edge")


def interleaved(fns: dict, runs: int, warmup: int = 2) -> dict:
    """p50/p95 of each callable, called in turn `runs` times, so background load hits all of them alike."""
    for f in fns.values():
        for _ in range(warmup):
            f()
    ts = {k: [] for k in fns}
    for _ in range(runs):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            ts[k].append((time.perf_counter() - t) * 1e3)
    return {k: _stats(v) for k, v in ts.items()}


def stages(scorer, photo: bytes, runs: int, reference=None) -> dict:
    """Per-stage latency of one photo, each stage timed inside the same loop, plus the real score() call.

    `reference` (a callable) is timed once per iteration too, as "reference".
    """
    from .. import face as face_mod
    from ..image import load_image
    from ..percentile import percentile

    names = ("decode", "detect", "align_crop", "model", "age_gate", "percentile")
    ts = {k: [] for k in names + ("total", "reference")}
    for i in range(runs + 3):
        t = [time.perf_counter()]
        rgb = load_image(photo)
        t.append(time.perf_counter())
        dets = scorer.detector.detect(rgb)[: scorer.max_faces]
        t.append(time.perf_counter())
        crops = np.stack([face_mod.crop_face(rgb, d, scorer.detector) for d in dets])  # the app's two passes
        t.append(time.perf_counter())
        scores, features = scorer.score_crops(crops, features=True)
        t.append(time.perf_counter())
        scorer.adults(crops, len(crops), features)  # beauty.age: its own small network per face, and its probe
        t.append(time.perf_counter())
        [percentile(float(s)) for s in scores]
        t.append(time.perf_counter())
        t0 = time.perf_counter()
        scorer.score(photo)
        total = time.perf_counter() - t0
        if reference is not None:
            t0 = time.perf_counter()
            reference()
            ts["reference"].append((time.perf_counter() - t0) * 1e3)
        if i >= 3:  # warm-up
            for k, a, b in zip(names, t[:-1], t[1:], strict=True):
                ts[k].append((b - a) * 1e3)
            ts["total"].append(total * 1e3)
    if not ts["reference"]:
        del ts["reference"]
    out = {k: _stats(v) for k, v in ts.items()}
    out["faces"] = len(dets)
    return out


def explain_timing(scorer, photo: bytes, reference, runs: int = 5) -> dict:
    """`beauty.explain.explain` on the photo (score, the map of face 1: 37 crops in one batch, photo tips),
    and on a dimmed copy, which also gets the per-photo light check (`explain.try_fixes`), interleaved with
    the reference."""
    import io

    from PIL import Image

    from ..explain import change_photo, explain
    from ..image import load_image

    buf = io.BytesIO()
    Image.fromarray(change_photo(load_image(photo), "exposure", 0.3)).save(buf, "JPEG", quality=92)
    dim = buf.getvalue()
    return interleaved({"explain": lambda: explain(scorer, photo), "explain_dim": lambda: explain(scorer, dim),
                        "reference": reference}, runs, warmup=1)


def cold_start(photo: bytes, timeout: float = 120.0) -> dict:
    """Start `python app.py` on a free port; seconds until the first answered /score, and the app's peak RSS."""
    from gradio_client import Client, handle_file

    from .server import start_server

    with tempfile.TemporaryDirectory() as tmp:
        photo_path = Path(tmp) / "photo.jpg"
        photo_path.write_bytes(photo)
        t0 = time.perf_counter()
        with start_server(Path(tmp) / "server", argv=[sys.executable, "app.py"], timeout=timeout,
                          poll=0.05) as server:
            client = Client(server.url, verbose=False)
            client.predict(handle_file(str(photo_path)), api_name="/score")
            ready = time.perf_counter() - t0
            cpu = _cpu_seconds(server.pid)
            second = time.perf_counter()
            client.predict(handle_file(str(photo_path)), api_name="/score")
            warm_request = time.perf_counter() - second
            rss = _vm_hwm_kb(server.pid) / 1e6
    return {"cold_start_s": ready, "cold_start_cpu_s": cpu, "warm_request_ms": warm_request * 1e3,
            "app_peak_rss_gb": rss}


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system, all threads) a live process has used: unlike wall time, barely moved by other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _vm_hwm_kb(pid: int) -> float:
    """Peak resident set size of a live process (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return float("nan")


def bulk_photos(n: int = BULK_PHOTOS) -> list[Path]:
    """n SCUT-FBP5500 photos spread over the file list ($SCUT_FBP5500_DIR), or [] without the dataset."""
    root = os.environ.get("SCUT_FBP5500_DIR")
    images = Path(root) / "Images" if root else None
    if images is None or not images.is_dir():
        return []
    names = sorted(p.name for p in images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [images / names[i] for i in np.linspace(0, len(names) - 1, min(n, len(names))).round().astype(int)]


def cli_bulk(photos: list[Path], reference, repeats: int = 5) -> dict:
    """`python -m beauty score` on all `photos` and on the first one; (difference of the medians) / (n - 1) is the
    cost per photo.

    The reference is timed 10 times before each CLI run, so it sees the same background load. Medians of 5
    runs each: a process start varies by up to 0.3 s here, 5 ms a photo over 60 photos, so the mean of two
    runs moved the ratio by ±0.03 from one bench run to the next.
    """
    def cli(paths) -> float:
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-m", "beauty", "score", *map(str, paths)], cwd=ROOT,
                           capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
        if r.returncode not in (0, 1):  # 1: some photo had no face, the others were scored
            raise RuntimeError(f"python -m beauty score failed ({r.returncode}):\n{r.stderr[-2000:]}")
        return time.perf_counter() - t

    one, many, ref = [], [], []
    for _ in range(repeats):
        for paths, out in ((photos[:1], one), (photos, many)):
            for _ in range(10):
                t = time.perf_counter()
                reference()
                ref.append((time.perf_counter() - t) * 1e3)
            out.append(cli(paths))
    per_photo = (float(np.median(many)) - float(np.median(one))) / (len(photos) - 1) * 1e3
    return {"photos": len(photos), "one_photo_s": one, "all_photos_s": many, "per_photo_ms": per_photo,
            "reference": _stats(ref)}


def run(runs: int = 50, photo_path: str | None = None, cold_starts: int = 1, bulk: bool = True, log=print) -> dict:
    """All measurements as one dict (see module doc)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from ..runtime import quiet_native_stderr

    res = {"machine": machine()}
    photo = bench_photo(photo_path)
    if cold_starts:  # first, while this process is small and the page cache is as cold as we can make it
        log(f"cold start ×{cold_starts}: python app.py until the first answered /score …")
        starts = [cold_start(photo) for _ in range(cold_starts)]
        res["app"] = dict(starts[0], cold_start_runs_s=[a["cold_start_s"] for a in starts],
                          app_peak_rss_gb=max(a["app_peak_rss_gb"] for a in starts))
        res["app"]["cold_start_s"] = float(np.median(res["app"]["cold_start_runs_s"]))
        res["app"]["cold_start_cpu_s"] = float(np.median([a["cold_start_cpu_s"] for a in starts]))

    log("loading …")
    from ..face import find_faces
    from ..image import load_image
    from ..pipeline import Scorer

    with quiet_native_stderr():
        t = time.perf_counter()
        scorer = Scorer()
        t_scorer = time.perf_counter() - t
        t = time.perf_counter()
        scorer.score_crops(np.zeros((1, 350, 350, 3), np.uint8))
        t_first = time.perf_counter() - t
        t = time.perf_counter()
        import keras  # noqa: F401 - for the reference (and the Keras baseline)
        import tensorflow  # noqa: F401

        t_import = time.perf_counter() - t
        from ..backbones import resnet50
        from ..model import compiled_forward, load_model, predict

        rn = resnet50(input_shape=(350, 350, 3), weights=None)
        keras_model = scorer.model if scorer.runtime == "keras" else load_model(scorer.model_path)
        lite_model = scorer.model if scorer.runtime == "lite" else None
        if lite_model is None:
            try:
                from ..lite import load_lite

                lite_model = load_lite(scorer.model_path)
            except Exception as e:  # noqa: BLE001 - no export here: only the Keras figures
                log(f"(no LiteRT figures: {e})")
    res["runtime"], res["device"] = scorer.runtime, scorer.device
    res["load"] = {"scorer_init_s": t_scorer, "first_predict_s": t_first, "import_tf_keras_s": t_import,
                   "tensorflow_on_serving_path": scorer.runtime == "keras"}

    crops = np.stack([c for _, c in find_faces(load_image(photo), scorer.detector)])
    one = crops[:1]
    one_f = one.astype(np.float32)
    b16 = np.repeat(one, 16, axis=0)
    reference = compiled_forward(rn)
    ref = lambda: reference(one_f)  # noqa: E731

    log(f"model calls, interleaved with the reference, {runs} runs …")
    fns = {"resnet50_b1": ref, "keras_tta": lambda: predict(keras_model, one),
           "keras_b1": lambda: predict(keras_model, one, flip_tta=False)}
    if lite_model is not None:
        fns.update(lite_tta=lambda: lite_model.predict(one), lite_b1=lambda: lite_model.predict(one, flip_tta=False))
    res["model"] = interleaved(fns, runs)
    # batch 16 against 16 single calls, in the same loop: batching must not cost more per face
    # Each LiteRT figure right after a TensorFlow one, so both pay alike for TensorFlow's threads still spinning
    # (with the LiteRT batch always after TensorFlow's single calls, it came out 6-20 % dearer per crop than the
    # same work as 16 single calls). 16 runs at the default 50.
    big = {"keras_b16": lambda: predict(keras_model, b16, flip_tta=False)}
    if lite_model is not None:
        big["lite_b16"] = lambda: lite_model.predict(b16, flip_tta=False)
    big["keras_16_singles"] = lambda: [predict(keras_model, c, flip_tta=False) for c in b16]
    if lite_model is not None:
        big["lite_16_singles"] = lambda: [lite_model.predict(c, flip_tta=False) for c in b16]
    res["model"].update(interleaved(big, max(5, runs // 3), warmup=1))
    for k, v in res["model"].items():
        if k.endswith(("_b1", "_b16", "_16_singles")):
            v["per_crop_ms"] = v["p50_ms"] / (1 if k.endswith("_b1") else 16)

    log(f"one photo, {runs} runs …")
    res["stages"] = stages(scorer, photo, runs, reference=ref)

    log("webcam frames …")
    frame = webcam_frame(load_image(photo))
    res["webcam"] = interleaved({"frame": lambda: scorer.score(frame), "reference": ref}, runs)
    res["webcam"]["fps"] = 1e3 / res["webcam"]["frame"]["p50_ms"]

    log("explain (why this score) …")
    res["explain"] = explain_timing(scorer, photo, ref, max(3, runs // 10))

    photos = bulk_photos() if bulk else []
    if photos:
        log(f"CLI bulk: python -m beauty score on {len(photos)} photos vs 1 …")
        res["bulk"] = cli_bulk(photos, ref)
        t = time.perf_counter()
        n = sum(1 for _ in scorer.score_many(photos))
        res["bulk"]["score_many_per_photo_ms"] = (time.perf_counter() - t) * 1e3 / n
    res["bench_peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    scorer.detector.close()
    res["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    res["verdict"] = verdict(res)
    return res


def verdict(res: dict) -> dict:
    m = res["model"]
    v = {"model_tta_vs_resnet50": m[f"{res['runtime']}_tta"]["p50_ms"] / m["resnet50_b1"]["p50_ms"],
         "e2e_vs_resnet50": res["stages"]["total"]["p50_ms"] / res["stages"]["reference"]["p50_ms"]}
    if "bulk" in res:
        v["cli_bulk_per_photo_vs_resnet50"] = res["bulk"]["per_photo_ms"] / res["bulk"]["reference"]["p50_ms"]
    v["webcam_fps"] = res["webcam"]["fps"]
    if "explain" in res:
        v["explain_s"] = max(res["explain"][k]["p50_ms"] for k in ("explain", "explain_dim")) / 1e3
    if "app" in res:
        v["cold_start_s"] = res["app"]["cold_start_s"]
        v["peak_rss_gb"] = res["app"]["app_peak_rss_gb"]
    ok = {k: (x >= TARGETS[k] if k == "webcam_fps" else x <= TARGETS[k]) for k, x in v.items()}
    return {"values": v, "targets": {k: TARGETS[k] for k in v}, "pass": ok}


def report(res: dict) -> str:
    """The human-readable tables (the README's Benchmarks section is pasted from them)."""
    m = res["machine"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; runtime {res['runtime']}, "
             f"{res['device']}; load average {m['load_avg_1m']} at start, {m.get('load_avg_1m_end')} at end", ""]
    mo = res["model"]
    ref = mo["resnet50_b1"]["p50_ms"]
    lines += ["| model call (interleaved) | p50 ms | p95 ms | p50 / ResNet50 |", "|---|---:|---:|---:|"]
    names = {"tta": "one face + flip (batch 2)", "b1": "batch 1", "b16": "batch 16, per crop",
             "16_singles": "16 single calls, per crop"}
    for rt in ("lite", "keras"):
        for k in ("tta", "b1", "b16", "16_singles"):
            s = mo.get(f"{rt}_{k}")
            if s is None:
                continue
            div = 1 if k in ("tta", "b1") else 16
            label = ("LiteRT" if rt == "lite" else "Keras/TF graph") + f", {names[k]}"
            lines.append(f"| {label} | {s['p50_ms'] / div:.1f} | {s['p95_ms'] / div:.1f} | {s['p50_ms'] / div / ref:.3f} |")
    lines.append(f"| reference: ResNet50 350×350 batch 1 | {ref:.1f} | {mo['resnet50_b1']['p95_ms']:.1f} | 1 |")
    if "lite_tta" in mo:
        lines.append(f"\nLiteRT vs Keras: one face + flip {mo['keras_tta']['p50_ms'] / mo['lite_tta']['p50_ms']:.2f}× "
                     f"faster, batch 1 {mo['keras_b1']['p50_ms'] / mo['lite_b1']['p50_ms']:.2f}×")
    st = res["stages"]
    sref = st["reference"]["p50_ms"]
    lines += ["", f"| one photo ({st['faces']} face(s)), {res['runtime']} | p50 ms | p95 ms | p50 / ResNet50 |",
              "|---|---:|---:|---:|"]
    for k in ("decode", "detect", "align_crop", "model", "age_gate", "percentile", "total"):
        s = st[k]
        lines.append(f"| {k} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p50_ms'] / sref:.3f} |")
    lines.append(f"| reference: ResNet50 (same loop) | {sref:.1f} | {st['reference']['p95_ms']:.1f} | 1 |")
    w = res["webcam"]
    lines += ["", f"webcam frame 640×480 (Scorer.score): p50 {w['frame']['p50_ms']:.1f} ms = {w['fps']:.1f} frames/s "
              f"(ResNet50 in the same loop {w['reference']['p50_ms']:.1f} ms)"]
    if "explain" in res:
        e = res["explain"]
        lines.append(f"explain (map of one face + photo tips): p50 {e['explain']['p50_ms'] / 1e3:.2f} s, p95 "
                     f"{e['explain']['p95_ms'] / 1e3:.2f} s; dimmed copy, with the per-photo light check, p50 "
                     f"{e['explain_dim']['p50_ms'] / 1e3:.2f} s (ResNet50 in the same loop {e['reference']['p50_ms']:.1f} ms)")
    if "bulk" in res:
        b = res["bulk"]
        lines.append(f"CLI bulk: python -m beauty score on {b['photos']} photos "
                     f"{', '.join(f'{x:.1f}' for x in b['all_photos_s'])} s, on 1 photo "
                     f"{', '.join(f'{x:.1f}' for x in b['one_photo_s'])} s: {b['per_photo_ms']:.1f} ms per photo "
                     f"(ResNet50 around it {b['reference']['p50_ms']:.1f} ms); in-process score_many "
                     f"{b['score_many_per_photo_ms']:.1f} ms per photo")
    ld = res["load"]
    tf_line = (f"no (importing it for the reference took {ld['import_tf_keras_s']:.1f} s)"
               if not ld["tensorflow_on_serving_path"] else "yes (imported by the Scorer)")
    lines.append(f"load: Scorer (model + detector) {ld['scorer_init_s']:.2f} s, first model call "
                 f"{ld['first_predict_s']:.2f} s; TensorFlow on the serving path: {tf_line}")
    if "app" in res:
        a = res["app"]
        runs_s = ", ".join(f"{x:.1f}" for x in a.get("cold_start_runs_s", [a["cold_start_s"]]))
        lines.append(f"app: cold start {a['cold_start_s']:.1f} s (median of {runs_s}) to the first answered "
                     f"/score, using {a['cold_start_cpu_s']:.1f} s of CPU; next request {a['warm_request_ms']:.0f} ms; "
                     f"peak RSS {a['app_peak_rss_gb']:.2f} GB")
    v = res["verdict"]
    lines.append("")
    for k, x in v["values"].items():
        t = v["targets"][k]
        rel = ">=" if k == "webcam_fps" else "<="
        lines.append(f"target {k}: {x:.3f} {rel} {t:.3f}  {'PASS' if v['pass'][k] else 'FAIL'}")
    return "\n".join(lines)


def add_parser(sub) -> None:
    p = sub.add_parser("bench", help="measure latency, throughput, cold start and memory on this machine",
                       description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=50, help="timed runs per latency figure (default 50)")
    p.add_argument("--photo", help="photo to time (default: skimage's astronaut)")
    p.add_argument("--cold-starts", type=int, default=1, metavar="N",
                   help="start app.py N times, report the median (default 1; 0 skips it)")
    p.add_argument("--runtime", choices=("auto", "lite", "keras"),
                   help="BEAUTY_RUNTIME for this run, app included (default: the environment's, else auto)")
    p.add_argument("--no-bulk", action="store_true", help=f"skip the CLI run on {BULK_PHOTOS} SCUT-FBP5500 photos")
    p.add_argument("--json", action="store_true", help="print the raw measurements as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    if args.runtime:
        os.environ["BEAUTY_RUNTIME"] = args.runtime
    res = run(args.runs, args.photo, args.cold_starts, bulk=not args.no_bulk,
              log=lambda s: print(s, file=sys.stderr, flush=True))
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 0 if all(res["verdict"]["pass"].values()) else 1
