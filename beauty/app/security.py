"""The public server's front door: what is refused before Gradio sees a request.

A Space is a public server, and Gradio's HTTP API accepts far more than the page ever sends.
`Guard` is an ASGI middleware in front of the whole app (`launch(app_kwargs=app_kwargs(...))`):

* **bounded bodies**: a JSON request may carry `max_body` bytes; an upload must declare its
  Content-Length, at most `max_upload_files` files of `max_file_size`, carry no more files than
  that (counted as the body streams past), and is refused while the app's temp folder holds more
  than `max_temp_mb`;
* **only the visitor's own uploads**: a request naming a file that did not come in through this
  app's upload route (`/etc/passwd`, `/dev/zero`, a URL) is refused before Gradio reads or copies
  it, with one sentence that does not say whether the file exists;
* **per client** (IP address, see `client_key`): a token bucket of queued requests and uploads,
  and a cap on events waiting or running at once; refused with HTTP 429 and `TOO_MANY`;
* **less surface**: Gradio routes the page does not use (deep links, screen recording,
  monitoring, direct unqueued calls, component server, run history, proxy, ...) answer 404;
* **downloads stay with their session**: a best-shot download is served only to the browser
  session (cookie) whose event wrote it;
* **no names on disk**: uploaded files are renamed `upload.<ext>`, since a file name can say
  who is in the photo.

Everything here runs on the server's event loop; `upload_path` and `session_cookie` are also
used by the handlers.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shutil
import stat
import threading
import time
from collections import OrderedDict
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger("beauty")

TOO_MANY = "Too many requests from your connection; please wait a few seconds and try again."
NOT_UPLOADED = "This file was not uploaded to this app. Please upload the photo again."
TOO_LARGE = "This request is too large ({mb} MB at most). Please send one photo at a time."


def kept_files(blocks) -> set[str]:
    """Resolved paths (os.path.realpath: Gradio's path may not be the resolved one) of the files the page's
    components keep in Gradio's cache on purpose (`keep_in_cache`: the example photos)."""
    return {os.path.realpath(p) for block in list(getattr(blocks, "blocks", {}).values())
            for p in list(getattr(block, "keep_in_cache", ()))}


ONE_FILE = "Too many files in one upload. Please upload one photo at a time."
LENGTH_REQUIRED = "Uploads must say their size (Content-Length). Please upload the photo from the page."
BUSY = "The server is busy; please try again in a minute."

COOKIE = "beauty_session"  # random per browser; ties best-shot downloads to the session that made them
DOWNLOAD_PREFIX = "best-shot-"  # the file name every best-shot download starts with (beauty.app.shots)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".avif", ".heic",
                  ".heif", ".mpo"}

API = "/gradio_api"
REFUSED = (  # Gradio routes this app never uses; the page and gradio_client go through the queue
    f"{API}/deep_link",  # writes every session's last inputs to a state.json anyone may fetch
    f"{API}/process_recording",  # echoes any uploaded file back
    "/monitoring",  # traffic summary, and a page that prints the dashboard key to the log
    f"{API}/run/", f"{API}/api/",  # direct calls that skip the queue (and its limits)
    f"{API}/component_server",
    f"{API}/run-history", f"{API}/runs",
    f"{API}/vibe-", f"{API}/undo-vibe", f"{API}/mcp", f"{API}/profiling", f"{API}/proxy=", f"{API}/dev/",
    f"{API}/file/",  # the deprecated twin of file=, which would bypass the download check
)
JOIN, CALL, STREAM, UPLOAD, FILE = (f"{API}/queue/join", f"{API}/call/", f"{API}/stream/", f"{API}/upload",
                                    f"{API}/file=")
PROGRESS = f"{API}/upload_progress"  # Gradio keeps a small object for every upload id ever asked about
COOKIE_PAGES = ("/", "/config", "/config/")  # the page, and gradio_client's first request


# ---------------------------------------------------------------- who is asking


