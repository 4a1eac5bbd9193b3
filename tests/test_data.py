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
