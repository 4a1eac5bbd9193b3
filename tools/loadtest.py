"""Load-test the web app on loopback with many concurrent gradio_client sessions.

    python -m tools.loadtest                       # 16 clients × 25 requests, then overload and sessions
    python -m tools.loadtest --clients 4 --requests 5 --overload 0
    python -m tools.loadtest --json out.json

Starts the app as a subprocess (127.0.0.1, a free port, its own GRADIO_TEMP_DIR),
waits for it, then:

1. load: N clients (one gradio_client.Client, i.e. one session, each) send M
   real face photos each to /score, fetching the outputs like a browser does.
   Reports errors (must be 0), p50/p95/max latency, throughput, and the server's
   RSS sampled after every round of requests (growth must be small and level off).
2. overload: more simultaneous requests than the queue holds (queue max_size +
   concurrency + extra); counts clear "queue full / busy" refusals vs. other
   failures (must be 0) vs. successes. The server must still answer afterwards.
3. sessions: several sessions take webcam shots (/shot) with different faces at
   the same time; each session's best shot must be its own face's score.
4. files: what is left in GRADIO_TEMP_DIR (user images on disk) right after.
The server itself is started by `beauty.ops.server.start_server`, as in the tests.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from beauty.app import ServeConfig
from beauty.ops.server import Server, client, start_server
from tests.support import hostile

BUSY_PATTERN = re.compile(r"queue is full|too many|busy|try again later", re.I)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif")



def face_files(folder: Path, n_dataset: int = 8) -> list[Path]:
    """Write real face photos (astronaut + some dataset photos when available) into folder; return their paths."""

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in hostile.face_photos():
        p = folder / name
        p.write_bytes(data)
        paths.append(p)
    d = hostile.dataset_dir()
    if d:
        for name in sorted(os.listdir(d / "Images"))[::611][:n_dataset]:
            p = folder / name
            p.write_bytes((d / "Images" / name).read_bytes())
            paths.append(p)
    return list(dict.fromkeys(paths))


def big_photo(folder: Path) -> Path:
    """The astronaut upscaled to 4000×4000 (16 MP JPEG, ~0.8 MB): the cost of a phone photo."""
    from PIL import Image

    p = folder / "big-16mp.jpg"
    p.write_bytes(hostile.encode(Image.fromarray(hostile.astronaut()).resize((4000, 4000)), "JPEG", quality=80))
    return p


def pct(values, q):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


# ---------------------------------------------------------------- 1. load
def variant(photo: Path, seed: int, folder: Path) -> Path:
    """The photo with ±1 pixel noise, re-encoded: what another person's photo costs, without sharing
    Gradio's content-addressed cache files (identical uploads share one file, identical outputs too)."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(photo).convert("RGB"), np.int16)
    rgb = rgb + np.random.default_rng(seed).integers(-1, 2, rgb.shape)
    out = folder / f"{photo.stem}-{seed}.jpg"
    Image.fromarray(rgb.clip(0, 255).astype(np.uint8)).save(out, quality=92)
    return out


