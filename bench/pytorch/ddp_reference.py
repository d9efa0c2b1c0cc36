#!/usr/bin/env python3
"""PyTorch DistributedDataParallel (gloo, CPU) on the same model, data and global batch
as a Phalanx config: the reference for Phalanx's data-parallel scaling.

    python3 bench/pytorch/ddp_reference.py --config configs/fashion-lenet.yaml --world 2 --threads 1 [--steps 200]

Each of `world` processes takes global_batch / world samples of every step (the same
global batch semantics as Phalanx), SGD with momentum as in the config. Prints one JSON
line: training images/s over the timed steps (after 10 warm-up steps), summed over ranks.
"""
import argparse
import json
import os
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

from phalanx_model import build, fashion_mnist, load_config


def worker(rank, args, queue):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29511")
    torch.set_num_threads(args.threads)
    dist.init_process_group("gloo", rank=rank, world_size=args.world)
    cfg = load_config(args.config)
    torch.manual_seed(42)
    model = build(cfg["model"])
    ddp = nn.parallel.DistributedDataParallel(model) if args.world > 1 else model
    opt_cfg = cfg["train"].get("optimizer", {})
    opt = torch.optim.SGD(ddp.parameters(), lr=opt_cfg.get("lr", 0.01), momentum=opt_cfg.get("momentum", 0.0))
    (x, y), _ = fashion_mnist(cfg.get("data", {}).get("directory", "/usr/share/datasets/fashion-mnist"))
    x = torch.from_numpy((x - x.mean()) / x.std())
    y = torch.from_numpy(y)
    batch = cfg["train"].get("batch_size", 128)
    local = batch // args.world
    g = torch.Generator().manual_seed(7)
    perm = torch.randperm(len(x), generator=g)
    loss_fn = nn.CrossEntropyLoss()
    start = None
    for step in range(args.steps + 10):
        if step == 10:
            dist.barrier()
            start = time.time()
        b = perm[(step * batch) % (len(x) - batch):][:batch]
        idx = b[rank * local:(rank + 1) * local]
        opt.zero_grad(set_to_none=True)
        loss_fn(ddp(x[idx]), y[idx]).backward()
        opt.step()
    dist.barrier()
    seconds = time.time() - start
    if rank == 0:
        queue.put(args.steps * batch / seconds)
    dist.destroy_process_group()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--world", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    procs = [ctx.Process(target=worker, args=(r, args, queue)) for r in range(args.world)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    print(json.dumps({"framework": f"pytorch {torch.__version__} DDP gloo", "world": args.world,
                      "threads": args.threads, "images_per_sec": queue.get()}))


if __name__ == "__main__":
    main()