def client_key(scope: dict, proxy_hops: int = 1) -> str:
    """The client's IP address, the key of its rate limits."""
    if os.environ.get("SPACE_ID"):
        # On a Space every connection comes from Hugging Face's proxy, which appends the address it
        # saw to X-Forwarded-For. Only the last `proxy_hops` entries were written by proxies; any
        # entry left of them is whatever the client sent, and trusting it would let one client pose
        # as a new one on every request. Off a Space no proxy vouches for the header, so it is
        # ignored and the socket's peer address is used.
        values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"]
        hops = [h.strip() for h in ",".join(values).split(",") if h.strip()]
        if hops:
            return hops[-proxy_hops] if len(hops) >= proxy_hops else hops[0]
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _header(scope: dict, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def _cookie(scope: dict) -> str | None:
    raw = _header(scope, b"cookie") or ""
    for part in raw.split(";"):
        k, _, v = part.strip().partition("=")
        if k == COOKIE:
            return v if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", v) else None
    return None


def session_cookie(request=None) -> str | None:
    """The browser session's cookie from a `gr.Request` (by default the one of the running event), or None."""
    if request is None:
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
    try:
        value = request.cookies.get(COOKIE)
    except Exception:  # noqa: BLE001 - no request (a direct Python call) or no cookies
        return None
    return value if isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9_-]{16,64}", value) else None


# ---------------------------------------------------------------- what a request may name


def upload_path(path, blocks=None) -> str | None:
    """The real path of a regular file this app received through its upload route, else None.

    `blocks` defaults to the Blocks of the running event; its `upload_file_set` lists every
    upload. Without one (a direct Python call) the file must still lie in the upload folder.
    """
    from gradio.utils import get_upload_folder

    if not isinstance(path, str) or not path or "\x00" in path or len(path) > 4096:
        return None
    if blocks is None:
        from gradio.context import LocalContext

        blocks = LocalContext.blocks.get(None)
    uploads = getattr(blocks, "upload_file_set", None)
    if uploads is not None and path not in uploads and Path(path) not in uploads:
        return None
    root = os.path.realpath(get_upload_folder())
    real = os.path.realpath(path)
    if not real.startswith(root + os.sep):
        return None
    try:
        return real if stat.S_ISREG(os.stat(real).st_mode) else None
    except OSError:
        return None


def bad_file_reference(doc, blocks=None) -> str | None:
    """The sentence refusing a request body that names a file other than the visitor's own upload, else None."""
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        return None
    for item in data:  # a bare string input can only be a path here (the page sends none)
        if isinstance(item, str) and item and upload_path(item, blocks) is None:
            return NOT_UPLOADED
    stack = [(item, 0) for item in data]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            path = item.get("path")
            if path is not None and upload_path(path, blocks) is None:
                return NOT_UPLOADED
            if depth < 4:
                stack += [(v, depth + 1) for v in item.values() if isinstance(v, (dict, list))]
        elif isinstance(item, list) and depth < 4:
            stack += [(v, depth + 1) for v in item]
    return None


# ---------------------------------------------------------------- limits


class RateLimiter:
    """A token bucket per client: `burst` requests at once, then `rate` a second (rate 0: no limit)."""

    def __init__(self, rate: float, burst: int, max_clients: int = 10_000):
        self.rate, self.burst, self.max_clients = float(rate), max(1, int(burst)), max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        tokens, last = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        allowed = tokens >= 1.0
        self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
        while len(self._buckets) > self.max_clients:  # the least recently seen go first
            self._buckets.popitem(last=False)
        return allowed


