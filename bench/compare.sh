#!/usr/bin/env bash
# cyclr against PyTorch (and Keras, if installed) on the same machine. Each round runs every
# engine once, one at a time, in alternating order (forward on odd rounds, reversed on even
# ones), so a noisy neighbour or a warming CPU hits all engines alike. The figures are the
# median of the per-round ratios cyclr/engine with their range: a ratio is only ever taken
# between runs of the same round, never between medians of runs far apart.
#
#   bench/compare.sh                  # 5 rounds, all cores
#   ROUNDS=7 THREADS=2 bench/compare.sh
#   BIN=path/to/cyclr bench/compare.sh   # a binary built elsewhere (no cargo needed)
#
# Uses $PYTHON, else .venv-bench/bin/python, else python3.
# Python side: python3 -m venv .venv-bench && .venv-bench/bin/pip install torch tensorflow-cpu
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/python.sh
. bench/python.sh
ROUNDS=${ROUNDS:-5}
if ! [[ "$ROUNDS" =~ ^[0-9]+$ ]] || [ "$ROUNDS" -lt 5 ]; then
  echo "ROUNDS=$ROUNDS: give at least 5, or the median of the ratios means little" >&2
  exit 2
fi
BATCH=${BATCH:-100}
ARGS=(--batch-size "$BATCH" --warmup 10 --iters 30 --repeats 5)
THREAD_ARGS=()
[ -n "${THREADS:-}" ] && THREAD_ARGS=(--threads "$THREADS")
OUT=$(mktemp -d)
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/cyclr
fi
ENGINES=(cyclr cyclr_burn)
"$PY" -c "import torch" 2>/dev/null && ENGINES+=(torch torch_cl) ||
  echo "PyTorch not installed for $PY: skipped" >&2
"$PY" -c "import tensorflow" 2>/dev/null && ENGINES+=(keras) ||
  echo "TensorFlow not installed for $PY: skipped" >&2

run_engine() { # engine round
  local f="$OUT/$1.$2.json"
  case $1 in
    cyclr) "$BIN" bench "${ARGS[@]}" "${THREAD_ARGS[@]}" --json > "$f" 2>/dev/null ;;
    cyclr_burn) "$BIN" bench "${ARGS[@]}" "${THREAD_ARGS[@]}" --engine burn --json > "$f" 2>/dev/null ;;
    torch) "$PY" bench/pytorch_cnn.py "${ARGS[@]}" "${THREAD_ARGS[@]}" > "$f" ;;
    torch_cl) "$PY" bench/pytorch_cnn.py "${ARGS[@]}" "${THREAD_ARGS[@]}" --channels-last > "$f" ;;
    keras) "$PY" bench/keras_cnn.py "${ARGS[@]}" "${THREAD_ARGS[@]}" > "$f" 2>/dev/null ;;
  esac
}

for r in $(seq 1 "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then order=("${ENGINES[@]}"); else
    order=(); for ((i = ${#ENGINES[@]} - 1; i >= 0; i--)); do order+=("${ENGINES[$i]}"); done
  fi
  echo "round $r/$ROUNDS: ${order[*]}" >&2
  for e in "${order[@]}"; do run_engine "$e" "$r"; done
done

"$PY" - "$OUT" "$ROUNDS" "$BATCH" "${ENGINES[@]}" <<'PYEOF'
import json, os, statistics, sys
d, rounds, batch, engines = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
runs = {e: [json.load(open(os.path.join(d, f"{e}.{r}.json"))) for r in range(1, rounds + 1)] for e in engines}
names = {"cyclr": "cyclr, fused CPU kernels (default)", "cyclr_burn": "cyclr, burn Flex ops (`--engine burn`)"}
def ratios(e, key):
    return [c[key] / o[key] for c, o in zip(runs["cyclr"], runs[e])]
def span(v, fmt):
    return f"{fmt(statistics.median(v))} ({fmt(min(v))}-{fmt(max(v))})"
hw = runs["cyclr"][0]["hardware"]
print(f"Machine: {hw['cpu']}, {hw['logical_cores']} logical cores, {hw['threads']} threads; "
      f"reference CNN, batch {batch}, random data; {rounds} rounds, engines in alternating order.")
print("Each run: median of 5 repeats of 30 iterations after 10 of warm-up. Throughput: median "
      "(min-max) over the rounds. Ratio: median (min-max) of the per-round ratios cyclr/engine.")
print()
print("| engine | train img/s | eval img/s | peak memory | cyclr / this, train | cyclr / this, eval |")
print("|---|---:|---:|---:|---:|---:|")
for e in engines:
    rs = runs[e]
    name = names.get(e) or rs[0]["framework"]
    tr = span([x["train_images_per_s"] for x in rs], lambda v: f"{v:.0f}")
    ev = span([x["eval_images_per_s"] for x in rs], lambda v: f"{v:.0f}")
    mem = statistics.median(x["peak_rss_mib"] for x in rs)
    rt = "1" if e == "cyclr" else span(ratios(e, "train_images_per_s"), lambda v: f"{v:.2f}x")
    re = "1" if e == "cyclr" else span(ratios(e, "eval_images_per_s"), lambda v: f"{v:.2f}x")
    print(f"| {name} | {tr} | {ev} | {mem:.0f} MiB | {rt} | {re} |")
c = runs["cyclr"][0]
print()
print(f"schedule cost: {c['schedule_ns_per_step']:.1f} ns per step = "
      f"{100 * c['schedule_fraction_of_step']:.5f}% of a training step")
PYEOF
