"""The Keras MobileNetV2 must reproduce torchvision's logits (reference made by
tools/convert_mobilenet_v2.py from the original .pth in plain torch)."""


import numpy as np
import pytest

from beauty.backbones import BACKBONES, mobilenet_v2, resnet50

from tests.support.paths import ROOT

WEIGHTS = str(ROOT / "weights" / "imagenet" / "mobilenet_v2_torchvision.weights.h5")
REFERENCE = str(ROOT / "tests" / "data" / "mobilenet_v2_reference.npz")


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in ("images", "names", "logits")}


@pytest.fixture(scope="module")
def classifier():
    return mobilenet_v2(include_top=True, weights=WEIGHTS)


def test_logits_match_torchvision(classifier, reference):
    logits = np.asarray(classifier(reference["images"].astype(np.float32), training=False))
    # Measured 1.3e-5 (TF CPU, float32) on logits of magnitude ~10-20.
    assert np.abs(logits - reference["logits"]).max() < 1e-3
    np.testing.assert_array_equal(logits.argmax(1), reference["logits"].argmax(1))
    top1 = dict(zip(reference["names"].tolist(), logits.argmax(1).tolist()))
    assert 281 <= top1["chelsea"] <= 285  # a cat
    assert top1["coffee"] in (967, 968)  # espresso / cup
    assert top1["motorcycle"] in (665, 670)  # moped / motor scooter


def test_features_are_the_pooled_1280_vector(classifier, reference):
    images = reference["images"][:2].astype(np.float32)
    features = np.asarray(mobilenet_v2(weights=WEIGHTS)(images, training=False))
    assert features.shape == (2, 1280)
    # The head applied to the features gives the classifier's logits.
    kernel, bias = classifier.get_layer("classifier_1").get_weights()
    logits = np.asarray(classifier(images, training=False))
    np.testing.assert_allclose(features @ kernel + bias, logits, atol=1e-4)


def test_mobilenet_v2_other_input_size():
    out = mobilenet_v2(input_shape=(96, 96, 3))(np.zeros((1, 96, 96, 3), np.float32))
    assert out.shape == (1, 1280)


def test_resnet50_builds_without_weights():
    model = resnet50(input_shape=(64, 64, 3), weights=None)
    out = model(np.full((1, 64, 64, 3), 128.0, np.float32))
    assert out.shape == (1, 2048)
    assert set(BACKBONES) == {"mobilenet_v2", "resnet50"}
