#!/usr/bin/env python3
"""Checks `phalanx export --format onnx` with onnxruntime (CPU provider).

For each checkpoint: export it, validate the file with onnx.checker (full check, with
shape inference), run onnxruntime on the first --count test images as the data files
hold them (raw pixel values, float32 [N, 1, 28, 28]: the normalisation is inside the
graph), and compare with the logits Phalanx itself computes (`phalanx evaluate
--logits`). Prints one table row per model:

  max |Δ|    largest absolute difference of any logit
  max rel    largest over samples of  max_j |Δ_ij| / max_j |phalanx_ij|  (relative to
             the sample's logit scale)
  argmax     samples whose predicted class agrees, out of --count

Usage: bench/onnx_check.py [--phalanx .build/release/phalanx] [--count 1000] [--out DIR] LABEL=CHECKPOINT ...
Needs: pip install onnx onnxruntime numpy. Exits 1 when any model misses the targets
(max rel ≤ 1e-5 and every argmax equal).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort


def idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n, h, w = (int.from_bytes(data[i:i + 4], "big") for i in range(0, 16, 4))
    if magic != 0x803:
        raise SystemExit(f"{path}: not an IDX image file (magic {magic:#x})")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, 1, h, w)


def test_images(checkpoint):
    with open(os.path.join(checkpoint, "trainer.json")) as f:
        data = json.load(f)["trainer"]["config"]["data"]
    directory = data.get("directory") or "/usr/share/datasets/fashion-mnist"
    name = data.get("test_images") or "t10k-images-idx3-ubyte.gz"
    return idx_images(name if name.startswith("/") else os.path.join(directory, name))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--phalanx", default=".build/release/phalanx")
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--out", default="runs/onnx-check")
    ap.add_argument("models", nargs="+", metavar="LABEL=CHECKPOINT")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows, ok = [], True
    for spec in args.models:
        label, _, checkpoint = spec.partition("=")
        if not checkpoint:
            raise SystemExit(f"'{spec}': expected LABEL=CHECKPOINT")
        model = os.path.join(args.out, label + ".onnx")
        logits_path = os.path.join(args.out, label + "-logits.npy")
        subprocess.run([args.phalanx, "export", "--format", "onnx", checkpoint, "--output", model], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([args.phalanx, "evaluate", "--checkpoint", checkpoint, "--logits", logits_path], check=True,
                       stdout=subprocess.DEVNULL)
        onnx.checker.check_model(onnx.load(model), full_check=True)
        images = test_images(os.path.realpath(checkpoint))[:args.count].astype(np.float32)
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: images})[0]
        want = np.load(logits_path)[:args.count]
        if got.shape != want.shape:
            raise SystemExit(f"{label}: onnxruntime gives {got.shape}, Phalanx {want.shape}")
        diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
        rel = float((diff.max(axis=1) / np.abs(want).max(axis=1)).max())
        agree = int((got.argmax(axis=1) == want.argmax(axis=1)).sum())
        nodes = len(onnx.load(model).graph.node)
        rows.append((label, nodes, float(diff.max()), rel, agree))
        ok &= rel <= 1e-5 and agree == len(want)
    print(f"| model | nodes | max abs logit diff | max relative diff | argmax agreement |")
    print(f"| --- | ---: | ---: | ---: | ---: |")
    for label, nodes, d, r, a in rows:
        print(f"| {label} | {nodes} | {d:.2e} | {r:.2e} | {a}/{args.count} |")
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}; targets: relative ≤ 1e-5, every argmax equal: "
          + ("met" if ok else "MISSED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
