#!/usr/bin/env python3
"""The PyTorch twin of Phalanx's GAN task (`task: gan`, e.g. configs/fashion-dcgan.yaml).

    python3 bench/pytorch/gan_twin.py check CKPT
        Builds the generator (`model:`) and the discriminator (`gan.discriminator`) from
        the config kept in CKPT/trainer.json, loads CKPT/model.safetensors strictly
        (`generator.*`, `discriminator.*`), has `phalanx generate` draw 64 images with
        their latents, runs the latents through the PyTorch generator (eval mode) and
        prints the largest |difference| and D(G(z)). Exit status 1 above 1e-4.

    python3 bench/pytorch/gan_twin.py time [--steps N] [--config configs/fashion-dcgan.yaml]
        Training throughput, side by side in one run: N steps (after 20 warm-up steps)
        of Phalanx's GAN step in PyTorch on Fashion-MNIST, then `phalanx train` on the
        same config for N steps; one table of real images per second.

The step (Sources/PhalanxTraining/Tasks/GANTask.swift): fake = G(z) once (training mode);
D: BCE(D(x), 1) + BCE(D(fake), 0), each the mean over the batch, D's Adam step; G: BCE(D(fake), 1)
through the updated D, G's Adam step. Threads: $THREADS (2). Phalanx: $PHALANX, else
.build/release/phalanx, with launch/blas-env's OPENBLAS_CORETYPE. Time on an idle machine:
with other processes on the cores, PyTorch's OpenMP threads spin at every barrier and
its figure drops several-fold (the header prints the load average); THREADS=1 or
OMP_WAIT_POLICY=PASSIVE avoids most of that.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file

from phalanx_model import build, load_config, read_idx

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PHALANX = os.environ.get("PHALANX", os.path.join(REPO, ".build", "release", "phalanx"))
WARMUP = 20
TOLERANCE = 1e-4


def gan(config):
    """nn.ModuleDict(generator, discriminator): the state-dict names of Phalanx's checkpoint."""
    generator = build(config["model"])
    generator.eval()
    with torch.no_grad():  # the image shape the discriminator reads: what G writes
        image = list(generator(torch.zeros(1, config["model"]["input"][0])).shape[1:])
    discriminator = build({"input": image, "layers": config["gan"]["discriminator"]})
    return nn.ModuleDict({"generator": generator, "discriminator": discriminator})


def run(cmd, env=None):
    """Runs a command, printing it first; its output is shown only if it fails."""
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.stdout.write(done.stdout)
        raise SystemExit(f"gan_twin.py: {cmd[0]} {cmd[1]} failed (exit status {done.returncode})")


def blas_env():
    """The environment for Phalanx: launch/blas-env sourced (OPENBLAS_CORETYPE on Intel CPUs)."""
    script = f"source {shlex.quote(os.path.join(REPO, 'launch', 'blas-env'))}; printf %s \"${{OPENBLAS_CORETYPE:-}}\""
    coretype = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    env = dict(os.environ)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    return env


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def check(ckpt):
    ckpt = os.path.realpath(ckpt)
    with open(os.path.join(ckpt, "trainer.json")) as f:
        trainer = json.load(f)
    config = trainer.get("trainer", trainer)["config"]
    model = gan(config)
    tensors = load_file(os.path.join(ckpt, "model.safetensors"))
    model.load_state_dict(tensors, strict=True)
    model.eval()
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "x")
        run([PHALANX, "generate", "--checkpoint", ckpt, "--count", "64", "--seed", "5",
             "--output", prefix + ".png", "--arrays", prefix], env=blas_env())
        z = torch.from_numpy(np.load(prefix + "-latents.npy")).float()
        images = torch.from_numpy(np.load(prefix + "-images.npy")).float()
    with torch.no_grad():
        ours = model["generator"](z).reshape(images.shape)
        difference = float((ours - images).abs().max())
        d_phalanx = float(torch.sigmoid(model["discriminator"](images)).mean())
        d_torch = float(torch.sigmoid(model["discriminator"](ours)).mean())
    print(json.dumps({"checkpoint": ckpt, "tensors": len(tensors), "latents": list(z.shape), "images": list(images.shape),
                      "max_abs_difference": difference, "d_of_g_z_mean_phalanx_images": d_phalanx,
                      "d_of_g_z_mean_pytorch_images": d_torch, "ok": difference <= TOLERANCE}))
    if not difference <= TOLERANCE:
        raise SystemExit(f"gan_twin.py: the generators differ by {difference:.3g} (> {TOLERANCE:g})")


