"""summary.md of a GPU check: the JSON each step of run.sh wrote, as tables.

    python3 bench/gpu_check/summarize.py OUT
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import scaling_table  # noqa: E402

out = sys.argv[1]


def load(name):
    """A step's JSON output, or None and why not (its last stderr line)."""
    try:
        with open(os.path.join(out, f"{name}.out")) as f:
            return json.load(f), None
    except (OSError, ValueError):
        try:
            with open(os.path.join(out, f"{name}.err")) as f:
                lines = [l.strip() for l in f if l.strip()]
            return None, (lines[-1] if lines else "no output")[:300]
        except OSError:
            return None, "did not run"


print("# GPU check\n")
with open(os.path.join(out, "machine.txt")) as f:
    print("```\n" + f.read().strip() + "\n```\n")

print("## Reference CNN on the GPU (training and evaluation images/s)\n")
print("| engine | batch | train img/s | eval img/s | device |")
print("|---|---:|---:|---:|---|")
for b in (100, 512):
    for name, label in ((f"wgpu-b{b}", "cyclr, burn wgpu"), (f"torch-cuda-b{b}", "PyTorch CUDA")):
        r, err = load(name)
        if r is None:
            print(f"| {label} | {b} | - | - | failed: {err} |")
            continue
        adapter = (r.get("hardware") or {}).get("adapter")
        where = adapter["name"] + (" (SOFTWARE)" if adapter.get("software") else "") if adapter else r.get("framework", "")
        print(f"| {label} | {b} | {r['train_images_per_s']:.0f} | {r['eval_images_per_s']:.0f} | {where} |")

print("\n## CPU: cyclr's fused engine and PyTorch, by threads\n")
print(scaling_table.table(out))

print("\n## Short training on the CIFAR-10 subset (5,000 / 1,000 images)\n")
print("| run | final test acc | wall time | where |")
print("|---|---:|---:|---|")
for name in ("train-wgpu", "train-cpu"):
    try:
        with open(os.path.join(out, name, "run.json")) as f:
            r = json.load(f)
        s = r.get("summary", r)
        hw = r.get("hardware", {})
        adapter = hw.get("adapter")
        where = adapter["name"] if adapter else f"{hw.get('engine', '')} on {hw.get('threads', '?')} threads"
        acc = s.get("final_test_accuracy")
        print(f"| {name} | {acc * 100:.2f}% | {s.get('wall_s', 0):.1f} s | {where} |" if acc is not None
              else f"| {name} | - | - | {where} |")
    except (OSError, ValueError, KeyError, TypeError) as e:
        _, err = load(name)
        print(f"| {name} | - | - | failed: {err or e} |")
