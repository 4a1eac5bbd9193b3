"""The Gradio web app: `layout` (the page), `handlers` (what each event does), `shots` (webcam
best shots per session), `serving` (limits, launch, clean-up), `security` (the public API's front
door), `text` and `plots` (what is shown)."""

from .serving import ServeConfig, launch_kwargs, serve


def build_demo(config: ServeConfig | None = None, scorer=None):
    from .layout import build_demo as _build

    return _build(config, scorer)


__all__ = ["ServeConfig", "build_demo", "launch_kwargs", "serve"]
