"""Records the range-test curves the unit tests in tests/range_test.rs read: real range
tests (PyTorch, through cyclr's Python package) on tasks of bench/range_test_regret.py,
one per curve shape. Each file is the `points` and `early_stop` of the outcome.

    python crates/cyclr/tests/curves/make_curves.py      (from the repository root)
"""

import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "bench"))
import range_test_regret as bench  # noqa: E402
from cyclr.torch import range_test  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (task, ramp (min, max, iterations), what the shape is)
CURVES = {
    "plateau_then_rise": ("sequence_gru", (1e-5, 1.0, 200),
                          "GRU: accuracy sits at chance for decades of rate, then climbs"),
    "short_ramp_held_out": ("spirals", (1e-5, 1.0, 240),
                            "MLP on spirals, a 240-update ramp with held-out accuracy"),
    "loss_only": ("regression", (1e-5, 1.0, 200), "regression: a loss and no accuracy"),
    "noisy_small_batch": ("noisy_small_batch", (1e-5, 10.0, 300),
                          "batches of 4 with 20% flipped labels"),
    "never_falls": ("spirals", (1e-8, 1e-6, 150),
                    "a ramp far below any useful rate: the loss never falls"),
}


def main():
    for name, (task_name, (lo, hi, its), what) in CURVES.items():
        task = bench.TASKS[task_name]
        torch.manual_seed(0)
        model = task.model()
        opt = task.optimizer(model.parameters())
        train, test = bench.loaders(task, 0)
        o = range_test(model, opt, train, bench.loss_fn(task), iterations=its, min_lr=lo,
                       max_lr=hi, val_loader=test, eval_every=max(1, its // 30),
                       verbose=False).outcome
        out = {"what": what, "task": task_name, "ramp": o["ramp"],
               "early_stop": o.get("early_stop"), "points": o["points"]}
        with open(os.path.join(HERE, f"{name}.json"), "w") as f:
            json.dump(out, f, separators=(",", ":"))
        rec = o["analysis"].get("recommendation")
        print(name, len(o["points"]), o.get("early_stop"), rec and (rec["base_lr"], rec["max_lr"]))


if __name__ == "__main__":
    main()
