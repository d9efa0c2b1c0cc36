#!/usr/bin/env python3
"""The character language model in PyTorch, beside Phalanx's.

    # train the same model on the same text, streams and schedule; print bits/char
    python3 bench/pytorch/charlm_reference.py train configs/fortunes-charlm.yaml [--steps S]

    # load a Phalanx LM checkpoint into nn.Embedding + nn.LSTM + nn.Linear and compare
    # on fixed inputs: held-out bits/char (the whole held-out text, state carried over
    # chunks, as Phalanx evaluates) and greedy generation from a prompt
    python3 bench/pytorch/charlm_reference.py check runs/fortunes-charlm/checkpoints/latest \\
        [--phalanx .build/release/phalanx]

`check` runs `phalanx generate --temperature 0` and `phalanx evaluate` on the same
checkpoint and prints both sides with their differences. PyTorch is never a
dependency of Phalanx; this script is only a reference.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from phalanx_model import build, cosine_lr, load_config


def read_text(paths):
    """The characters of `paths` as Phalanx's TextCorpus reads them: the files of a
    directory in name order (not .dat, .u8 or dotfiles), each followed by a newline."""
    files = []
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                f = os.path.join(p, name)
                if name.endswith((".dat", ".u8")) or name.startswith(".") or os.path.isdir(f):
                    continue
                files.append(f)
        else:
            files.append(p)
    parts = []
    for f in files:
        with open(f, "rb") as h:
            parts.append(h.read().decode("utf-8", errors="replace"))
        parts.append("\n")
    return "".join(parts)


def corpus(data_cfg, vocabulary=None):
    text = read_text(data_cfg["text"])
    held = data_cfg.get("validation", 0)
    cut = len(text) - held
    if vocabulary is None:
        vocabulary = "".join(sorted(set(text[:cut])))
    index = {c: i for i, c in enumerate(vocabulary)}
    train = torch.tensor([index.get(c, 0) for c in text[:cut]], dtype=torch.long)
    held_out = torch.tensor([index.get(c, 0) for c in text[cut:]], dtype=torch.long)
    return vocabulary, train, held_out


class State:
    """Makes the recurrent layers carry their (h, c) from one forward to the next."""

    def __init__(self, model):
        self.layers = [m for m in model.modules() if hasattr(m, "carry")]
        for m in self.layers:
            m.carry = True

    def reset(self):
        for m in self.layers:
            m.carried = None


def bits_per_character(model, state, ids, steps, vocabulary):
    """Held-out bits per character, one stream in chunks of `steps`, state carried —
    the mean over chunks of each chunk's mean loss, as Phalanx computes it."""
    model.eval()
    state.reset()
    chunks = (len(ids) - 1) // steps
    total = 0.0
    with torch.no_grad():
        for c in range(chunks):
            x = ids[c * steps:(c + 1) * steps].float()[None]
            y = ids[c * steps + 1:(c + 1) * steps + 1]
            logits = model(x).reshape(steps, vocabulary)
            total += float(F.cross_entropy(logits.double(), y))
    state.reset()
    return total / chunks / math.log(2)


