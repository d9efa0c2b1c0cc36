#!/usr/bin/env python3
"""Every config in configs/, trained for a short, fixed budget by Phalanx and by its
PyTorch twin one after the other, in one table: training throughput of each side and
their ratio, and inference images/s at batch 1 and 256 (eval mode, whole forward passes).

    bench/compare-all.sh [config …]        (LIMIT=14000 images, THREADS=2 by default)

Classifiers run bench/compare-train.sh CONFIG 1 LIMIT (one epoch on the first LIMIT
training images, the config's validation split held out of them); the character LM runs
bench/compare-charlm.sh 1 (one fortune file); the GAN runs bench/pytorch/gan_twin.py time.
A config whose task or optimizer has no PyTorch twin here gets a row saying why.
"""
import json
import os
import re
import subprocess
import sys
import time

import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIMIT = int(os.environ.get("LIMIT", "14000"))
THREADS = int(os.environ.get("THREADS", "2"))
PHALANX = os.path.join(REPO, ".build", "release", "phalanx")


def sh(cmd):
    r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-400:]}")
    return r.stdout


def row_figure(out, label):
    """The first number after `label` at the start of a line of a compare script's table."""
    for line in out.splitlines():
        if line.startswith(label):
            return float(line[len(label):].split()[0])
    raise RuntimeError(f"no '{label}' row in:\n{out}")


def not_mirrored(cfg):
    """Why a config has no twin here, or None."""
    task = cfg.get("task")
    dataset = cfg.get("data", {}).get("dataset", "fashion-mnist")
    kind = cfg.get("train", {}).get("optimizer", {}).get("kind", "sgd")
    if "ensemble" in cfg:
        return "ensemble: its members train as the single config does (fashion-lenet)"
    if "sweep" in cfg:
        return "sweep: its runs train as the single config does (fashion-lenet)"
    if "init_from" in cfg:
        return "starts from another run's checkpoint (init_from)"
    if task == "autoencoder":
        return "autoencoder task: no PyTorch twin yet"
    if cfg.get("data", {}).get("tokens") == "words":
        return "word language model: no PyTorch twin yet (see phalanx ngram for its baseline)"
    if dataset == "seq2seq":
        return "encoder-decoder: no PyTorch twin yet"
    if kind == "lbfgs":
        return "full-batch L-BFGS: see bench/second_order.py (beside torch.optim.LBFGS)"
    if cfg.get("data", {}).get("format") not in (None, "idx") and dataset != "text":
        return f"data.format {cfg['data']['format']}: the twin reads Fashion-MNIST only"
    return None


def inference(path):
    out = sh([PHALANX, "bench", "model", "--config", path, "--inference", "1,256", "--threads", str(THREADS)])
    ours = {m.group(1): float(m.group(2)) for m in re.finditer(r"inference batch (\d+): (\d+) images/s", out)}
    theirs = json.loads(sh(["python3", "bench/pytorch/infer_reference.py", "--config", path,
                            "--threads", str(THREADS)]).splitlines()[-1])["images_per_sec"]
    return ours, theirs


def main():
    paths = sys.argv[1:] or sorted(os.path.join("configs", f) for f in os.listdir(os.path.join(REPO, "configs"))
                                   if f.endswith(".yaml"))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"command: bench/compare-all.sh {' '.join(sys.argv[1:])}   (LIMIT={LIMIT}, THREADS={THREADS}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, {cpu}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d', time.gmtime())})", flush=True)
    rows = []
    for path in paths:
        name = os.path.splitext(os.path.basename(path))[0]
        cfg = yaml.safe_load(open(os.path.join(REPO, path)))
        reason = not_mirrored(cfg)
        if reason:
            rows.append((name, None, None, None, reason))
            print(f"{name}: skipped — {reason}", flush=True)
            continue
        try:
            t0 = time.time()
            infer = None
            if cfg.get("data", {}).get("dataset") == "text":
                out = sh(["bench/compare-charlm.sh", "1"])
                unit = "chars/s"
                ours, theirs = row_figure(out, "phalanx"), row_figure(out, "pytorch " + torch_version(out))
            elif cfg.get("task") == "gan":
                out = sh(["python3", "bench/pytorch/gan_twin.py", "time", "--steps", "60", "--config", path])
                unit = "real img/s"
                ours, theirs = row_figure(out, "phalanx"), row_figure(out, "pytorch " + torch_version(out))
            else:
                out = sh(["bench/compare-train.sh", path, "1", str(LIMIT)])
                unit = "img/s"
                ours, theirs = row_figure(out, "phalanx"), row_figure(out, "pytorch " + torch_version(out))
                infer = inference(path)
            rows.append((name, unit, ours, theirs, infer))
            print(f"{name}: {ours:.0f} vs {theirs:.0f} {unit} ({time.time() - t0:.0f} s)", flush=True)
        except RuntimeError as e:
            rows.append((name, None, None, None, f"failed: {e}"))
            print(f"{name}: FAILED {e}", flush=True)
    print()
    print("| config | unit | Phalanx | PyTorch | ratio | inference b1 Phalanx / PyTorch | b256 Phalanx / PyTorch |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, unit, ours, theirs, extra in rows:
        if ours is None:
            print(f"| {name} | | | | | {extra} | |")
            continue
        b1 = b256 = ""
        if extra:
            o, t = extra
            b1 = f"{o['1']:.0f} / {t['1']:.0f} ({o['1'] / t['1']:.2f})"
            b256 = f"{o['256']:.0f} / {t['256']:.0f} ({o['256'] / t['256']:.2f})"
        print(f"| {name} | {unit} | {ours:.0f} | {theirs:.0f} | **{ours / theirs:.2f}** | {b1} | {b256} |")


def torch_version(out):
    m = re.search(r"^pytorch (\S+)", out, re.M)
    if not m:
        raise RuntimeError(f"no pytorch row in:\n{out}")
    return m.group(1)


if __name__ == "__main__":
    main()