class Downloads:
    """Which browser sessions may fetch each best-shot download (written by worker threads, read by the loop)."""

    def __init__(self):
        self._owners: dict[str, tuple[set, float]] = {}
        self._lock = threading.Lock()

    def register(self, path: str | os.PathLike, owner: str | None, ttl: float) -> None:
        """`owner` None: a client without the cookie (gradio_client, a browser that refuses it) made it; the
        unguessable URL is then the only key, as for every other output."""
        real = os.path.realpath(path)
        with self._lock:
            owners, _ = self._owners.get(real, (set(), 0.0))
            self._owners[real] = (owners | {owner}, time.monotonic() + ttl)
            if len(self._owners) > 10_000:
                self._prune_locked()

    def verdict(self, real: str, cookie: str | None) -> bool | None:
        """True/False for a registered download, None for any other file."""
        with self._lock:
            entry = self._owners.get(real)
        if entry is None:
            return None
        owners, expires = entry
        return time.monotonic() < expires and (None in owners or cookie in owners)

    def prune(self) -> None:
        with self._lock:
            self._prune_locked()

    def _prune_locked(self) -> None:
        now = time.monotonic()
        for k in [k for k, (_, exp) in self._owners.items() if exp < now]:
            del self._owners[k]


DOWNLOADS = Downloads()


def gradio_copy_path(path: str | os.PathLike) -> str:
    """Where Gradio puts its copy of an output file it serves (processing_utils.save_file_to_cache)."""
    from gradio import processing_utils, utils
    from gradio_client.utils import strip_invalid_filename_characters

    name = strip_invalid_filename_characters(Path(path).name)
    return str(utils.abspath(Path(utils.get_upload_folder()) / processing_utils.hash_file(path) / name))


class PartCounter:
    """Counts the parts of a multipart body as it streams past. Past `limit`, it ends the body with a
    malformed part header, so Gradio's own parser stops and deletes every file it has written."""

    def __init__(self, boundary: bytes, limit: int):
        self.marker = b"--" + boundary
        self.limit = limit
        self.parts = 0
        self.tripped = False
        self._held = b""

    def feed(self, chunk: bytes, more: bool) -> bytes:
        if self.tripped:
            return b""
        buf, m = self._held + chunk, self.marker
        self._held = b""
        start = 0
        while (i := buf.find(m, start)) >= 0:
            end = i + len(m)
            if len(buf) < end + 2:
                if more:  # cannot tell yet whether this is the closing marker
                    self._held = buf[i:]
                    return buf[:i]
                break
            if buf[end:end + 2] != b"--":
                self.parts += 1
                if self.parts > self.limit:
                    self.tripped = True
                    return buf[:end + 2] + b"\x00\r\n"  # a NUL in a header name: "invalid character"
            start = end
        if more:  # a marker may be cut in two at the end of the chunk
            cut = max(start, len(buf) - len(m) - 1)
            self._held = buf[cut:]
            return buf[:cut]
        return buf


# ---------------------------------------------------------------- the middleware


