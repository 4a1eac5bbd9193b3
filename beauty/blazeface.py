"""MediaPipe's short-range face detector (BlazeFace), run by LiteRT with MediaPipe's own settings.

MediaPipe Tasks spends about 2 ms of graph overhead on every call around a network that takes
0.6 ms (2-core CPU); a photo with small faces needs six calls (the frame, four windows, one per
face to refine the crop). This module runs the same `.tflite` file with the same steps as
MediaPipe's face detector graph (mediapipe/tasks/cc/vision/face_detector/face_detector_graph.cc):

1. ImageToTensor: the picture letterboxed to a 128×128 square (keep aspect ratio, black border),
   resampled by OpenCV's warpPerspective (bilinear) as MediaPipe's CPU converter does, scaled to -1..1;
2. SsdAnchors (4 layers, strides 8/16/16/16, fixed anchor size: 896 anchors) and TensorsToDetections
   (x/y/w/h and six keypoints over 128, sigmoid scores clipped at ±100, at least `min_confidence`);
3. weighted non-maximum suppression (IoU > 0.3: the cluster's boxes and keypoints averaged,
   weighted by score; the best score kept);
4. letterbox removed; boxes to whole pixels as MediaPipe gives them (truncated; the top-left corner
   clamped to the picture and the width and height to its size, each on its own), keypoints in pixels.

Several pictures (the windows of one photo) go through the network in one batched call.
`tests/test_face.py` checks the result against MediaPipe Tasks itself on real photos.
"""

from __future__ import annotations

import threading
from pathlib import Path

import cv2
import numpy as np

SIZE = 128
STRIDES = (8, 16, 16, 16)
SUPPRESSION_IOU = 0.3


def anchors() -> np.ndarray:
    """896×2 anchor centres (x, y) in 0..1, in the model's output order (SsdAnchorsCalculator)."""
    out = []
    i = 0
    while i < len(STRIDES):
        j = i
        while j < len(STRIDES) and STRIDES[j] == STRIDES[i]:
            j += 1
        per_cell = 2 * (j - i)  # aspect ratio 1 and the interpolated scale, per layer of this stride
        n = SIZE // STRIDES[i]
        for y in range(n):
            for x in range(n):
                out += [((x + 0.5) / n, (y + 0.5) / n)] * per_cell
        i = j
    return np.array(out, np.float32)


def letterbox(h: int, w: int) -> np.ndarray:
    """3×3 perspective matrix from picture pixels to the 128×128 input: the picture centred in a square
    of its longer side (MediaPipe's ROI with keep_aspect_ratio), then scaled."""
    side = float(max(h, w))
    cx, cy = w / 2.0, h / 2.0
    src = np.float32([[cx - side / 2, cy + side / 2], [cx - side / 2, cy - side / 2],
                      [cx + side / 2, cy - side / 2], [cx + side / 2, cy + side / 2]])
    dst = np.float32([[0, SIZE], [0, 0], [SIZE, 0], [SIZE, SIZE]])
    return cv2.getPerspectiveTransform(src, dst)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box a (4,) with boxes b (N×4), as (xmin, ymin, xmax, ymax)."""
    iw = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    ih = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def weighted_nms(boxes: np.ndarray, kps: np.ndarray, scores: np.ndarray):
    """MediaPipe's WEIGHTED non-maximum suppression: [(box, keypoints, score)], best first."""
    order = np.argsort(-scores, kind="stable")
    out = []
    while len(order):
        top = order[0]
        near = _iou(boxes[top], boxes[order]) > SUPPRESSION_IOU
        near[0] = True
        group, order = order[near], order[~near]
        w = scores[group][:, None]
        out.append(((boxes[group] * w).sum(0) / w.sum(), (kps[group] * w[:, :, None]).sum(0) / w.sum(),
                    float(scores[top])))
    return out


def _per_picture(out: np.ndarray, n: int) -> np.ndarray:
    """N×896×K from the model's 1×(N·896)×K output. Its reshapes have batch 1 baked in: each head's
    outputs are flattened over the whole batch before the two heads are joined, so the batch holds
    N×512 stride-8 anchors, then N×384 stride-16 ones."""
    k = out.shape[-1]
    flat = out.reshape(-1, k)
    first = flat[: n * 512].reshape(n, 512, k)
    rest = flat[n * 512:].reshape(n, 384, k)
    return np.concatenate([first, rest], 1)


