#!/usr/bin/env python3
"""Cross-check Phalanx's safetensors files against the reference `safetensors` library.

Not part of the test suite (which needs no Python). Needs `pip install safetensors numpy`.

  check_safetensors.py FILE...            load each file with the reference reader and
                                          list its tensors (name, dtype, shape, sum)
  check_safetensors.py --write-reference OUT
                                          write a file with the reference writer (F32, I64,
                                          F64, F16, a scalar, an empty tensor, metadata)
                                          for Phalanx to read
  check_safetensors.py --compare A B      same names, dtypes, shapes and exact values
                                          (exit status 1 if not)

A checkpoint directory may be given instead of a FILE: its model.safetensors and
optimizer.safetensors are checked.
"""
import os
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

REFERENCE = {
    "layer.weight": np.array([[0.5, -1.0, 2.0], [1e-30, 3.25, -0.0]], dtype=np.float32),
    "bn.num_batches_tracked": np.array(12345, dtype=np.int64),
    "double": np.array([1.0 / 3.0, -2.0], dtype=np.float64),
    "half": np.array([0.5, -2.0, 65504.0], dtype=np.float16),
    "empty": np.zeros((0, 4), dtype=np.float32),
}


def files_of(path):
    if os.path.isdir(path):
        return [os.path.join(path, n) for n in ("model.safetensors", "optimizer.safetensors")]
    return [path]


def describe(path):
    tensors = load_file(path)  # the reference reader validates the whole file
    with safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
    print(f"{path}: {len(tensors)} tensors, metadata {metadata}")
    for name in sorted(tensors):
        t = tensors[name]
        print(f"  {name:40s} {str(t.dtype):8s} {list(t.shape)} sum={float(t.astype(np.float64).sum()):.6g}")


def compare(a, b):
    ta, tb = load_file(a), load_file(b)
    ok = sorted(ta) == sorted(tb)
    if not ok:
        print(f"names differ: {sorted(ta)} vs {sorted(tb)}")
    for name in sorted(set(ta) & set(tb)):
        x, y = ta[name], tb[name]
        same = x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes()
        print(f"  {name:40s} {'same' if same else f'DIFFERS: {x.dtype} {x.shape} vs {y.dtype} {y.shape}'}")
        ok = ok and same
    return ok


def main(argv):
    if len(argv) == 2 and argv[0] == "--write-reference":
        save_file(REFERENCE, argv[1], metadata={"format": "pt", "source": "reference"})
        print(f"wrote {argv[1]}")
        return 0
    if len(argv) == 3 and argv[0] == "--compare":
        ok = compare(argv[1], argv[2])
        print("identical" if ok else "DIFFERENT")
        return 0 if ok else 1
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    for path in argv:
        for f in files_of(path):
            describe(f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
