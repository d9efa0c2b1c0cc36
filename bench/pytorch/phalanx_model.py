"""Builds the PyTorch equivalent of a Phalanx model config, and reads Phalanx's data.

Shared by the reference scripts in this folder. The module tree mirrors Phalanx's:
an nn.Sequential of named children (the config's `name:` or `<kind><index>`), so the
state-dict names are the same and `load_state_dict(strict=True)` accepts Phalanx's
model.safetensors.
"""
import gzip
import math
import struct
from collections import OrderedDict, defaultdict

import numpy as np
import torch
import torch.nn as nn
import yaml


def _pair(v, default):
    if v is None:
        v = default
    return (v, v) if isinstance(v, int) else tuple(v)


def build(model_cfg):
    """nn.Sequential for `model:` of a Phalanx config (the kinds LeNet/MLP/VGG use)."""
    shape = list(model_cfg["input"])
    module, shape = _sequential(model_cfg["layers"], shape)
    return module


def _sequential(specs, shape):
    counts = defaultdict(int)
    children = OrderedDict()
    for spec in specs:
        kind = spec["kind"]
        counts[kind] += 1
        name = spec.get("name") or f"{kind}{counts[kind]}"
        layer, shape = _layer(spec, shape)
        children[name] = layer
    return nn.Sequential(children), shape


def _layer(s, shape):
    kind = s["kind"]
    if kind == "conv2d":
        k, st, p = _pair(s.get("kernel"), 3), _pair(s.get("stride"), 1), _pair(s.get("padding"), 0)
        c = nn.Conv2d(shape[0], s["out"], k, st, p, groups=s.get("groups", 1), bias=s.get("bias", True))
        h = (shape[1] + 2 * p[0] - k[0]) // st[0] + 1
        w = (shape[2] + 2 * p[1] - k[1]) // st[1] + 1
        return c, [s["out"], h, w]
    if kind in ("maxpool", "avgpool"):
        k = _pair(s.get("kernel"), 2)
        st = _pair(s.get("stride"), None) if s.get("stride") is not None else k
        p = _pair(s.get("padding"), 0)
        cls = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
        h = (shape[1] + 2 * p[0] - k[0]) // st[0] + 1
        w = (shape[2] + 2 * p[1] - k[1]) // st[1] + 1
        return cls(k, st, p), [shape[0], h, w]
    if kind == "linear":
        return nn.Linear(shape[0], s["out"], bias=s.get("bias", True)), [s["out"]]
    if kind == "flatten":
        return nn.Flatten(), [int(np.prod(shape))]
    if kind == "relu":
        return nn.ReLU(), shape
    if kind == "leaky_relu":
        return nn.LeakyReLU(s.get("slope", 0.01)), shape
    if kind == "tanh":
        return nn.Tanh(), shape
    if kind == "sigmoid":
        return nn.Sigmoid(), shape
    if kind == "dropout":
        return nn.Dropout(s.get("p", 0.5)), shape
    if kind == "batchnorm":
        cls = nn.BatchNorm2d if len(shape) == 3 else nn.BatchNorm1d
        return cls(shape[0], eps=s.get("eps", 1e-5), momentum=s.get("momentum", 0.1)), shape
    if kind == "global_avgpool":
        return nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten()), [shape[0]]
    if kind == "lrn":
        return nn.LocalResponseNorm(s.get("size", 5), s.get("alpha", 1e-4), s.get("beta", 0.75), s.get("k", 1.0)), shape
    raise SystemExit(f"phalanx_model.py: layer kind '{kind}' is not mapped to PyTorch yet")


def load_config(path):
    with open(path) as f:
        return yaml.safe_load(f)


def read_idx(path):
    """Images as uint8 [N, rows, cols] or labels as uint8 [N] from an IDX (.gz) file."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist(directory="/usr/share/datasets/fashion-mnist"):
    """((train_x, train_y), (test_x, test_y)) as float32 in [0, 1] [N, 1, 28, 28] and int64."""
    def pair(prefix):
        x = read_idx(f"{directory}/{prefix}-images-idx3-ubyte.gz").astype(np.float32) / 255.0
        y = read_idx(f"{directory}/{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        return x[:, None, :, :], y
    return pair("train"), pair("t10k")


def cosine_lr(step, total, base, minimum=0.0, warmup=0):
    """Phalanx's cosine schedule with linear warm-up, per optimizer step."""
    if warmup > 0 and step < warmup:
        return base * (step + 1) / warmup
    t = (step - warmup) / max(1, total - warmup)
    return minimum + (base - minimum) * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))
