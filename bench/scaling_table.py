"""The core-scaling table from the files bench/scaling.sh writes (cpu-ENGINE-tT-rR.out).

    python3 bench/scaling_table.py OUT
"""
import glob
import json
import os
import re
import statistics
import sys


def table(out):
    runs = {}
    for path in glob.glob(os.path.join(out, "cpu-*-t*-r*.out")):
        m = re.match(r"cpu-(fused|torch)-t(\d+)-r(\d+)\.out$", os.path.basename(path))
        try:
            with open(path) as f:
                r = json.load(f)
        except (OSError, ValueError):
            continue
        if m:
            runs[(m[1], int(m[2]), int(m[3]))] = r["train_images_per_s"]
    threads = sorted({t for _, t, _ in runs})
    if not threads:
        return "no CPU runs recorded\n"

    def median(engine, t):
        v = [val for (e, tt, _), val in runs.items() if e == engine and tt == t]
        return statistics.median(v) if v else None

    first = threads[0]
    lines = [
        f"Training images/s at batch 100: median over {max(r for _, _, r in runs)} rounds. "
        f"Efficiency: throughput / ((threads / {first}) x the {first}-thread throughput). "
        "Ratio: median (min-max) of the per-round ratios fused/PyTorch.",
        "",
        "| threads | fused img/s | fused efficiency | PyTorch img/s | PyTorch efficiency | fused / PyTorch |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for t in threads:
        cells = [str(t)]
        for e in ("fused", "torch"):
            m, base = median(e, t), median(e, first)
            cells.append(f"{m:.0f}" if m else "-")
            cells.append(f"{m / (t / first * base):.0%}" if m and base else "-")
        ratios = [runs[("fused", t, r)] / runs[("torch", t, r)]
                  for (e, tt, r) in runs if e == "fused" and tt == t and ("torch", t, r) in runs]
        cells.append(f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})"
                     if ratios else "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(table(sys.argv[1]), end="")
