"""The crop reproduces SCUT-FBP5500's framing and levels the eyes, with the real detector."""

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from beauty.face import CROP_SIZE, FRAMING, FaceDetector, crop_face, find_faces
from beauty.errors import NoFaceError

REAL = os.environ.get("SCUT_FBP5500_DIR")
needs_dataset = pytest.mark.skipif(not REAL or not Path(REAL).is_dir(), reason="$SCUT_FBP5500_DIR not set")


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def eyes(detector, rgb):
    d = detector.detect(rgb)[0]
    (x1, y1), (x2, y2) = d.right_eye, d.left_eye
    return (x1 + x2) / 2 / rgb.shape[1], (y1 + y2) / 2 / rgb.shape[0], np.hypot(x2 - x1, y2 - y1) / rgb.shape[1], \
        np.degrees(np.arctan2(y2 - y1, x2 - x1))


@pytest.mark.parametrize("angle", [-25, 0, 15])
def test_crop_levels_eyes_and_frames_like_dataset(detector, angle):
    img = skdata.astronaut()
    m = cv2.getRotationMatrix2D((256, 256), angle, 1.0)
    img = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT_101)
    (det, crop), = find_faces(img, detector)
    assert crop.shape == (CROP_SIZE, CROP_SIZE, 3) and crop.dtype == np.uint8
    ex, ey, dist, roll = eyes(detector, crop)  # the detector, run again on our crop, must agree with FRAMING
    assert abs(roll) < 3.0  # MediaPipe short-range keypoints jitter by ~2° between runs on the same face
    assert abs(ex - FRAMING["eye_x"]) < 0.02 and abs(ey - FRAMING["eye_y"]) < 0.02
    assert abs(dist - FRAMING["eye_dist"]) / FRAMING["eye_dist"] < 0.05


def test_no_face_message(detector):
    with pytest.raises(NoFaceError, match="No face"):
        find_faces(skdata.coffee(), detector)


@needs_dataset
def test_dataset_photos_are_nearly_unchanged(detector):
    """A SCUT photo is already framed the dataset way: its crop must be close to the photo itself."""
    from beauty.image import load_image

    names = sorted(os.listdir(Path(REAL) / "Images"))[::250]
    diffs = []
    for n in names:
        img = load_image(Path(REAL) / "Images" / n)
        crop = crop_face(img, detector.detect(img)[0])
        diffs.append(np.abs(crop.astype(float) - img.astype(float)).mean())
    # measured mean abs pixel difference: photos differ only by their own deviation from the median framing
    assert np.median(diffs) < 40, diffs


def test_distant_face_is_found_by_tile_search(detector):
    """A face ~1/8 of the picture wide is below the short-range model's reach on the full frame."""
    scene = np.full((1200, 1600, 3), 120, np.uint8)
    face = cv2.resize(skdata.astronaut(), (490, 490), interpolation=cv2.INTER_AREA)
    scene[300:790, 900:1390] = face
    assert detector._detect(scene) == []  # what one full-frame pass sees
    (det, crop), = find_faces(scene, detector)
    assert 900 < det.box[0] < det.box[2] < 1390 and 300 < det.box[1] < det.box[3] < 790
