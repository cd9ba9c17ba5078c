#!/usr/bin/env bash
# cyclr against PyTorch and Keras on the same machine, in one run, one after the other
# (never at the same time). Prints a Markdown table with the ratios.
#
#   bench/compare.sh            # uses $PYTHON, else .venv-bench/bin/python, else python3
#
# Python side: python3 -m venv .venv-bench && .venv-bench/bin/pip install torch tensorflow-cpu
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv-bench/bin/python ]; then PY=.venv-bench/bin/python; else PY=python3; fi
fi
ARGS=(--batch-size 100 --warmup 10 --iters 30 --repeats 5)
OUT=$(mktemp -d)
cargo build --release -q
echo "cyclr..." >&2
target/release/cyclr bench "${ARGS[@]}" --json > "$OUT/cyclr.json"
echo "cyclr --engine burn..." >&2
target/release/cyclr bench "${ARGS[@]}" --engine burn --json > "$OUT/cyclr_burn.json"
if "$PY" -c "import torch" 2>/dev/null; then
  echo "PyTorch..." >&2
  "$PY" bench/pytorch_cnn.py "${ARGS[@]}" > "$OUT/torch.json"
  "$PY" bench/pytorch_cnn.py "${ARGS[@]}" --channels-last > "$OUT/torch_cl.json"
else
  echo "PyTorch not installed for $PY: skipped" >&2
fi
if "$PY" -c "import tensorflow" 2>/dev/null; then
  echo "Keras..." >&2
  "$PY" bench/keras_cnn.py "${ARGS[@]}" > "$OUT/keras.json"
else
  echo "TensorFlow not installed for $PY: skipped" >&2
fi
"$PY" - "$OUT" <<'PYEOF'
import json, os, sys
d = sys.argv[1]
c = json.load(open(os.path.join(d, "cyclr.json")))
rows = [("cyclr, fused CPU kernels (default)", c["train_images_per_s"], c["eval_images_per_s"], c["peak_rss_mib"])]
b = json.load(open(os.path.join(d, "cyclr_burn.json")))
rows.append(("cyclr, burn Flex ops (--engine burn)", b["train_images_per_s"], b["eval_images_per_s"], b["peak_rss_mib"]))
for name in ["torch.json", "torch_cl.json", "keras.json"]:
    p = os.path.join(d, name)
    if os.path.exists(p):
        r = json.load(open(p))
        rows.append((r["framework"], r["train_images_per_s"], r["eval_images_per_s"], r["peak_rss_mib"]))
print(f"Machine: {c['hardware']['cpu']}, {c['hardware']['logical_cores']} logical cores; batch 100, random data, median of 5 repeats")
print()
print("| engine | train img/s | eval img/s | peak memory | cyclr/this, train | cyclr/this, eval | cyclr/this, memory |")
print("|---|---:|---:|---:|---:|---:|---:|")
for name, tr, ev, mem in rows:
    print(f"| {name} | {tr:.0f} | {ev:.0f} | {mem:.0f} MiB | {rows[0][1]/tr:.2f}x | {rows[0][2]/ev:.2f}x | {rows[0][3]/mem:.2f}x |")
print()
print(f"schedule cost: {c['schedule_ns_per_step']:.1f} ns per step = {100*c['schedule_fraction_of_step']:.5f}% of a training step")
PYEOF
