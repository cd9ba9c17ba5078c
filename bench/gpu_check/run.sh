#!/usr/bin/env bash
# The GPU check, run on a machine that has a GPU, Python with PyTorch, and nothing of ours
# but what bench/gpu_check/prepare.sh left in target/gpu-check/ (no Rust, no registry, no
# internet). About 6 minutes on an H200 machine; every step has a time limit, and a step
# that fails is recorded and the next one runs.
#
#   bash bench/gpu_check/run.sh [OUT]          # OUT defaults to $OUT, else runs/gpu-check
#   DRY_RUN=1 bash bench/gpu_check/run.sh OUT  # every step, tiny, on any machine
#
# 1. what the machine is: GPU, driver, Vulkan drivers, CPU;
# 2. `cyclr bench --device wgpu` at batch 100 and 512, and the reference CNN in PyTorch on
#    CUDA at the same batch sizes;
# 3. the fused CPU engine against PyTorch CPU at 1, 2, 8 and 16 threads (rounds in
#    alternating order), for core scaling and paired ratios;
# 4. a short real training run on a CIFAR-10 subset, on wgpu and on the CPU engine;
# 5. summary.md: the figures as tables, from the JSON each step wrote.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${1:-${OUT:-runs/gpu-check}}
PAYLOAD=${PAYLOAD:-target/gpu-check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
LOG="$OUT/steps.log"
: > "$LOG"
if [ -n "${DRY_RUN:-}" ]; then
  BENCH=(--warmup 1 --iters 2 --repeats 1); TORCH=(--warmup 1 --iters 2 --repeats 1)
  THREADS=(1 2); ROUNDS=1; EPOCHS=1; GPU_TIMEOUT=60
else
  BENCH=(--warmup 5 --iters 20 --repeats 3); TORCH=(--warmup 10 --iters 50 --repeats 5)
  THREADS=(1 2 8 16); ROUNDS=3; EPOCHS=3; GPU_TIMEOUT=180
fi

# step NAME SECONDS CMD...: runs CMD with a time limit, stdout to OUT/NAME.json (or .txt),
# stderr to OUT/NAME.err, and notes how it ended in steps.log.
step() {
  local name=$1 secs=$2; shift 2
  local start=$SECONDS
  timeout "$secs" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
  local rc=$?
  echo "$name rc=$rc $((SECONDS - start))s" | tee -a "$LOG" >&2
  return $rc
}

# 1. The machine.
{
  date -u
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "no nvidia-smi"
  echo "Vulkan drivers (ICD files):"
  ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1
  echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2) x $(nproc)"
  "$PY" -c "import torch; print('PyTorch', torch.__version__, 'CUDA', torch.cuda.is_available())" 2>&1
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

BIN=$(mktemp -d)/cyclr
"$PY" -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" \
  "$PAYLOAD/cyclr.xz" "$BIN" || { echo "cannot unpack $PAYLOAD/cyclr.xz: run bench/gpu_check/prepare.sh first" >&2; exit 2; }
chmod +x "$BIN"
"$BIN" --version >&2 || { echo "the binary does not run on this machine (glibc?)" >&2; exit 2; }
DATA=$(mktemp -d)
"$PY" bench/gpu_check/small_cifar.py expand "$PAYLOAD/small-cifar.tar.gz" "$DATA" >&2 || exit 2
LIMITS=(--train-limit 5000 --test-limit 1000)

# 2. GPU: wgpu through cyclr, CUDA through PyTorch.
for B in 100 512; do
  step "wgpu-b$B" "$GPU_TIMEOUT" "$BIN" bench --device wgpu --batch-size "$B" "${BENCH[@]}" --json
  step "torch-cuda-b$B" "$GPU_TIMEOUT" "$PY" bench/pytorch_cnn.py --device cuda --batch-size "$B" "${TORCH[@]}"
done

# 3. CPU scaling, cyclr's fused engine and PyTorch at the same thread counts.
start=$SECONDS
THREADS="${THREADS[*]}" ROUNDS=$ROUNDS ITERS="${BENCH[*]}" OUT="$OUT" BIN="$BIN" PYTHON="$PY" \
  timeout 420 bash bench/scaling.sh > "$OUT/scaling.md" 2> "$OUT/scaling.err"
echo "scaling rc=$? $((SECONDS - start))s" | tee -a "$LOG" >&2

# 4. Real training on the subset: the same run on wgpu and on the CPU engine.
TRAIN=(train --data "$DATA" "${LIMITS[@]}" --epochs "$EPOCHS" --policy triangular
  --base-lr 0.0005 --max-lr 0.003 --step-size-up 100 --seed 0 --quiet)
step train-wgpu 240 "$BIN" "${TRAIN[@]}" --device wgpu --out "$OUT/train-wgpu"
step train-cpu 240 "$BIN" "${TRAIN[@]}" --out "$OUT/train-cpu"

# 5. The summary.
"$PY" bench/gpu_check/summarize.py "$OUT" | tee "$OUT/summary.md"
