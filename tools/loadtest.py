"""Load-test the web app on loopback with many concurrent gradio_client sessions.

    python tools/loadtest.py                       # 16 clients × 25 requests, then overload and sessions
    python tools/loadtest.py --clients 4 --requests 5 --overload 0
    python tools/loadtest.py --json out.json

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

`start_server()` is also what the tests use to get a real app on loopback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUSY_PATTERN = re.compile(r"queue is full|too many|busy|try again later", re.I)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif")

SERVE_CODE = """
import json, os, sys
sys.path.insert(0, os.getcwd())
from beauty import ui
queue = dict(ui.QUEUE, **json.loads(os.environ.get("LOADTEST_QUEUE") or "{}"))
ui.BLOCKS.update({k: tuple(v) if isinstance(v, list) else v
                  for k, v in json.loads(os.environ.get("LOADTEST_BLOCKS") or "{}").items()})
for k, v in json.loads(os.environ.get("LOADTEST_UI") or "{}").items():
    setattr(ui, k, v)
print("queue settings", queue, "blocks", ui.BLOCKS, "upload ttl", ui.UPLOAD_TTL, flush=True)
ui.build_demo().queue(**queue).launch(**ui.launch_kwargs())
"""


def run_concurrently(fn, n: int, timeout: float) -> None:
    """Call fn(0) … fn(n-1) in n threads at once and wait up to `timeout` s for each."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process (and its children) in MB, from /proc."""
    total = 0
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class Server:
    """A running app subprocess: url, pid, temp dir, log file."""

    def __init__(self, proc, url, temp_dir, log_path, sys_tmp=None):
        self.proc, self.url, self.temp_dir, self.log_path = proc, url, Path(temp_dir), Path(log_path)
        self.sys_tmp = Path(sys_tmp) if sys_tmp else None  # the server's TMPDIR

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def files(self, everywhere: bool = False) -> list[Path]:
        """Regular files under the server's GRADIO_TEMP_DIR (and its TMPDIR when `everywhere`)."""
        roots = [self.temp_dir] + ([self.sys_tmp] if everywhere and self.sys_tmp else [])
        return sorted(p for r in roots for p in r.rglob("*") if p.is_file())

    def image_files(self, everywhere: bool = False) -> list[Path]:
        """Files the server wrote that decode as images (what a privacy check cares about)."""
        from PIL import Image

        found = []
        for p in self.files(everywhere):
            try:
                with Image.open(p) as im:
                    im.size  # noqa: B018 - header parsed: it is an image
                found.append(p)
            except Exception:  # noqa: BLE001
                continue
        return found


@contextlib.contextmanager
def start_server(temp_dir: str | os.PathLike | None = None, queue: dict | None = None, timeout: float = 240,
                 env: dict | None = None, blocks: dict | None = None, ui_overrides: dict | None = None,
                 argv: list[str] | None = None, log_path: str | os.PathLike | None = None):
    """Run the app (beauty.ui with its QUEUE/BLOCKS/launch settings) on 127.0.0.1:<free port>; yields a Server.

    `argv` runs another command instead (e.g. `python app.py` itself); `log_path` keeps its log elsewhere.

    `queue` / `blocks` override entries of ui.QUEUE / ui.BLOCKS (e.g. a short delete_cache in tests),
    `ui_overrides` other module settings of beauty.ui (e.g. UPLOAD_TTL).
    The server's TMPDIR is a "tmp" folder next to its GRADIO_TEMP_DIR, so everything it writes can be scanned.
    """
    port = free_port()
    own_tmp = None
    if temp_dir is None:
        own_tmp = tempfile.TemporaryDirectory(prefix="beauty-loadtest-")
        temp_dir = own_tmp.name
    gradio_tmp = Path(temp_dir) / "gradio"
    gradio_tmp.mkdir(parents=True, exist_ok=True)
    sys_tmp = Path(temp_dir) / "tmp"
    sys_tmp.mkdir(parents=True, exist_ok=True)
    log_path = Path(log_path or Path(temp_dir) / "server.log")
    e = dict(os.environ, GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port),
             GRADIO_TEMP_DIR=str(gradio_tmp), GRADIO_ANALYTICS_ENABLED="False", TF_CPP_MIN_LOG_LEVEL="2",
             LOADTEST_QUEUE=json.dumps(queue or {}), LOADTEST_BLOCKS=json.dumps(blocks or {}),
             LOADTEST_UI=json.dumps(ui_overrides or {}),
             TMPDIR=str(sys_tmp), PYTHONUNBUFFERED="1", **(env or {}))
    e.pop("SPACE_ID", None)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv or [sys.executable, "-c", SERVE_CODE], cwd=ROOT, env=e, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{port}/", gradio_tmp, log_path, sys_tmp)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"app exited with code {proc.returncode}:\n{server.log()[-3000:]}")
            try:
                with urllib.request.urlopen(server.url + "gradio_api/info", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app did not start in {timeout:.0f}s:\n{server.log()[-3000:]}")
            time.sleep(0.5)
        yield server
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if own_tmp is not None:
            own_tmp.cleanup()


def client(url: str, download_dir: str | os.PathLike | bool = False):
    """A gradio_client session: its own session_hash, so its own gr.State."""
    from gradio_client import Client

    dl = download_dir if download_dir is not False else False
    return Client(url, verbose=False, download_files=str(dl) if dl else False, analytics_enabled=False)


def face_files(folder: Path, n_dataset: int = 8) -> list[Path]:
    """Write real face photos (astronaut + some dataset photos when available) into folder; return their paths."""
    sys.path.insert(0, str(ROOT / "tests"))
    import hostile

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
    sys.path.insert(0, str(ROOT / "tests"))
    import hostile
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
                ok = isinstance(out, (list, tuple)) and "/ 5" in str(out[2])
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
            "serves_afterwards": "/ 5" in str(after[2])}


# ---------------------------------------------------------------- 3. sessions
BEST_RE = re.compile(r"Best shot: ([0-9.]+)")


def run_sessions(server: Server, photos: list[Path], shots_each: int = 3) -> dict:
    """Each session shoots its own face repeatedly, interleaved; its best shot must be its own."""
    from gradio_client import handle_file

    own_score = {}
    ref = client(server.url)
    for p in photos:
        own_score[p.name] = float(re.search(r"## ([0-9.]+)", ref.predict(handle_file(str(p)), api_name="/score")[2])[1])
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
        m = BEST_RE.search(str(out[2]))
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

    from beauty import ui

    report = {"queue": dict(ui.QUEUE), "blocks": {k: v for k, v in ui.BLOCKS.items()},
              "max_file_size": ui.MAX_FILE_SIZE, "cpus": os.cpu_count()}
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
                total = a.overload if a.overload > 0 else ui.QUEUE["max_size"] + ui.QUEUE["default_concurrency_limit"] + 16
                report["overload"] = run_overload(server, big, total)
                print("overload:", json.dumps(report["overload"]), flush=True)
            time.sleep(1)
            report["files_left"] = {"all": len(server.files()), "images": len(server.image_files())}
            report["rss_mb_end"] = round(server.rss_mb(), 1)
            report["server_alive"] = server.alive()
        if a.overload and a.overload_max_size is not None:
            q = {"max_size": a.overload_max_size}
            with start_server(tmp / "server2", queue=q) as server:
                total = a.overload if a.overload > 0 else a.overload_max_size + ui.QUEUE["default_concurrency_limit"] + 16
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
