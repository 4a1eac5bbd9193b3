"""How the web app is served: queue and cache limits, launch settings, and upload clean-up.

Every setting lives in one frozen `ServeConfig`, passed to `build_demo()` and
`serve()`; tests and the load test start the real server with other values
through `python -m beauty serve --set KEY=VALUE`, never by patching globals.

Measured in docs/reliability.md (tools/loadtest.py): 2 concurrent runs keep the
2 CPU cores busy (the model and detector are serialised by locks anyway); up to
32 requests wait in line, more get Gradio's "queue is full" message instead of
a timeout.

The app is a public server: `serve()` gives it its own GRADIO_TEMP_DIR, kept clean
by `TempSweeper` (and emptied on SIGTERM as on Ctrl-C), turns off what the page
does not use (analytics, monitoring, run history, direct API calls), and puts
`security.Guard` in front of Gradio (body, upload and per-client limits).
"""

from __future__ import annotations

import ctypes
import dataclasses
import heapq
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..image import MAX_BYTES
from .security import kept_files

log = logging.getLogger("beauty")


@dataclass(frozen=True)
class ServeConfig:
    concurrency: int = 2  # runs of one event at a time
    max_queue: int = 32  # requests waiting; more are refused with "queue is full"
    # Gradio's cache of output images (boxed photo, crops, gallery, downloads): swept every
    # `sweep_every` s of files older than `sweep_age` s, so no image stays more than ~2.5 min.
    sweep_every: int = 30
    sweep_age: int = 120
    # An upload is deleted `upload_ttl` s after it was scored. Gradio stores uploads by content
    # hash, so two people uploading the same bytes share one file and the second may still be
    # queued when the first is scored: the TTL must exceed the longest queue wait (~11 s measured).
    upload_ttl: int = 30
    max_file_size: int = MAX_BYTES  # bytes per upload, the same cap beauty.image enforces (15 MiB)
    max_shots: int = 12  # webcam shots kept per session (the best ones)
    live_every: float = 0.1  # seconds between live webcam frames (the browser waits for each answer)
    live_time_limit: int = 60  # seconds a live session streams before it stops by itself
    state_ttl: int = 3600  # seconds a session's shots are kept after its last update (and an idle session at all)
    download_ttl: int = 20  # seconds our copy of the best-shot file exists (Gradio serves its own copy)
    # The public API (beauty/app/security.py). Requests beyond these get one sentence, never a stack trace.
    max_body: int = 4 * 1024 * 1024  # bytes of a JSON request (a live webcam frame is a ~0.1-1 MB JPEG data URL)
    max_upload_files: int = 2  # files in one upload request (the page sends one)
    max_temp_mb: int = 1024  # uploads are refused while the app's temp folder holds more than this
    client_rate: float = 2.0  # queued requests + uploads a second per client (IP address); 0 = no limit
    client_burst: int = 12  # ... that may come at once before the rate applies
    client_inflight: int = 4  # events of one client waiting or running at once; 0 = no limit
    proxy_hops: int = 1  # on a Space: how many X-Forwarded-For entries its own proxies appended
    max_sessions: int = 1000  # sessions whose state Gradio keeps (the least recently used go first)
    orphan_age: int = 60  # seconds after which an unfinished upload's temp file counts as abandoned

    def replace(self, **changes) -> ServeConfig:
        return dataclasses.replace(self, **changes)

    def with_settings(self, settings: list[str]) -> ServeConfig:
        """Apply `KEY=VALUE` strings (JSON values), refusing unknown keys."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for item in settings:
            key, _, value = item.partition("=")
            if key not in fields:
                raise SystemExit(f"unknown setting {key!r}; known: {', '.join(fields)}")
            changes[key] = type(getattr(self, key))(json.loads(value))
        return self.replace(**changes)

    def queue_kwargs(self) -> dict:
        return {"default_concurrency_limit": self.concurrency, "max_size": self.max_queue}

    @property
    def max_file_life(self) -> int:
        """Seconds any file the app writes (upload, output image, download) can exist: Gradio's sweep and ours."""
        return self.sweep_age + self.sweep_every


