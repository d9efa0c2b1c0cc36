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


def build(model_cfg, vocabulary=None):
    """nn.Sequential for `model:` of a Phalanx config, every kind of the config language.
    `vocabulary`: a language model's vocabulary size (a `linear` without `out`)."""
    global _VOCABULARY
    _VOCABULARY = vocabulary
    shape = list(model_cfg["input"])
    module, shape = _sequential(model_cfg["layers"], shape)
    return module


_VOCABULARY = None


class Embedding(nn.Embedding):
    """nn.Embedding fed Phalanx's token ids, which travel as floats."""

    def forward(self, x):
        return super().forward(x.long())


class Residual(nn.Module):
    """Phalanx's residual block: body(x) + (shortcut(x) or x), children `body`, `shortcut`."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        s = self.shortcut(x) if hasattr(self, "shortcut") else x
        return self.body(x) + s


class Concat(nn.Module):
    """Parallel named branches joined on channels (the inception module)."""

    def __init__(self, branches):
        super().__init__()
        for name, b in branches.items():
            self.add_module(name, b)

    def forward(self, x):
        return torch.cat([b(x) for b in self.children()], dim=1)


class Auxiliary(nn.Sequential):
    """An auxiliary classifier head: the identity in the network; in training it keeps
    its logits in `self.logits` so the loss can add `weight` × its loss."""

    def __init__(self, children, weight):
        super().__init__(children)
        self.weight = weight
        self.logits = None

    def forward(self, x):
        self.logits = super().forward(x) if self.training else None
        return x


def _recurrent(cls):
    """nn.LSTM / nn.RNN (batch_first) as a Phalanx rnn/lstm layer: PyTorch's own tensor
    names under the layer's name; input [N, T, F] or [N, 1, T, F]; output every step, or
    h_n (forward direction's last step, backward direction's first) concatenated."""

    class Recurrent(cls):
        def __init__(self, features, hidden, layers, bidirectional, sequences):
            super().__init__(features, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=True)
            self.sequences = sequences
            self.carry = False  # start from the previous forward's final state (truncated BPTT)
            self.carried = None

        def forward(self, x):
            if x.dim() == 4:
                x = x[:, 0]
            out, state = super().forward(x, self.carried) if self.carry and self.carried is not None \
                else super().forward(x)
            if self.carry:
                self.carried = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
            if self.sequences:
                return out
            h = state[0] if isinstance(state, tuple) else state
            return torch.cat([h[-2], h[-1]], dim=1) if self.bidirectional else h[-1]

    return Recurrent


def _expand(specs):
    """`repeat: n` written out as n copies, a named spec's copies numbered 1…n."""
    out = []
    for s in specs:
        n = s.get("repeat")
        if n is None:
            out.append(s)
            continue
        for c in range(1, n + 1):
            copy = {k: v for k, v in s.items() if k != "repeat"}
            if s.get("name") is not None:
                copy["name"] = f"{s['name']}{c}"
            out.append(copy)
    return out


def _named(specs):
    counts = defaultdict(int)
    for spec in specs:
        kind = spec["kind"]
        counts[kind] += 1
        yield spec.get("name") or f"{kind}{counts[kind]}", spec


def _sequential(specs, shape):
    children = OrderedDict()
    for name, spec in _named(_expand(specs)):
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
    if kind == "conv_transpose2d":
        k, st, p = _pair(s.get("kernel"), 3), _pair(s.get("stride"), 1), _pair(s.get("padding"), 0)
        op = _pair(s.get("output_padding"), 0)
        c = nn.ConvTranspose2d(shape[0], s["out"], k, st, p, output_padding=op, bias=s.get("bias", True))
        h = (shape[1] - 1) * st[0] - 2 * p[0] + k[0] + op[0]
        w = (shape[2] - 1) * st[1] - 2 * p[1] + k[1] + op[1]
        return c, [s["out"], h, w]
    if kind == "reshape":
        return nn.Unflatten(1, tuple(s["shape"])), list(s["shape"])
    if kind == "upsample":
        f = s.get("factor", 2)
        return nn.Upsample(scale_factor=f, mode="nearest"), [shape[0], shape[1] * f, shape[2] * f]
    if kind in ("maxpool", "avgpool"):
        k = _pair(s.get("kernel"), 2)
        st = _pair(s.get("stride"), None) if s.get("stride") is not None else k
        p = _pair(s.get("padding"), 0)
        cls = nn.MaxPool2d if kind == "maxpool" else nn.AvgPool2d
        h = (shape[1] + 2 * p[0] - k[0]) // st[0] + 1
        w = (shape[2] + 2 * p[1] - k[1]) // st[1] + 1
        return cls(k, st, p), [shape[0], h, w]
    if kind == "linear":
        out = s.get("out", _VOCABULARY)
        return nn.Linear(shape[-1], out, bias=s.get("bias", True)), shape[:-1] + [out]
    if kind == "embedding":
        return Embedding(_VOCABULARY, s["out"]), shape + [s["out"]]
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
    if kind == "prelu":
        return nn.PReLU(shape[0] if s.get("per_channel") else 1), shape
    if kind == "sequential":
        return _sequential(s["layers"], shape)
    if kind == "residual":
        body, out = _sequential(s["layers"], shape)
        shortcut = _sequential(s["shortcut"], shape)[0] if s.get("shortcut") else None
        return Residual(body, shortcut), out
    if kind == "concat":
        branches, channels, rest = OrderedDict(), 0, None
        for name, spec in _named(s["branches"]):
            layer, out = _layer(spec, shape)
            branches[name] = layer
            channels, rest = channels + out[0], out[1:]
        return Concat(branches), [channels] + rest
    if kind == "auxiliary":
        head, _ = _sequential(s["layers"], shape)
        return Auxiliary(OrderedDict(head._modules), s.get("weight", 0.3)), shape
    if kind in ("rnn", "lstm"):
        if s.get("peephole"):
            raise SystemExit("phalanx_model.py: PyTorch's nn.LSTM has no peephole connections")
        features = shape[-1]
        steps = shape[-2]
        d = 2 if s.get("bidirectional") else 1
        layer = _recurrent(nn.LSTM if kind == "lstm" else nn.RNN)(
            features, s["out"], s.get("num_layers", 1), bool(s.get("bidirectional")), bool(s.get("return_sequences")))
        return layer, ([steps, d * s["out"]] if s.get("return_sequences") else [d * s["out"]])
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
