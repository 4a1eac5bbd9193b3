"""How the web app is served: queue and cache limits, launch settings, and upload clean-up.

Every setting lives in one frozen `ServeConfig`, passed to `build_demo()` and
`serve()`; tests and the load test start the real server with other values
through `python -m beauty serve --set KEY=VALUE`, never by patching globals.

Measured in docs/reliability.md (tools/loadtest.py): 2 concurrent runs keep the
2 CPU cores busy (the model and detector are serialised by locks anyway); up to
32 requests wait in line, more get Gradio's "queue is full" message instead of
a timeout.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..image import MAX_BYTES

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
    state_ttl: int = 3600  # seconds a session's shots are kept after its last update
    download_ttl: int = 20  # seconds our copy of the best-shot file exists (Gradio serves its own copy)

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


def launch_kwargs(config: ServeConfig, **overrides) -> dict:
    """Keyword arguments for `demo.launch()`: host/port from the environment, theme, upload cap."""
    from .layout import CSS, theme

    on_space = bool(os.environ.get("SPACE_ID"))
    kw = dict(
        server_name=os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1"),
        server_port=int(os.environ["GRADIO_SERVER_PORT"]) if os.environ.get("GRADIO_SERVER_PORT") else None,
        max_file_size=config.max_file_size,
        show_error=False,  # only gr.Error messages reach the page, never exception text
        theme=theme(),
        css=CSS,
    )
    kw.update(overrides)
    return kw


def serve(config: ServeConfig | None = None, scorer=None):
    """Build the demo, queue it and launch it (blocks until the server stops)."""
    from .layout import build_demo

    config = config or ServeConfig()
    log.info("serving with %s", config)
    demo = build_demo(config, scorer)
    demo.queue(**config.queue_kwargs()).launch(**launch_kwargs(config))


class UploadJanitor:
    """Deletes a visitor's uploaded or webcam image from Gradio's upload folder `ttl` s after scoring.

    Only files that came in through Gradio's upload route (the Blocks' upload_file_set, so never
    example files) and lie inside its upload folder are touched; shutdown deletes the rest anyway.
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
