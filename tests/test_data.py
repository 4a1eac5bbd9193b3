"""The dataset loader: official protocols on the real data, clear errors on a broken copy."""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from beauty.training import data

REAL = os.environ.get(data.ENV_VAR)
needs_dataset = pytest.mark.skipif(not REAL or not Path(REAL).is_dir(), reason=f"${data.ENV_VAR} not set")


def fake_dataset(tmp_path, labels="AF1.jpg 3.5\nCM2.jpg 2.0\n", test="CM2.jpg 2.0\n"):
    (tmp_path / "Images").mkdir()
    for n in ("AF1.jpg", "CM2.jpg"):
        Image.fromarray(np.full((350, 350, 3), 128, np.uint8)).save(tmp_path / "Images" / n)
    tt = tmp_path / "train_test_files"
    (tt / data.SPLIT_DIR).mkdir(parents=True)
    (tt / "All_labels.txt").write_text(labels)
    (tt / data.SPLIT_DIR / "train.txt").write_text("AF1.jpg 3.5\n")
    (tt / data.SPLIT_DIR / "test.txt").write_text(test)
    return tmp_path


def test_missing_folder_is_explained(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    with pytest.raises(data.DatasetError, match="SCUT_FBP5500_DIR"):
        data.dataset_dir(None)
    with pytest.raises(data.DatasetError, match="Images is missing"):
        data.dataset_dir(tmp_path)


def test_split_loads_and_groups(tmp_path):
    root = data.dataset_dir(fake_dataset(tmp_path))
    train, test = data.load_split(root, "60-40")
    assert train == [("AF1.jpg", 3.5)] and test == [("CM2.jpg", 2.0)]
    assert data.group_of("AF1.jpg") == "Asian female" and data.group_of("CM2.jpg") == "Caucasian male"


@pytest.mark.parametrize("line, match", [("CM2.jpg", "bad label line"), ("CM2.jpg 7.0", "bad label line"),
                                         ("CM2.jpg two", "bad label line"), ("XX9.jpg 2.0", "missing")])
def test_malformed_labels_are_refused(tmp_path, line, match):
    root = fake_dataset(tmp_path, test=line + "\n")
    with pytest.raises(data.DatasetError, match=match):
        data.load_split(root, "60-40")


def test_train_test_overlap_is_refused(tmp_path):
    root = fake_dataset(tmp_path, test="AF1.jpg 3.5\n")
    with pytest.raises(data.DatasetError, match="both train and test"):
        data.load_split(root, "60-40")


def test_unknown_protocol(tmp_path):
    with pytest.raises(data.DatasetError, match="Unknown protocol"):
        data.protocol_files(fake_dataset(tmp_path), "70-30")


@needs_dataset
@pytest.mark.parametrize("protocol, sizes", [("60-40", (3300, 2200))] + [(f"fold{k}", (4400, 1100)) for k in range(1, 6)])
def test_official_protocols(protocol, sizes):
    root = data.dataset_dir(REAL)
    train, test = data.load_split(root, protocol)
    assert (len(train), len(test)) == sizes
    assert all(1 <= s <= 5 for _, s in train + test)


# ---------------------------------------------------------------- the crop cache


@pytest.fixture
def face_dataset(tmp_path):
    """The fake layout with two real face photos (the astronaut, and mirrored) in place of the gray squares."""
    from skimage import data as skdata

    (tmp_path / "data").mkdir()
    root = fake_dataset(tmp_path / "data")
    a = skdata.astronaut()
    Image.fromarray(a).save(root / "Images" / "AF1.jpg", quality=92)
    Image.fromarray(np.ascontiguousarray(a[:, ::-1])).save(root / "Images" / "CM2.jpg", quality=92)
    return root


def test_face_crops_are_cached_checked_and_rebuilt(face_dataset, tmp_path):
    names, cache = ["AF1.jpg", "CM2.jpg"], tmp_path / "cache"
    fresh = data.face_crops(face_dataset, names, None)
    assert fresh.shape == (2, 350, 350, 3) and fresh.std() > 20  # real crops, not the gray squares
    np.testing.assert_array_equal(data.face_crops(face_dataset, names, cache), fresh)
    (file,) = cache.iterdir()  # one complete file, no temporary one left behind
    assert file.name.startswith("crops-face-2-") and file.suffix == ".npy"
    cached = data.face_crops(face_dataset, names, cache, verify=2)
    assert isinstance(cached, np.memmap)  # read from the cache, not recomputed
    np.testing.assert_array_equal(cached, fresh)

    stale = fresh.copy()  # as if the crop code had changed without a PIPELINE_VERSION bump
    stale[1] //= 2
    np.save(file, stale)
    np.testing.assert_array_equal(data.face_crops(face_dataset, names, cache), stale)  # unchecked: trusted
    rebuilt = data.face_crops(face_dataset, names, cache, verify=2)
    np.testing.assert_array_equal(rebuilt, fresh)
    np.testing.assert_array_equal(np.load(file), fresh)


def test_cache_key_covers_the_framing_and_the_place_is_outside_the_checkout(monkeypatch, tmp_path):
    from beauty import face

    key = data.pipeline_fingerprint()
    assert data.pipeline_fingerprint() == key and data.pipeline_fingerprint(raw=True) != key
    monkeypatch.setitem(face.FRAMING, "eye_y", face.FRAMING["eye_y"] + 0.01)
    assert data.pipeline_fingerprint() != key
    monkeypatch.undo()
    monkeypatch.setattr(face, "PIPELINE_VERSION", face.PIPELINE_VERSION + 1)
    assert data.pipeline_fingerprint() != key

    monkeypatch.delenv(data.CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.default_cache_dir() == tmp_path / "xdg" / "beauty"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert data.default_cache_dir() == Path.home() / ".cache" / "beauty"
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "mine"))
    assert data.default_cache_dir() == tmp_path / "mine"
