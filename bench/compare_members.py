#!/usr/bin/env python3
"""Compares two runs of the same ensemble config (e.g. alone and under mpirun -np 2):
each member's final weights (largest relative difference per tensor, ‖a − b‖ / ‖b‖)
and the ensemble's figures from ensemble.json.

    python3 bench/compare_members.py RUN_A RUN_B      # runs/<name> directories
Exit status 1 when a member's weights differ by more than 1e-5 relative or the
ensemble's figures differ. Needs numpy only.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np


def read_safetensors(path):
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        dtype = {"F32": np.float32, "I64": np.int64}[info["dtype"]]
        out[name] = np.frombuffer(body[begin:end], dtype=dtype).astype(np.float64).reshape(info["shape"])
    return out


def main(a, b):
    a, b = Path(a), Path(b)
    ea = json.loads((a / "ensemble.json").read_text())
    eb = json.loads((b / "ensemble.json").read_text())
    bad = False
    for ma, mb in zip(ea["members"], eb["members"]):
        ta = read_safetensors(Path(ma["checkpoint"]) / "model.safetensors")
        tb = read_safetensors(Path(mb["checkpoint"]) / "model.safetensors")
        if sorted(ta) != sorted(tb):
            print(f"{ma['name']}: tensor names differ")
            bad = True
            continue
        worst, where = 0.0, ""
        for name in tb:
            rel = np.linalg.norm(ta[name] - tb[name]) / max(np.linalg.norm(tb[name]), 1e-30)
            if rel > worst:
                worst, where = rel, name
        print(f"{ma['name']}: largest relative weight difference {worst:.2e}{' (' + where + ')' if where else ''}; "
              f"test accuracy {ma['test_accuracy']:.4f} vs {mb['test_accuracy']:.4f}")
        bad |= worst > 1e-5
    for key in ["soft_vote_accuracy", "hard_vote_accuracy", "best_member_accuracy", "disagreement"]:
        same = ea[key] == eb[key]
        print(f"{key}: {ea[key]:.4f} vs {eb[key]:.4f}{'' if same else '  DIFFERENT'}")
        bad |= not same
    oa, ob = ea.get("out_of_bag"), eb.get("out_of_bag")
    if oa or ob:
        print(f"out_of_bag: {oa['accuracy']:.4f} on {oa['covered']} vs {ob['accuracy']:.4f} on {ob['covered']}")
        bad |= oa != ob
    print("same members and ensemble" if not bad else "DIFFERENT")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