def train_pytorch(config, steps, threads):
    """Images per second of Phalanx's GAN step in PyTorch: (all steps, the steps after warm-up)."""
    torch.set_num_threads(threads)
    torch.manual_seed(config.get("seed", 1))
    t = config.get("train", {})
    batch = t.get("batch_size", 128)
    opt = t.get("optimizer", {})
    if opt.get("kind", "sgd") != "adam":
        raise SystemExit("gan_twin.py: only the adam optimizer is mirrored")
    directory = config.get("data", {}).get("directory", "/usr/share/datasets/fashion-mnist")
    total = WARMUP + steps
    pixels = read_idx(f"{directory}/train-images-idx3-ubyte.gz")[:total * batch]
    x = torch.from_numpy(pixels.astype(np.float32) / 255.0)[:, None]
    if len(x) < total * batch:
        raise SystemExit(f"gan_twin.py: {total} steps of {batch} need {total * batch} images, the data have {len(x)}")
    model = gan(config)
    model.train()
    G, D = model["generator"], model["discriminator"]
    latent = config["model"]["input"][0]
    betas, eps, lr = (opt.get("beta1", 0.9), opt.get("beta2", 0.999)), opt.get("eps", 1e-8), opt.get("lr", 1e-3)
    d_lr = config["gan"].get("discriminator_lr", lr)
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=betas, eps=eps)
    opt_d = torch.optim.Adam(D.parameters(), lr=d_lr, betas=betas, eps=eps)
    bce = nn.BCEWithLogitsLoss()  # the mean over the batch, as Phalanx's normalizer
    ones, zeros = torch.ones(batch, 1), torch.zeros(batch, 1)
    order = torch.randperm(len(x))
    start = timed = None
    for step in range(total):
        if step == 0:
            start = time.perf_counter()
        if step == WARMUP:
            timed = time.perf_counter()
        real = x[order[step * batch:(step + 1) * batch]]
        fake = G(torch.randn(batch, latent))
        # 1. D: real images are 1, generated ones 0; G is not updated.
        opt_d.zero_grad(set_to_none=True)
        d_loss = bce(D(real), ones) + bce(D(fake.detach()), zeros)
        d_loss.backward()
        opt_d.step()
        # 2. G: the updated D should say 1 to the same samples.
        opt_g.zero_grad(set_to_none=True)
        g_loss = bce(D(fake), ones)
        g_loss.backward()
        opt_g.step()
    end = time.perf_counter()
    d_loss, g_loss = d_loss.detach(), g_loss.detach()
    if not (torch.isfinite(d_loss) and torch.isfinite(g_loss)):
        raise SystemExit("gan_twin.py: the PyTorch losses are not finite")
    return total * batch / (end - start), steps * batch / (end - timed), d_loss.item(), g_loss.item()


def train_phalanx(config_path, config, steps, threads):
    """Phalanx's `train_samples_per_sec` for `steps` steps (one epoch on the first images)."""
    batch = config.get("train", {}).get("batch_size", 128)
    validation = 256
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [PHALANX, "train", "--config", config_path, "--plain", "--set", "name=gan-time",
               "--set", f"checkpoint.directory={tmp}", "--set", f"data.limit={steps * batch + validation}",
               "--set", f"data.validation={validation}", "--set", "train.epochs=1", "--set", f"train.threads={threads}"]
        env = blas_env()
        run(cmd, env=env)
        with open(os.path.join(tmp, "gan-time", "summary.json")) as f:
            summary = json.load(f)
    if summary.get("steps") != steps:
        print(f"gan_twin.py: note: Phalanx trained {summary.get('steps')} steps, not {steps}")
    return summary["train_samples_per_sec"], env.get("OPENBLAS_CORETYPE"), cmd


def time_both(args):
    threads = int(os.environ.get("THREADS", "2"))
    config = load_config(args.config)
    if config.get("task") != "gan":
        raise SystemExit(f"gan_twin.py: {args.config} is not a GAN config (task: gan)")
    batch = config.get("train", {}).get("batch_size", 128)
    print(f"command: bench/pytorch/gan_twin.py {' '.join(sys.argv[1:])}   (THREADS={threads}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d', time.gmtime())})", flush=True)
    print(f"pytorch: {args.steps} steps after {WARMUP} warm-up, batch {batch}", flush=True)
    t_all, t_ips, d_loss, g_loss = train_pytorch(config, args.steps, threads)
    p_ips, coretype, cmd = train_phalanx(args.config, config, args.steps, threads)
    name = os.path.splitext(os.path.basename(args.config))[0]
    print()
    print(f"{name}, batch {batch}, {args.steps} steps, {threads} threads, {cpu_name()}"
          f"{', OPENBLAS_CORETYPE=' + coretype if coretype else ''}")
    rows = [(f"pytorch {torch.__version__}", t_ips, f"after {WARMUP} warm-up steps; all {WARMUP + args.steps}: {t_all:.0f}; "
             f"final D loss {d_loss:.3f}, G loss {g_loss:.3f}"),
            ("phalanx", p_ips, "train_samples_per_sec, the whole epoch")]
    print(f"{'':24} {'real img/s':>10}")
    for label, ips, note in rows:
        print(f"{label:24} {ips:10.0f}   ({note})")
    print(f"ratio phalanx / pytorch: {p_ips / t_ips:.2f}")
    print("phalanx: " + " ".join(shlex.quote(c) for c in cmd))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("check", help="the PyTorch generator against `phalanx generate` on a checkpoint")
    c.add_argument("checkpoint")
    t = sub.add_parser("time", help="training images/s of PyTorch and Phalanx on the same GAN")
    t.add_argument("--steps", type=int, default=200)
    t.add_argument("--config", default=os.path.join(REPO, "configs", "fashion-dcgan.yaml"))
    args = ap.parse_args()
    if args.mode == "check":
        check(args.checkpoint)
    else:
        if args.steps < 1:
            raise SystemExit("gan_twin.py: --steps must be at least 1")
        time_both(args)


if __name__ == "__main__":
    main()