def launch_kwargs(config: ServeConfig, **overrides) -> dict:
    """Keyword arguments for `demo.launch()`: host/port from the environment, theme, upload cap."""
    from .layout import CSS, HEAD, theme

    on_space = bool(os.environ.get("SPACE_ID"))
    kw = dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1"),
        server_port=int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None,
        max_file_size=config.max_file_size,
        show_error=False,  # only gr.Error messages reach the page, never exception text
        theme=theme(),
        css=CSS,
        head=HEAD,  # the page's <title> and description in the served HTML itself
        # what the page does not use is off: the monitoring page (it prints its key to the log), run
        # history (it would send photos to a visitor's Hub bucket), server-side rendering (a Node proxy
        # in front would hide the visitor's address from the per-client limits)
        enable_monitoring=False,
        run_history=False,
        ssr_mode=False,
        state_session_capacity=config.max_sessions,
    )
    kw.update(overrides)
    return kw


def serve(config: ServeConfig | None = None, scorer=None):
    """Build the demo, queue it and launch it (blocks until the server stops, by Ctrl-C or SIGTERM)."""
    config = config or ServeConfig()
    temp = own_temp_dir()
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    from .layout import build_demo, with_page_head
    from .security import app_kwargs

    sweeper = TempSweeper(temp, config)
    sweeper.sweep()  # leftovers of an earlier run that did not end cleanly
    _stop_on_sigterm()
    log.info("serving with %s", config)
    try:
        demo = build_demo(config, scorer)
        sweeper.start(demo)
        # api_open=False: queued events cannot be called directly (/run/...), so the queue's limits hold
        demo.queue(**config.queue_kwargs(), api_open=False).launch(
            **launch_kwargs(config, app_kwargs=with_page_head(app_kwargs(config, demo))))
    except KeyboardInterrupt:
        pass
    finally:
        sweeper.stop()
        empty_folder(temp)  # Gradio's shutdown deletes the files it tracks; this deletes the rest
        log.info("stopped; %s emptied", temp)


