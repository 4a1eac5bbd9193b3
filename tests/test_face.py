"""The crop reproduces SCUT-FBP5500's framing and levels the eyes, with the real detector.

The framing is checked against numbers that do not come from `beauty.face.FRAMING`: the dataset's own
medians (measured by tools/measure_framing.py over all 5,500 photos, written out below) and, on the
dataset itself, the fact that a photo already framed the dataset way must map (nearly) onto itself.
"""

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from beauty.errors import NoFaceError
from beauty.face import CROP_SIZE, FaceDetector, align, find_faces
from beauty.image import load_image
from tests.support import hostile
from tests.support.hostile import group_scene
from tests.support.paths import dataset_root, needs_dataset

# Medians over the 5,500 SCUT-FBP5500 photos (tools/measure_framing.py, fractions of the 350-px side).
DATASET_EYE_X, DATASET_EYE_Y, DATASET_EYE_DIST = 0.507, 0.460, 0.253


@pytest.fixture(scope="module")
def detector():
    d = FaceDetector()
    yield d
    d.close()


def eyes(detector, rgb):
    """(eye midpoint x, y, inter-ocular distance) as fractions of the width/height, and the roll in degrees."""
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
    ex, ey, dist, roll = eyes(detector, crop)  # the detector, run again on our crop, must find the dataset's framing
    # measured: x 0.496-0.503, y 0.460-0.464, distance 0.245-0.252, roll -2.1..0.2 degrees
    assert abs(roll) < 3.0  # MediaPipe short-range keypoints jitter by ~2° between runs on the same face
    assert abs(ex - DATASET_EYE_X) < 0.015 and abs(ey - DATASET_EYE_Y) < 0.01, (ex, ey)
    assert abs(dist - DATASET_EYE_DIST) / DATASET_EYE_DIST < 0.04, dist


def test_no_face_message(detector):
    with pytest.raises(NoFaceError, match="No face"):
        find_faces(skdata.coffee(), detector)


@needs_dataset
def test_dataset_photos_map_onto_themselves(detector):
    """A SCUT photo is already framed the dataset way, so the app's crop transform of the median photo is
    nearly the identity: the eyes stay where they are, the scale stays near 1. 110 photos (every 50th):
    measured median eye shift (+0.8, +0.5) px, median scale 1.030 (the refining second detection sees the
    eyes 3 % closer). A framing with the eye height 5 % off shifts the eyes by 8 px, eye x 5 % off by
    11 px, the eye distance 10 % off gives scale 1.135."""
    from beauty.image import load_image

    scales, shifts = [], []
    for path in sorted(Path(dataset_root(), "Images").iterdir())[::50]:
        img = load_image(path)
        det = detector.detect(img)[0]
        m = align(img, det, detector)  # the app's path: detect, then refine on the first crop
        eye_mid = (np.add(det.right_eye, det.left_eye) / 2).tolist()
        scales.append(np.hypot(m[0, 0], m[0, 1]))
        shifts.append(m @ [*eye_mid, 1.0] - eye_mid)
    scale, (dx, dy) = float(np.median(scales)), np.median(shifts, axis=0)
    print(f"\n{len(scales)} dataset photos: median scale {scale:.4f}, eye shift ({dx:+.2f}, {dy:+.2f}) px")
    assert abs(dx) < 4 and abs(dy) < 4, (dx, dy)
    assert abs(scale - 1) < 0.06, scale


def test_two_big_faces_are_listed_largest_first(detector):
    """Faces over a quarter of the picture wide are found in one pass (no window search, unlike the group
    and scene tests): the larger one (right) is still listed first, the smaller (left) second."""
    head = skdata.astronaut()[40:240, 130:310]
    scene = np.full((480, 600, 3), 110, np.uint8)
    scene[20:375, 270:590] = cv2.resize(head, (320, 355), interpolation=cv2.INTER_AREA)
    scene[282:460, 10:170] = cv2.resize(head, (160, 178), interpolation=cv2.INTER_AREA)
    assert len(detector._detect(scene)) == 2  # measured widths 0.30 and 0.14 of the picture
    first, second = detector.detect(scene)
    assert first.box[0] > 270 and second.box[2] < 170, (first.box, second.box)
    assert first.area > 2 * second.area


def test_distant_face_is_found_by_tile_search(detector):
    """A face ~1/8 of the picture wide is below the short-range model's reach on the full frame."""
    scene = np.full((1200, 1600, 3), 120, np.uint8)
    face = cv2.resize(skdata.astronaut(), (490, 490), interpolation=cv2.INTER_AREA)
    scene[300:790, 900:1390] = face
    assert detector._detect(scene) == []  # what one full-frame pass sees
    (det, crop), = find_faces(scene, detector)
    assert 900 < det.box[0] < det.box[2] < 1390 and 300 < det.box[1] < det.box[3] < 790


