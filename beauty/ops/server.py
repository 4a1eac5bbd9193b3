"""The real app as a subprocess on loopback: what the tests, the load test and the benchmark start.

    with start_server(settings={"max_queue": 6}) as server:
        client(server.url).predict(handle_file("photo.jpg"), api_name="/score")
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
UNLIMITED_CLIENTS = {"client_rate": 0, "client_inflight": 0}


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
def start_server(temp_dir: str | os.PathLike | None = None, settings: dict | None = None, timeout: float = 240,
                 env: dict | None = None, argv: list[str] | None = None, log_path: str | os.PathLike | None = None,
                 poll: float = 0.5):
    """Run the app on 127.0.0.1:<free port> until the block ends; yields a Server once it answers.

    `settings` override ServeConfig fields (`python -m beauty serve --set KEY=VALUE`, e.g. a short
    sweep in tests; the per-client limits are off unless set here); `argv` runs another command
    instead (e.g. `python app.py` itself); `log_path` keeps its log elsewhere. The server's TMPDIR
    is a "tmp" folder next to its GRADIO_TEMP_DIR, so everything it writes can be scanned.
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
             TMPDIR=str(sys_tmp), PYTHONUNBUFFERED="1", **(env or {}))
    e.pop("SPACE_ID", None)
    with open(log_path, "wb") as log:
        if argv is None:
            argv = [sys.executable, "-m", "beauty", "serve"]
            # every client of a test or load test comes from 127.0.0.1: the per-client limits would count them
            # as one visitor, so they are off unless a test sets them (tests/test_security.py does)
            settings = {**UNLIMITED_CLIENTS, **(settings or {})}
            for k, v in settings.items():
                argv += ["--set", f"{k}={json.dumps(v)}"]
        proc = subprocess.Popen(argv, cwd=ROOT, env=e, stdout=log,
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
            time.sleep(poll)
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
