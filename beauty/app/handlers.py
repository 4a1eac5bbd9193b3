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
from . import plots, security, shots, text
from .serving import ServeConfig, UploadJanitor

log = logging.getLogger("beauty")


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

    @staticmethod
    def clear_outputs():
        """Reset the result panel while a new photo is scored (internal, not an API endpoint)."""
        return None, None, text.EMPTY_HEADLINE, plots.gauge(None), plots.histogram(None), [], None

    def score_photo(self, photo):
        """Score every face in a photo.

        Returns: the photo with numbered boxes (1 = largest face), the aligned crop of face 1, a Markdown
        headline, the percentile gauge, the ratings histogram, a table (face, score, percentile, detector
        confidence) and a JSON summary.
        """
        if is_empty(photo):
            return self.clear_outputs()
        result = self._score(photo)
        main = result.main
        boxed = plots.draw_boxes(result.image, [fs.box for fs in result.faces],
                                 labels=[f"{fs.score:.2f}" for fs in result.faces])
        return (
            boxed,
            main.crop,
            text.headline(main, len(result.faces)),
            plots.gauge(main.percentile),
            plots.histogram(main.score, others=[fs.score for fs in result.faces[1:]]),
            text.faces_table(result.faces),
            result.to_dict(),
        )

    # ------------------------------------------------------------ webcam tab

    def _shots_view(self, state: dict):
        """(gallery items, best crop, best headline, download button update) for the session's shots."""
        kept = state["shots"]
        if not kept:
            return [], None, text.NO_SHOTS, gr.update(value=None, visible=False)
        gallery = [
            (s["crop"], ("★ " if i == 0 else "") + text.caption(s["score"], s["percentile"])
             + (" (live)" if s["source"] == "live" else ""))
            for i, s in enumerate(kept)
        ]
        best = kept[0]
        path = shots.write_download(state, best, self.config.download_ttl,
                                    owner=security.session_cookie(), served_for=self.config.max_file_life)
        download = gr.update(value=str(path), visible=True, label=f"Download best shot ({best['score']:.2f})")
        return gallery, best["crop"], text.best_shot(best, len(kept), self.config.max_shots), download

    def take_shot(self, frame, state):
        """Score a webcam snapshot (or any photo) and add it to this session's gallery of best shots.

        Returns: gallery of kept shots sorted by score with captions, best crop, best-shot Markdown,
        download button for the best photo, a line about this shot, and the session state.
        """
        state = state or shots.new_session()
        if is_empty(frame):
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), state
        result = self._score(frame, "webcam shot")
        shot = shots.add_shot(state, result, "shot", self.config.max_shots)
        kept = state["shots"]
        rank = next((i + 1 for i, s in enumerate(kept) if s is shot), None)
        last = "This shot: " + text.short_line(result.main.score, result.main.percentile)
        last += (f", rank {rank} of {len(kept)}." if rank
                 else f", not among the {self.config.max_shots} best, so not kept.")
        return (*self._shots_view(state), last, state)

    def reset_shots(self, state):
        """Forget this session's shots and delete the best-shot download."""
        state = state or shots.new_session()
        state["shots"].clear()
        state["live_best"] = None
        return (*self._shots_view(state), "Shots cleared.", state)

    def live_frame(self, frame, state):
        """Score one live webcam frame; keep the best live frame in the gallery.

        Frames without a face are skipped silently. Returns the same outputs as /shot.
        """
        state = state or shots.new_session()
        try:
            src = source(frame)
        except BeautyError as e:
            raise _user_error(e) from None
        if src is None:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), state
        try:
            result = self.scorer.score(src)
        except BeautyError:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), "Live: no face in view.", state
        finally:
            self.janitor.forget(frame)
        fs = result.main
        best = state.get("live_best")
        line = f"Live: now **{fs.score:.2f}**" + (f" · best live frame **{best:.2f}**" if best is not None else "")
        if best is not None and fs.score <= best:
            return gr.skip(), gr.skip(), gr.skip(), gr.skip(), line, state
        state["shots"] = [s for s in state["shots"] if s["source"] != "live"]
        shots.add_shot(state, result, "live", self.config.max_shots)
        state["live_best"] = fs.score
        line = f"Live: now **{fs.score:.2f}** · new best live frame kept"
        return (*self._shots_view(state), line, state)
