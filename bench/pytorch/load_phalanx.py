#!/usr/bin/env python3
"""Loads a Phalanx checkpoint into the equivalent PyTorch model and evaluates it.

    python3 bench/pytorch/load_phalanx.py runs/fashion-lenet/checkpoints/latest

Builds the model from the config kept in trainer.json, `load_state_dict(strict=True)`
from model.safetensors (PyTorch names and layouts), normalises the test set with the
checkpoint's statistics and prints the test accuracy beside Phalanx's own figure
(runs/<name>/summary.json) when it is there.
"""
import json
import os
import sys

import torch
from safetensors.torch import load_file

from phalanx_model import build, fashion_mnist


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    ckpt = os.path.realpath(sys.argv[1])
    with open(os.path.join(ckpt, "trainer.json")) as f:
        trainer = json.load(f)
    state = trainer.get("trainer", trainer)
    config = state["config"]
    model = build(config["model"])
    tensors = load_file(os.path.join(ckpt, "model.safetensors"))
    model.load_state_dict(tensors, strict=True)
    model.eval()
    norm = state.get("normalization")
    _, (tx, ty) = fashion_mnist(config["data"].get("directory", "/usr/share/datasets/fashion-mnist"))
    tx = tx * 255.0  # Phalanx's statistics are in raw pixel units
    if norm and norm["method"] != "none":
        tx = (tx - norm["shift"][0]) * norm["scale"][0]
    if config.get("task") == "autoencoder":
        # An autoencoder: the reconstruction's mean squared error per pixel on the test set.
        with torch.no_grad():
            x = torch.from_numpy(tx).float()
            y = model(x).reshape(x.shape)
            if config.get("autoencoder", {}).get("loss") == "bce":
                y = torch.sigmoid(y)
            mse = float(((y - x) ** 2).mean())
        line = {"checkpoint": ckpt, "pytorch_test_mse": mse, "tensors": len(tensors)}
        summary = os.path.join(os.path.dirname(os.path.dirname(ckpt)), "summary.json")
        if os.path.exists(summary):
            with open(summary) as f:
                line["phalanx_test_mse"] = json.load(f).get("test_mse")
        print(json.dumps(line))
        return
    with torch.no_grad():
        logits = model(torch.from_numpy(tx).float())
        acc = float((logits.argmax(1) == torch.from_numpy(ty)).float().mean())
    line = {"checkpoint": ckpt, "pytorch_test_accuracy": acc, "tensors": len(tensors)}
    summary = os.path.join(os.path.dirname(os.path.dirname(ckpt)), "summary.json")
    if os.path.exists(summary):
        with open(summary) as f:
            s = json.load(f)
        if os.path.realpath(s.get("checkpoint", "")) == ckpt:
            line["phalanx_test_accuracy"] = s["test_accuracy"]
            line["difference_points"] = round(100 * (acc - s["test_accuracy"]), 4)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
