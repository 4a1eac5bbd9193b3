"""`python -m beauty bench`: how fast is the app on this machine, and is it fast enough?

Measures, in one run:
  * per-stage latency for one photo (decode, detect, align+crop, model, percentile,
    and the whole `Scorer.score`), p50/p95 over --runs runs after warm-up;
  * the live-webcam handler's per-frame cost (`Scorer.score` on a 640×480 frame);
  * model-only throughput at batch 1 and 32, and the old eager call for comparison;
  * TensorFlow import and model load time;
  * app cold start (`python app.py` until the first answered /score request) and
    the app's peak RSS;
  * the reference: the seed's ResNet50 at 350×350, batch-1 forward, through the
    same compiled call as our model.
Absolute numbers move with the machine and its load (a training job, say), so
the targets are checked as ratios against the reference measured in the same
run, and the machine's load average is printed with them.
The photo is skimage.data.astronaut() (a real face photo that ships with
scikit-image), JPEG-encoded as an upload would be; --photo takes another.
"""

from __future__ import annotations

import io
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {  # on a 2-core CPU
    "e2e_vs_resnet50": 1 / 3,  # one selfie end to end <= 1/3 of a ResNet50 forward
    "webcam_fps": 10.0,
    "cold_start_s": 15.0,
    "peak_rss_gb": 1.5,
}


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


def stages(scorer, photo: bytes, runs: int) -> dict:
    """Per-stage latency of one photo, each stage timed inside the same loop, plus the real score() call."""
    from .. import face as face_mod
    from ..image import load_image
    from ..percentile import percentile

    names = ("decode", "detect", "align_crop", "model", "percentile")
    ts = {k: [] for k in names + ("total",)}
    for i in range(runs + 3):
        t = [time.perf_counter()]
        rgb = load_image(photo)
        t.append(time.perf_counter())
        dets = scorer.detector.detect(rgb)[: scorer.max_faces]
        t.append(time.perf_counter())
        crops = np.stack([face_mod.crop_face(rgb, d, scorer.detector) for d in dets])  # the app's two passes
        t.append(time.perf_counter())
        scores = scorer.score_crops(crops)
        t.append(time.perf_counter())
        [percentile(float(s)) for s in scores]
        t.append(time.perf_counter())
        t0 = time.perf_counter()
        scorer.score(photo)
        total = time.perf_counter() - t0
        if i >= 3:  # warm-up
            for k, a, b in zip(names, t[:-1], t[1:], strict=True):
                ts[k].append((b - a) * 1e3)
            ts["total"].append(total * 1e3)
    out = {k: _stats(v) for k, v in ts.items()}
    out["faces"] = len(dets)
    return out


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


