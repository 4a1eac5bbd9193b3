"""Where the model runs and where its weights come from.

Device: the Keras backend's default device is used (TensorFlow and JAX put the
model on the first GPU when one is visible). `BEAUTY_DEVICE` overrides it:

* unset / `auto` — GPU if visible, else CPU;
* `cpu` — hide GPUs (reproducible CPU numbers on a GPU box);
* `gpu` — require a GPU: `DeviceError` when none is visible. Asking for a GPU
  and silently getting the CPU would make a GPU deployment look healthy while
  running several times slower, so this fails fast instead.

Runtime: `BEAUTY_RUNTIME` picks what runs the network:

* unset / `auto` — LiteRT (beauty.lite: XNNPACK on the CPU, no TensorFlow
  import) when NAME.tflite exists beside the weights, was exported from them,
  and the model is to run on the CPU (`BEAUTY_DEVICE=cpu`, or `auto` on a
  machine without an NVIDIA GPU); otherwise Keras;
* `lite` — LiteRT, or an error saying why it cannot be used;
* `keras` — the Keras model as a compiled TensorFlow graph (beauty.model), the
  reference that training and evaluation use, and the GPU path.

Weights: the argument, `$BEAUTY_MODEL`, the bundled `weights/` files, or — when
those are absent — a download from the Hub model repo `$BEAUTY_MODEL_REPO`
(at `$BEAUTY_MODEL_REVISION`), checked against the hashes committed in
`beauty/model_hashes.json` (see beauty.hub).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

from .errors import BeautyError, ModelNotFoundError


DEVICES = ("auto", "cpu", "gpu")
RUNTIMES = ("auto", "lite", "keras")


class DeviceError(BeautyError):
    """BEAUTY_DEVICE asks for something this machine or process cannot do."""


def requested_device() -> str:
    """The validated value of BEAUTY_DEVICE (default 'auto')."""
    want = (os.environ.get("BEAUTY_DEVICE") or "auto").strip().lower()
    if want not in DEVICES:
        raise DeviceError(f"BEAUTY_DEVICE={want!r} is not valid. Use one of: {', '.join(DEVICES)}.")
    return want


def requested_runtime() -> str:
    """The validated value of BEAUTY_RUNTIME (default 'auto')."""
    want = (os.environ.get("BEAUTY_RUNTIME") or "auto").strip().lower()
    if want not in RUNTIMES:
        raise DeviceError(f"BEAUTY_RUNTIME={want!r} is not valid. Use one of: {', '.join(RUNTIMES)}.")
    return want


def nvidia_gpu_present() -> bool:
    """An NVIDIA GPU this process may use, judged without importing a framework (device nodes, CUDA_VISIBLE_DEVICES)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return False
    return any(Path("/dev").glob("nvidia[0-9]*"))


def choose_runtime(model_path: str | Path) -> tuple[str, str]:
    """('lite' | 'keras', why) for the weights at `model_path`, following BEAUTY_RUNTIME and BEAUTY_DEVICE.

    Raises DeviceError when BEAUTY_RUNTIME=lite cannot be honoured.
    """
    want, device = requested_runtime(), requested_device()
    if want == "keras":
        return "keras", "BEAUTY_RUNTIME=keras"
    from .lite import lite_path

    tflite = lite_path(model_path)
    problem = None
    if device == "gpu":
        problem = "BEAUTY_DEVICE=gpu (LiteRT runs on the CPU)"
    elif not tflite.exists():
        problem = f"no {tflite.name} beside {Path(model_path).name} (build it: python -m beauty export-lite)"
    else:
        try:
            import ai_edge_litert  # noqa: F401
        except ImportError:
            problem = "ai-edge-litert is not installed"
    if problem is None and want == "auto" and device == "auto" and nvidia_gpu_present():
        problem = "an NVIDIA GPU is present (set BEAUTY_DEVICE=cpu to use LiteRT anyway)"
    if problem is None:
        return "lite", f"{tflite.name} (BEAUTY_RUNTIME={want})"
    if want == "lite":
        raise DeviceError(f"BEAUTY_RUNTIME=lite cannot be used: {problem}.")
    return "keras", problem


