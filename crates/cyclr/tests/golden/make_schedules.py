"""Writes the PyTorch reference schedules listed in cases.json (one CSV per case).

Usage (a venv with `pip install torch`; CPU is enough):
    python make_schedules.py            # rewrites the CSVs next to this file

Each row is `step,lr[,momentum]`: the values the optimizer holds while batch `step`
trains, i.e. after `step` calls of `scheduler.step()`, printed with `repr` (exact).
The CSVs in this folder were made with torch 2.15.0 (see cases.json's "source").
lr_finder_golden.json was made separately: torch-lr-finder 0.2.2's range test and
fastai 2.8.12's suggestion functions run on the synthetic curve it records (README.md).
"""

import json
import pathlib

import torch

HERE = pathlib.Path(__file__).parent


def scheduler(case, optimizer):
    kind = case["kind"]
    if kind == "cyclic":
        return torch.optim.lr_scheduler.CyclicLR(
            optimizer,
            base_lr=case["base_lr"],
            max_lr=case["max_lr"],
            step_size_up=case["step_size_up"],
            step_size_down=case.get("step_size_down"),
            mode=case["mode"],
            gamma=case.get("gamma", 1.0),
            cycle_momentum=True,
            base_momentum=case["base_momentum"],
            max_momentum=case["max_momentum"],
        )
    if kind == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=case["max_lr"],
            total_steps=case["total_steps"],
            pct_start=case["pct_start"],
            anneal_strategy=case["anneal_strategy"],
            div_factor=case["div_factor"],
            final_div_factor=case["final_div_factor"],
            three_phase=case["three_phase"],
            cycle_momentum=True,
            base_momentum=case["base_momentum"],
            max_momentum=case["max_momentum"],
        )
    if kind == "sgdr":
        return torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            optimizer, T_0=case["T_0"], T_mult=case["T_mult"], eta_min=case["eta_min"]
        )
    raise ValueError(kind)


def main():
    cases = json.loads((HERE / "cases.json").read_text())["cases"]
    for case in cases:
        param = torch.nn.Parameter(torch.zeros(1))
        momentum = "base_momentum" in case
        optimizer = torch.optim.SGD([param], lr=case["max_lr"], momentum=0.9 if momentum else 0.0)
        sched = scheduler(case, optimizer)
        rows = ["step,lr,momentum" if momentum else "step,lr"]
        for step in range(case["steps"]):
            group = optimizer.param_groups[0]
            row = f"{step},{group['lr']!r}"
            if momentum:
                row += f",{group['momentum']!r}"
            rows.append(row)
            optimizer.step()
            sched.step()
        (HERE / case["file"]).write_text("\n".join(rows) + "\n")
        print(f"wrote {case['file']}: {case['steps']} steps")


if __name__ == "__main__":
    main()