def run(runs: int = 50, photo_path: str | None = None, cold_starts: int = 1, log=print) -> dict:
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
    with quiet_native_stderr():
        t = time.perf_counter()
        import keras  # noqa: F401 - TensorFlow import time is part of every start
        import tensorflow  # noqa: F401

        t_import = time.perf_counter() - t
        from ..model import compiled_forward, load_model, predict
        from ..pipeline import Scorer

        t = time.perf_counter()
        scorer = Scorer()
        t_scorer = time.perf_counter() - t
        t = time.perf_counter()
        model = load_model(scorer.model_path)
        t_load = time.perf_counter() - t
        t = time.perf_counter()
        predict(model, np.zeros((1, 350, 350, 3), np.float32))
        t_first = time.perf_counter() - t
    res["device"] = scorer.device
    res["load"] = {"import_tf_keras_s": t_import, "scorer_init_s": t_scorer, "load_model_s": t_load,
                   "first_predict_s": t_first}

    log(f"one photo, {runs} runs …")
    res["stages"] = stages(scorer, photo, runs)

    log("webcam frames …")
    from ..face import find_faces
    from ..image import load_image

    frame = webcam_frame(load_image(photo))
    res["webcam"] = timed(lambda: scorer.score(frame), runs)
    res["webcam"]["fps"] = 1e3 / res["webcam"]["p50_ms"]

    log("model throughput …")
    crops = np.stack([c for _, c in find_faces(load_image(photo), scorer.detector)])
    one = crops[:1].astype(np.float32)
    b32 = np.repeat(one, 32, axis=0)
    res["model"] = {
        "b1": timed(lambda: predict(model, one, flip_tta=False), runs),
        "b32": timed(lambda: predict(model, b32, flip_tta=False), max(5, runs // 10), warmup=1),
        "one_face_tta_compiled": timed(lambda: predict(model, one), runs),
        "one_face_tta_eager": timed(lambda: model(np.concatenate([one, one[:, :, ::-1]]), training=False), 20),
    }
    for k in ("b1", "b32"):
        res["model"][k]["images_per_s"] = int(k[1:]) * 1e3 / res["model"][k]["p50_ms"]
    res["bench_peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6

    log("reference: ResNet50 350×350, batch 1 …")
    from ..backbones import resnet50

    with quiet_native_stderr():
        rn = resnet50(input_shape=(350, 350, 3), weights=None)
    res["resnet50_b1"] = timed(lambda: compiled_forward(rn)(one), max(20, runs // 2))
    with quiet_native_stderr():
        scorer.detector.close()  # explicitly: MediaPipe's own __del__ at exit prints a traceback
    res["machine"]["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    res["verdict"] = verdict(res)
    return res


def verdict(res: dict) -> dict:
    ref = res["resnet50_b1"]["p50_ms"]
    v = {"e2e_vs_resnet50": res["stages"]["total"]["p50_ms"] / ref, "webcam_fps": res["webcam"]["fps"]}
    if "app" in res:
        v["cold_start_s"] = res["app"]["cold_start_s"]
        v["peak_rss_gb"] = res["app"]["app_peak_rss_gb"]
    ok = {k: (x >= TARGETS[k] if k == "webcam_fps" else x <= TARGETS[k]) for k, x in v.items()}
    return {"values": v, "targets": {k: TARGETS[k] for k in v}, "pass": ok}


def report(res: dict) -> str:
    """The human-readable table (the README's Benchmarks section is pasted from it)."""
    m, ref = res["machine"], res["resnet50_b1"]["p50_ms"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}, {res['device']}; "
             f"load average {m['load_avg_1m']} at start, {m.get('load_avg_1m_end')} at end",
             "", "| stage (one photo, {} face(s)) | p50 ms | p95 ms | p50 / ResNet50 |".format(res["stages"]["faces"]),
             "|---|---:|---:|---:|"]
    for k in ("decode", "detect", "align_crop", "model", "percentile", "total"):
        s = res["stages"][k]
        lines.append(f"| {k} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} | {s['p50_ms'] / ref:.3f} |")
    w, mo = res["webcam"], res["model"]
    lines += [f"| webcam frame 640×480 (Scorer.score) | {w['p50_ms']:.1f} | {w['p95_ms']:.1f} "
              f"| {w['p50_ms'] / ref:.3f} |",
              f"| reference: ResNet50 350×350 batch 1 | {ref:.1f} | {res['resnet50_b1']['p95_ms']:.1f} | 1 |",
              "",
              "| model only | p50 ms | images/s |", "|---|---:|---:|",
              f"| batch 1 | {mo['b1']['p50_ms']:.1f} | {mo['b1']['images_per_s']:.1f} |",
              f"| batch 32 | {mo['b32']['p50_ms']:.1f} | {mo['b32']['images_per_s']:.1f} |",
              f"| one face + flip (batch 2), compiled | {mo['one_face_tta_compiled']['p50_ms']:.1f} | |",
              f"| one face + flip (batch 2), eager (before) | {mo['one_face_tta_eager']['p50_ms']:.1f} | |",
              ""]
    ld = res["load"]
    lines.append(f"load: import TF+Keras {ld['import_tf_keras_s']:.1f} s, Scorer (model + detector) "
                 f"{ld['scorer_init_s']:.1f} s, load_model {ld['load_model_s']:.2f} s, first predict "
                 f"{ld['first_predict_s']:.2f} s")
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
    p.add_argument("--json", action="store_true", help="print the raw measurements as JSON")
    p.set_defaults(func=main)


def main(args) -> int:
    res = run(args.runs, args.photo, args.cold_starts, log=lambda s: print(s, file=sys.stderr, flush=True))
    print(json.dumps(res, indent=2) if args.json else report(res))
    return 0 if all(res["verdict"]["pass"].values()) else 1
