"""CIFAR-10 from the official binary archive, in numpy, as the end-to-end benchmark's Keras
and PyTorch runs read it: the class-balanced subset `cyclr --train-limit/--test-limit`
takes (the first limit/10 images of each class, in file order), scaled to [0, 1] as the
seed post does (`train_images / 255.0`)."""
import os
import sys
import tarfile

import numpy as np

RECORD = 3073  # 1 label byte, then 1024 R, 1024 G, 1024 B bytes


def read_split(path, names):
    """Labels and CHW uint8 pixels of the batches `names`, from the .tar.gz or its folder."""
    chunks = []
    if os.path.isdir(path):
        for n in names:
            with open(os.path.join(path, "cifar-10-batches-bin", n), "rb") as f:
                chunks.append(f.read())
    else:
        with tarfile.open(path) as tar:
            for n in names:
                chunks.append(tar.extractfile(f"cifar-10-batches-bin/{n}").read())
    raw = np.frombuffer(b"".join(chunks), dtype=np.uint8)
    if raw.size % RECORD:
        sys.exit(f"error: {path}: not CIFAR-10's binary layout ({RECORD}-byte records)")
    raw = raw.reshape(-1, RECORD)
    return raw[:, 0].astype(np.int64), raw[:, 1:].reshape(-1, 3, 32, 32)


def balanced_subset(labels, limit):
    """Indices of the first limit/10 images of each class, in file order."""
    if limit is None or limit >= len(labels):
        return np.arange(len(labels))
    quota = np.array([limit // 10 + (c < limit % 10) for c in range(10)])
    rank = np.zeros(len(labels), dtype=np.int64)
    seen = np.zeros(10, dtype=np.int64)
    for i, c in enumerate(labels):
        rank[i] = seen[c]
        seen[c] += 1
    return np.flatnonzero(rank < quota[labels])


def load(path, train_limit, test_limit, layout="NHWC"):
    """(x, y, x_test, y_test), float32 in [0, 1], NHWC (Keras) or NCHW (PyTorch)."""
    out = []
    for names, limit in (([f"data_batch_{i}.bin" for i in range(1, 6)], train_limit),
                         (["test_batch.bin"], test_limit)):
        labels, pixels = read_split(path, names)
        keep = balanced_subset(labels, limit)
        images = pixels[keep]
        if layout == "NHWC":
            images = images.transpose(0, 2, 3, 1)
        out += [np.ascontiguousarray(images, dtype=np.float32) / 255.0, labels[keep]]
    return tuple(out)
