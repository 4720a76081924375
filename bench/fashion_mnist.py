"""Fashion-MNIST from Debian's dataset-fashion-mnist (gzipped IDX files), for the PyTorch reference scripts."""
import gzip
import os

import numpy as np


def idx(directory, name):
    """One IDX file as a uint8 array of its stored shape."""
    with gzip.open(os.path.join(directory, name), "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(directory):
    """(x_train, y_train, x_test, y_test): images as float32 in [0, 1] shaped (N, 28, 28), labels as int64."""
    return (idx(directory, "train-images-idx3-ubyte.gz").astype(np.float32) / 255.0,
            idx(directory, "train-labels-idx1-ubyte.gz").astype(np.int64),
            idx(directory, "t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0,
            idx(directory, "t10k-labels-idx1-ubyte.gz").astype(np.int64))