def give_back_free_memory() -> None:
    """Return the heap's free pages to the system (glibc `malloc_trim`; a no-op elsewhere).

    Freed request buffers (bodies, data URLs, decoded photos: megabytes each) stay in glibc's heap
    as holes it does not return on its own, so the server's memory would creep up by megabytes per
    visitor. Called after each temp sweep (every `sweep_every` s), it keeps the resident size flat
    without changing how anything is allocated (a fixed mmap threshold did too, but made every
    large buffer of every request a fresh mapping).
    """
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _stop_on_sigterm() -> None:
    """SIGTERM (how containers and Spaces stop an app) ends the server the way Ctrl-C does, so every clean-up
    runs; by default it kills Python on the spot and leaves the uploads on disk."""
    if threading.current_thread() is not threading.main_thread():
        return

    def interrupt(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: a second SIGTERM must not cut the clean-up short
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def own_temp_dir() -> Path:
    """The app's own GRADIO_TEMP_DIR (Gradio's uploads and output cache): $GRADIO_TEMP_DIR when set, which must
    then be given to this app alone, else <tmp>/beauty-app. Everything in it is temporary and swept."""
    if not os.environ.get("GRADIO_TEMP_DIR"):
        os.environ["GRADIO_TEMP_DIR"] = str(Path(tempfile.gettempdir()) / "beauty-app")
    path = Path(os.environ["GRADIO_TEMP_DIR"]).resolve()
    if path in (Path("/"), Path.home(), Path(tempfile.gettempdir()).resolve()) or len(path.parts) < 3:
        raise SystemExit(f"GRADIO_TEMP_DIR={path} is not a folder of its own; the app deletes what is in it")
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def empty_folder(root: Path) -> None:
    """Delete everything inside `root`, keeping the folder."""
    for entry in list(Path(root).iterdir()) if Path(root).is_dir() else []:
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:
            log.warning("could not delete a temp file")


class TempSweeper:
    """Keeps the app's temp folder down to what is in use, every `sweep_every` s, on a thread of its own.

    Gradio's own sweep (`delete_cache`) deletes only the files it tracks. This one also deletes what it
    misses: temp files of uploads cut off mid-way (`tmp*`, untouched for `orphan_age` s), deep-link state
    files (`deep_links/`), any file older than `sweep_age` (so no file outlives `max_file_life`) and empty
    folders. Files a component keeps on purpose (`keep_in_cache`, e.g. examples) stay.
    """

    def __init__(self, root: Path, config: ServeConfig):
        self.root, self.config = Path(root), config
        self.blocks = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, blocks=None) -> None:
        self.blocks = blocks
        self._thread = threading.Thread(target=self._loop, name="temp-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.config.sweep_every):
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - a failed sweep must not end the sweeping
                log.warning("temp sweep failed", exc_info=True)
            give_back_free_memory()

    def sweep(self) -> int:
        """One pass; returns the number of files deleted."""
        now, n = time.time(), 0
        shutil.rmtree(self.root / "deep_links", ignore_errors=True)
        kept = kept_files(self.blocks)
        for dirpath, dirnames, names in os.walk(self.root, topdown=False):
            for name in names:
                path = os.path.join(dirpath, name)
                try:
                    st = os.lstat(path)
                except OSError:
                    continue
                age = now - max(st.st_mtime, st.st_ctime)  # Gradio re-touches a cached file when it serves it again
                orphan = (dirpath == str(self.root) and name.startswith("tmp")
                          and now - st.st_mtime > self.config.orphan_age)  # an upload in progress keeps writing
                if (orphan or age > self.config.sweep_age) and os.path.realpath(path) not in kept:
                    try:
                        os.unlink(path)
                        n += 1
                    except OSError:
                        pass
            if dirpath != str(self.root) and not os.listdir(dirpath):
                try:
                    if now - os.lstat(dirpath).st_mtime > self.config.orphan_age:
                        os.rmdir(dirpath)
                except OSError:
                    pass
        if n:
            log.info("temp sweep: %d leftover file(s) deleted", n)
        return n


class UploadJanitor:
    """Deletes a visitor's uploaded or webcam image from Gradio's upload folder `ttl` s after scoring.

    Only files that came in through Gradio's upload route (the Blocks' upload_file_set) and lie inside
    its upload folder are touched; shutdown deletes the rest anyway. An upload of an example photo's
    very file lands on the example's own cached copy (Gradio names cached files by their content), so
    a path the page keeps in cache (`kept_files`) is never deleted: it would break that example's
    thumbnail for every visitor.
    """

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._heap: list = []  # (due monotonic time, path)
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None

    def forget(self, payload) -> None:
        path = payload.get("path") if isinstance(payload, dict) else None
        if not path:
            return
        from gradio.context import LocalContext
        from gradio.utils import get_upload_folder, is_in_or_equal

        blocks = LocalContext.blocks.get(None)
        uploads = getattr(blocks, "upload_file_set", None)
        if uploads is not None and path not in uploads and Path(path) not in uploads:
            return
        if not is_in_or_equal(path, get_upload_folder()):
            return
        if os.path.realpath(path) in kept_files(blocks):
            return
        with self._cv:
            heapq.heappush(self._heap, (time.monotonic() + self.ttl, path))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="forget-uploads", daemon=True)
                self._thread.start()
            self._cv.notify()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._cv.wait(timeout=self._heap[0][0] - time.monotonic() if self._heap else None)
                _, path = heapq.heappop(self._heap)
            try:
                age = time.time() - os.stat(path).st_ctime
                if age < self.ttl:  # uploaded again since: a request for it may still be waiting
                    with self._cv:
                        heapq.heappush(self._heap, (time.monotonic() + self.ttl - age, path))
                    continue
                os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError:
                log.warning("could not delete an expired upload")


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="start the web app (what app.py does), optionally with other limits",
                       description="Start the Gradio app on $GRADIO_SERVER_NAME:$GRADIO_SERVER_PORT.")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a ServeConfig setting (JSON value), e.g. --set max_queue=6; repeatable")
    p.set_defaults(func=_run_serve)


def _run_serve(args) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(ServeConfig().with_settings(args.set))
    return 0