def train(args):
    cfg = load_config(args.config)
    torch.manual_seed(cfg.get("seed", 0))
    torch.set_num_threads(args.threads)
    d, t = cfg["data"], cfg["train"]
    vocabulary, ids, held = corpus(d)
    V, T, N = len(vocabulary), d["sequence_length"], t["batch_size"]
    model = build(cfg["model"], vocabulary=V)
    state = State(model)
    params = sum(p.numel() for p in model.parameters())
    stream = len(ids) // N
    chunks = (stream - 1) // T
    streams = ids[:N * stream].view(N, stream)
    total = chunks * t["epochs"]
    steps = min(args.steps or total, total)
    o = t["optimizer"]
    opt = torch.optim.Adam(model.parameters(), lr=o["lr"])
    s = t.get("schedule", {})
    print(f"pytorch {torch.__version__}: {params} parameters, {V} characters, {len(ids)} training and "
          f"{len(held)} held-out; {steps} of {total} steps of {N}x{T}; {args.threads} threads", flush=True)
    start = time.time()
    step, loss_sum, seen = 0, 0.0, 0
    while step < steps:
        state.reset()
        model.train()
        for c in range(chunks):
            if step >= steps:
                break
            x = streams[:, c * T:(c + 1) * T].float()
            y = streams[:, c * T + 1:(c + 1) * T + 1]
            for g in opt.param_groups:
                g["lr"] = cosine_lr(step, total, o["lr"], s.get("min_lr", 0.0), s.get("warmup_steps", 0)) \
                    if s.get("kind") == "cosine" else o["lr"]
            opt.zero_grad()
            loss = F.cross_entropy(model(x).reshape(N * T, V), y.reshape(-1))
            loss.backward()
            if t.get("clip_norm"):
                torch.nn.utils.clip_grad_norm_(model.parameters(), t["clip_norm"])
            opt.step()
            step += 1
            loss_sum += loss.item() * N * T
            seen += N * T
            if step % args.log_every == 0:
                el = time.time() - start
                print(f"step {step}/{steps}  {seen / el:.0f} chars/s  loss {loss_sum / seen / math.log(2):.4f} bits/char",
                      flush=True)
    el = time.time() - start
    bits = bits_per_character(model, state, held, T, V)
    print(json.dumps({"steps": step, "train_bits_per_character": loss_sum / seen / math.log(2),
                      "held_out_bits_per_character": bits, "seconds": el, "chars_per_sec": seen / el}))


def check(args):
    ckpt = os.path.realpath(args.checkpoint)
    with open(os.path.join(ckpt, "trainer.json")) as f:
        trainer = json.load(f)
    st = trainer.get("trainer", trainer)
    cfg, vocabulary = st["config"], st["vocabulary"]
    V, T = len(vocabulary), cfg["data"]["sequence_length"]
    model = build(cfg["model"], vocabulary=V)
    model.load_state_dict(load_file(os.path.join(ckpt, "model.safetensors")), strict=True)
    model.eval()
    state = State(model)
    index = {c: i for i, c in enumerate(vocabulary)}
    out = {"checkpoint": ckpt}
    prompt = args.prompt

    # Greedy generation, one character at a time with the state carried.
    state.reset()
    with torch.no_grad():
        for c in prompt:
            if c in index:
                last = model(torch.tensor([[float(index[c])]]))[0, -1]
        generated = []
        for _ in range(args.length):
            i = int(last.argmax())
            generated.append(vocabulary[i])
            last = model(torch.tensor([[float(i)]]))[0, -1]
    torch_text = prompt + "".join(generated)
    out["pytorch_greedy"] = torch_text

    _, _, held = corpus(cfg["data"], vocabulary)
    out["pytorch_held_out_bits_per_character"] = bits_per_character(model, state, held, T, V)

    if args.phalanx:
        p = subprocess.run([args.phalanx, "generate", "--checkpoint", ckpt, "--prompt", prompt,
                            "--length", str(args.length), "--temperature", "0"],
                           capture_output=True, text=True, check=True)
        phalanx_text = p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout
        out["phalanx_greedy"] = phalanx_text
        out["greedy_identical"] = phalanx_text == torch_text
        e = subprocess.run([args.phalanx, "evaluate", "--checkpoint", ckpt, "--json"],
                           capture_output=True, text=True, check=True)
        ev = json.loads(e.stdout.strip().splitlines()[-1])
        out["phalanx_held_out_bits_per_character"] = ev["held_out_bits_per_character"]
        out["difference_bits"] = out["pytorch_held_out_bits_per_character"] - ev["held_out_bits_per_character"]
    print(json.dumps(out, indent=1, ensure_ascii=False))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    a = sub.add_parser("train")
    a.add_argument("config")
    a.add_argument("--steps", type=int, default=0, help="stop after this many steps (0: the config's epochs)")
    a.add_argument("--threads", type=int, default=2)
    a.add_argument("--log-every", type=int, default=100)
    b = sub.add_parser("check")
    b.add_argument("checkpoint")
    b.add_argument("--phalanx", default="", help="the phalanx binary, to run its side")
    b.add_argument("--prompt", default="The ")
    b.add_argument("--length", type=int, default=200)
    args = ap.parse_args()
    train(args) if args.command == "train" else check(args)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
