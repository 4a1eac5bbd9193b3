"""Publish the app to a Hugging Face Space and the weights to a model repo.

    python -m beauty deploy --space OWNER/NAME [--private] [--dry-run] [--model-repo OWNER/NAME]
    python -m beauty publish-model --repo OWNER/NAME [--private] [--dry-run]
    python -m beauty publish-model --update-hashes     # after replacing the model in weights/

A Space gets exactly what the app needs at run time (`space_files`): app.py,
the serving layers of the beauty/ package (the core stages and beauty/app/, with
ratings.txt and model_hashes.json; never training/ or ops/), the weights the app
loads (model .npz/.json/.tflite, face detector, MODEL_CARD.md), the page's
public-domain example photos (examples/), requirements.txt and a README.md whose
YAML front matter configures the Space. Nothing else — no
training weights (weights/imagenet/), tests, tools, caches, runs or datasets.
Files in the Space that are not in that list are deleted in the same commit,
so the Space always mirrors one checkout.

The front matter is validated against the Spaces configuration reference
(https://huggingface.co/docs/hub/spaces-config-reference) before anything is
uploaded; `sdk_version` must equal the gradio pin in requirements.txt, because
the Space installs Gradio from `sdk_version`, not from requirements.txt.
Token: $HF_TOKEN, else the one saved by `hf auth login`.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SPACE_CONFIG = {  # README front matter; sdk_version is filled in from requirements.txt
    "title": "Facial Beauty Scorer",
    "emoji": "🪞",
    "colorFrom": "pink",
    "colorTo": "indigo",
    "sdk": "gradio",
    "python_version": "3.11",
    "app_file": "app.py",
    "pinned": False,
    "short_description": "A model of SCUT-FBP5500 beauty ratings, for fun",
    "tags": ["computer-vision", "face", "keras", "scut-fbp5500"],
}

COLORS = ("red", "yellow", "green", "blue", "indigo", "purple", "pink", "gray")


def _str_list(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) and x for x in v)


# key -> check(value) returning an error string or None
FRONT_MATTER_KEYS = {
    "title": lambda v: None if isinstance(v, str) and v.strip() else "must be a non-empty string",
    "emoji": lambda v: None if isinstance(v, str) and v and len(v) <= 8 and not re.search(r"[A-Za-z0-9]", v)
    else "must be a single emoji",
    "colorFrom": lambda v: None if v in COLORS else f"must be one of {', '.join(COLORS)}",
    "colorTo": lambda v: None if v in COLORS else f"must be one of {', '.join(COLORS)}",
    "sdk": lambda v: None if v == "gradio" else "must be 'gradio' (this app is a Gradio Space)",
    "sdk_version": lambda v: None if isinstance(v, str) and re.fullmatch(r"\d+\.\d+\.\d+\S*", v)
    else "must be a version string like '6.31.0' (quote it)",
    "python_version": lambda v: None if isinstance(v, str) and re.fullmatch(r"3\.\d+(\.\d+)?", v)
    else "must be a quoted string like '3.11' or '3.11.9'",
    "app_file": lambda v: None if isinstance(v, str) and v else "must be a path",
    "app_port": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536
    else "must be a port number",
    "base_path": lambda v: None if isinstance(v, str) and v.startswith("/") else "must start with '/'",
    "fullWidth": lambda v: None if isinstance(v, bool) else "must be true or false",
    "header": lambda v: None if v in ("mini", "default") else "must be 'mini' or 'default'",
    "short_description": lambda v: None if isinstance(v, str) and 0 < len(v) <= 60
    else f"must be a string of at most 60 characters (got {len(v) if isinstance(v, str) else type(v).__name__})",
    "models": lambda v: None if _str_list(v) else "must be a list of repo ids",
    "datasets": lambda v: None if _str_list(v) else "must be a list of repo ids",
    "tags": lambda v: None if _str_list(v) else "must be a list of strings",
    "thumbnail": lambda v: None if isinstance(v, str) and v.startswith(("http://", "https://")) else "must be a URL",
    "pinned": lambda v: None if isinstance(v, bool) else "must be true or false",
    "hf_oauth": lambda v: None if isinstance(v, bool) else "must be true or false",
    "hf_oauth_scopes": lambda v: None if _str_list(v) else "must be a list of scopes",
    "hf_oauth_expiration_minutes": lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 43200
    else "must be minutes, at most 43200",
    "hf_oauth_authorized_org": lambda v: None if isinstance(v, str) or _str_list(v)
    else "must be an org name or a list",
    "disable_embedding": lambda v: None if isinstance(v, bool) else "must be true or false",
    "startup_duration_timeout": lambda v: None if isinstance(v, str) and re.fullmatch(r"\d+[mh]", v)
    else "must be a duration like '30m' or '1h'",
    "custom_headers": lambda v: None if isinstance(v, dict) and all(
        k.lower() in ("cross-origin-embedder-policy", "cross-origin-opener-policy", "cross-origin-resource-policy")
        and isinstance(x, str) for k, x in v.items()) else "only the COEP/COOP/CORP headers are allowed",
    "preload_from_hub": lambda v: None if _str_list(v) else "must be a list of 'repo_id [files]' strings",
    "license": lambda v: None if isinstance(v, str) and v else "must be a license identifier",
    "suggested_hardware": lambda v: None if v in _hardware() else f"must be one of {', '.join(_hardware())}",
    "suggested_storage": lambda v: None if v in ("small", "medium", "large") else "must be small, medium or large",
}


def _hardware() -> list[str]:
    from huggingface_hub import SpaceHardware

    return [h.value for h in SpaceHardware]


class DeployError(Exception):
    """Something to fix before publishing; the message says what."""


@dataclass
class UploadFile:
    path_in_repo: str
    source: Path | None = None  # a file of the checkout ...
    content: bytes | None = None  # ... or generated bytes (the Space README)

    @property
    def size(self) -> int:
        return len(self.content) if self.content is not None else self.source.stat().st_size

    def payload(self):
        return self.content if self.content is not None else str(self.source)


# ---------------------------------------------------------------- requirements + front matter


def gradio_pin(root: Path = ROOT) -> str:
    """The exact gradio version pinned in requirements.txt."""
    req = root / "requirements.txt"
    if not req.exists():
        raise DeployError("requirements.txt is missing: the Space installs its packages from it.")
    for line in req.read_text().splitlines():
        m = re.match(r"\s*gradio(\[[^\]]*\])?\s*==\s*([\w.+-]+)\s*(#.*)?$", line)
        if m:
            return m.group(2)
    raise DeployError("requirements.txt must pin gradio exactly (gradio==X.Y.Z): "
                      "the Space's sdk_version must match it.")


def split_front_matter(text: str) -> tuple[dict | None, str]:
    """(front matter dict or None, body) of a Markdown file."""
    import yaml

    m = re.match(r"\A---\s*\n(.*?)\n---\s*(\n|\Z)", text, re.S)
    if not m:
        return None, text
    data = yaml.safe_load(m.group(1)) or {}
    if not isinstance(data, dict):
        raise DeployError("The README front matter must be a YAML mapping.")
    return data, text[m.end():]


def validate_front_matter(fm: dict, gradio_version: str, files: set[str] | None = None) -> list[str]:
    """Problems with a Space's front matter (empty list when valid)."""
    problems = []
    for key, value in fm.items():
        check = FRONT_MATTER_KEYS.get(key)
        if check is None:
            problems.append(f"unknown key {key!r} (not in the Spaces configuration reference)")
        elif err := check(value):
            problems.append(f"{key}: {err}")
    for key in ("title", "sdk", "sdk_version", "app_file"):
        if key not in fm:
            problems.append(f"missing key {key!r}")
    if fm.get("sdk_version") not in (None, gradio_version):
        problems.append(f"sdk_version {fm['sdk_version']!r} differs from gradio=={gradio_version} in requirements.txt")
    if files is not None and isinstance(fm.get("app_file"), str) and fm["app_file"] not in files:
        problems.append(f"app_file {fm['app_file']!r} is not among the uploaded files")
    return problems


