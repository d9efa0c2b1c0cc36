#!/usr/bin/env python3
"""Trains the PyTorch twin of a Phalanx config on CPU with the same hyper-parameters.

Same model (built from the config's `model:`), same global batch, the same optimizer
(SGD with momentum or Nesterov, Adam, RMSProp, AdaGrad with Phalanx's defaults; Phalanx's
l2 λ becomes weight_decay 2λ on weights only, as Phalanx applies it), gradient-norm
clipping (train.clip_norm), the same per-step cosine schedule, training-split standardisation, 5 000 held out, the
same augmentation (random crop of the zero-padded raw image, horizontal flip) done on
each batch in the training loop, and auxiliary classifiers' weighted losses added.

    python3 bench/pytorch/train_reference.py --config configs/fashion-lenet.yaml [--epochs 1] [--threads 2] [--limit N]

Prints one JSON line: images/s over the training steps, test accuracy, seconds.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn

from phalanx_model import build, cosine_lr, fashion_mnist, load_config


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training images (as data.limit)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = load_config(args.config)
    train_cfg = cfg.get("train", {})
    epochs = args.epochs or train_cfg.get("epochs", 10)
    batch = train_cfg.get("batch_size", 128)
    opt_cfg = train_cfg.get("optimizer", {})
    lr = opt_cfg.get("lr", 0.01)
    l2 = train_cfg.get("l2", 0.0)
    clip = train_cfg.get("clip_norm", 0.0)

    data_cfg = cfg.get("data", {})
    (x, y), (tx, ty) = fashion_mnist(data_cfg.get("directory", "/usr/share/datasets/fashion-mnist"))
    if args.limit:
        x, y = x[:args.limit], y[:args.limit]
    held = data_cfg.get("validation", 0)
    order = np.random.default_rng(args.seed).permutation(len(x))
    x, y = x[order[held:]], y[order[held:]]
    mean, std = float(x.mean()), float(x.std())
    tx = (tx - mean) / std
    pad, flip = data_cfg.get("crop_padding", 0), data_cfg.get("horizontal_flip", False)
    if not (pad or flip):
        x = (x - mean) / std
    x, y, tx, ty = map(torch.from_numpy, (np.ascontiguousarray(x), y, np.ascontiguousarray(tx), ty))

    model = build(cfg["model"])
    auxiliaries = [m for m in model.modules() if hasattr(m, "logits")]
    weights = [p for n, p in model.named_parameters() if n.endswith("weight") and p.dim() > 1]
    others = [p for n, p in model.named_parameters() if not (n.endswith("weight") and p.dim() > 1)]
    opt = optimizer(opt_cfg, [{"params": weights, "weight_decay": 2 * l2}, {"params": others, "weight_decay": 0}])
    loss_fn = nn.CrossEntropyLoss()
    steps_per_epoch = len(x) // batch
    total = epochs * steps_per_epoch
    sched = train_cfg.get("schedule", {})
    step, train_seconds, samples = 0, 0.0, 0
    start = time.time()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(x))
        t0 = time.time()
        for b in range(steps_per_epoch):
            idx = perm[b * batch:(b + 1) * batch]
            if sched.get("kind", "constant") == "cosine":
                for g in opt.param_groups:
                    g["lr"] = cosine_lr(step, total, lr, sched.get("min_lr", 0.0), sched.get("warmup_steps", 0))
            xb = x[idx]
            if pad or flip:
                xb = (augment(xb, pad, flip) - mean) / std
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), y[idx])
            for a in auxiliaries:
                loss = loss + a.weight * loss_fn(a.logits, y[idx])
            loss.backward()
            if clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
            opt.step()
            step += 1
        train_seconds += time.time() - t0
        samples += steps_per_epoch * batch
    model.eval()
    with torch.no_grad():
        acc = float((model(tx).argmax(1) == ty).float().mean())
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": args.threads, "epochs": epochs,
                      "batch_size": batch, "images_per_sec": samples / train_seconds,
                      "test_accuracy": acc, "seconds": time.time() - start}))


def optimizer(cfg, groups):
    """The torch.optim twin of a Phalanx `train.optimizer` (Phalanx's defaults)."""
    kind, lr, eps = cfg.get("kind", "sgd"), cfg.get("lr", 0.01), cfg.get("eps", 1e-8)
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=cfg.get("momentum", 0.0), nesterov=cfg.get("nesterov", False))
    if kind == "adam":
        return torch.optim.Adam(groups, lr=lr, betas=(cfg.get("beta1", 0.9), cfg.get("beta2", 0.999)), eps=eps)
    if kind == "rmsprop":
        return torch.optim.RMSprop(groups, lr=lr, alpha=cfg.get("alpha", 0.99), eps=eps)
    if kind == "adagrad":
        return torch.optim.Adagrad(groups, lr=lr, eps=eps)
    raise SystemExit(f"train_reference.py: the {kind} optimizer is not mirrored (sgd, adam, rmsprop, adagrad are)")


def augment(xb, pad, flip):
    """Random crop of the zero-padded raw batch (shift by up to ±pad) and a mirror with
    probability ½, per image."""
    n, _, h, w = xb.shape
    if pad:
        padded = torch.nn.functional.pad(xb, (pad, pad, pad, pad))
        dy = torch.randint(0, 2 * pad + 1, (n,))
        dx = torch.randint(0, 2 * pad + 1, (n,))
        rows = (dy[:, None] + torch.arange(h)[None, :])            # [n, h]
        cols = (dx[:, None] + torch.arange(w)[None, :])            # [n, w]
        xb = padded[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]][:, None]
    if flip:
        mask = torch.rand(n) < 0.5
        xb = torch.where(mask[:, None, None, None], xb.flip(3), xb)
    return xb


if __name__ == "__main__":
    main()
