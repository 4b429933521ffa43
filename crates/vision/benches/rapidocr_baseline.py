"""The Python baseline limes-vision is measured against: rapidocr-onnxruntime 1.3.24 (PP-OCRv4 on
onnxruntime), per stage, on the inputs benches/runtimes.rs gives the Rust runtimes.

    python3 -m venv /tmp/rapidocr-venv
    /tmp/rapidocr-venv/bin/pip install rapidocr-onnxruntime==1.3.24
    LIMES_MODELS=~/.cache/limes/models /tmp/rapidocr-venv/bin/python crates/vision/benches/rapidocr_baseline.py

Prints, per stage, the model alone (`session.run` on a 1x3x544x960 or 1x3x48x320 tensor) and
rapidocr's whole stage (`TextDetector` on a 960x544 BGR frame: resize, normalise, run, DB
post-processing; `TextRecognizer` on one 48x320 crop: resize, normalise, run, CTC decoding), on 2
threads. Not part of the build or the tests: a measuring tool only.
"""

import hashlib
import os
import statistics
import sys
import time

import cv2
import numpy as np
from rapidocr_onnxruntime.ch_ppocr_v3_det import TextDetector
from rapidocr_onnxruntime.ch_ppocr_v3_rec import TextRecognizer

THREADS = 2
PINNED = {
    "ch_PP-OCRv4_det_infer.onnx": "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
    "ch_PP-OCRv4_rec_infer.onnx": "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
}


def model(name, folder=None):
    """The pinned model file `name` in `folder` (default $LIMES_MODELS), checked by SHA-256."""
    folder = folder or os.environ.get("LIMES_MODELS")
    if not folder:
        sys.exit("LIMES_MODELS is not set: point it at a models folder (limes models fetch --dir DIR)")
    path = os.path.join(folder, name)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != PINNED[name]:
        sys.exit(f"{path}: sha256 {digest}, not the pinned {PINNED[name]}")
    return path


def times_ms(run, repeat, warm=3):
    """`run` timed `repeat` times after `warm` unmeasured runs: the times in ms, sorted."""
    for _ in range(warm):
        run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return sorted(times)


def timed(label, run, repeat=20, warm=3):
    times = times_ms(run, repeat, warm)
    print(
        f"{label}: min={times[0]:.2f} ms median={statistics.median(times):.2f} ms "
        f"mean={statistics.mean(times):.2f} ms p90={times[int(len(times) * 0.9)]:.2f} ms runs={repeat}"
    )


def scene(height, width, text, scale, thickness):
    """A light frame with a dark plate-like box and characters on it (BGR, uint8)."""
    img = np.full((height, width, 3), 180, np.uint8)
    rng = np.random.default_rng(7)
    img = np.clip(img.astype(np.int16) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)
    cv2.putText(img, text, (width // 10, height * 2 // 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (20, 20, 20), thickness)
    return img


def main():
    common = {"intra_op_num_threads": THREADS, "inter_op_num_threads": 1, "use_cuda": False, "use_dml": False}
    det = TextDetector({**common, "model_path": model("ch_PP-OCRv4_det_infer.onnx"),
                        "limit_side_len": 960, "limit_type": "max"})
    rec = TextRecognizer({**common, "model_path": model("ch_PP-OCRv4_rec_infer.onnx"),
                          "rec_img_shape": [3, 48, 320], "rec_batch_num": 6})

    frame = scene(544, 960, "B 123 XYZ   CJ 07 ABC", 2.0, 4)
    crop = scene(48, 320, "B123XYZ", 1.3, 3)
    boxes, _ = det(frame)
    (text, score), = rec([crop])[0]
    print(f"onnxruntime {__import__('onnxruntime').__version__}, {THREADS} threads; "
          f"detector found {len(boxes)} boxes; recogniser read {text!r} ({score:.2f})")

    det_input = np.random.default_rng(1).standard_normal((1, 3, 544, 960)).astype(np.float32)
    rec_input = np.random.default_rng(2).standard_normal((1, 3, 48, 320)).astype(np.float32)
    det_session, rec_session = det.infer.session, rec.session.session
    det_name, rec_name = det_session.get_inputs()[0].name, rec_session.get_inputs()[0].name
    timed("pp-ocrv4-det-960x544 python session.run", lambda: det_session.run(None, {det_name: det_input}))
    timed("pp-ocrv4-det-960x544 python TextDetector", lambda: det(frame))
    timed("pp-ocrv4-rec-48x320 python session.run", lambda: rec_session.run(None, {rec_name: rec_input}), repeat=100)
    timed("pp-ocrv4-rec-48x320 python TextRecognizer", lambda: rec([crop]), repeat=100)


if __name__ == "__main__":
    main()
