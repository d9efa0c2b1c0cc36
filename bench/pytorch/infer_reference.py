#!/usr/bin/env python3
"""Inference images/s of the PyTorch twin of a Phalanx config's model: whole forward
passes in eval mode under torch.no_grad() on random input, the median of N after 3
warm-up passes — what `phalanx bench model --inference` measures on its side.

    python3 bench/pytorch/infer_reference.py --config configs/fashion-lenet.yaml [--batches 1,256] [--threads 2]

Prints one JSON line: {"framework": ..., "images_per_sec": {"1": ..., "256": ...}}.
"""
import argparse
import json
import time

import torch

from phalanx_model import build, load_config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--batches", default="1,256")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=20)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    cfg = load_config(args.config)
    model = build(cfg["model"]).eval()
    shape = cfg["model"]["input"]
    result = {}
    with torch.no_grad():
        for b in (int(v) for v in args.batches.split(",")):
            x = torch.rand([b] + shape) * 2 - 1
            times = []
            for it in range(args.iterations + 3):
                t0 = time.perf_counter()
                model(x)
                if it >= 3:
                    times.append(time.perf_counter() - t0)
            result[str(b)] = b / sorted(times)[len(times) // 2]
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": args.threads, "images_per_sec": result}))


if __name__ == "__main__":
    main()
