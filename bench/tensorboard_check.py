#!/usr/bin/env python3
"""TensorBoard's own reader on a Phalanx run: the same numbers as metrics.jsonl.

    pip install tensorboard
    python3 bench/tensorboard_check.py runs/fashion-lenet

Loads RUN_DIR/tb with TensorBoard's EventAccumulator (every event kept), and compares
each scalar tag's (step, value) list with metrics.jsonl: a line's `loss`, `accuracy`,
`samples_per_sec` and other numbers are `<split>/<name>`, its `lr` is `lr`; `step`,
`epoch` and `time` are not metrics. Values must agree to float32 (TensorBoard keeps
simple_value as a 32-bit float). Image tags are listed with their steps and sizes, and
each image is compared byte for byte with the samples/epoch-NNN.png the run wrote at
that step (the classifier's `misclassified` grids have no file to compare with). With
`logging: {histograms: true}`, every `weights/<name>` and `gradients/<name>` histogram
is checked to hold one event per epoch (the validation steps), its bucket counts to add
up to `num`, its edges to rise to `max`; and each weight histogram at the step of a
checkpoint still on disk to have the count, min, max and sum of that tensor in the
checkpoint's model.safetensors (needs pip `safetensors`). Exits 1 on any mismatch, 2
when the run has no event files.
"""
import json
import os
import sys

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

NOT_METRICS = {"step", "epoch", "time", "split"}


def expected_scalars(metrics_path):
    """tag -> [(step, value)] in file order, and step -> epoch of the validation lines."""
    tags, epochs = {}, {}
    with open(metrics_path) as f:
        for line in f:
            record = json.loads(line)
            split, step = record["split"], record["step"]
            if split == "validation":
                epochs[step] = record["epoch"]
            for key, value in record.items():
                if key in NOT_METRICS:
                    continue
                tag = "lr" if key == "lr" else f"{split}/{key}"
                tags.setdefault(tag, []).append((step, float(value)))
    return tags, epochs


def checkpoint_tensors(run):
    """step -> {name: float64 array} of the checkpoints kept under run/checkpoints."""
    root = os.path.join(run, "checkpoints")
    out = {}
    if not os.path.isdir(root):
        return out
    try:
        from safetensors.numpy import load_file
    except ImportError:
        print("(pip safetensors not installed: histograms are not compared with checkpoints)")
        return out
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "model.safetensors")
        if name.startswith("step-") and not os.path.islink(os.path.join(root, name)) and os.path.exists(path):
            out[int(name[len("step-"):])] = {k: v.astype(np.float64) for k, v in load_file(path).items()}
    return out