# ---------------------------------------------------------------- cut-off faces, groups, non-human faces


def _obama():
    from beauty.image import load_image

    return load_image(Path(__file__).resolve().parents[1] / "examples" / "obama.jpg")


def test_cut_off_face_is_padded_neutrally_and_marked(detector):
    """A face cut by the photo's side is padded with plain grey, never mirrored into a two-faced crop."""
    from beauty.face import MAX_OUTSIDE, NEUTRAL

    img = _obama()
    cut = np.ascontiguousarray(img[:, int(img.shape[1] * 0.45):])  # the border runs through his face
    (det, crop), = find_faces(cut, detector)
    assert 0 < det.outside <= MAX_OUTSIDE
    # the crop's left part lies outside the photo: exactly the neutral grey, no mirrored face
    assert (crop[:, :20] == NEUTRAL).all()
    (whole, _), = find_faces(img, detector)
    assert whole.outside == 0


def test_face_mostly_outside_is_refused(detector):
    from beauty.errors import FaceCutError

    img = _obama()
    with pytest.raises(FaceCutError, match="cut off"):
        find_faces(np.ascontiguousarray(img[:, int(img.shape[1] * 0.52):]), detector)


def _heads(detector) -> list:
    """Six 300-px head-and-shoulder tiles (three public-domain photos and their mirror images)."""
    from beauty.image import load_image

    root = Path(__file__).resolve().parents[1] / "examples"
    heads = []
    for img in (_obama(), load_image(root / "biden.jpg"), skdata.astronaut()):
        d = detector.detect(img)[0]  # a square of 2.2 face widths around the face
        cx, cy, r = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2, 1.1 * (d.box[2] - d.box[0])
        pad = cv2.copyMakeBorder(img, int(r), int(r), int(r), int(r), cv2.BORDER_REPLICATE)
        heads.append(pad[int(cy):int(cy + 2 * r), int(cx):int(cx + 2 * r)])
    return [cv2.resize(np.ascontiguousarray(h if i < 3 else h[:, ::-1]), (300, 300), interpolation=cv2.INTER_AREA)
            for i, h in enumerate(heads * 2)]


