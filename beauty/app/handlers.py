"""What each page event does: score an upload, take a webcam shot, stream live frames, reset.

`Handlers` holds the process's one `Scorer` and the `ServeConfig`; every
per-visitor value arrives and leaves in `gr.State`. Events run with
`preprocess=False`, so decoding stays in `beauty.image` and every input gets
the same limits and messages. API endpoints: /score, /shot, /reset, /stream.
"""

from __future__ import annotations

import html
import logging

import gradio as gr
import numpy as np
from PIL import Image

from ..errors import BeautyError, ImageError
from ..image import data_url_bytes
from . import plots, security, shots, text, view
from .serving import ServeConfig, UploadJanitor

log = logging.getLogger("beauty")

LIVE_KEEP = 3  # live webcam frames kept among the session's shots (the best ones)


def source(payload):
    """What `load_image` accepts, from an Image payload (None when there is nothing).

    Payloads come from the public API, so both kinds are untrusted. A path (a dict's "path", or a
    bare string) is accepted only when it names a regular file this app received through its upload
    route; anything else gets the same sentence whether it exists or not, so nothing about the
    server's disk leaks. A data URL (live webcam frames) is refused above MAX_BYTES before it is
    decoded, and dropped from the payload once decoded: Gradio keeps each session's last input, and
    that copy should not hold the image. Raises ImageError.
    """
    if payload is None:
        return None
    if isinstance(payload, dict):
        if payload.get("path"):
            return _uploaded(payload["path"])
        url = payload.get("url")
        if isinstance(url, str) and url.startswith("data:"):
            data = data_url_bytes(url)
            payload["url"] = None
            return data
        return None
    if isinstance(payload, str):
        return _uploaded(payload)
    if isinstance(payload, (np.ndarray, Image.Image)):
        return payload
    return None


def _uploaded(path) -> str:
    real = security.upload_path(path)
    if real is None:
        raise ImageError(security.NOT_UPLOADED)
    return real


def is_empty(payload) -> bool:
    """Nothing to score (the input was cleared), without reading anything."""
    if isinstance(payload, dict):
        return not payload.get("path") and not str(payload.get("url") or "").startswith("data:")
    return payload is None or isinstance(payload, str) and not payload


def _user_error(e: Exception, title: str = "Could not score this photo") -> gr.Error:
    return gr.Error(html.escape(str(e)), title=title, print_exception=False)


