"""Feature-extractor backbones (pure Keras 3, backend-agnostic).

Why a hand-written, torchvision-compatible MobileNetV2:
  * ResNet50 ImageNet weights (keras.applications) need a network download,
    and this project runs offline.
  * torchvision's MobileNetV2 ImageNet weights (IMAGENET1K_V1, top-1 71.878)
    are available offline (they ship in a PyPI package), so we convert those
    (tools/convert_mobilenet_v2.py -> weights/imagenet/
    mobilenet_v2_torchvision.weights.h5).
  * keras.applications.MobileNetV2 cannot take them: its stride-2 convs pad
    asymmetrically ('same'/correct_pad), PyTorch pads 1 pixel on every side,
    and its BatchNorm epsilon is 1e-3 instead of 1e-5. This module mirrors
    torchvision exactly, so the converted network gives the same logits.

Every model takes RGB images in 0..255 (float, channels-last) and does its own
ImageNet preprocessing as its first layer, so callers never have to.
Layer names are torchvision's state_dict prefixes with "." -> "_"
(e.g. "features.3.conv.0.0" -> layer "features_3_conv_0_0").
"""

import keras
from keras import layers, ops

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision, RGB, for 0..1 input
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications "caffe" mode

# torchvision MobileNetV2 inverted residual settings: expand t, channels c,
# repeats n, first stride s.
_MOBILENET_V2_CONFIG = [
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]


def _bn(name):
    # torch BatchNorm2d defaults: eps 1e-5, momentum 0.1 (== keras 0.9).
    return layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=name)


def _conv_bn_relu(x, filters, kernel, stride, prefix, depthwise=False):
    """torchvision Conv2dNormActivation: conv (prefix_0), BN (_1), ReLU6 (_2)."""
    if kernel == 3:  # PyTorch padding=1: symmetric, also for stride 2
        x = layers.ZeroPadding2D(1, name=f"{prefix}_pad")(x)
    if depthwise:
        x = layers.DepthwiseConv2D(kernel, stride, use_bias=False, name=f"{prefix}_0")(x)
    else:
        x = layers.Conv2D(filters, kernel, stride, use_bias=False, name=f"{prefix}_0")(x)
    x = _bn(f"{prefix}_1")(x)
    return layers.ReLU(max_value=6.0, name=f"{prefix}_2")(x)


def _inverted_residual(x, in_ch, out_ch, stride, expand, prefix):
    """torchvision InvertedResidual; sublayers are numbered like its `conv` Sequential."""
    shortcut, i = x, 0
    if expand != 1:
        x = _conv_bn_relu(x, in_ch * expand, 1, 1, f"{prefix}_conv_{i}")
        i += 1
    x = _conv_bn_relu(x, None, 3, stride, f"{prefix}_conv_{i}", depthwise=True)
    x = layers.Conv2D(out_ch, 1, use_bias=False, name=f"{prefix}_conv_{i + 1}")(x)
    x = _bn(f"{prefix}_conv_{i + 2}")(x)
    if stride == 1 and in_ch == out_ch:
        x = layers.Add(name=f"{prefix}_add")([shortcut, x])
    return x


def mobilenet_v2(input_shape=(224, 224, 3), include_top=False, weights=None,
                 name="mobilenet_v2"):
    """torchvision-identical MobileNetV2 (width 1.0) taking 0..255 RGB.

    include_top=False -> (N, 1280) globally average-pooled features;
    include_top=True  -> (N, 1000) ImageNet logits (Dropout(0.2) + Dense).
    weights: None (random init) or a .weights.h5 saved from the
    include_top=True model (e.g. weights/imagenet/mobilenet_v2_torchvision.weights.h5);
    it loads for either include_top and any input size.
    """
    inputs = keras.Input(input_shape, name="image")
    x = layers.Normalization(
        mean=[255.0 * m for m in IMAGENET_MEAN],
        variance=[(255.0 * s) ** 2 for s in IMAGENET_STD],
        name="imagenet_normalize",
    )(inputs)
    x = _conv_bn_relu(x, 32, 3, 2, "features_0")
    in_ch, idx = 32, 1
    for t, c, n, s in _MOBILENET_V2_CONFIG:
        for j in range(n):
            x = _inverted_residual(x, in_ch, c, s if j == 0 else 1, t, f"features_{idx}")
            in_ch, idx = c, idx + 1
    x = _conv_bn_relu(x, 1280, 1, 1, f"features_{idx}")
    features = layers.GlobalAveragePooling2D(name="pool")(x)
    # The head is always built so one weights file fits both variants.
    h = layers.Dropout(0.2, name="classifier_0")(features)
    logits = layers.Dense(1000, name="classifier_1")(h)
    full = keras.Model(inputs, logits, name=name)
    if weights is not None:
        full.load_weights(weights)
    return full if include_top else keras.Model(inputs, features, name=name)


@keras.saving.register_keras_serializable(package="beauty")
class CaffePreprocess(layers.Layer):
    """keras.applications 'caffe' preprocessing: RGB 0..255 -> BGR minus mean."""

    def call(self, x):
        return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR, x.dtype)


def resnet50(input_shape=(224, 224, 3), weights=None, name="resnet50"):
    """keras.applications ResNet50 -> (N, 2048) pooled features, taking 0..255 RGB.

    weights: None, "imagenet" (needs network) or a local .h5 path.
    """
    inputs = keras.Input(input_shape, name="image")
    x = CaffePreprocess(name="caffe_preprocess")(inputs)
    base = keras.applications.ResNet50(
        include_top=False, weights=weights, input_shape=input_shape, pooling="avg"
    )
    return keras.Model(inputs, base(x), name=name)


BACKBONES = {"mobilenet_v2": mobilenet_v2, "resnet50": resnet50}
