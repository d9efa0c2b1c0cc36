#!/usr/bin/env python3
"""Writes the data sets that show Phalanx's data.format readers (bench/data-formats.sh).

  python3 bench/write_data_formats.py npz    OUT.npz            # Fashion-MNIST as NumPy arrays
  python3 bench/write_data_formats.py folder OUT_DIR [--train N] # Fashion-MNIST as PNG files, one folder per class
  python3 bench/write_data_formats.py wine   OUT_DIR            # scikit-learn's wine table as train/test CSV

Needs numpy (npz), pillow (folder) and scikit-learn (wine). Fashion-MNIST is read from
Debian's /usr/share/datasets/fashion-mnist IDX files.
"""
import argparse
import gzip
import os

import numpy as np

FASHION = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle-boot"]


def idx(name):
    """An IDX file of unsigned bytes as a numpy array of its shape."""
    with gzip.open(os.path.join(FASHION, name + ".gz")) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion():
    return (idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte"),
            idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte"))


def write_npz(out):
    x_train, y_train, x_test, y_test = fashion()
    # Keras's mnist.npz layout: x_train [N, 28, 28] uint8, y_train [N] (int64 here, as numpy makes them).
    np.savez_compressed(out, x_train=x_train, y_train=y_train.astype(np.int64),
                        x_test=x_test, y_test=y_test.astype(np.int64))
    print(f"{out}: x_train {x_train.shape} {x_train.dtype}, x_test {x_test.shape}, deflated")


def write_folder(out, train_count):
    from PIL import Image
    x_train, y_train, x_test, y_test = fashion()
    for split, x, y in (("train", x_train[:train_count], y_train[:train_count]), ("test", x_test, y_test)):
        for k, name in enumerate(CLASSES):
            os.makedirs(os.path.join(out, split, f"{k}-{name}"), exist_ok=True)
        for i, (image, label) in enumerate(zip(x, y)):
            Image.fromarray(image, mode="L").save(os.path.join(out, split, f"{label}-{CLASSES[label]}", f"{i:05d}.png"))
        print(f"{out}/{split}: {len(x)} PNG files in {len(CLASSES)} class folders")


def write_wine(out):
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split
    wine = load_wine()
    names = [n.replace("/", "_") for n in wine.feature_names]
    x_train, x_test, y_train, y_test = train_test_split(wine.data, wine.target, test_size=0.25, random_state=0,
                                                        stratify=wine.target)
    os.makedirs(out, exist_ok=True)
    for split, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        path = os.path.join(out, f"wine-{split}.csv")
        with open(path, "w") as f:
            f.write(",".join(names + ["label"]) + "\n")
            for row, label in zip(x, y):
                f.write(",".join(repr(float(v)) for v in row) + f",{label}\n")
        print(f"{path}: {len(x)} rows, {len(names)} features, {len(set(y))} classes")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("what", choices=["npz", "folder", "wine"])
    p.add_argument("out")
    p.add_argument("--train", type=int, default=60000, help="folder: the first N training images (default all)")
    a = p.parse_args()
    {"npz": lambda: write_npz(a.out), "folder": lambda: write_folder(a.out, a.train), "wine": lambda: write_wine(a.out)}[a.what]()


if __name__ == "__main__":
    main()