class Handlers:
    def __init__(self, scorer, config: ServeConfig | None = None):
        self.scorer = scorer
        self.config = config or ServeConfig()
        self.janitor = UploadJanitor(self.config.upload_ttl)

    # ------------------------------------------------------------ shared

    def _score(self, payload, what: str = "photo"):
        """Scorer.score on a payload; BeautyError -> gr.Error with its sentence; anything else -> generic."""
        try:
            src = source(payload)
        except BeautyError as e:
            raise _user_error(e) from None
        if src is None:
            raise gr.Error(f"Please provide a {what} first.", title="No image", print_exception=False)
        try:
            return self.scorer.score(src)
        except BeautyError as e:
            raise _user_error(e) from None
        except Exception:
            log.exception("scoring failed")
            raise gr.Error("Something went wrong while scoring this image. Please try another photo.",
                           print_exception=False) from None
        finally:
            self.janitor.forget(payload)  # privacy: the upload leaves the disk upload_ttl s after scoring

    # ------------------------------------------------------------ upload tab

    def clear_outputs(self):
        """Reset the result area (the photo was removed, or a new one arrives). Internal, not an API endpoint."""
        return view.empty(), gr.update(value=None, visible=False), [], None

    def busy_outputs(self):
        """The result area while a new photo is scored. Internal, not an API endpoint."""
        return view.busy(), gr.update(value=None, visible=False), [], None

    def score_photo(self, photo):
        """Score every face in a photo.

        Returns: the photo with numbered boxes (1 = largest face), the result as HTML (score, likely range,
        percentile, gauge and histogram per face), a shareable result card (PNG), a table (face, score,
        likely range, percentile, notes, detector confidence) and a JSON summary. Errors come back as
        one sentence (gradio_client raises AppError).
        """
        if is_empty(photo):
            return (None, *self.clear_outputs())
        return self._outputs(self._score(photo))

    def show_photo(self, photo):
        """The page's version of /score: a failure becomes one lasting message in the result area,
        and a file that is not a readable image leaves the photo box (no broken-image sliver)."""
        try:
            return self.score_photo(photo)
        except gr.Error as e:
            unreadable = isinstance(e.__context__, ImageError)  # the BeautyError it was raised for
            return (None if unreadable else gr.skip(), view.message(e.message, e.title or "Could not score this photo"),
                    gr.update(value=None, visible=False), [], None)

    def show_example(self, index, files: list) -> tuple:
        """Score example photo number `index` of `files` (the app's own public-domain photos, read on the
        server: the browser sends only the index). Internal, not an API endpoint."""
        try:
            path = files[int(index)]
        except (TypeError, ValueError, IndexError):
            return (gr.skip(), view.message("Please pick one of the example photos."),
                    gr.update(value=None, visible=False), [], None)
        try:
            result = self.scorer.score(path)
        except BeautyError as e:
            return gr.skip(), view.message(str(e)), gr.update(value=None, visible=False), [], None
        return self._outputs(result)

    def _outputs(self, result) -> tuple:
        labels = ["–" if text.not_rated(fs) else f"{fs.score:.2f}" for fs in result.faces]
        boxed = plots.draw_boxes(result.image, [fs.box for fs in result.faces], labels=labels)
        return (boxed, view.result(result), self._card(result), text.faces_table(result.faces),
                result.to_dict())

    def _card(self, result):
        """The download button holding a shareable PNG of the main (first rated) face, or hidden."""
        fs = next((f for f in result.faces if not text.not_rated(f)), None)
        if fs is None:
            return gr.update(value=None, visible=False)
        lines = [(f"{fs.score:.2f} / 5", 110, plots.ACCENT)]
        if text.range_text(fs):  # the card's font has no en dash
            lines.append((text.range_text(fs).replace("–", " to "), 40, "#3d3128"))
        q = text.pct_int(fs.percentile)
        lines += [(f"higher than {q}% of the 5,500 human ratings ({text.ordinal(q)} percentile)", 36, "#3d3128"),
                  (f"{text.TITLE} · a model of SCUT-FBP5500 ratings", 26, "#6b5b4e")]
        png = plots.share_card(fs.crop, lines, text.FOR_FUN)
        path = shots.write_file("cards", f"beauty-score-{fs.score:.2f}.png", png, self.config.download_ttl,
                                owner=security.session_cookie(), served_for=self.config.max_file_life)
        return gr.update(value=str(path), visible=True)

    # ------------------------------------------------------------ webcam tab

    def _shots_view(self, state: dict):
        """(gallery items, best-shot HTML, download button update) for the session's shots."""
        kept = state["shots"]
        if not kept:
            return [], view.no_shots(), gr.update(value=None, visible=False)
        gallery = [
            (s["crop"], ("★ " if i == 0 else "") + text.caption(s["score"], s["percentile"])
             + (" (live)" if s["source"] == "live" else ""))
            for i, s in enumerate(kept)
        ]
        best = kept[0]
        path = shots.write_download(state, best, self.config.download_ttl,
                                    owner=security.session_cookie(), served_for=self.config.max_file_life)
        download = gr.update(value=str(path), visible=True, label=f"Download best shot ({best['score']:.2f})")
        second = kept[1] if len(kept) > 1 else None
        return gallery, view.best_shot(best, len(kept), self.config.max_shots, second), download

    def _add(self, state, result, source: str) -> str:
        """Add a scored shot to the session; returns the line about it (rank, close calls)."""
        fs = result.main
        shot = shots.add_shot(state, result, source, self.config.max_shots)
        kept = state["shots"]
        rank = next((i + 1 for i, s in enumerate(kept) if s is shot), None)
        line = "This shot: " + text.short_line(fs.score, fs.percentile)
        if text.range_text(fs):
            line += f" · {text.range_text(fs)}"
        if not rank:
            return line + f", not among the {self.config.max_shots} best, so not kept."
        line += f", rank {rank} of {len(kept)}."
        other = kept[1] if rank == 1 and len(kept) > 1 else kept[0] if rank > 1 else None
        if other is not None and text.close_call(shot, other):
            line += f" Too close to call against the {'next' if rank == 1 else 'best'} shot ({other['score']:.2f})."
        return line

    def take_shot(self, frame, state):
        """Score a webcam snapshot (or any photo) and add it to this session's gallery of best shots.

        Returns: gallery of kept shots sorted by score with captions, the best shot (HTML), download
        button for the best photo, a line about this shot, and the session state.
        """
        state = state or shots.new_session()
        if is_empty(frame):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), state
        result = self._score(frame, "webcam shot")
        last = self._add(state, result, "shot")
        return (*self._shots_view(state), last, state)

    def camera_shot(self, state, evt: gr.EventData):
        """A snapshot from the page's camera (a JPEG data URL in the event). Internal, not an API endpoint:
        a failure becomes the shot line instead of an error on every output, and the camera stays on."""
        state = state or shots.new_session()
        url = (getattr(evt, "_data", None) or {}).get("image")
        if not isinstance(url, str):
            return gr.skip(), gr.skip(), gr.skip(), "No picture arrived; please take the shot again.", state
        try:
            return self.take_shot({"url": url}, state)
        except gr.Error as e:
            return gr.skip(), gr.skip(), gr.skip(), f"**This shot was not scored.** {e.message}", state

    def reset_shots(self, state):
        """Forget this session's shots and delete the best-shot download."""
        state = state or shots.new_session()
        state["shots"].clear()
        state["live_best"] = None
        state["live_frames"] = state["live_faces"] = 0
        return (*self._shots_view(state), "Shots cleared.", state)

    def live_frame(self, frame, state):
        """Score one live webcam frame; keep the best `live_keep` live frames in the gallery.

        Frames without a face are counted and skipped. Returns the same outputs as /shot.
        """
        state = state or shots.new_session()
        try:
            src = source(frame)
        except BeautyError as e:
            raise _user_error(e) from None
        if src is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), state
        state["live_frames"] = state.get("live_frames", 0) + 1
        try:
            result = self.scorer.score(src)
        except BeautyError:
            result = None
        finally:
            self.janitor.forget(frame)
        counts = f"Live: {state['live_frames']} frame{'s' if state['live_frames'] != 1 else ''} scored"
        if result is None:
            return gr.skip(), gr.skip(), gr.skip(), f"{counts} · no face in view right now.", state
        state["live_faces"] = state.get("live_faces", 0) + 1
        counts += f" ({state['live_faces']} with a face)"
        fs = result.main
        live = [s for s in state["shots"] if s["source"] == "live"]
        keep = LIVE_KEEP
        best = max((s["score"] for s in live), default=None)
        line = f"{counts} · now **{fs.score:.2f}**" + (f" · best **{best:.2f}**" if best is not None else "")
        if len(live) >= keep and fs.score <= min(s["score"] for s in live):
            return gr.skip(), gr.skip(), gr.skip(), line, state
        if len(live) >= keep:  # drop the lowest live frame to make room
            worst = min(live, key=lambda s: s["score"])
            state["shots"] = [s for s in state["shots"] if s is not worst]
        shots.add_shot(state, result, "live", self.config.max_shots)
        state["live_best"] = max(fs.score, best or fs.score)
        line = (f"{counts} · now **{fs.score:.2f}** · kept among the best {keep} live frames"
                + (" (new best)" if best is None or fs.score > best else ""))
        return (*self._shots_view(state), line, state)
