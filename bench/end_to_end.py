"""Speed as users see it: the seed's setting trained end to end on the real CIFAR-10
archive by cyclr (`cyclr train`), by the seed's own Keras code (`model.fit` with
validation, bench/keras_seed_fit.py) and by a PyTorch loop (channels_last,
bench/pytorch_seed_loop.py): a fixed rate (Adam, 0.001), batches of 100, a few epochs on a
class-balanced subset, the test images evaluated after every epoch.

Each round runs every engine once, one at a time, in alternating order (forward on odd
rounds, reversed on even ones), so a noisy neighbour hits all alike; a ratio is only taken
between runs of the same round. Reported: the wall time of the whole run (process start to
exit: loading, set-up, training and evaluation) and of a steady epoch (the median of
epochs 2.., evaluation included), and cyclr's speed-up on each as the median of the
per-round ratios with their range.

    python bench/end_to_end.py --data ../shared/data/cifar-10-binary.tar.gz

(the Python that runs it needs TensorFlow and PyTorch; `cargo build --release` first).
`--engines cyclr,cyclr-bf16` pairs the f32 engine with its bf16 form and needs neither.
Results go to bench/results/end_to_end.json after every round; the table to stdout.
"""
import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def run_cyclr(a, tmp, engine="fused"):
    out = tempfile.mkdtemp(prefix="cyclr-run-", dir=tmp)
    os.rmdir(out)  # `cyclr train --out` makes it, and refuses a folder that holds a run
    cmd = [a.bin, "train", "--policy", "fixed", "--base-lr", "0.001", "--epochs", str(a.epochs),
           "--train-limit", str(a.train_limit), "--test-limit", str(a.test_limit),
           "--data", a.data, "--out", out, "--engine", engine, "-q"]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    with open(os.path.join(out, "metrics.csv")) as f:
        rows = list(csv.DictReader(f))
    elapsed = [float(r["elapsed_s"]) for r in rows]
    epochs = [b - a_ for a_, b in zip([0.0] + elapsed, elapsed)]
    version = subprocess.run([a.bin, "--version"], capture_output=True, text=True).stdout.strip()
    return {"framework": f"{version}, {engine} CPU engine, `cyclr train`", "wall_s": wall,
            "epoch_s": epochs, "test_accuracy": float(rows[-1]["test_accuracy"])}


def run_python(a, script, extra=()):
    cmd = [a.python, os.path.join(HERE, script), "--data", a.data, "--epochs", str(a.epochs),
           "--train-limit", str(a.train_limit), "--test-limit", str(a.test_limit), *extra]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    t = time.perf_counter()
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = wall
    return result


ENGINES = {
    "cyclr": lambda a, tmp: run_cyclr(a, tmp),
    # Opt-in bf16 products (CPUs with AVX-512 BF16): its "speed-up" column is its own time
    # over cyclr f32's, so below 1 where bf16 is faster.
    "cyclr-bf16": lambda a, tmp: run_cyclr(a, tmp, "fused-bf16"),
    "keras": lambda a, tmp: run_python(a, "keras_seed_fit.py"),
    "torch": lambda a, tmp: run_python(a, "pytorch_seed_loop.py"),
}


def span(values, fmt):
    return f"{fmt(statistics.median(values))} ({fmt(min(values))}-{fmt(max(values))})"


def steady(epoch_s):
    return statistics.median(epoch_s[1:]) if len(epoch_s) > 1 else epoch_s[0]


def table(results, engines):
    rounds = results["rounds"]
    lines = [f"Machine: {results['cpu']}, {results['cores']} logical cores; "
             f"{results['train_limit']:,} training and {results['test_limit']:,} test images "
             f"(class-balanced), {results['epochs']} epochs, batch 100, Adam 0.001, test set "
             f"evaluated every epoch; {len(rounds)} rounds in alternating order.", "",
             "| engine | whole run, s | steady epoch, s | final test acc | cyclr's speed-up, "
             "whole run | cyclr's speed-up, per epoch |", "|---|---:|---:|---:|---:|---:|"]
    for e in engines:
        runs = [r[e] for r in rounds]
        wall = span([x["wall_s"] for x in runs], lambda v: f"{v:.1f}")
        ep = span([steady(x["epoch_s"]) for x in runs], lambda v: f"{v:.2f}")
        acc = statistics.median(x["test_accuracy"] for x in runs)
        if e == "cyclr":
            speed = ("1", "1")
        else:
            speed = tuple(span([r[e][k] / r["cyclr"][k] if k == "wall_s"
                                else steady(r[e]["epoch_s"]) / steady(r["cyclr"]["epoch_s"])
                                for r in rounds], lambda v: f"{v:.2f}x")
                          for k in ("wall_s", "epoch_s"))
        lines.append(f"| {runs[0]['framework']} | {wall} | {ep} | {acc:.2%} | {speed[0]} | "
                     f"{speed[1]} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="cifar-10-binary.tar.gz or its folder")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--train-limit", type=int, default=25_000)
    p.add_argument("--test-limit", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=None, help="default: all cores")
    p.add_argument("--engines", default="cyclr,keras,torch")
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "cyclr"))
    p.add_argument("--python", default=sys.executable, help="the Python with TensorFlow and PyTorch")
    p.add_argument("--out", default=os.path.join(HERE, "results", "end_to_end.json"))
    a = p.parse_args()
    engines = a.engines.split(",")
    if a.rounds < 5:
        sys.exit(f"error: --rounds {a.rounds}: give at least 5, or the median of the ratios means little")
    if "cyclr" not in engines or any(e not in ENGINES for e in engines):
        sys.exit(f"error: --engines {a.engines}: choose from {', '.join(ENGINES)}, cyclr included")
    if not os.path.exists(a.data):
        sys.exit(f"error: {a.data} does not exist: pass the CIFAR-10 binary archive with --data")
    if "cyclr" in engines and not os.access(a.bin, os.X_OK):
        sys.exit(f"error: {a.bin} is not an executable: run `cargo build --release` or pass --bin")
    a.data = os.path.abspath(a.data)
    results = {"cpu": cpu_name(), "cores": os.cpu_count(), "epochs": a.epochs,
               "train_limit": a.train_limit, "test_limit": a.test_limit, "threads": a.threads,
               "rounds": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.rounds):
            order = engines if r % 2 == 0 else engines[::-1]
            print(f"round {r + 1}/{a.rounds}: {' '.join(order)}", file=sys.stderr)
            row = {}
            for e in order:
                row[e] = ENGINES[e](a, tmp)
                print(f"  {e}: {row[e]['wall_s']:.1f} s, test accuracy "
                      f"{row[e]['test_accuracy']:.2%}", file=sys.stderr)
            results["rounds"].append(row)
            os.makedirs(os.path.dirname(a.out), exist_ok=True)
            with open(a.out, "w") as f:
                json.dump(results, f, indent=1)
    print(table(results, engines))


if __name__ == "__main__":
    main()