class BlazeFace:
    """The short-range model on a LiteRT interpreter (XNNPACK); `detect(pictures)` is thread-safe."""

    def __init__(self, model_path: str | Path, min_confidence: float = 0.5, num_threads: int = 2):
        from ai_edge_litert.interpreter import Interpreter

        self.min_confidence = min_confidence
        self._it = Interpreter(model_content=Path(model_path).read_bytes(), num_threads=num_threads)
        self._in = self._it.get_input_details()[0]["index"]
        outs = {d["name"]: d["index"] for d in self._it.get_output_details()}
        self._reg, self._cls = outs["regressors"], outs["classificators"]
        self._anchors = anchors()
        self._n = 0
        self._lock = threading.Lock()

    def detect(self, pictures: list[np.ndarray]) -> list[list[tuple[tuple, np.ndarray, float]]]:
        """Per picture (H×W×3 uint8 RGB): [(box (x0, y0, x1, y1) in whole pixels, 6×2 keypoints in pixels,
        score)], after suppression, best first. One network call for all of them."""
        if not pictures:
            return []
        mats = [letterbox(*p.shape[:2]) for p in pictures]
        with self._lock:
            if len(pictures) != self._n:
                self._it.resize_tensor_input(self._in, [len(pictures), SIZE, SIZE, 3])
                self._it.allocate_tensors()
                self._n = len(pictures)
            x = self._it.tensor(self._in)()
            for i, (p, m) in enumerate(zip(pictures, mats)):
                u8 = cv2.warpPerspective(np.ascontiguousarray(p), m, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                np.multiply(u8, np.float32(2 / 255), out=x[i])
                x[i] -= 1.0
            del x
            self._it.invoke()
            reg = _per_picture(self._it.get_tensor(self._reg), len(pictures))
            cls = _per_picture(self._it.get_tensor(self._cls), len(pictures))[..., 0]
        return [self._decode(r, c, m, p.shape) for r, c, m, p in zip(reg, cls, mats, pictures)]

    def _decode(self, raw: np.ndarray, logits: np.ndarray, m: np.ndarray, shape):
        scores = 1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -100, 100)))
        keep = scores >= self.min_confidence
        if not keep.any():
            return []
        raw, a, scores = raw[keep].astype(np.float64) / SIZE, self._anchors[keep], scores[keep]
        xc, yc = raw[:, 0] + a[:, 0], raw[:, 1] + a[:, 1]
        boxes = np.stack([xc - raw[:, 2] / 2, yc - raw[:, 3] / 2, xc + raw[:, 2] / 2, yc + raw[:, 3] / 2], 1)
        kps = raw[:, 4:16].reshape(-1, 6, 2) + a[:, None, :]
        h, w = shape[:2]
        back = np.linalg.inv(m)  # 128-px input -> picture pixels (an axis-aligned scale and shift)
        sx, ox, sy, oy = back[0, 0] * SIZE, back[0, 2], back[1, 1] * SIZE, back[1, 2]
        out = []
        for box, kp, score in weighted_nms(boxes, kps, scores):
            # relative to the picture (DetectionProjection), then whole pixels (DetectionTransformation)
            rx0, ry0 = (box[0] * sx + ox) / w, (box[1] * sy + oy) / h
            rw, rh = (box[2] - box[0]) * sx / w, (box[3] - box[1]) * sy / h
            x0, y0 = max(int(rx0 * w), 0), max(int(ry0 * h), 0)  # clamped as MediaPipe's: the corner to the
            bw, bh = min(int(rw * w), w), min(int(rh * h), h)  # picture, the size to the picture's size
            bx = (float(x0), float(y0), float(x0 + bw), float(y0 + bh))
            pts = np.stack([kp[:, 0] * sx + ox, kp[:, 1] * sy + oy], 1)
            out.append((bx, pts, score))
        return out
