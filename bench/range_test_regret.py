"""What a range-test recommendation is worth: triangular CLR trained with the bounds each
rule gives, against the best of a grid of (base, max) pairs, on a suite of tasks.

For each task and seed: a range test (cyclr's Rust rules, through the Python package, or
the `cyclr` binary for the CIFAR-10 tasks), then the same fixed-budget triangular CLR
training (two cycles: stepsize a quarter of the budget) with

- cyclr's recommendation;
- each single rule: the paper's accuracy rule (its base and max), and as max with base a
  tenth of it (the stated base): torch-lr-finder's steepest descent, fastai's valley,
  steep, and minimum/10, as those libraries document them for the rate to train with;
- on CIFAR-10, the seed post's eyeballed 0.001 / 0.005;
- every pair of the grid: 5 bases log-spaced over 4 decades x max/base ratios 2, 5, 12, 32.

The grid's best is the pair with the best mean over the seeds; a method's regret at a seed
is the best pair's final held-out accuracy minus the method's (for a loss-only task, the
method's final held-out loss over the best pair's, minus 1, in percent). Writes
`regret.json` and `regret.md` (the table) and `regret.png` (the chart) into --out.

    python bench/range_test_regret.py --out runs/regret            # everything
    python bench/range_test_regret.py --tasks spirals,regression   # some tasks
    python bench/range_test_regret.py --reanalyse                  # after a change of rules

Results are kept in regret.json as they come: an interrupted run continues where it
stopped.

Needs the Python package (`pip install ./crates/cyclr-py`), torch and matplotlib; the
CIFAR-10 tasks also need `target/release/cyclr` and the archive (--data).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

import cyclr
from cyclr.torch import CyclrLR, range_test

torch.set_num_threads(max(1, os.cpu_count() or 1))

# ---- the tasks -----------------------------------------------------------------------


def spirals(n, seed, arms=3, noise=0.25):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, arms, n)
    t = rng.uniform(0.25, 1.0, n) * 3 * math.pi
    x = np.stack([t * np.cos(t + 2 * math.pi * y / arms), t * np.sin(t + 2 * math.pi * y / arms)], 1)
    x = x / (3 * math.pi) + noise * rng.standard_normal((n, 2)) / 3 / math.pi * 3
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def rings(n, seed, spread=1.6):
    """own_model.rs's rings (radius 1, 2, 3), with wider noise so that they overlap and the
    rate matters (at own_model.rs's 0.6 every pair of the grid reaches 100%)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    angle = rng.uniform(0, 2 * math.pi, n)
    radius = 1.0 + y + spread * (rng.uniform(size=n) - 0.5)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def regression(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 4))
    y = np.sin(3 * x[:, 0]) + x[:, 1] ** 2 - 0.5 * x[:, 2] * x[:, 3] + 0.1 * rng.standard_normal(n)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y[:, None], dtype=torch.float32)


def noisy_blobs(n, seed, flip=0.2):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(123).standard_normal((4, 8)) * 1.5
    y = rng.integers(0, 4, n)
    x = centers[y] + rng.standard_normal((n, 8))
    noisy = rng.uniform(size=n) < flip
    y = np.where(noisy, rng.integers(0, 4, n), y)
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


def majority_sequences(n, seed, length=16, tokens=4):
    """Which token occurs most often in a sequence (ties to the lowest): needs memory."""
    rng = np.random.default_rng(seed)
    seq = rng.integers(0, tokens, (n, length))
    counts = np.stack([(seq == k).sum(1) for k in range(tokens)], 1)
    return torch.tensor(seq), torch.tensor(counts.argmax(1))


class ResidualBN(torch.nn.Module):
    """examples/own_model.rs's RingNet: input layer, residual blocks with batch norm."""

    def __init__(self, width=32, depth=2, classes=3):
        super().__init__()
        self.input = torch.nn.Linear(2, width)
        self.blocks = torch.nn.ModuleList(
            torch.nn.Sequential(torch.nn.Linear(width, width), torch.nn.BatchNorm1d(width))
            for _ in range(depth)
        )
        self.output = torch.nn.Linear(width, classes)

    def forward(self, x):
        x = torch.relu(self.input(x))
        for b in self.blocks:
            x = torch.relu(x + b(x))
        return self.output(x)


class TinyGRU(torch.nn.Module):
    def __init__(self, tokens=4, width=32, classes=4):
        super().__init__()
        self.embed = torch.nn.Embedding(tokens, 16)
        self.gru = torch.nn.GRU(16, width, batch_first=True)
        self.out = torch.nn.Linear(width, classes)

    def forward(self, x):
        h, _ = self.gru(self.embed(x))
        return self.out(h[:, -1])


