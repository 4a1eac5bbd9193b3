"""Model weights on the Hugging Face Hub: verified download, and the hashes that verify it.

`beauty/model_hashes.json` (committed with the code) records the sha256 and size
of each model file. A download is accepted only if it matches: a file changed
on the Hub — by mistake, or by someone with write access — is refused, and the
code and the weights it was tested with cannot drift apart silently.
After replacing the model, regenerate the record with
`python -m beauty publish-model --update-hashes` (tests/test_deploy.py fails
until then).

Downloads go through `hf_hub_download`, so they land in (and are reused from)
the standard Hugging Face cache (`HF_HUB_CACHE`); `HF_HUB_OFFLINE=1` uses only
that cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .errors import ModelNotFoundError

HASHES_FILE = Path(__file__).resolve().parent / "model_hashes.json"
# The .npz first. The .tflite is the same network exported for LiteRT (`python -m beauty export-lite`,
# beauty/lite.py); a model repo without it still works, on the Keras runtime.
MODEL_FILES = ("beauty_mobilenet_v2.npz", "beauty_mobilenet_v2.json", "beauty_mobilenet_v2.tflite")
OPTIONAL_FILES = ("beauty_mobilenet_v2.tflite",)


class ModelIntegrityError(ModelNotFoundError):
    """A downloaded model file does not match the committed hash."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def file_record(path: Path) -> dict:
    return {"sha256": sha256_file(path), "bytes": path.stat().st_size}


def compute_hashes(weights_dir: Path) -> dict[str, dict]:
    """{file name: {sha256, bytes}} for the model files in `weights_dir`."""
    return {name: file_record(Path(weights_dir) / name) for name in MODEL_FILES}


def recorded_hashes(path: Path = HASHES_FILE) -> dict[str, dict]:
    return json.loads(Path(path).read_text())


def write_hashes(weights_dir: Path, path: Path = HASHES_FILE) -> dict[str, dict]:
    record = compute_hashes(weights_dir)
    Path(path).write_text(json.dumps(record, indent=2) + "\n")
    return record


def _offline() -> bool:
    # Read at call time (huggingface_hub reads its env vars once, at import).
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fetch_model(repo: str, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                hashes: dict | None = None) -> Path:
    """Path of the verified .npz (its .json beside it) from Hub model repo `repo`, downloaded or cached."""
    from huggingface_hub import hf_hub_download

    expected = hashes or recorded_hashes()
    cache_dir = cache_dir or os.environ.get("HF_HUB_CACHE") or None
    where = f"{repo}@{revision}" if revision else repo
    paths = []
    for name in MODEL_FILES:
        try:
            p = Path(hf_hub_download(repo, name, revision=revision, cache_dir=cache_dir,
                                     local_files_only=_offline()))
        except Exception as e:  # noqa: BLE001 - offline, missing repo/file, HTTP errors: all mean "not available"
            if name in OPTIONAL_FILES:
                continue  # e.g. a repo published before the LiteRT export existed: the Keras runtime is used
            raise ModelNotFoundError(
                f"Could not get {name} from the Hugging Face model repo {where} ({type(e).__name__}). "
                "Check BEAUTY_MODEL_REPO / BEAUTY_MODEL_REVISION and the network, or put the model files in weights/."
            ) from e
        want = expected.get(name, {}).get("sha256")
        got = sha256_file(p)
        if got != want:
            raise ModelIntegrityError(
                f"{name} from {where} has sha256 {got[:16]}…, but this code expects "
                f"{str(want)[:16]}… (beauty/model_hashes.json), so it was refused. Pin BEAUTY_MODEL_REVISION to the "
                "commit that holds the matching weights, or publish them with `python -m beauty publish-model`."
            )
        paths.append(p)
    if any(p.parent != paths[0].parent for p in paths):  # the .json and .tflite are read beside the .npz
        raise ModelNotFoundError(f"The model files of {where} came from different commits; pin BEAUTY_MODEL_REVISION.")
    return paths[0]