def check_histograms(run, acc, histogram_tags, epochs):
    """Failures among the weights/ and gradients/ histograms (see the module's docstring)."""
    if not histogram_tags:
        print("no histogram tags")
        return []
    failures, compared = [], 0
    tensors = checkpoint_tensors(run)
    validation_steps = sorted(epochs)
    for tag in sorted(histogram_tags):
        events = acc.Histograms(tag)
        steps = [e.step for e in events]
        if validation_steps and steps != validation_steps:
            failures.append(f"{tag}: histograms at steps {steps}, validation at {validation_steps}")
        for e in events:
            h = e.histogram_value
            limits, counts = list(h.bucket_limit), list(h.bucket)
            problem = None
            if len(limits) != len(counts) or not counts:
                problem = f"{len(limits)} bucket limits for {len(counts)} buckets"
            elif sum(counts) != h.num:
                problem = f"buckets add up to {sum(counts)}, num is {h.num}"
            elif any(b <= a for a, b in zip(limits, limits[1:])) or limits[-1] != h.max or h.min > h.max:
                problem = f"edges {limits[0]}…{limits[-1]} do not rise from min {h.min} to max {h.max}"
            name = tag.split("/", 1)[1]
            if problem is None and tag.startswith("weights/") and e.step in tensors and name in tensors[e.step]:
                t = tensors[e.step][name].ravel()
                compared += 1
                if (t.size != h.num or t.min() != h.min or t.max() != h.max
                        or abs(t.sum() - h.sum) > 1e-9 * max(1.0, np.abs(t).sum())):
                    problem = (f"checkpoint step-{e.step:06d} holds {t.size} values in [{t.min()}, {t.max()}] summing "
                               f"to {t.sum()}; the histogram says {h.num:.0f} in [{h.min}, {h.max}] summing to {h.sum}")
            if problem:
                failures.append(f"{tag} at step {e.step}: {problem}")
    print(f"histograms: {len(histogram_tags)} tags ({sum(t.startswith('weights/') for t in histogram_tags)} weights, "
          f"{sum(t.startswith('gradients/') for t in histogram_tags)} gradients), "
          f"{sum(len(acc.Histograms(t)) for t in histogram_tags)} events; "
          f"{compared} weight histograms compared with checkpoint tensors")
    return failures


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    tb = os.path.join(run, "tb")
    files = sorted(f for f in os.listdir(tb) if "tfevents" in f) if os.path.isdir(tb) else []
    if not files:
        print(f"{tb}: no event files")
        sys.exit(2)
    acc = EventAccumulator(tb, size_guidance={"scalars": 0, "images": 0, "tensors": 0, "histograms": 0})
    acc.Reload()
    tags = acc.Tags()
    expected, epochs = expected_scalars(os.path.join(run, "metrics.jsonl"))
    print(f"{tb}: {len(files)} event file(s): {', '.join(files)}")
    failures = []
    print(f"{'tag':32} {'points':>6}  {'steps':>16}  {'max |diff|':>10}  result")
    for tag in sorted(set(expected) | set(tags["scalars"])):
        want = expected.get(tag, [])
        got = [(e.step, e.value) for e in acc.Scalars(tag)] if tag in tags["scalars"] else []
        problem = None
        if len(got) != len(want):
            problem = f"{len(got)} points in the event files, {len(want)} in metrics.jsonl"
        elif [s for s, _ in got] != [s for s, _ in want]:
            problem = f"steps {[s for s, _ in got]} != {[s for s, _ in want]}"
        diff = 0.0
        for (_, g), (_, w) in zip(got, want):
            diff = max(diff, abs(g - w))
            if problem is None and np.float32(w) != np.float32(g):
                problem = f"value {g!r} != {w!r} (as float32 {np.float32(w)!r})"
        steps = f"{want[0][0]}…{want[-1][0]}" if want else "-"
        print(f"{tag:32} {len(got):>6}  {steps:>16}  {diff:10.3g}  {'ok' if problem is None else 'MISMATCH: ' + problem}")
        if problem:
            failures.append(f"{tag}: {problem}")
    total_json = sum(len(v) for v in expected.values())
    total_tb = sum(len(acc.Scalars(t)) for t in tags["scalars"])
    print(f"scalars: {total_tb} in the event files, {total_json} numbers in metrics.jsonl")

    for tag in sorted(tags["images"]):
        images = acc.Images(tag)
        print(f"image tag {tag!r}: {len(images)} images at steps {[i.step for i in images]}, "
              f"{images[0].width}×{images[0].height}" if images else f"image tag {tag!r}: none")
        for image in images:
            if not image.encoded_image_string.startswith(b"\x89PNG\r\n\x1a\n"):
                failures.append(f"{tag} at step {image.step}: not a PNG")
                continue
            epoch = epochs.get(image.step)
            path = os.path.join(run, "samples", f"epoch-{epoch:03d}.png") if epoch else None
            if path and os.path.exists(path):
                with open(path, "rb") as f:
                    same = f.read() == image.encoded_image_string
                print(f"  step {image.step}: {len(image.encoded_image_string)} bytes, "
                      f"{'same bytes as' if same else 'DIFFERS from'} {os.path.relpath(path, run)}")
                if not same:
                    failures.append(f"{tag} at step {image.step} differs from {path}")
    if not tags["images"]:
        print("no image tags")

    failures += check_histograms(run, acc, tags.get("histograms", []), epochs)

    if failures:
        print(f"FAILED: {len(failures)} mismatch(es)")
        for f in failures:
            print("  " + f)
        sys.exit(1)
    print("OK: every scalar of metrics.jsonl is in the event files, same steps and values (float32)")


if __name__ == "__main__":
    main()