def mlp(inputs, outputs, width=64, depth=2):
    layers, d = [], inputs
    for _ in range(depth):
        layers += [torch.nn.Linear(d, width), torch.nn.ReLU()]
        d = width
    return torch.nn.Sequential(*layers, torch.nn.Linear(d, outputs))


@dataclass
class Task:
    name: str
    what: str
    data: Callable  # (n, seed) -> (x, y)
    model: Callable  # () -> nn.Module
    optimizer: Callable  # (params) -> Optimizer
    batch_size: int
    budget: int  # updates of CLR training
    train_n: int
    test_n: int
    ramp: tuple  # (min_lr, max_lr, iterations)
    bases: tuple  # the grid's 5 bases
    loss_only: bool = False
    cifar: dict = field(default_factory=dict)


def grid_bases(lo):
    return tuple(lo * 10.0 ** k for k in range(5))


RATIOS = (2.0, 5.0, 12.0, 32.0)

TASKS = {
    "spirals": Task(
        "spirals", "MLP 2-64-64-3, three spirals, AdamW, batch 32",
        spirals, lambda: mlp(2, 3), lambda p: torch.optim.AdamW(p, lr=1e-3),
        32, 800, 1500, 1500, (1e-5, 1.0, 240), grid_bases(1e-5)),
    "rings_bn": Task(
        "rings_bn", "own_model.rs's residual net with batch norm, rings, SGD + momentum 0.9",
        rings, lambda: ResidualBN(), lambda p: torch.optim.SGD(p, lr=1e-2, momentum=0.9),
        50, 300, 3000, 1500, (1e-4, 10.0, 200), grid_bases(1e-4)),
    "regression": Task(
        "regression", "MLP 4-64-64-1, smooth function + noise, MSE (loss only), Adam",
        regression, lambda: mlp(4, 1), lambda p: torch.optim.Adam(p, lr=1e-3),
        32, 800, 2000, 1000, (1e-5, 1.0, 200), grid_bases(1e-5), loss_only=True),
    "noisy_small_batch": Task(
        "noisy_small_batch", "MLP 8-64-64-4, blobs with 20% flipped labels, batch 4, SGD",
        noisy_blobs, lambda: mlp(8, 4), lambda p: torch.optim.SGD(p, lr=1e-2),
        4, 1200, 2000, 1000, (1e-5, 10.0, 300), grid_bases(1e-5)),
    "sequence_gru": Task(
        "sequence_gru", "GRU (32 units), majority token of 16, Adam, batch 32",
        majority_sequences, lambda: TinyGRU(), lambda p: torch.optim.Adam(p, lr=1e-3),
        32, 1000, 4000, 1000, (1e-5, 1.0, 200), grid_bases(1e-5)),
    "cifar_adam": Task(
        "cifar_adam", "reference CNN, CIFAR-10 5,000-image balanced subset, Adam, batch 100",
        None, None, None, 100, 600, 5_000, 1_000, (1e-5, 1.0, 200), grid_bases(1e-5),
        cifar={"optimizer": "adam", "seed_post": (0.001, 0.005)}),
    "cifar_sgd": Task(
        "cifar_sgd", "reference CNN, CIFAR-10 5,000-image balanced subset, SGD + momentum 0.9",
        None, None, None, 100, 600, 5_000, 1_000, (1e-4, 10.0, 200), grid_bases(1e-4),
        cifar={"optimizer": "sgd", "seed_post": (0.001, 0.005)}),
}

# ---- training and range tests (torch tasks) -------------------------------------------


def loaders(task, seed):
    x, y = task.data(task.train_n, 1000 + seed)
    xt, yt = task.data(task.test_n, 5000)  # one held-out set for every seed
    g = torch.Generator().manual_seed(seed)
    train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y),
                                        batch_size=task.batch_size, shuffle=True,
                                        generator=g, drop_last=True)
    test = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xt, yt), batch_size=500)
    return train, test


def loss_fn(task):
    return torch.nn.MSELoss() if task.loss_only else torch.nn.CrossEntropyLoss()


def evaluate(task, model, test):
    model.eval()
    total, right, n = 0.0, 0, 0
    with torch.no_grad():
        for x, y in test:
            out = model(x)
            total += float(loss_fn(task)(out, y)) * len(y)
            if not task.loss_only:
                right += int((out.argmax(1) == y).sum())
            n += len(y)
    model.train()
    return total / n if task.loss_only else right / n


