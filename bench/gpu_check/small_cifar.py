"""A CIFAR-10 subset small enough to travel, and its expansion to the official layout.

The loader accepts only the official binary layout (data_batch_1..5.bin and
test_batch.bin, 10,000 records each), and that is 184 MB. So the subset travels as its
records alone, and is expanded on arrival: the distinct records first, then repeated to
fill each file. Training with --train-limit/--test-limit equal to the subset's sizes
then uses exactly the distinct records, since a class-balanced limit takes the first
images of each class in file order.

    python3 small_cifar.py pack cifar-10-binary.tar.gz small-cifar.tar.gz --train 5000 --test 1000
    python3 small_cifar.py expand small-cifar.tar.gz OUT_DIR     # OUT_DIR/cifar-10-batches-bin/

Standard library only: the GPU machine has Python but nothing else of ours.
"""
import argparse
import gzip
import io
import os
import sys
import tarfile
import zlib

RECORD = 3073
PER_FILE = 10_000
CLASSES = 10
TRAIN_FILES = [f"data_batch_{i}.bin" for i in range(1, 6)]
TEST_FILE = "test_batch.bin"
META = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"


def balanced(records, n):
    """The first n/10 records of each class, in file order."""
    if n % CLASSES:
        sys.exit(f"{n} images: give a multiple of {CLASSES} so every class gets as many")
    quota, taken, out = n // CLASSES, [0] * CLASSES, []
    for r in records:
        c = r[0]
        if c >= CLASSES:
            sys.exit(f"label {c} is not a CIFAR-10 label: is this the binary version?")
        if taken[c] < quota:
            taken[c] += 1
            out.append(r)
            if len(out) == n:
                return out
    sys.exit(f"the source has fewer than {quota} images of some class")


def records_of(blob):
    if len(blob) % RECORD:
        sys.exit(f"a member of {len(blob)} bytes is not whole 3073-byte records")
    return [blob[i:i + RECORD] for i in range(0, len(blob), RECORD)]


def pack(src, dst, n_train, n_test):
    with tarfile.open(src) as t:
        members = {os.path.basename(m.name): m for m in t.getmembers() if m.isfile()}
        missing = [f for f in TRAIN_FILES + [TEST_FILE] if f not in members]
        if missing:
            sys.exit(f"{src} lacks {', '.join(missing)}: expected the CIFAR-10 binary archive")
        train = []
        for f in TRAIN_FILES:
            train += records_of(t.extractfile(members[f]).read())
            if len(train) >= 10 * n_train:
                break
        test = records_of(t.extractfile(members[TEST_FILE]).read())
    parts = {"train.bin": b"".join(balanced(train, n_train)),
             "test.bin": b"".join(balanced(test, n_test))}
    with tarfile.open(dst, "w:gz", compresslevel=9) as out:
        for name, blob in parts.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            out.addfile(info, io.BytesIO(blob))
    print(f"{dst}: {n_train} training and {n_test} test images, {os.path.getsize(dst)} bytes")


def fill(records, count):
    """count records: the distinct ones, then repeated in the same order."""
    return b"".join(records[i % len(records)] for i in range(count))


def expand(src, out_dir):
    # Read the whole gzip stream first: its CRC, checked only at the end, is what catches
    # a flipped byte (reading just the members stops short of it).
    with gzip.open(src) as g:
        while g.read(1 << 20):
            pass
    with tarfile.open(src) as t:
        train = records_of(t.extractfile("train.bin").read())
        test = records_of(t.extractfile("test.bin").read())
    d = os.path.join(out_dir, "cifar-10-batches-bin")
    os.makedirs(d, exist_ok=True)
    everything = fill(train, len(TRAIN_FILES) * PER_FILE)
    for k, name in enumerate(TRAIN_FILES):
        with open(os.path.join(d, name), "wb") as f:
            f.write(everything[k * PER_FILE * RECORD:(k + 1) * PER_FILE * RECORD])
    with open(os.path.join(d, TEST_FILE), "wb") as f:
        f.write(fill(test, PER_FILE))
    with open(os.path.join(d, "batches.meta.txt"), "w") as f:
        f.write(META)
    print(f"{d}: official layout; the first {len(train)} training and {len(test)} test "
          f"images are distinct (use --train-limit {len(train)} --test-limit {len(test)})")


p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
sub = p.add_subparsers(dest="cmd", required=True)
pk = sub.add_parser("pack")
pk.add_argument("src")
pk.add_argument("dst")
pk.add_argument("--train", type=int, default=5000)
pk.add_argument("--test", type=int, default=1000)
ex = sub.add_parser("expand")
ex.add_argument("src")
ex.add_argument("out_dir")
a = p.parse_args()
try:
    if a.cmd == "pack":
        pack(a.src, a.dst, a.train, a.test)
    else:
        expand(a.src, a.out_dir)
except (OSError, EOFError, KeyError, tarfile.TarError, zlib.error) as e:
    # A missing, truncated or corrupt archive: one line, not a traceback.
    sys.exit(f"{a.src}: cannot read it ({e}); make it again with `small_cifar.py pack`")
