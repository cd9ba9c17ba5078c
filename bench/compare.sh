#!/usr/bin/env bash
# cyclr against PyTorch and Keras on the same machine, in one run: every engine is measured
# in turn (never two at once), the whole sequence is repeated ROUNDS times (default 3) so
# that a noisy neighbour hits all engines alike, and the median per engine is reported.
# Prints a Markdown table with the ratios.
#
#   bench/compare.sh            # uses $PYTHON, else .venv-bench/bin/python, else python3
#   ROUNDS=5 bench/compare.sh
#
# Python side: python3 -m venv .venv-bench && .venv-bench/bin/pip install torch tensorflow-cpu
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv-bench/bin/python ]; then PY=.venv-bench/bin/python; else PY=python3; fi
fi
ROUNDS=${ROUNDS:-3}
ARGS=(--batch-size 100 --warmup 10 --iters 30 --repeats 5)
OUT=$(mktemp -d)
cargo build --release -q
HAVE_TORCH=0; "$PY" -c "import torch" 2>/dev/null && HAVE_TORCH=1
HAVE_TF=0; "$PY" -c "import tensorflow" 2>/dev/null && HAVE_TF=1
[ $HAVE_TORCH = 1 ] || echo "PyTorch not installed for $PY: skipped" >&2
[ $HAVE_TF = 1 ] || echo "TensorFlow not installed for $PY: skipped" >&2
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  target/release/cyclr bench "${ARGS[@]}" --json > "$OUT/cyclr.$r.json" 2>/dev/null
  target/release/cyclr bench "${ARGS[@]}" --engine burn --json > "$OUT/cyclr_burn.$r.json" 2>/dev/null
  if [ $HAVE_TORCH = 1 ]; then
    "$PY" bench/pytorch_cnn.py "${ARGS[@]}" > "$OUT/torch.$r.json"
    "$PY" bench/pytorch_cnn.py "${ARGS[@]}" --channels-last > "$OUT/torch_cl.$r.json"
  fi
  if [ $HAVE_TF = 1 ]; then
    "$PY" bench/keras_cnn.py "${ARGS[@]}" > "$OUT/keras.$r.json" 2>/dev/null
  fi
done
"$PY" - "$OUT" "$ROUNDS" <<'PYEOF'
import glob, json, os, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def load(name):
    runs = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(d, f"{name}.*.json")))]
    if not runs:
        return None
    med = lambda k: statistics.median(r[k] for r in runs)
    return runs[0], med("train_images_per_s"), med("eval_images_per_s"), med("peak_rss_mib"), [round(r["train_images_per_s"]) for r in runs], [round(r["eval_images_per_s"]) for r in runs]
c = load("cyclr")
rows = [("cyclr, fused CPU kernels (default)",) + c[1:]]
b = load("cyclr_burn")
rows.append(("cyclr, burn Flex ops (`--engine burn`)",) + b[1:])
for name in ["torch", "torch_cl", "keras"]:
    r = load(name)
    if r:
        rows.append((r[0]["framework"],) + r[1:])
hw = c[0]["hardware"]
print(f"Machine: {hw['cpu']}, {hw['logical_cores']} logical cores, {hw['threads']} threads; reference CNN, batch 100, random data;")
print(f"each figure the median of {rounds} rounds, each round the median of 5 repeats of 30 iterations after 10 of warm-up.")
print()
print("| engine | train img/s | eval img/s | peak memory | cyclr / this, train | cyclr / this, eval | cyclr / this, memory | train per round | eval per round |")
print("|---|---:|---:|---:|---:|---:|---:|---|---|")
for name, tr, ev, mem, trs, evs in rows:
    print(f"| {name} | {tr:.0f} | {ev:.0f} | {mem:.0f} MiB | {rows[0][1]/tr:.2f}x | {rows[0][2]/ev:.2f}x | {rows[0][3]/mem:.2f}x | {trs} | {evs} |")
print()
print(f"schedule cost: {c[0]['schedule_ns_per_step']:.1f} ns per step = {100*c[0]['schedule_fraction_of_step']:.5f}% of a training step")
PYEOF