async def _respond(send, status: int, message: str, headers: list | None = None) -> None:
    body = json.dumps({"detail": message, "error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive):
    """A receive() that hands the app the body already read, then the real channel (for disconnects)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay():
        return pending.pop() if pending else await receive()

    return replay


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f}"


def _folder_bytes(root: str) -> int:
    total = 0
    for dirpath, _, names in os.walk(root):
        for n in names:
            try:
                total += os.lstat(os.path.join(dirpath, n)).st_size
            except OSError:
                pass
    return total


class Guard:
    """ASGI middleware enforcing the limits above; `config` is the ServeConfig, `blocks` the running demo."""

    def __init__(self, app, config, blocks=None):
        self.app, self.config, self.blocks = app, config, blocks
        self.limiter = RateLimiter(config.client_rate, config.client_burst)
        self.upload_cap = config.max_upload_files * (config.max_file_size + 64 * 1024)
        self._uploading = 0  # bytes declared by uploads in progress
        self._usage = (0.0, 0)  # (monotonic time, bytes) of the last look at the temp folder
        self._next_housekeeping = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if path.startswith(REFUSED):
            return await _respond(send, 404, "Not Found")
        if method in ("GET", "HEAD"):
            if path.startswith(FILE) and not self._may_fetch(scope, path[len(FILE):]):
                return await _respond(send, 404, "Not Found")
            if path == PROGRESS and not self.limiter.allow(client_key(scope, self.config.proxy_hops) + " progress"):
                return await _respond(send, 429, TOO_MANY, [(b"retry-after", b"2")])
            if path in COOKIE_PAGES and _cookie(scope) is None:
                send = _setting_cookie(send)
            return await self.app(scope, receive, send)
        self._housekeeping()
        if method == "POST" and path == UPLOAD:
            return await self._upload(scope, receive, send)
        joins = method == "POST" and (path == JOIN or path.startswith(CALL))
        if joins and (refusal := self._over_limit(scope)):
            return await _respond(send, 429, refusal, [(b"retry-after", b"2")])
        body = await self._read_body(scope, receive, send, self.config.max_body)
        if body is None:
            return
        if joins or path.startswith(STREAM):
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None  # Gradio answers malformed JSON itself (422)
            if (message := bad_file_reference(doc, self.blocks)) is not None:
                return await _respond(send, 400, message)
        return await self.app(scope, _replay(body, receive), send)

    # ------------------------------------------------------------ per client

    def _over_limit(self, scope) -> str | None:
        key = client_key(scope, self.config.proxy_hops)
        if self.config.client_inflight > 0 and self._inflight(key) >= self.config.client_inflight:
            return TOO_MANY
        if not self.limiter.allow(key):
            return TOO_MANY
        return None

    def _inflight(self, key: str) -> int:
        """Events of this client waiting in the queue or running."""
        events = getattr(getattr(self.blocks, "_queue", None), "event_ids_to_events", None) or {}
        n = 0
        for event in list(events.values()):
            request = getattr(event, "request", None)
            if request is not None and client_key(request.scope, self.config.proxy_hops) == key:
                n += 1
        return n

    # ------------------------------------------------------------ bodies

    async def _read_body(self, scope, receive, send, cap: int) -> bytes | None:
        """The whole body, or None once a refusal was sent (or the client left)."""
        too_large = TOO_LARGE.format(mb=_mb(cap))
        length = _header(scope, b"content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            await _respond(send, 413, too_large)
            return None
        chunks, n = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            n += len(chunk)
            if n > cap:
                await _respond(send, 413, too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _upload(self, scope, receive, send):
        if refusal := self._over_limit(scope):
            return await _respond(send, 429, refusal, [(b"retry-after", b"2")])
        length = _header(scope, b"content-length")
        if length is None or not length.isdigit():
            return await _respond(send, 411, LENGTH_REQUIRED)
        length = int(length)
        if length > self.upload_cap:
            return await _respond(send, 413, TOO_LARGE.format(mb=_mb(self.upload_cap)))
        if self._temp_bytes() + self._uploading + length > self.config.max_temp_mb * 1024 * 1024:
            log.warning("uploads refused: the temp folder is full")
            return await _respond(send, 503, BUSY, [(b"retry-after", b"60")])
        m = re.search(r'boundary="?([^";]+)"?', _header(scope, b"content-type") or "")
        counter = PartCounter(m.group(1).encode("latin-1"), self.config.max_upload_files) if m else None
        cut_off = False

        async def counted():
            nonlocal cut_off
            message = await receive()
            if message["type"] == "http.disconnect":
                cut_off = True
            elif counter is not None:
                more = message.get("more_body", False)
                message = {**message, "body": counter.feed(message.get("body", b""), more)}
            return message

        start, chunks = None, []

        async def respond(message):  # the answer is a short JSON list of paths: hold it to rewrite it
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            if counter is not None and counter.tripped:
                while (await counted()).get("more_body", False):  # the rest of the body (its size is capped), so
                    pass  # the client is listening when the answer comes
                return await _respond(send, 413, ONE_FILE)
            body = b"".join(chunks)
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            if start["status"] == 200:
                body = self._neutral_names(body)
            await send({**start, "headers": headers + [(b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        self._uploading += length
        try:
            await self.app(scope, counted, respond)
        except Exception:
            if not cut_off:
                raise
            log.info("an upload was cut off by the client")  # its temp file goes with the next sweep
        finally:
            self._uploading -= length

    def _neutral_names(self, body: bytes) -> bytes:
        """Rename each uploaded file `upload.<ext>` (same folder: the content hash) and answer the new paths."""
        try:
            paths = json.loads(body)
        except ValueError:
            return body
        if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            return body
        uploads = getattr(self.blocks, "upload_file_set", None)
        kept = kept_files(self.blocks)
        renamed = []
        for p in paths:
            src = Path(p)
            suffix = src.suffix.lower() if src.suffix.lower() in IMAGE_SUFFIXES else ""
            dst = src.with_name("upload" + suffix)
            if src.name != dst.name:
                try:
                    if os.path.realpath(p) in kept:
                        # the very file of an example photo (Gradio names cached files by content and name):
                        # the example's cached copy stays where every visitor's page shows it from
                        shutil.copyfile(src, dst)
                    else:
                        os.replace(src, dst)
                except OSError:
                    renamed.append(p)
                    continue
                if uploads is not None:
                    uploads.discard(p)
                    uploads.add(str(dst))
            renamed.append(str(dst))
        return json.dumps(renamed).encode()

    def _temp_bytes(self) -> int:
        from gradio.utils import get_upload_folder

        at, size = self._usage
        if time.monotonic() - at > 2.0:
            size = _folder_bytes(get_upload_folder())
            self._usage = (time.monotonic(), size)
        return size

    # ------------------------------------------------------------ downloads

    def _may_fetch(self, scope, target: str) -> bool:
        real = os.path.realpath(target)
        verdict = DOWNLOADS.verdict(real, _cookie(scope))
        if verdict is None:  # not a registered download: Gradio's own checks decide
            return not os.path.basename(real).startswith(DOWNLOAD_PREFIX)
        return verdict

    # ------------------------------------------------------------ state Gradio keeps

    def _housekeeping(self) -> None:
        """Every 30 s (on the event loop, where Gradio itself touches these): drop sessions idle for longer than
        `state_ttl` (their gr.State delete callbacks run), forget uploads that no longer exist, expired downloads."""
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + 30.0
        holder = getattr(self.blocks, "state_holder", None)
        if holder is not None:
            cutoff = datetime.now() - timedelta(seconds=self.config.state_ttl)
            for session, last in list(holder.time_last_used.items()):
                if last < cutoff:
                    try:
                        holder.delete_state(session)
                    except Exception:  # noqa: BLE001 - a delete callback failing must not keep the session
                        log.warning("could not end an idle session cleanly")
                    with holder.lock:
                        holder.session_data.pop(session, None)
                        holder.time_last_used.pop(session, None)
        uploads = getattr(self.blocks, "upload_file_set", None)
        if uploads is not None:
            gone = {p for p in list(uploads) if not os.path.exists(p)}
            uploads.difference_update(gone)
        DOWNLOADS.prune()


def _setting_cookie(send):
    """send() that gives the browser its session cookie. On a Space the page is in an iframe of huggingface.co
    (another site), where only a Secure, SameSite=None, partitioned cookie is kept; a browser that refuses it
    simply has none, and its downloads are guarded by their unguessable URL alone."""
    value = secrets.token_urlsafe(24)
    attrs = "Path=/; HttpOnly; SameSite=None; Secure; Partitioned" if os.environ.get("SPACE_ID") \
        else "Path=/; HttpOnly; SameSite=Lax"

    async def wrapped(message):
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"set-cookie", f"{COOKIE}={value}; {attrs}".encode())]}
        await send(message)

    return wrapped


def app_kwargs(config, blocks) -> dict:
    """`launch(app_kwargs=...)`: the Guard as the innermost user middleware (inside Gradio's CORS and Brotli)."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(Guard, config=config, blocks=blocks)]}