def run_load(server: Server, photos: list[Path], clients: int, requests: int, download_dir: Path,
             time_limit: float = 600, same_photos: bool = False) -> dict:
    from gradio_client import handle_file

    lat, errors, rss = [], [], [(0, server.rss_mb())]
    lock = threading.Lock()
    done = [0]
    deadline = time.monotonic() + time_limit
    barrier = threading.Barrier(clients)

    def worker(i):
        c = client(server.url, download_dir / f"c{i}")
        mine = [photos[(i + k) % len(photos)] for k in range(requests)]
        if not same_photos:
            (download_dir / f"in{i}").mkdir(parents=True, exist_ok=True)
            mine = [variant(p, i * 1000 + k, download_dir / f"in{i}") for k, p in enumerate(mine)]
        barrier.wait()
        for k in range(requests):
            if time.monotonic() > deadline:
                with lock:
                    errors.append("time limit")
                return
            photo = mine[k]
            t = time.perf_counter()
            try:
                out = c.predict(handle_file(str(photo)), api_name="/score")
                ok = isinstance(out, (list, tuple)) and bool(out[-1]["faces"])  # the JSON summary
                if not ok:
                    raise RuntimeError(f"unexpected output {str(out)[:200]}")
                with lock:
                    lat.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001
                with lock:
                    errors.append(f"{type(e).__name__}: {str(e)[:200]}")
            with lock:
                done[0] += 1
                if done[0] % clients == 0:  # one "round": every client has sent one more request on average
                    rss.append((done[0], server.rss_mb()))
        c.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    wall = time.perf_counter() - t0
    rss.append((done[0], server.rss_mb()))
    n = len(lat)
    third = max(1, len(rss) // 3)
    return {
        "clients": clients, "requests_per_client": requests, "same_photos": same_photos, "ok": n,
        "errors": len(errors),
        "error_samples": sorted(set(errors))[:5], "wall_s": round(wall, 1),
        "throughput_rps": round(n / wall, 2) if wall else None,
        "latency_s": {"p50": round(pct(lat, 50), 3), "p95": round(pct(lat, 95), 3), "max": round(max(lat, default=0), 3)},
        "rss_mb": {"before": round(rss[0][1], 1), "after": round(rss[-1][1], 1),
                   "first_third_max": round(max(r for _, r in rss[:third]), 1),
                   "last_third_max": round(max(r for _, r in rss[-third:]), 1),
                   "samples": [(k, round(r, 1)) for k, r in rss]},
    }


# ---------------------------------------------------------------- 2. overload
def run_overload(server: Server, photo: Path, total: int, time_limit: float = 300) -> dict:
    """`total` requests submitted at once from separate sessions; count outcomes."""
    from gradio_client import handle_file

    outcomes = {"ok": 0, "busy": 0, "failed": 0}
    samples = {"busy": set(), "failed": set()}
    lock = threading.Lock()
    clients_ = [client(server.url) for _ in range(total)]
    barrier = threading.Barrier(total)

    def one(c):
        barrier.wait()
        try:
            job = c.submit(handle_file(str(photo)), api_name="/score")
            job.result(timeout=time_limit)
            kind = "ok"
            msg = ""
        except Exception as e:  # noqa: BLE001
            msg = f"{type(e).__name__}: {str(e)[:200]}"
            kind = "busy" if BUSY_PATTERN.search(str(e)) else "failed"
        with lock:
            outcomes[kind] += 1
            if msg:
                samples[kind].add(msg)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(total) as pool:
        list(pool.map(one, clients_))
    wall = time.perf_counter() - t0
    for c in clients_:
        c.close()
    after = client(server.url).predict(handle_file(str(photo)), api_name="/score")
    return {"submitted": total, **outcomes, "wall_s": round(wall, 1),
            "busy_samples": sorted(samples["busy"])[:3], "failed_samples": sorted(samples["failed"])[:3],
            "serves_afterwards": bool(after[-1]["faces"])}  # /score's JSON summary


# ---------------------------------------------------------------- 3. sessions
BEST_RE = re.compile(r'class="bs-score"[^>]*>([0-9.]+)<')  # the best shot's score in /shot's HTML


def run_sessions(server: Server, photos: list[Path], shots_each: int = 3) -> dict:
    """Each session shoots its own face repeatedly, interleaved; its best shot must be its own."""
    from gradio_client import handle_file

    own_score = {}
    ref = client(server.url)
    for p in photos:
        own_score[p.name] = ref.predict(handle_file(str(p)), api_name="/score")[-1]["faces"][0]["score"]
    ref.close()
    sessions = [(client(server.url), p) for p in photos]
    best = {}
    barrier = threading.Barrier(len(sessions))

    def shoot(cp):
        c, p = cp
        barrier.wait()
        out = None
        for _ in range(shots_each):
            out = c.predict(handle_file(str(p)), api_name="/shot")
        m = BEST_RE.search(str(out[1]))  # /shot: gallery, best shot (HTML), download, line
        best[p.name] = (float(m[1]) if m else None, len(out[0]) if out and out[0] else 0)

    with ThreadPoolExecutor(len(sessions)) as pool:
        list(pool.map(shoot, sessions))
    for c, _ in sessions:
        c.predict(api_name="/reset")  # sessions that end without Reset keep their best shot until Gradio drops them
        c.close()
    mixed = [n for n, (b, _) in best.items() if b is None or abs(b - round(own_score[n], 2)) > 0.011]
    return {"sessions": len(sessions), "shots_each": shots_each,
            "own_scores": {k: round(v, 2) for k, v in own_score.items()},
            "best_shots": {k: v[0] for k, v in best.items()},
            "gallery_sizes": {k: v[1] for k, v in best.items()}, "mixed_up": mixed}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--requests", type=int, default=25, help="requests per client")
    p.add_argument("--rounds", type=int, default=1, help="repeat the load phase (RSS must level off across rounds)")
    p.add_argument("--overload", type=int, default=-1,
                   help="simultaneous requests in the overload phase (default: queue max_size + concurrency + 16; 0 skips)")
    p.add_argument("--overload-max-size", type=int, default=None,
                   help="run the overload phase against a second server with this queue max_size (cheaper to fill)")
    p.add_argument("--sessions", type=int, default=4, help="webcam sessions in the best-shot isolation check")
    p.add_argument("--time-limit", type=float, default=900, help="seconds for the load phase")
    p.add_argument("--same-photos", action="store_true",
                   help="every client sends the same few files (byte-identical uploads share Gradio cache files)")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    a = p.parse_args(argv)

    cfg = ServeConfig()
    report = {"config": dataclasses.asdict(cfg), "cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="beauty-loadtest-") as tmp:
        tmp = Path(tmp)
        photos = face_files(tmp / "photos")
        report["photos"] = [x.name for x in photos]
        big = big_photo(tmp / "photos")  # overload requests: a 16 MP phone-size photo, ~0.5 s of work each
        with start_server(tmp / "server") as server:
            report["rss_mb_idle"] = round(server.rss_mb(), 1)
            print(f"server up at {server.url} (pid {server.pid}, RSS {report['rss_mb_idle']:.0f} MB)", flush=True)
            for r in range(a.rounds if a.clients and a.requests else 0):
                res = run_load(server, photos, a.clients, a.requests, tmp / f"downloads{r}", a.time_limit,
                               a.same_photos)
                report.setdefault("load_rounds", []).append(res)
                report["load"] = res if r == 0 else report["load"]
                print(f"load round {r + 1}:", json.dumps({k: v for k, v in res.items() if k != "rss_mb"}), flush=True)
                print("rss:", json.dumps(res["rss_mb"]), flush=True)
            if a.sessions:
                report["sessions"] = run_sessions(server, photos[: a.sessions])
                print("sessions:", json.dumps(report["sessions"]), flush=True)
            if a.overload and a.overload_max_size is None:
                total = a.overload if a.overload > 0 else cfg.max_queue + cfg.concurrency + 16
                report["overload"] = run_overload(server, big, total)
                print("overload:", json.dumps(report["overload"]), flush=True)
            time.sleep(1)
            report["files_left"] = {"all": len(server.files()), "images": len(server.image_files())}
            report["rss_mb_end"] = round(server.rss_mb(), 1)
            report["server_alive"] = server.alive()
        if a.overload and a.overload_max_size is not None:
            q = {"max_queue": a.overload_max_size}
            with start_server(tmp / "server2", settings=q) as server:
                total = a.overload if a.overload > 0 else a.overload_max_size + cfg.concurrency + 16
                report["overload"] = dict(run_overload(server, big, total), queue=q)
                print("overload:", json.dumps(report["overload"]), flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    ok = (all(r["errors"] == 0 for r in report.get("load_rounds", [])) and not report.get("sessions", {}).get("mixed_up")
          and report.get("overload", {}).get("failed", 0) == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
