"""Convert torchvision's ImageNet MobileNetV2 to beauty.backbones.mobilenet_v2.

torch and keras live in different venvs here (and torchvision in neither), so
the conversion runs in three steps that hand over plain .npz files (no pickle):

  1. keras venv:  python -m tools.convert_mobilenet_v2 images
       skimage's bundled photos -> resize 256 / center-crop 224 (PIL bilinear)
       -> uint8 batch in tests/data/mobilenet_v2_reference.npz
  2. torch venv:  python -m tools.convert_mobilenet_v2 torch --pth mobilenet_v2-b0353104.pth
       plain-torch copy of torchvision's MobileNetV2, load_state_dict(strict=True),
       state_dict -> --state npz, reference logits -> reference npz
  3. keras venv:  python -m tools.convert_mobilenet_v2 keras
       state npz -> Keras model -> weights/imagenet/mobilenet_v2_torchvision.weights.h5,
       then checks the Keras logits against torch's.
"""

import argparse
import hashlib
import os

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, "tests", "data", "mobilenet_v2_reference.npz")
WEIGHTS = os.path.join(ROOT, "weights", "imagenet", "mobilenet_v2_torchvision.weights.h5")
STATE = "/tmp/mobilenet_v2_torchvision_state.npz"
PTH_SHA256_PREFIX = "b0353104"  # torchvision names its files after the sha256
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


# ---------------------------------------------------------------- 1. images
def _resize_crop(img, size=256, crop=224):
    """torchvision Resize(256) + CenterCrop(224) on a PIL image, as uint8 HWC."""
    from PIL import Image

    im = Image.fromarray(img)
    w, h = im.size
    short, long = sorted((w, h))
    new = (size, int(size * long / short))  # torchvision's rounding
    im = im.resize(new if w <= h else new[::-1], Image.BILINEAR)
    w, h = im.size
    left, top = int(round((w - crop) / 2)), int(round((h - crop) / 2))
    return np.asarray(im.crop((left, top, left + crop, top + crop)), np.uint8)


def make_images(args):
    import skimage.data as d

    photos = {
        "astronaut": d.astronaut(),
        "chelsea": d.chelsea(),
        "coffee": d.coffee(),
        "rocket": d.rocket(),
        "motorcycle": d.stereo_motorcycle()[0],
        "camera": np.stack([d.camera()] * 3, axis=-1),  # grayscale -> RGB
    }
    images = np.stack([_resize_crop(v) for v in photos.values()])
    os.makedirs(os.path.dirname(args.reference), exist_ok=True)
    np.savez_compressed(args.reference, images=images, names=np.array(list(photos)))
    print(f"wrote {args.reference}: images {images.shape} {images.dtype}")


# ----------------------------------------------------------------- 2. torch
def _torch_mobilenet_v2():
    """torchvision.models.MobileNetV2 (width 1.0) rebuilt with the same module tree."""
    import torch
    from torch import nn

    def conv_bn_relu(inp, out, k, stride=1, groups=1):  # Conv2dNormActivation
        return nn.Sequential(
            nn.Conv2d(inp, out, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(out),
            nn.ReLU6(inplace=True),
        )

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, t):
            super().__init__()
            hidden = inp * t
            self.use_res_connect = stride == 1 and inp == oup
            layers = [conv_bn_relu(inp, hidden, 1)] if t != 1 else []
            layers += [
                conv_bn_relu(hidden, hidden, 3, stride, groups=hidden),
                nn.Conv2d(hidden, oup, 1, bias=False),
                nn.BatchNorm2d(oup),
            ]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            cfg = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                   [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]
            feats, inp = [conv_bn_relu(3, 32, 3, 2)], 32
            for t, c, n, s in cfg:
                for i in range(n):
                    feats.append(InvertedResidual(inp, c, s if i == 0 else 1, t))
                    inp = c
            feats.append(conv_bn_relu(inp, 1280, 1))
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), 1)
            return self.classifier(torch.flatten(x, 1))

    return MobileNetV2()


