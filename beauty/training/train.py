"""Fine-tune the beauty regressor on SCUT-FBP5500.

    python -m beauty.training.train --split 60-40 --out runs/mnv2-6040
    python -m beauty.training.train --fold 3 --out runs/mnv2-fold3

Recipe: the ImageNet backbone's pooled features fit a ridge-regression head in
closed form (the "head first" phase, one forward pass instead of several
epochs), then the whole network is fine-tuned with AdamW, a cosine schedule and
MSE loss on augmented face crops (flip, small rotation/scale/shift like the
detector's jitter, brightness/contrast). Crops come from `beauty.face`, the
app's own pipeline. The output folder gets the model (float16 .npz + .json),
checkpoints, the training curve (CSV + PNG) and the test metrics.

For photos from outside the studio (see `evaluate --external` and `--nuisance`):
`--capture-aug` adds camera-like changes (exposure, white balance, distance, focus,
sensor noise, JPEG; `nuisance.random_capture`) so the score follows the face, not
the camera; `--mebeauty DIR` trains a second head on MEBeauty-dev `train` (in-the-wild
photos, another rater panel) beside the SCUT head, sharing the backbone. The second
head is dropped when saving: the shipped head still predicts SCUT-FBP5500's 60-rater
mean, so the percentile keeps its meaning. `--init NPZ` starts from trained weights
(e.g. the shipped ones) instead of ImageNet.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from . import data
from .metrics import by_group, regression_metrics


def augment(batch: np.ndarray, rng: np.random.Generator, capture: bool = False) -> np.ndarray:
    """Random flip, rotation ±8°, scale ±8 %, shift ±4 %, brightness/contrast ±15 % on 350-px crops;
    with `capture`, camera-like changes too (`nuisance.random_capture`)."""
    import cv2

    from ..face import FRAMING
    from .nuisance import random_capture

    out = np.empty(batch.shape, np.float32)
    size = batch.shape[1]
    face_w = 2 * FRAMING["eye_dist"] * size  # the face's width in a crop, about twice the eye distance
    for i, img in enumerate(batch):
        if rng.random() < 0.5:
            img = img[:, ::-1]
        m = cv2.getRotationMatrix2D((size / 2, size / 2), rng.uniform(-8, 8), rng.uniform(0.92, 1.08))
        m[:, 2] += rng.uniform(-0.04, 0.04, 2) * size
        img = cv2.warpAffine(np.ascontiguousarray(img), m, (size, size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT_101)
        if capture:
            img = random_capture(img, rng, face_w)
        img = img.astype(np.float32)
        mean = img.mean()
        img = (img - mean) * rng.uniform(0.85, 1.15) + mean * rng.uniform(0.85, 1.15)
        out[i] = np.clip(img, 0, 255)
    return out


def make_sequence(x, y, batch_size, seed, capture=False, x2=None, y2=None):
    """Shuffled, augmented batches of (x, y); with a second data set (x2, y2) for the second head, batches
    mix both and each output's loss counts only its own samples (sample weights 1 and 0)."""
    import keras

    n1 = len(x)
    n = n1 + (len(x2) if x2 is not None else 0)

    class Batches(keras.utils.PyDataset):
        """Shuffled, augmented batches; a new permutation every epoch."""

        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(n)

        def __len__(self):
            return math.ceil(n / batch_size)

        def __getitem__(self, i):
            idx = self.order[i * batch_size:(i + 1) * batch_size]
            if x2 is None:
                return augment(x[idx], self.rng, capture), y[idx].astype(np.float32)
            first = idx < n1
            imgs = np.stack([x[k] if k < n1 else x2[k - n1] for k in idx])
            t1 = np.array([y[k] if k < n1 else 0.0 for k in idx], np.float32)
            t2 = np.array([0.0 if k < n1 else y2[k - n1] for k in idx], np.float32)
            w = first.astype(np.float32)
            return augment(imgs, self.rng, capture), (t1, t2), (w, 1 - w)

        def on_epoch_end(self):
            self.order = self.rng.permutation(n)

    return Batches()


