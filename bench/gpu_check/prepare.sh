#!/usr/bin/env bash
# Everything the GPU check needs, made here, where Rust and the CIFAR-10 archive are:
# the cyclr binary with burn's wgpu backend (stripped, xz-compressed) and a CIFAR-10 subset
# small enough to travel, in target/gpu-check/ (about 30 MB; what travels to a lent GPU
# machine must stay under 64 MiB). Then a dry run of bench/gpu_check/run.sh on this
# machine, every step tiny, to check everything up to the GPU itself.
#
#   bash bench/gpu_check/prepare.sh [path/to/cifar-10-binary.tar.gz]
#
# The wgpu build takes its own target folder (target/wgpu): about 40 minutes cold on 2
# cores, minutes after that. Then, with the `device` tool of a session that is lent one:
#   run  command="bash bench/gpu_check/run.sh \$OUT"  carry=["target/gpu-check"]  timeout_s=540
set -euo pipefail
cd "$(dirname "$0")/../.."
ARCHIVE=${1:-../shared/data/cifar-10-binary.tar.gz}
PAYLOAD=target/gpu-check
mkdir -p "$PAYLOAD"

echo "1/4 building cyclr with the wgpu backend (target/wgpu)" >&2
CARGO_TARGET_DIR=target/wgpu cargo build --release --locked --features cyclr-cli/wgpu
strip -o "$PAYLOAD/cyclr" target/wgpu/release/cyclr

echo "2/4 compressing it" >&2
xz -T0 -6 -f "$PAYLOAD/cyclr"

echo "3/4 the CIFAR-10 subset" >&2
python3 bench/gpu_check/small_cifar.py pack "$ARCHIVE" "$PAYLOAD/small-cifar.tar.gz" --train 5000 --test 1000

# What travels: the tracked tree plus the payload.
payload=$(du -sb "$PAYLOAD" | cut -f1)
tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
total=$(( (payload + tree) / 1024 / 1024 ))
echo "payload $((payload / 1024 / 1024)) MiB + tree $((tree / 1024 / 1024)) MiB = $total MiB (limit 64)" >&2
if [ "$total" -ge 64 ]; then
  echo "too large to travel: make the subset smaller (small_cifar.py pack --train N)" >&2
  exit 1
fi

echo "4/4 dry run (GPU steps fail here without a GPU; that is recorded, not fatal)" >&2
DRY=target/gpu-check-dry
rm -rf "$DRY"
# PyTorch, where this machine has it in .venv-bench, so its steps are tried too.
if [ -z "${PYTHON:-}" ] && [ -x .venv-bench/bin/python ]; then export PYTHON=.venv-bench/bin/python; fi
DRY_RUN=1 bash bench/gpu_check/run.sh "$DRY"
# Everything that needs no GPU must have worked.
for s in cpu-fused-t1-r1 cpu-fused-t2-r1; do
  grep -q "^$s rc=0" "$DRY/scaling.err" || { echo "dry run: $s failed, see $DRY/$s.err" >&2; exit 1; }
done
grep -q "^train-cpu rc=0 " "$DRY/steps.log" || { echo "dry run: train-cpu failed, see $DRY/train-cpu.err" >&2; exit 1; }
grep -q "fused" "$DRY/summary.md" || { echo "dry run: no summary" >&2; exit 1; }
echo "ready: $PAYLOAD ($total MiB with the tree); dry run in $DRY/summary.md" >&2