def configure_device() -> str:
    """Apply BEAUTY_DEVICE to the Keras backend (before the model is built) and describe the result."""
    import keras

    want = requested_device()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _configure_tensorflow(want)
    if backend == "jax":
        return _configure_jax(want)
    if want == "gpu":
        raise DeviceError(f"BEAUTY_DEVICE=gpu is supported with the TensorFlow and JAX backends, not {backend}.")
    return backend


def describe_device() -> str:
    """Human-readable device the model will run on ('GPU (…)' or 'CPU (…)'), after applying BEAUTY_DEVICE."""
    return configure_device()


def _configure_tensorflow(want: str) -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")  # does not start the runtime
    if want == "cpu" and gpus:
        try:
            tf.config.set_visible_devices([], "GPU")
        except RuntimeError:  # the runtime already started on the GPU in this process
            raise DeviceError(
                "BEAUTY_DEVICE=cpu came too late: TensorFlow already uses the GPU in this process. "
                "Set it in the environment before starting the program."
            ) from None
        gpus = []
    if want == "gpu" and not gpus:
        raise DeviceError(
            "BEAUTY_DEVICE=gpu, but TensorFlow sees no GPU. Install the CUDA build "
            "(pip install 'tensorflow[and-cuda]==2.21.0') and check nvidia-smi, or unset BEAUTY_DEVICE to use the CPU."
        )
    for g in gpus:
        try:  # take GPU memory as needed instead of all of it up front
            tf.config.experimental.set_memory_growth(g, True)
        except RuntimeError:
            pass
    logical = tf.config.list_logical_devices("GPU") if gpus else []
    return f"GPU ({logical[0].name}, TensorFlow)" if logical else "CPU (TensorFlow)"


def _configure_jax(want: str) -> str:
    import jax

    if want == "cpu":
        jax.config.update("jax_default_device", jax.devices("cpu")[0])
    elif want == "gpu" and jax.default_backend() == "cpu":
        raise DeviceError(
            "BEAUTY_DEVICE=gpu, but JAX sees no GPU. Install jax[cuda12] or jax[cuda13], "
            "or unset BEAUTY_DEVICE to use the CPU."
        )
    d = jax.devices("cpu")[0] if want == "cpu" else jax.devices()[0]
    return f"{d.platform.upper()} ({d.device_kind}, JAX)"


def resolve_model_path(path: str | Path | None = None, default: Path | None = None) -> Path:
    """The model file to load: the argument, $BEAUTY_MODEL, the bundled weights/ file, or $BEAUTY_MODEL_REPO.

    `default` replaces the bundled file (tests use it to simulate a checkout without weights).
    """
    from .model import DEFAULT_MODEL

    explicit = path or os.environ.get("BEAUTY_MODEL")
    if explicit:
        p = Path(explicit)
        if not p.exists() or not p.with_suffix(".json").exists():
            raise ModelNotFoundError(f"Model weights not found at {p} (and its .json).")
        return p
    local = Path(default or DEFAULT_MODEL)
    if local.exists() and local.with_suffix(".json").exists():
        return local
    repo = os.environ.get("BEAUTY_MODEL_REPO")
    if repo:
        from .hub import fetch_model

        return fetch_model(repo, os.environ.get("BEAUTY_MODEL_REVISION") or None)
    raise ModelNotFoundError(
        f"No model weights: {local.name} and {local.with_suffix('.json').name} are not in {local.parent.name}/. "
        "Either put both files there, or set BEAUTY_MODEL_REPO=owner/name (and optionally "
        "BEAUTY_MODEL_REVISION) to download them from the Hugging Face Hub."
    )


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True):
    """Silence C++ logging (TensorFlow, LiteRT, absl) written straight to fd 2 while loading.

    What was captured is replayed if the block raises, so nothing useful is lost.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            log.seek(0)
            sys.stderr.write(log.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def model_info(path: str | Path) -> dict:
    """Name, short sha256, config and recorded metrics of a model file (for the page's About and footer)."""
    import json

    path = Path(path)
    try:
        cfg = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        cfg = {}
    from .hub import sha256_file

    return {"name": path.stem, "sha": sha256_file(path)[:8], "config": cfg, "metrics": cfg.get("metrics")}