def run_torch(args):
    import torch

    torch.set_num_threads(2)
    with open(args.pth, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert digest.startswith(PTH_SHA256_PREFIX), f"unexpected checkpoint sha256 {digest}"
    state = torch.load(args.pth, map_location="cpu", weights_only=True)
    model = _torch_mobilenet_v2()
    model.load_state_dict(state, strict=True)
    model.eval()

    np.savez(args.state, **{k: v.numpy() for k, v in state.items()})
    ref = dict(np.load(args.reference))
    x = ref["images"].astype(np.float32) / 255.0
    x = (x - IMAGENET_MEAN) / IMAGENET_STD
    with torch.no_grad():
        logits = model(torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()).numpy()
    ref.update(logits=logits.astype(np.float32), pth_sha256=np.array(digest))
    np.savez_compressed(args.reference, **ref)
    print(f"wrote {args.state} ({len(state)} tensors) and torch logits to {args.reference}")
    print("torch top-1:", dict(zip(ref["names"].tolist(), logits.argmax(1).tolist())))


# ----------------------------------------------------------------- 3. keras
def torch_to_keras(model, state):
    """Copy a torchvision state_dict (name -> ndarray) into mobilenet_v2(include_top=True).

    Layer names are the torch prefixes with "." -> "_". Every torch tensor except
    BN's num_batches_tracked must be used exactly once.
    """
    from keras import layers

    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        p = layer.name.replace("_", ".")
        if isinstance(layer, layers.BatchNormalization):
            keys = [f"{p}.weight", f"{p}.bias", f"{p}.running_mean", f"{p}.running_var"]
            values = [state[k] for k in keys]
        elif isinstance(layer, layers.DepthwiseConv2D):  # (C,1,kh,kw) -> (kh,kw,C,1)
            keys = [f"{p}.weight"]
            values = [state[keys[0]].transpose(2, 3, 0, 1)]
        elif isinstance(layer, layers.Conv2D):  # (O,I,kh,kw) -> (kh,kw,I,O)
            keys = [f"{p}.weight"]
            values = [state[keys[0]].transpose(2, 3, 1, 0)]
        elif isinstance(layer, layers.Dense):  # (O,I) -> (I,O)
            keys = [f"{p}.weight", f"{p}.bias"]
            values = [state[keys[0]].T, state[keys[1]]]
        else:
            raise TypeError(f"no torch mapping for layer {layer.name}")
        layer.set_weights([np.ascontiguousarray(v, np.float32) for v in values])
        used.update(keys)
    expected = {k for k in state if not k.endswith("num_batches_tracked")}
    assert used == expected, f"unused: {expected - used}, missing: {used - expected}"


def run_keras(args):
    from beauty.backbones import mobilenet_v2

    with np.load(args.state) as f:
        state = dict(f)
    model = mobilenet_v2(include_top=True)
    torch_to_keras(model, state)
    os.makedirs(os.path.dirname(args.weights), exist_ok=True)
    model.save_weights(args.weights)

    ref = np.load(args.reference)
    model = mobilenet_v2(include_top=True, weights=args.weights)  # check the saved file
    logits = model.predict(ref["images"].astype(np.float32), verbose=0)
    diff = np.abs(logits - ref["logits"]).max()
    same = (logits.argmax(1) == ref["logits"].argmax(1)).all()
    print(f"wrote {args.weights}: {os.path.getsize(args.weights)} bytes")
    print(f"max |keras - torch| logit difference: {diff:.3g}; same top-1: {same}")
    assert diff < 1e-3 and same


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("step", choices=["images", "torch", "keras"])
    ap.add_argument("--pth", help="torchvision mobilenet_v2-b0353104.pth (step torch)")
    ap.add_argument("--state", default=STATE, help="intermediate state_dict .npz")
    ap.add_argument("--reference", default=REFERENCE)
    ap.add_argument("--weights", default=WEIGHTS)
    args = ap.parse_args()
    {"images": make_images, "torch": run_torch, "keras": run_keras}[args.step](args)


if __name__ == "__main__":
    main()
