#!/usr/bin/env bash
# Full-scale figures on one NVIDIA GPU (H100/H200 class), in one go, within ~10 minutes:
# the benchmark on the GPU and on the CPU engine for reference, then the paper profile of
# the recreation on the GPU. Needs the CIFAR-10 archive: DATA=path/to/cifar-10-binary.tar.gz.
#
#   DATA=../shared/data/cifar-10-binary.tar.gz bench/gpu.sh [OUT_DIR]
#
# Results: OUT_DIR/bench-cuda.json, OUT_DIR/bench-cpu.json, OUT_DIR/recreate-paper/report.md.
# Not yet run on a GPU: the machines this was written on have none.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/gpu-$(date -u +%Y%m%d-%H%M%S)}
DATA=${DATA:?set DATA to the CIFAR-10 binary archive or folder}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
cargo build --release --features cyclr-cifar/cuda
BIN=target/release/cyclr
$BIN bench --device cuda --engine burn --iters 50 --repeats 5 --json | tee "$OUT/bench-cuda.json"
$BIN bench --iters 30 --repeats 3 --json | tee "$OUT/bench-cpu.json"
# 150 vs 50 epochs on all 50,000 images; continue an interrupted run by running it again.
timeout 540 $BIN recreate --profile paper --device cuda --engine burn --data "$DATA" \
  --out "$OUT/recreate-paper" --quiet || echo "recreate stopped (time limit?): run this script again with the same OUT to continue" >&2
ls -la "$OUT"