@pytest.mark.parametrize("layout", ["row", "grid"])
def test_every_face_of_a_group_is_found_even_rolled_45_degrees(detector, layout):
    """Six people in a photo: each face ~1/7 of the picture wide, one rolled by up to ±45°.
    (The full frame alone finds about 4 of 6 in a row.) Head-and-shoulder tiles of public-domain photos."""
    faces = _heads(detector)
    for rolled, angle in [(0, 0), (1, 30), (2, 45), (3, -45), (4, -30), (5, 45)]:
        tiles = [hostile.rolled(f, angle) if k == rolled else f for k, f in enumerate(faces)]
        scene, centres = group_scene(tiles, layout)
        found = [((d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2) for d, _ in find_faces(scene, detector)]
        hits = [any(np.hypot(cx - x, cy - y) < 100 for x, y in found) for cx, cy in centres]
        assert all(hits), (angle, hits)
        assert len(found) == 6, (angle, len(found))


def test_window_search_in_one_batch_and_on_big_photos_finds_the_same_faces(detector):
    """The windows go through the network in one batched call: the same faces as one call per window; the
    group blown up 2.5 times (windows over 1,000 px) still gives all six faces, at the same places."""
    from beauty.face import _whole_in, windows

    scene, centres = group_scene(_heads(detector), "grid")
    h, w = scene.shape[:2]
    batched = detector._windowed(scene)
    alone = [f for x0, y0, x1, y1 in windows(h, w) for f in detector._detect(scene[y0:y1, x0:x1], (x0, y0))
             if _whole_in((x0, y0, x1, y1), f, (w, h))]
    assert [(d.box, d.keypoints) for d in batched] == [(d.box, d.keypoints) for d in alone] and len(alone) >= 6
    assert len(detector.detect(scene)) == 6
    big = detector.detect(cv2.resize(scene, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_LINEAR))
    assert len(big) == 6
    for d in big:  # each face where the small scene has it, within 3 % of the big picture's width
        c = np.array([(d.box[0] + d.box[2]) / 5, (d.box[1] + d.box[3]) / 5])
        assert min(np.hypot(*(c - np.array(x))) for x in centres) < 0.03 * scene.shape[1]


def _pictures_for_parity():
    """Real photos (the examples, SCUT-FBP5500 when there), whole and cut into off-centre, non-square parts."""
    rng = np.random.default_rng(0)
    photos = [load_image(p) for p in sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.jpg"))]
    photos.append(skdata.astronaut())
    root = dataset_root()
    if root is not None:
        photos += [load_image(p) for p in sorted((root / "Images").glob("*.jpg"))[::250]]
    out = []
    for rgb in photos:
        h, w = rgb.shape[:2]
        out.append(rgb)
        for _ in range(2):
            x0, y0 = int(rng.integers(0, w // 3)), int(rng.integers(0, h // 3))
            out.append(rgb[y0:y0 + int(rng.integers(h // 2, h - y0 + 1)), x0:x0 + int(rng.integers(w // 2, w - x0 + 1))])
    return out


def test_same_faces_as_mediapipe_tasks():
    """beauty.blazeface runs MediaPipe's model with MediaPipe's steps: against MediaPipe Tasks' own detector, the
    same faces (every one surer than 0.6), keypoints within a pixel and scores within 0.01 (measured on 609 faces
    of photos and parts of photos: keypoints median 0.12 px, 99th percentile 1.3 px; only detections near the
    0.5 threshold, where a slightly different score regroups the suppression, move more)."""
    from beauty.blazeface import BlazeFace
    from beauty.face import DETECTOR_PATH
    from tests.support.mediapipe_ref import mediapipe_reference

    ours, ref = BlazeFace(DETECTOR_PATH), mediapipe_reference(DETECTOR_PATH)
    kp_diffs, n = [], 0
    try:
        for pic in _pictures_for_parity():
            a = [f for f in ours.detect([pic])[0] if f[2] > 0.6]
            b = [f for f in ref(pic) if f[2] > 0.6]
            assert len(a) == len(b), (pic.shape, [f[2] for f in a], [f[2] for f in b])
            for box, kp, score in b:
                mine = min(a, key=lambda f: np.abs(f[1] - kp).max())
                kp_diffs.append(np.abs(mine[1] - kp).max())
                assert abs(mine[2] - score) < 0.01
                assert np.abs(np.array(mine[0]) - box).max() <= 2
            n += 1
    finally:
        ref.close()
    assert n >= 12 and len(kp_diffs) >= 12
    assert np.median(kp_diffs) < 0.3 and max(kp_diffs) < 1.5, (np.median(kp_diffs), max(kp_diffs))


def test_animals_and_drawings_are_refused(detector):
    """A cat (in seven framings) and drawn faces: the detector fires on several; none may be rated."""
    from beauty.errors import NotHumanError
    from tests.support.nonhuman import all_pictures

    refused_as_not_human = 0
    for name, rgb in all_pictures().items():
        with pytest.raises(NoFaceError):  # NotHumanError is a NoFaceError
            find_faces(rgb, detector)
        try:
            find_faces(rgb, detector)
        except NotHumanError as e:
            refused_as_not_human += 1
            assert "does not look like a photo of a person" in str(e)
        except NoFaceError:
            pass
    assert refused_as_not_human >= 8  # the rest are not even detected as faces


def test_real_photos_are_not_refused(detector):
    from beauty.human import looks_human
    from beauty.image import load_image

    root = Path(__file__).resolve().parents[1] / "examples"
    for name in ("obama.jpg", "biden.jpg", "obama_biden.jpg", "astronaut.jpg"):
        found = find_faces(load_image(root / name), detector)
        assert len(found) == (2 if name == "obama_biden.jpg" else 1), name
        assert all(looks_human(c) for _, c in found)
    gray = np.repeat(cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
    assert len(find_faces(gray, detector)) == 1  # a black-and-white photo is still a photo


def test_haar_check_asked_size_by_size_sees_the_whole_range_windows(detector):
    """beauty.human asks the cascades one window size at a time and stops at the first that answers; that is only
    right while OpenCV scans each size of its pyramid alone: the union of the size-by-size windows must be the
    whole-range call's, on real faces and on the cat's and drawings' crops the detector fires on."""
    from beauty import human
    from beauty.face import crop_face
    from tests.support.nonhuman import all_pictures

    root = Path(__file__).resolve().parents[1] / "examples"
    pictures = [load_image(root / n) for n in ("obama_biden.jpg", "astronaut.jpg")] + list(all_pictures().values())
    crops = [crop_face(rgb, d, detector) for rgb in pictures for d in detector.detect(rgb)]
    assert len(crops) >= 8
    cascades = human._cascades()
    compared = 0
    for crop in crops:
        for side in human.SIDES:
            g = human.shrunk_gray(crop, side)
            for c in cascades.values():
                def windows(lo, hi):
                    boxes, _, w = c.detectMultiScale3(g, scaleFactor=human.SCALE_STEP, minNeighbors=0, minSize=(lo, lo),
                                                      maxSize=(hi, hi), outputRejectLevels=True)
                    return sorted((tuple(map(int, b)), round(float(x), 4)) for b, x in zip(boxes, np.ravel(w)))

                whole = windows(side * 3 // 8, side * 7 // 8)
                by_size = sorted(sum((windows(s, s) for s in human._scales(side, c.getOriginalWindowSize()[0])), []))
                assert by_size == whole
                assert human._found(g, c) == any(human.centred(b, side) for b, _ in whole)
                compared += bool(whole)
    assert compared >= 10  # windows were found at all, so the comparison compared something
