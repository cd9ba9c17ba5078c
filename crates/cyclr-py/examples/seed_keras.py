"""The seed post's experiment in Keras 3, with cyclr's CyclicalLR callback.

The post's model, built as the post builds it (three 3x3 convolutions, two max-pools, a
64-unit dense layer, 10 logits; Adam, sparse categorical cross-entropy from logits,
batch 100), on CIFAR-10 read from the official binary archive. A fixed rate (Adam's
default 0.001) trains for E epochs; triangular, triangular2 and exp_range CLR train for
E/3 epochs each. By default the sizes and bounds are `cyclr recreate --profile quick`'s:
a class-balanced 25,000/5,000 subset (the first 2,500 / 500 images of each class, in file
order), 24 against 8 epochs, base 0.00068 and max 0.0060 (what its range test found on
2026-11-30, before the recommended max was capped),
stepsize 500 updates (2 epochs), exp_range's amplitude decaying to a tenth over the run.
Inputs are normalised with CIFAR-10's channel means and deviations, as the Rust run does.

    python examples/seed_keras.py --data ../../../shared/data/cifar-10-binary.tar.gz

prints a Markdown table (final and best test accuracy, wall time per run) and writes
`seed_keras.csv`. `--range-test` finds the bounds with cyclr.keras.range_test first.
"""

import argparse
import csv
import os
import sys
import tarfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import cyclr  # noqa: E402
from cyclr.keras import CyclicalLR, range_test  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32)
STD = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32)
RECORD = 3073  # 1 label byte, then 1024 R, 1024 G, 1024 B bytes


def read_split(path, names):
    """Labels and NHWC float images of the batches `names`, from the .tar.gz or its folder."""
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
    return raw[:, 0].astype(np.int64), raw[:, 1:]


def balanced(labels, pixels, limit):
    """The first limit/10 images of each class, kept in file order (as `cyclr` picks)."""
    if limit is None or limit >= len(labels):
        keep = np.arange(len(labels))
    else:
        quota = [limit // 10 + (c < limit % 10) for c in range(10)]
        seen = np.zeros(10, dtype=int)
        keep = []
        for i, c in enumerate(labels):
            if seen[c] < quota[c]:
                seen[c] += 1
                keep.append(i)
        keep = np.array(keep)
    images = pixels[keep].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(np.float32)
    return (images / 255.0 - MEAN) / STD, labels[keep]


def build_model():
    # The post's build_model, in Keras 3 (an Input layer instead of input_shape=).
    model = keras.models.Sequential()
    model.add(keras.Input((32, 32, 3)))
    model.add(keras.layers.Conv2D(32, (3, 3), activation="relu"))
    model.add(keras.layers.MaxPooling2D((2, 2)))
    model.add(keras.layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(keras.layers.MaxPooling2D((2, 2)))
    model.add(keras.layers.Conv2D(64, (3, 3), activation="relu"))
    model.add(keras.layers.Flatten())
    model.add(keras.layers.Dense(64, activation="relu"))
    model.add(keras.layers.Dense(10))
    return model


def compiled(seed):
    keras.utils.set_random_seed(seed)
    model = build_model()
    model.compile(
        optimizer="adam",
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="cifar-10-binary.tar.gz or its folder")
    p.add_argument("--train-limit", type=int, default=25_000)
    p.add_argument("--test-limit", type=int, default=5_000)
    p.add_argument("--baseline-epochs", type=int, default=24)
    p.add_argument("--clr-epochs", type=int, default=None, help="default: a third of --baseline-epochs")
    p.add_argument("--base-lr", type=float, default=0.00068)
    p.add_argument("--max-lr", type=float, default=0.0060)
    p.add_argument("--stepsize", type=int, default=500)
    p.add_argument("--range-test", action="store_true", help="find the bounds with cyclr.keras.range_test")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="seed_keras.csv")
    a = p.parse_args()
    clr_epochs = a.clr_epochs or max(1, a.baseline_epochs // 3)
    if not os.path.exists(a.data):
        sys.exit(f"error: {a.data} does not exist: pass the CIFAR-10 binary archive with --data")

    x, y = balanced(*read_split(a.data, [f"data_batch_{i}.bin" for i in range(1, 6)]), a.train_limit)
    xt, yt = balanced(*read_split(a.data, ["test_batch.bin"]), a.test_limit)
    per_epoch = -(-len(x) // 100)
    print(f"{len(x)} training and {len(xt)} test images, {per_epoch} updates per epoch, "
          f"Keras {keras.__version__} on {keras.backend.backend()}", file=sys.stderr)

    base, top = a.base_lr, a.max_lr
    if a.range_test:
        t = time.monotonic()
        result = range_test(compiled(a.seed), (x, y), batch_size=100, iterations=4 * per_epoch,
                            min_lr=1e-5, max_lr=1e-1, ramp="linear", steps_per_epoch=per_epoch,
                            validation_data=(xt, yt), seed=a.seed)
        print(result.summary(), file=sys.stderr)
        print(f"range test: {time.monotonic() - t:.0f} s", file=sys.stderr)
        if result.recommendation is None:
            sys.exit("error: the range test gave no bounds; pass --base-lr and --max-lr")
        base, top = result.base_lr, result.max_lr

    clr_steps = clr_epochs * per_epoch
    gamma = 0.1 ** (1 / clr_steps)
    runs = [("fixed", a.baseline_epochs, None)] + [
        (mode, clr_epochs, cyclr.Schedule(mode, base_lr=base, max_lr=top, step_size_up=a.stepsize,
                                          **({"gamma": gamma} if mode == "exp_range" else {})))
        for mode in ("triangular", "triangular2", "exp_range")
    ]
    rows = []
    for name, epochs, schedule in runs:
        model = compiled(a.seed)
        callbacks = [] if schedule is None else [CyclicalLR(schedule)]
        t = time.monotonic()
        h = model.fit(x, y, epochs=epochs, batch_size=100, validation_data=(xt, yt),
                      callbacks=callbacks, verbose=0)
        wall = time.monotonic() - t
        acc = h.history["val_accuracy"]
        rows.append({"run": name, "epochs": epochs, "iterations": epochs * per_epoch,
                     "final_test_acc": acc[-1], "best_test_acc": max(acc),
                     "best_epoch": int(np.argmax(acc)) + 1, "wall_s": round(wall, 1)})
        print(f"{name}: final {acc[-1]:.2%}, best {max(acc):.2%} in {wall:.0f} s", file=sys.stderr)

    with open(a.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"bounds: base {base:.2e}, max {top:.2e}, stepsize {a.stepsize}")
    print("| run | epochs | iterations | final test acc | best test acc | best at epoch | wall time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['run']} | {r['epochs']} | {r['iterations']} | {r['final_test_acc']:.2%} | "
              f"{r['best_test_acc']:.2%} | {r['best_epoch']} | {r['wall_s']:.0f} s |")


if __name__ == "__main__":
    main()