def fit_head(model, x, y, batch_size, alpha=10.0, head=None):
    """Closed-form ridge head on frozen pooled features (plain + mirrored crops); sets the model's "head"
    layer, or the Dense layer `head` (a second head reading the same features)."""
    import keras

    feats = keras.Model(model.input, model.get_layer("head_dropout").input)
    f = np.concatenate([feats.predict(x, batch_size=batch_size, verbose=0),
                        feats.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)])
    t = np.concatenate([y, y])
    mu, tm = f.mean(0), t.mean()
    fc = f - mu
    w = np.linalg.solve(fc.T @ fc + alpha * len(fc) * np.eye(f.shape[1]) / 1000, fc.T @ (t - tm))
    (head or model.get_layer("head")).set_weights([w[:, None].astype(np.float32), np.array([tm - mu @ w], np.float32)])
    return regression_metrics(f @ w + tm - mu @ w, t)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_mutually_exclusive_group()
    g.add_argument("--split", choices=["60-40"], default="60-40", help="official 60/40 train/test split")
    g.add_argument("--fold", type=int, choices=range(1, 6), help="official 5-fold cross-validation fold")
    p.add_argument("--data", help=f"dataset folder (default ${data.ENV_VAR})")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--backbone", default="mobilenet_v2", choices=["mobilenet_v2", "resnet50"])
    p.add_argument("--imagenet", default="auto", help="backbone ImageNet weights: auto, none or a path")
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--crops", choices=["face", "raw"], default="face", help="app face pipeline or raw dataset images")
    p.add_argument("--eval-every", type=int, default=0, help="also record test PC every N epochs (0: only at the end)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache-dir", default="auto", help="crop cache folder (default: see beauty.training.data.default_cache_dir)")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.weights.h5")
    p.add_argument("--init", metavar="NPZ", help="start from these trained weights instead of ImageNet + ridge head")
    p.add_argument("--capture-aug", action="store_true", help="camera-like augmentation (nuisance.random_capture)")
    p.add_argument("--mebeauty", metavar="DIR", help="train a second head on MEBeauty-dev train photos (dropped on save)")
    p.add_argument("--meb-weight", type=float, default=1.0, help="loss weight of the MEBeauty head")
    a = p.parse_args(argv)

    import keras

    from ..model import build_regressor, load_model, predict, save_model

    keras.utils.set_random_seed(a.seed)
    protocol = f"fold{a.fold}" if a.fold else a.split
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    root = data.dataset_dir(a.data)
    train, test = data.load_split(root, protocol)
    names = sorted(n for n, _ in data.read_labels(root / "train_test_files" / "All_labels.txt"))
    index = {n: i for i, n in enumerate(names)}
    t0 = time.time()
    crops = data.face_crops(root, names, a.cache_dir, raw=a.crops == "raw")
    x_tr, y_tr = crops[[index[n] for n, _ in train]], np.array([s for _, s in train], np.float32)
    x_te, y_te = crops[[index[n] for n, _ in test]], np.array([s for _, s in test], np.float32)
    print(f"{protocol}: {len(train)} train / {len(test)} test crops ({a.crops}) ready in {time.time() - t0:.0f}s")

    imagenet = None if a.imagenet == "none" else a.imagenet
    if a.backbone == "resnet50" and a.imagenet == "auto":
        print("warning: no ResNet50 ImageNet weights are bundled; pass --imagenet imagenet (downloads them) "
              "or --imagenet PATH.h5. Training ResNet50 from random initialisation.")
    if a.init:
        model = load_model(a.init)
        model.beauty_config = {k: model.beauty_config[k] for k in ("backbone", "image_size", "dropout")}
        a.backbone, a.image_size = model.beauty_config["backbone"], model.beauty_config["image_size"]
    else:
        model = build_regressor(a.backbone, a.image_size, imagenet=imagenet, mean_score=float(y_tr.mean()))
    net, x_meb, y_meb = model, None, None  # `net`: what is trained (the model, or it with a second head)
    if a.mebeauty:
        from .evaluate import mebeauty_dir, mebeauty_rows

        rows = mebeauty_rows(mebeauty_dir(a.mebeauty), "train")
        x_meb, ok = data.photo_crops([r["path"] for r in rows], a.cache_dir)
        # ratings 1..10 mapped linearly onto 1..5, the SCUT head's scale (the heads stay separate)
        x_meb, y_meb = x_meb[ok], 1 + (np.array([r["score"] for r in rows], np.float32)[ok] - 1) * 4 / 9
        meb_head = keras.layers.Dense(1, name="meb_head")
        net = keras.Model(model.input, [model.output, meb_head(model.get_layer("head_dropout").output)])
        print(f"MEBeauty-dev train: {len(x_meb)} of {len(rows)} photos with a face, second head")
    ckpt = out / "checkpoint.weights.h5"
    history_path = out / "history.csv"
    if a.resume and ckpt.exists():
        net.load_weights(ckpt)
        print(f"resumed from {ckpt}")
    else:
        t0 = time.time()
        if not a.init:
            head = fit_head(model, x_tr, y_tr, a.batch_size)
            print(f"head (ridge on frozen features): train PC {head['pc']:.4f} in {time.time() - t0:.0f}s")
        if x_meb is not None:
            head = fit_head(model, x_meb, y_meb, a.batch_size, head=meb_head)
            print(f"MEBeauty head (ridge on frozen features): train PC {head['pc']:.4f} in {time.time() - t0:.0f}s")

    steps = math.ceil((len(x_tr) + (len(x_meb) if x_meb is not None else 0)) / a.batch_size) * a.epochs
    schedule = keras.optimizers.schedules.CosineDecay(0.0, steps, warmup_target=a.lr, warmup_steps=steps // 20)
    if x_meb is None:
        net.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=a.weight_decay), loss="mse",
                    metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
    else:
        net.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=a.weight_decay), loss=["mse", "mse"],
                    loss_weights=[1.0, a.meb_weight])

    class Curve(keras.callbacks.Callback):
        """Append each epoch (train loss/MAE, and test PC/MAE every --eval-every epochs) to history.csv."""

        def on_epoch_end(self, epoch, logs=None):
            row = {"epoch": epoch + 1, "loss": logs["loss"], "mae": logs.get("mae", ""), "test_pc": "", "test_mae": ""}
            if a.eval_every and (epoch + 1) % a.eval_every == 0:
                m = regression_metrics(predict(model, x_te, flip_tta=False, batch_size=64), y_te)
                row["test_pc"], row["test_mae"] = m["pc"], m["mae"]
                print(f" - test PC {m['pc']:.4f} MAE {m['mae']:.4f}")
            new = not history_path.exists()
            with open(history_path, "a") as f:
                if new:
                    f.write(",".join(row) + "\n")
                f.write(",".join(str(v) for v in row.values()) + "\n")

    done = 0
    if a.resume and history_path.exists():
        done = max(0, len(history_path.read_text().strip().splitlines()) - 1)
    elif history_path.exists():
        history_path.unlink()
    net.fit(make_sequence(x_tr, y_tr, a.batch_size, a.seed, a.capture_aug, x_meb, y_meb), epochs=a.epochs,
            initial_epoch=done,
              verbose=1 if sys.stdout.isatty() else 2,
              callbacks=[Curve(), keras.callbacks.ModelCheckpoint(ckpt, save_weights_only=True)])

    cfg = {"protocol": protocol, "train_images": len(train), "epochs": a.epochs, "lr": a.lr,
           "batch_size": a.batch_size, "seed": a.seed, "crops": a.crops, "capture_aug": a.capture_aug,
           "init": Path(a.init).name if a.init else "imagenet",
           "mebeauty_train_photos": len(x_meb) if x_meb is not None else 0}
    path = save_model(model, out / "model.npz", cfg)
    shipped = load_model(path)  # score with what is on disk (float16), not what is in memory
    results = {}
    for tta in (False, True):
        pred = predict(shipped, x_te, flip_tta=tta, batch_size=64)
        results["flip_tta" if tta else "plain"] = regression_metrics(pred, y_te)
    results["groups"] = by_group(pred, y_te, [data.group_of(n) for n, _ in test])
    np.save(out / "test_predictions.npy", pred)
    (out / "metrics.json").write_text(json.dumps({"config": cfg, "test": results}, indent=2) + "\n")
    plot_curve(history_path, out / "curve.png")
    for k in ("plain", "flip_tta"):
        m = results[k]
        print(f"test {k:8s} PC {m['pc']:.4f}  MAE {m['mae']:.4f}  RMSE {m['rmse']:.4f}")
    print(f"wrote {out}")


def plot_curve(history_csv: Path, png: Path):
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(history_csv)))
    if not rows:
        return
    ep = [int(r["epoch"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ep, [float(r["loss"]) for r in rows], "o-", label="train MSE")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE")
    pts = [(e, float(r["test_pc"])) for e, r in zip(ep, rows) if r.get("test_pc")]
    if pts:
        ax2 = ax.twinx()
        ax2.plot(*zip(*pts), "s--", color="C1", label="test PC (no TTA)")
        ax2.set_ylabel("test PC")
        ax2.legend(loc="center right")
    ax.legend(loc="upper center")
    fig.tight_layout()
    fig.savefig(png, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