def space_readme(root: Path = ROOT, model_repo: str | None = None) -> tuple[dict, bytes]:
    """The Space README: front matter (project README's own, else SPACE_CONFIG) + the project README body."""
    import yaml

    readme = root / "README.md"
    own, body = split_front_matter(readme.read_text()) if readme.exists() else (None, "")
    fm = {}
    for k, v in (own if own is not None else SPACE_CONFIG).items():
        fm[k] = v
        if k == "sdk" and "sdk_version" not in fm:
            fm["sdk_version"] = None  # keep the Spaces' usual key order
    if fm.get("sdk_version") is None:
        fm["sdk_version"] = gradio_pin(root)
    if model_repo:
        fm["models"] = sorted(set(fm.get("models", [])) | {model_repo})
    body = body.lstrip("\n") or "# Facial Beauty Scorer\n"
    text = "---\n" + yaml.safe_dump(fm, sort_keys=False, allow_unicode=True) + "---\n\n" + body
    return fm, text.encode()


# ---------------------------------------------------------------- what a Space gets


OFFLINE_PACKAGES = ("training", "ops")  # beauty/ sub-packages the running app never imports


def model_files(root: Path = ROOT) -> list[str]:
    from ..hub import MODEL_FILES

    return [f"weights/{n}" for n in MODEL_FILES]


