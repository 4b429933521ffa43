"""rapidocr's stages on the pictures `limes bench vision` hands it, at the same input sizes.

    python3 -m venv /tmp/rapidocr-venv
    /tmp/rapidocr-venv/bin/pip install rapidocr-onnxruntime==1.3.24 onnxruntime==1.31.1
    limes bench vision --python /tmp/rapidocr-venv/bin/python     # runs this script itself

Arguments: THREADS MODELS_DIR VEHICLE.png FRAME.png PLATE.png REPEAT. Prints `name=value ms`
lines, as `limes bench` does (with `--serve` in place of REPEAT, see the end):

- `python_text_detection_vehicle_ms`: rapidocr's TextDetector (resize, normalise, run, DB
  post-processing) on the vehicle's box, its longer side kept as limes keeps it (a multiple of
  32, never scaled down below 1280);
- `python_text_detection_frame_ms`: the same on the whole 1080p frame, scaled to 1280 on its
  longer side as limes scales it;
- `python_recognition_ms`: TextRecognizer (resize, normalise, run, CTC decoding) on the plate's
  crop at 48 px high;
- `python_ocr_frame_ms`: rapidocr's whole pipeline (detection, then recognition of every box it
  found) on the frame, detection at 1280 — what "the Python rapidocr pipeline" does end to end.

Medians of REPEAT runs after three to warm up. A measuring tool, not part of the build or tests.

With `--serve` (what `limes bench vision` runs), it reads one word a line and answers each with
one line: `det_vehicle`, `det_frame`, `rec`, `ocr` run that stage once and answer its time in ms;
`read` answers the plate's crop as read, `boxes` the number of boxes the whole pipeline reads in
the frame. limes times each stage of its own between two questions, so both are measured
interleaved on the same host at the same moments.
"""

import os
import statistics
import sys

import cv2
from rapidocr_onnxruntime.ch_ppocr_v3_det import TextDetector
from rapidocr_onnxruntime.ch_ppocr_v3_rec import TextRecognizer

# The pinned models and their check are the baseline's, beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rapidocr_baseline import model, times_ms  # noqa: E402


def median_ms(run, repeat):
    return statistics.median(times_ms(run, repeat))


def main():
    threads, folder, vehicle, frame, plate, repeat = sys.argv[1:7]
    serve = repeat == "--serve"
    threads, repeat = int(threads), (0 if serve else int(repeat))
    common = {"intra_op_num_threads": threads, "inter_op_num_threads": 1, "use_cuda": False, "use_dml": False}
    vehicle, frame, plate = cv2.imread(vehicle), cv2.imread(frame), cv2.imread(plate)
    side = max(vehicle.shape[:2])
    det_vehicle = TextDetector({**common, "model_path": model("ch_PP-OCRv4_det_infer.onnx", folder),
                                "limit_side_len": max(side, 32), "limit_type": "max"})
    det_frame = TextDetector({**common, "model_path": model("ch_PP-OCRv4_det_infer.onnx", folder),
                              "limit_side_len": 1280, "limit_type": "max"})
    rec = TextRecognizer({**common, "model_path": model("ch_PP-OCRv4_rec_infer.onnx", folder),
                          "rec_img_shape": [3, 48, 320], "rec_batch_num": 6})

    def ocr():
        boxes, _ = det_frame(frame)
        if boxes is None or len(boxes) == 0:
            return 0
        crops = []
        for b in boxes:
            x0, y0 = max(int(b[:, 0].min()), 0), max(int(b[:, 1].min()), 0)
            x1, y1 = int(b[:, 0].max()), int(b[:, 1].max())
            if x1 > x0 and y1 > y0:
                crops.append(frame[y0:y1, x0:x1])
        rec(crops)
        return len(crops)

    if serve:
        stages = {
            "det_vehicle": lambda: det_vehicle(vehicle),
            "det_frame": lambda: det_frame(frame),
            "rec": lambda: rec([plate]),
            "ocr": ocr,
        }
        for line in sys.stdin:
            word = line.strip()
            if word == "read":
                print(rec([plate])[0][0][0], flush=True)
            elif word == "boxes":
                print(ocr(), flush=True)
            elif word in stages:
                print(f"{times_ms(stages[word], 1, warm=0)[0]:.3f}", flush=True)
            else:
                print(f"unknown stage {word!r}", flush=True)
        return
    print(f"python_text_detection_vehicle_ms={median_ms(lambda: det_vehicle(vehicle), repeat):.1f} ms")
    print(f"python_text_detection_frame_ms={median_ms(lambda: det_frame(frame), repeat):.1f} ms")
    print(f"python_recognition_ms={median_ms(lambda: rec([plate]), repeat * 5):.2f} ms")
    (text, score), = rec([plate])[0]
    print(f"python_plate_read={text}")

    print(f"python_ocr_frame_ms={median_ms(ocr, repeat):.1f} ms")
    print(f"python_ocr_frame_boxes={ocr()}")


if __name__ == "__main__":
    main()
