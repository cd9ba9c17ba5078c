#!/usr/bin/env bash
# Core scaling: the fused CPU engine and PyTorch at the same thread counts, in rounds (each
# round runs every engine at every count once, the two engines in alternating order), then
# a table of throughput, parallel efficiency and the per-round paired ratio fused/PyTorch.
#
#   bench/scaling.sh                                   # 1, 2, 4, ... up to nproc; 5 rounds
#   THREADS="1 2 8 16" ROUNDS=3 OUT=dir BIN=path/to/cyclr bench/scaling.sh
#
# Uses $PYTHON, else .venv-bench/bin/python, else python3 (PyTorch optional: without it,
# only cyclr is measured).
set -uo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/python.sh
. bench/python.sh
ROUNDS=${ROUNDS:-5}
if ! [[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "ROUNDS=$ROUNDS: give a whole number of rounds, 1 or more" >&2
  exit 2
fi
if [ -z "${THREADS:-}" ]; then
  THREADS=""; t=1; while [ "$t" -le "$(nproc)" ]; do THREADS="$THREADS $t"; t=$((t * 2)); done
fi
ITERS=${ITERS:---warmup 5 --iters 20 --repeats 3}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/cyclr
fi
TORCH=0; "$PY" -c "import torch" 2>/dev/null && TORCH=1
[ $TORCH = 1 ] || echo "PyTorch not installed for $PY: cyclr only" >&2

one() { # engine threads round
  local f="$OUT/cpu-$1-t$2-r$3"
  # shellcheck disable=SC2086
  if [ "$1" = fused ]; then
    timeout 300 "$BIN" bench --threads "$2" --batch-size 100 $ITERS --json > "$f.out" 2> "$f.err"
  else
    timeout 300 "$PY" bench/pytorch_cnn.py --threads "$2" --batch-size 100 $ITERS > "$f.out" 2> "$f.err"
  fi
  echo "cpu-$1-t$2-r$3 rc=$?" >&2
}

for r in $(seq 1 "$ROUNDS"); do
  for T in $THREADS; do
    if [ $TORCH = 0 ]; then one fused "$T" "$r"
    elif [ $((r % 2)) = 1 ]; then one fused "$T" "$r"; one torch "$T" "$r"
    else one torch "$T" "$r"; one fused "$T" "$r"
    fi
  done
done
"$PY" bench/scaling_table.py "$OUT"