def space_files(root: Path = ROOT, include_model: bool = True, model_repo: str | None = None) -> list[UploadFile]:
    """Every file the Space gets, in upload order. Raises DeployError naming any that is missing."""
    names = ["app.py", "requirements.txt"]
    names += sorted(
        p.relative_to(root).as_posix()
        for p in (root / "beauty").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".txt", ".json")
        and p.relative_to(root / "beauty").parts[0] not in OFFLINE_PACKAGES
    )
    names += ["weights/face_detection_short_range.tflite", "weights/MODEL_CARD.md"]
    names += ["weights/age_gate.npz", "weights/age_gate.json",  # the under-18 check (beauty.age): never left out
              "weights/age_gate.tflite"]
    names += sorted(p.relative_to(root).as_posix() for p in (root / "examples").glob("*")  # the page's example
                    if p.is_file() and p.suffix in (".jpg", ".md"))  # photos (public domain) and their sources
    if include_model:
        names += model_files(root)
    missing = [n for n in names if not (root / n).is_file()]
    if missing:
        raise DeployError(f"Missing file(s) the Space needs: {', '.join(missing)}.")
    _, readme = space_readme(root, model_repo)
    return [UploadFile(n, root / n) for n in names] + [UploadFile("README.md", content=readme)]


def plan(root: Path = ROOT, model_repo: str | None = None) -> tuple[list[UploadFile], dict]:
    """Files and validated front matter for a deploy; DeployError lists every problem."""
    files = space_files(root, include_model=not model_repo, model_repo=model_repo)
    if all((root / n).is_file() for n in model_files(root)):
        check_hashes(root)  # the record the app verifies downloads against must describe these weights
    fm, _ = space_readme(root, model_repo)
    problems = validate_front_matter(fm, gradio_pin(root), {f.path_in_repo for f in files})
    if problems:
        raise DeployError("Invalid Space front matter:\n  - " + "\n  - ".join(problems))
    return files, fm


def print_plan(files: list[UploadFile], fm: dict | None, out=None) -> None:
    import yaml

    out = out or sys.stdout
    for f in files:
        print(f"{f.size:>12,d}  {f.path_in_repo}", file=out)
    print(f"{sum(f.size for f in files):>12,d}  total, {len(files)} files", file=out)
    if fm is not None:
        print("\nfront matter:\n---\n" + yaml.safe_dump(fm, sort_keys=False, allow_unicode=True) + "---", file=out)


# ---------------------------------------------------------------- upload


def _api():
    from huggingface_hub import HfApi

    api = HfApi(token=os.environ.get("HF_TOKEN") or None)
    try:
        api.whoami()
    except Exception as e:  # noqa: BLE001
        raise DeployError(f"Cannot reach the Hugging Face Hub as a logged-in user ({type(e).__name__}): "
                          "set HF_TOKEN or run `hf auth login`.") from e
    return api


