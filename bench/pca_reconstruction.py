#!/usr/bin/env python3
"""PCA reconstruction error on Fashion-MNIST: the baseline a k-unit autoencoder is
measured against. Pixels scaled to [0, 1] (data.normalize: scale), PCA fitted on the
training images, test images projected on k components and back; prints the test MSE
per pixel for each k.

    python3 bench/pca_reconstruction.py [k ...]        (needs: pip install numpy)
"""
import gzip
import struct
import sys

import numpy as np

DIR = "/usr/share/datasets/fashion-mnist"


def images(name):
    with gzip.open(f"{DIR}/{name}-images-idx3-ubyte.gz") as f:
        _, n, rows, cols = struct.unpack(">IIII", f.read(16))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(n, rows * cols).astype(np.float64) / 255.0


def main():
    ks = [int(k) for k in sys.argv[1:]] or [32]
    train, test = images("train"), images("t10k")
    mean = train.mean(axis=0)
    # Principal axes: right singular vectors of the centred training data.
    _, _, vt = np.linalg.svd(train - mean, full_matrices=False)
    print(f"command: python3 bench/pca_reconstruction.py {' '.join(map(str, ks))}")
    for k in ks:
        w = vt[:k]
        recon = (test - mean) @ w.T @ w + mean
        print(f"PCA, {k:3d} components: test reconstruction MSE per pixel {np.mean((recon - test) ** 2):.5f}")


if __name__ == "__main__":
    main()
