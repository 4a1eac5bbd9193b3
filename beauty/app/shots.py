"""Webcam best shots: one session's scored shots, kept in its `gr.State`, best first.

Shots live in memory only. The best photo's download file is written to a
private temp folder, one sub-folder per session, and deleted `download_ttl`
seconds later (Gradio copies output files into its own swept cache when the
response is sent), on reset, and when the session ends.
"""

from __future__ import annotations

import atexit
import io
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from PIL import Image

_DOWNLOADS: Path | None = None
_downloads_lock = threading.Lock()


def downloads_dir() -> Path:
    """The process's private folder for best-shot files, made on first use and removed at exit."""
    global _DOWNLOADS
    with _downloads_lock:
        if _DOWNLOADS is None:
            _DOWNLOADS = Path(tempfile.mkdtemp(prefix="beauty-best-"))
            atexit.register(shutil.rmtree, _DOWNLOADS, ignore_errors=True)
        return _DOWNLOADS


def new_session() -> dict:
    return {"id": uuid.uuid4().hex, "shots": [], "live_best": None}


def encode_jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def add_shot(state: dict, result, source: str, max_shots: int) -> dict:
    """Add the main face of `result` to the session's shots, keep the best `max_shots`; returns the shot."""
    fs = result.main
    shot = {
        "id": uuid.uuid4().hex[:8],
        "score": fs.score,
        "percentile": fs.percentile,
        "low": getattr(fs, "low", None),  # the likely range, when the scorer gives one
        "high": getattr(fs, "high", None),
        "crop": fs.crop,
        "photo": encode_jpeg(result.image),  # kept in memory only, for the download
        "source": source,
        "time": time.time(),
    }
    state["shots"].append(shot)
    state["shots"].sort(key=lambda s: s["score"], reverse=True)
    del state["shots"][max_shots:]
    return shot


def write_download(state: dict, shot: dict, ttl: float, owner: str | None = None, served_for: float = 0) -> Path:
    """The best photo as a JPEG file for gr.DownloadButton, deleted again `ttl` s later.

    Gradio serves its own copy of the file; that copy is registered for `served_for` s as the
    download of `owner` (the browser session's cookie), so no other session can fetch it.
    """
    from .security import DOWNLOAD_PREFIX

    return write_file(state["id"], f"{DOWNLOAD_PREFIX}{shot['score']:.2f}.jpg", shot["photo"], ttl, owner,
                      served_for)


def write_file(folder: str, name: str, data: bytes, ttl: float, owner: str | None = None,
               served_for: float = 0) -> Path:
    """`data` as a file named `name` for a gr.DownloadButton (a best shot, a result card), in a private
    folder under `folder` (a session id), deleted again `ttl` s later; registered like write_download."""
    from .security import DOWNLOADS, gradio_copy_path

    path = downloads_dir() / folder / uuid.uuid4().hex[:8] / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if served_for:
        DOWNLOADS.register(gradio_copy_path(path), owner, served_for + 10)
    timer = threading.Timer(ttl, shutil.rmtree, (path.parent,), {"ignore_errors": True})
    timer.daemon = True
    timer.start()
    return path


def end_session(state) -> None:
    """gr.State delete_callback: the session ended or expired; its shots go, and any download file."""
    if isinstance(state, dict):
        state.get("shots", []).clear()
        if _DOWNLOADS is not None:
            shutil.rmtree(_DOWNLOADS / state.get("id", "-"), ignore_errors=True)