def train_torch(task, seed, base, top):
    torch.manual_seed(seed)
    model = task.model()
    opt = task.optimizer(model.parameters())
    sched = CyclrLR(opt, cyclr.Schedule("triangular", base_lr=base, max_lr=top,
                                        step_size_up=task.budget // 4))
    train, test = loaders(task, seed)
    f = loss_fn(task)
    done = 0
    while done < task.budget:
        for x, y in train:
            opt.zero_grad(set_to_none=True)
            loss = f(model(x), y)
            if not torch.isfinite(loss):
                return float("inf") if task.loss_only else 0.0
            loss.backward()
            opt.step()
            sched.step()
            done += 1
            if done == task.budget:
                break
    m = evaluate(task, model, test)
    return m if math.isfinite(m) else (float("inf") if task.loss_only else 0.0)


def range_test_torch(task, seed):
    torch.manual_seed(seed)
    model = task.model()
    opt = task.optimizer(model.parameters())
    train, test = loaders(task, seed)
    lo, hi, its = task.ramp
    return range_test(model, opt, train, loss_fn(task), iterations=its, min_lr=lo, max_lr=hi,
                      val_loader=test, eval_every=max(1, its // 30), verbose=False).outcome


# ---- the CIFAR-10 tasks, through the `cyclr` binary -----------------------------------


def cyclr_bin():
    return os.environ.get("CYCLR_BIN", "target/release/cyclr")


def cifar_common(task, seed, data):
    return ["--data", data, "--train-limit", str(task.train_n), "--test-limit", str(task.test_n),
            "--optimizer", task.cifar["optimizer"], "--seed", str(seed), "-q"]


def train_cifar(task, seed, base, top, data):
    with tempfile.TemporaryDirectory() as d:
        cmd = [cyclr_bin(), "train", "--policy", "triangular", "--base-lr", repr(base),
               "--max-lr", repr(top), "--step-size-up", str(task.budget // 4),
               "--max-steps", str(task.budget), "--epochs", "1000",
               "--out", d] + cifar_common(task, seed, data)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if not os.path.exists(os.path.join(d, "run.json")):
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr}")
        # A run that diverged (exit 1) has a run.json too; it scores as chance.
        run = json.load(open(os.path.join(d, "run.json")))
        acc = run.get("final_test_accuracy")
        return float(acc) if acc is not None else 0.0


def range_test_cifar(task, seed, data):
    lo, hi, its = task.ramp
    with tempfile.TemporaryDirectory() as d:
        cmd = [cyclr_bin(), "range-test", "--min-lr", repr(lo), "--max-lr", repr(hi),
               "--iters", str(its), "--ramp", "exp", "--eval-every", "10",
               "--out", d] + cifar_common(task, seed, data)
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {done.stderr}")
        return json.load(open(os.path.join(d, "range_test.json")))


# ---- the methods ----------------------------------------------------------------------

TENTH = 10.0  # the stated base of the single loss rules: a tenth of their max


def methods(task, outcome):
    """(name, base, max) for each method the outcome allows; None where a rule gave none."""
    a = outcome["analysis"]
    s = {x["rule"]: x["lr"] for x in a["suggestions"]}
    out = {}
    r = a.get("recommendation")
    out["cyclr"] = (r["base_lr"], r["max_lr"]) if r else None
    ab, am = s.get("accuracy_base"), s.get("accuracy_max")
    out["paper accuracy rule"] = (ab, am) if ab and am and am > ab else None
    for rule, label in [("steepest_descent", "torch-lr-finder steepest"), ("valley", "fastai valley"),
                        ("steep", "fastai steep"), ("minimum_over_10", "fastai minimum/10")]:
        out[label] = (s[rule] / TENTH, s[rule]) if s.get(rule) else None
    if task.cifar:
        out["seed post 0.001/0.005"] = task.cifar["seed_post"]
    return out


def regret(task, best, got):
    if task.loss_only:
        return 100.0 * (got / best - 1.0)  # percent above the best loss
    return 100.0 * (best - got)  # accuracy points


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", default="runs/regret")
    p.add_argument("--data", default="../shared/data/cifar-10-binary.tar.gz")
    p.add_argument("--reanalyse", action="store_true",
                   help="read the recorded curves with the current rules; train the pairs that moved")
    a = p.parse_args()
    names = [t.strip() for t in a.tasks.split(",") if t.strip()]
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        sys.exit(f"error: unknown task(s) {', '.join(unknown)}: choose from {', '.join(TASKS)}")
    os.makedirs(a.out, exist_ok=True)
    path = os.path.join(a.out, "regret.json")
    results = json.load(open(path)) if os.path.exists(path) else {}
    start = time.monotonic()

    def save():
        tmp = path + ".part"
        json.dump(results, open(tmp, "w"), indent=1)
        os.replace(tmp, path)  # nothing lost on interruption: rerun to continue

    for name in names:
        task = TASKS[name]
        t0 = time.monotonic()
        res = results.setdefault(name, {"what": task.what, "seeds": {}})
        train = (lambda s, b, m: train_cifar(task, s, b, m, a.data)) if task.cifar else \
            (lambda s, b, m: train_torch(task, s, b, m))
        for seed in range(a.seeds):
            r = res["seeds"].setdefault(str(seed), {"grid": {}, "methods": {}})
            if a.reanalyse and "outcome" in r:
                if "points" in r["outcome"]:
                    o = r["outcome"]
                    o["analysis"] = cyclr.analyze(o["points"], o.get("early_stop"))
                else:
                    del r["outcome"]  # recorded without its points: run it again
            if "outcome" not in r:
                o = range_test_cifar(task, seed, a.data) if task.cifar else range_test_torch(task, seed)
                # The whole outcome, points included: a change of rules can be re-read
                # (`--reanalyse`) without running the range tests again.
                r["outcome"] = o
                save()
            for base in task.bases:
                for ratio in RATIOS:
                    key = f"{base:.0e}x{ratio:g}"
                    if key not in r["grid"]:
                        r["grid"][key] = train(seed, base, base * ratio)
                        save()
            for m, pair in methods(task, r["outcome"]).items():
                had = r["methods"].get(m)
                moved = (had is None) != (pair is None) or (
                    had is not None and (had["base"], had["max"]) != tuple(pair))
                if m in r["methods"] and moved:
                    del r["methods"][m]  # the rules now give another pair: train it
                if m not in r["methods"]:
                    r["methods"][m] = None if pair is None else {
                        "base": pair[0], "max": pair[1], "value": train(seed, *pair)}
                    save()
            print(f"{name} seed {seed}: {time.monotonic() - t0:.0f} s", file=sys.stderr)
        res["wall_s"] = time.monotonic() - t0
        save()
    report(results, names, a.out, time.monotonic() - start)


def report(results, names, out, wall):
    rows, chart = [], {}
    for name in names:
        task, res = TASKS[name], results[name]
        seeds = sorted(res["seeds"])
        keys = list(res["seeds"][seeds[0]]["grid"])
        mean = {k: statistics.mean(res["seeds"][s]["grid"][k] for s in seeds) for k in keys}
        best = (min if task.loss_only else max)(keys, key=lambda k: mean[k])
        methods_ = list(res["seeds"][seeds[0]]["methods"])
        line = {"task": name, "best pair": best, "best": mean[best]}
        for m in methods_:
            per = []
            for s in seeds:
                got = res["seeds"][s]["methods"].get(m)
                if got is not None:
                    per.append(regret(task, res["seeds"][s]["grid"][best], got["value"]))
            line[m] = per
        rows.append(line)
        chart[name] = line
    ms = ["cyclr"]
    for r in rows:
        for m in r:
            if m not in ("task", "best pair", "best") and m not in ms:
                ms.append(m)
    md = ["| task | grid best (mean) | " + " | ".join(ms) + " |",
          "|---|---|" + "---:|" * len(ms)]
    for r in rows:
        t = TASKS[r["task"]]
        best = f"{r['best']:.4f} loss" if t.loss_only else f"{100 * r['best']:.2f}%"
        cells = []
        for m in ms:
            v = r.get(m)
            if not v:
                cells.append("n/a")
            else:
                cells.append(f"{statistics.mean(v):.2f} ({min(v):.2f} to {max(v):.2f})")
        md.append(f"| {r['task']} | {best} at {r['best pair']} | " + " | ".join(cells) + " |")
    means = []
    for m in ms:
        v = [statistics.mean(r[m]) for r in rows if r.get(m) and not TASKS[r["task"]].loss_only]
        means.append(f"{statistics.mean(v):.2f}" if v else "n/a")
    md.append("| mean over classification tasks | | " + " | ".join(means) + " |")
    text = "\n".join(md)
    print(text)
    print(f"\n{wall / 60:.1f} min", file=sys.stderr)
    open(os.path.join(out, "regret.md"), "w").write(text + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(ms))
    for j, m in enumerate(ms):
        xs, ys, lo, hi = [], [], [], []
        for i, r in enumerate(rows):
            v = r.get(m)
            if v:
                mu = statistics.mean(v)
                xs.append(i + j * width)
                ys.append(mu)
                lo.append(mu - min(v))
                hi.append(max(v) - mu)
        ax.bar(xs, ys, width, yerr=[lo, hi], label=m, capsize=2)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))])
    ax.set_xticklabels([r["task"] for r in rows], rotation=15)
    ax.set_ylabel("regret (accuracy points; loss: % above best)")
    ax.axhline(1.0, color="k", lw=0.8, ls="--")
    # A rule that picks a rate 100x off costs thousands of percent on the loss-only task:
    # linear up to 1, logarithmic beyond, so every bar stays readable.
    ax.set_yscale("symlog", linthresh=1.0)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.set_title("Range-test rules: regret against the grid's best (mean, range over seeds)")
    fig.tight_layout()
    fig.savefig(os.path.join(out, "regret.png"), dpi=110)


if __name__ == "__main__":
    main()
