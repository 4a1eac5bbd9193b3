"""Training batches: camera-like augmentation and the second (MEBeauty) head's masked targets."""

import numpy as np
from skimage import data as skdata

from beauty.face import CROP_SIZE
from beauty.training.nuisance import random_capture
from beauty.training.train import augment, make_sequence


def _crop() -> np.ndarray:
    import cv2

    return cv2.resize(skdata.astronaut(), (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)


def test_random_capture_changes_the_photo_within_its_ranges():
    img = _crop()
    rng = np.random.default_rng(0)
    outs = [random_capture(img, rng, 180, p=1.0) for _ in range(4)]
    for out in outs:
        assert out.shape == img.shape and out.dtype == np.uint8
        d = np.abs(out.astype(np.float32) - img)
        assert 1.0 < d.mean() < 60  # changed, but still the same photo
    assert not np.array_equal(outs[0], outs[1])  # strengths are drawn, not fixed
    assert np.array_equal(random_capture(img, rng, 180, p=0.0), img)


def test_capture_augmentation_is_off_unless_asked():
    batch = np.stack([_crop()] * 2)
    plain = augment(batch, np.random.default_rng(1))
    capture = augment(batch, np.random.default_rng(1), capture=True)
    assert plain.shape == capture.shape == batch.shape and plain.dtype == np.float32
    assert 0 <= capture.min() and capture.max() <= 255
    assert not np.allclose(plain, capture)


def test_batches_with_a_second_head_mask_each_output_to_its_own_samples():
    x = np.zeros((5, CROP_SIZE, CROP_SIZE, 3), np.uint8)
    x2 = np.full((3, CROP_SIZE, CROP_SIZE, 3), 255, np.uint8)
    y, y2 = np.arange(1, 6, dtype=np.float32), np.array([4.5, 4.6, 4.7], np.float32)
    seq = make_sequence(x, y, 4, seed=0, x2=x2, y2=y2)
    assert len(seq) == 2
    seen = []
    for i in range(len(seq)):
        imgs, (t1, t2), (w1, w2) = seq[i]
        assert np.array_equal(w1 + w2, np.ones(len(imgs)))
        for img, a, b, first in zip(imgs, t1, t2, w1):
            if first:  # a SCUT sample: its target on the first head, nothing on the second
                assert a in y and b == 0 and img.mean() < 128
            else:
                assert b in y2 and a == 0 and img.mean() > 128
            seen.append(a if first else b)
    assert sorted(seen) == sorted([*y, *y2])  # every sample once per epoch