def _git_rev(root: Path) -> str:
    try:
        return subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def upload(api, repo: str, repo_type: str, files: list[UploadFile], message: str, private: bool = False,
           mirror: bool = True, **create_kwargs) -> str:
    """Create the repo if needed and commit `files` in one commit; with `mirror`, delete files not in the list."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    url = api.create_repo(repo, repo_type=repo_type, private=private or None, exist_ok=True, **create_kwargs)
    if private:
        api.update_repo_settings(repo, private=True, repo_type=repo_type)
    keep = {f.path_in_repo for f in files} | {".gitattributes"}
    stale = [p for p in api.list_repo_files(repo, repo_type=repo_type) if p not in keep] if mirror else []
    ops = [CommitOperationAdd(f.path_in_repo, f.payload()) for f in files]
    ops += [CommitOperationDelete(p) for p in stale]
    for p in stale:
        print(f"deleting stale {p}")
    info = api.create_commit(repo, ops, commit_message=message, repo_type=repo_type)
    print(f"committed {len(files)} files to {url} ({info.oid[:12]})")
    return info.oid


def deploy(space: str, private: bool = False, dry_run: bool = False, model_repo: str | None = None,
           model_revision: str | None = None, root: Path = ROOT) -> int:
    files, fm = plan(root, model_repo)
    print(f"Space {space}{' (private)' if private else ''}: {'would upload' if dry_run else 'uploading'}")
    print_plan(files, fm)
    if dry_run:
        print("\nfront matter is valid; dry run, nothing uploaded")
        return 0
    api = _api()
    upload(api, space, "space", files, f"Deploy beauty (git {_git_rev(root)})", private, space_sdk="gradio")
    if model_repo:  # the app fetches the verified weights itself (beauty.runtime.resolve_model_path)
        api.add_space_variable(space, "BEAUTY_MODEL_REPO", model_repo)
        if model_revision:
            api.add_space_variable(space, "BEAUTY_MODEL_REVISION", model_revision)
    print(f"https://huggingface.co/spaces/{space}")
    return 0


# ---------------------------------------------------------------- publish-model


def model_repo_files(root: Path = ROOT) -> list[UploadFile]:
    """The model files and the model card (as the repo's README.md, which the Hub shows)."""
    card = root / "weights" / "MODEL_CARD.md"
    missing = [n for n in model_files(root) + ["weights/MODEL_CARD.md"] if not (root / n).is_file()]
    if missing:
        raise DeployError(f"Missing file(s): {', '.join(missing)}.")
    fm, _ = split_front_matter(card.read_text())
    text = card.read_text() if fm is not None else (
        "---\nlibrary_name: keras\ntags: [image-regression, face, scut-fbp5500]\n---\n\n" + card.read_text())
    return [UploadFile(n.split("/", 1)[1], root / n) for n in model_files(root)] + [
        UploadFile("README.md", content=text.encode())]


def check_hashes(root: Path = ROOT, update: bool = False) -> list[str]:
    """Lines describing each model file vs beauty/model_hashes.json; DeployError if stale and not `update`."""
    from ..hub import compute_hashes, recorded_hashes, write_hashes

    record = root / "beauty" / "model_hashes.json"
    actual = compute_hashes(root / "weights")
    recorded = recorded_hashes(record) if record.exists() else {}
    lines = []
    for name, rec in actual.items():
        ok = recorded.get(name, {}).get("sha256") == rec["sha256"]
        lines.append(f"{rec['sha256']}  {rec['bytes']:>10,d}  {name}  {'recorded' if ok else 'NOT RECORDED'}")
    stale = any("NOT RECORDED" in line for line in lines)
    if stale and update:
        write_hashes(root / "weights", record)
        lines.append("updated beauty/model_hashes.json: commit it together with the new weights")
    elif stale:
        raise DeployError("\n".join(lines) + "\nbeauty/model_hashes.json does not match weights/: run "
                          "`python -m beauty publish-model --update-hashes` and commit the result.")
    return lines


def publish_model(repo: str | None, private: bool = False, dry_run: bool = False, update_hashes: bool = False,
                  root: Path = ROOT) -> int:
    for line in check_hashes(root, update_hashes):
        print(line)
    if repo is None:
        return 0
    files = model_repo_files(root)
    print(f"\nmodel repo {repo}: {'would upload' if dry_run else 'uploading'}")
    print_plan(files, None)
    if dry_run:
        return 0
    oid = upload(_api(), repo, "model", files, f"Model weights (git {_git_rev(root)})", private, mirror=False)
    print(f"apps use it with BEAUTY_MODEL_REPO={repo} BEAUTY_MODEL_REVISION={oid}")
    return 0


# ---------------------------------------------------------------- CLI


def add_parser(sub) -> None:
    p = sub.add_parser("deploy", help="create or update the Hugging Face Space",
                       description="Upload exactly the files the web app needs to a Gradio Space.")
    p.add_argument("--space", required=True, metavar="OWNER/NAME")
    p.add_argument("--private", action="store_true", help="make the Space private")
    p.add_argument("--dry-run", action="store_true", help="print the files and front matter, upload nothing")
    p.add_argument("--model-repo", metavar="OWNER/NAME",
                   help="don't upload the model; the Space downloads it from this model repo (verified by hash)")
    p.add_argument("--model-revision", metavar="COMMIT", help="pin the model repo to this commit")
    p.set_defaults(func=lambda a: _run(deploy, a.space, a.private, a.dry_run, a.model_repo, a.model_revision))


def add_publish_parser(sub) -> None:
    p = sub.add_parser("publish-model", help="upload the weights and model card to a model repo",
                       description="Check the weights against beauty/model_hashes.json and upload them "
                       "with weights/MODEL_CARD.md (as README.md) to a Hugging Face model repo.")
    p.add_argument("--repo", metavar="OWNER/NAME", help="model repo (omit to only check or update the hashes)")
    p.add_argument("--private", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="print hashes and files, upload nothing")
    p.add_argument("--update-hashes", action="store_true",
                   help="rewrite beauty/model_hashes.json from weights/ (after replacing the model)")
    p.set_defaults(func=lambda a: _run(publish_model, a.repo, a.private, a.dry_run, a.update_hashes))


def _run(fn, *args) -> int:
    try:
        return fn(*args)
    except DeployError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
