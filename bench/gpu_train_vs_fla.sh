#!/usr/bin/env bash
# gpu_train_vs_fla.sh — training throughput on one NVIDIA GPU: asiarch
# (--device cuda) against PyTorch + flash-linear-attention, the same model
# (bench/torch_deltanet.py --fla: same shapes, same chunked delta rule, AdamW
# with clipping), in one run on the same GPU.
#
#   PYTHON=venv/bin/python bench/gpu_train_vs_fla.sh [SCALE] [STEPS] [PRECISION]
#       (default: 20m 30 fp32; PRECISION fp32 | tf32 | bf16 for asiarch's GEMMs)
#
# For DeltaNet and Gated DeltaNet it prints tokens/s of each, the ratio, and
# asiarch's model FLOP utilisation against the GPU's measured peak for that
# precision (torch.matmul at n=8192: FP32 for fp32, TF32 otherwise). The
# peer runs in FP32 with TF32 matmuls allowed only when PRECISION is not
# fp32, so both sides do the same arithmetic.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-20m}
STEPS=${2:-30}
PRECISION=${3:-fp32}
BUILD=${BUILD_DIR:-build}
PYTHON=${PYTHON:-python3}
[ -x "$BUILD/asiarch" ] || { echo "build first: ./bootstrap.sh (or cmake --build $BUILD)" >&2; exit 2; }
"$PYTHON" -c "import torch, fla" 2>/dev/null ||
    { echo "the peer needs torch and flash-linear-attention: pip install torch flash-linear-attention (then PYTHON=...)" >&2; exit 2; }

peak=$("$PYTHON" - "$PRECISION" <<'PY'
import json, sys, time, torch
torch.backends.cuda.matmul.allow_tf32 = sys.argv[1] != "fp32"
n = 8192
a, b = torch.rand(n, n, device="cuda"), torch.rand(n, n, device="cuda")
best = 0.0
for r in range(6):
    torch.cuda.synchronize(); t = time.perf_counter(); torch.matmul(a, b); torch.cuda.synchronize()
    t = time.perf_counter() - t
    if r: best = max(best, 2 * n ** 3 / t / 1e9)
print(json.dumps({"gflops": best, "torch": torch.__version__, "gpu": torch.cuda.get_device_name()}))
PY
)
echo "GPU peak ($PRECISION matmul, n=8192): $peak"
for mixer in delta_net gated_delta_net; do
    ours=$("$BUILD/asiarch" train "$mixer" --scale "$SCALE" --steps "$STEPS" --no-mqar --no-verify --json \
               --device cuda --precision "$PRECISION")
    tf32=""; [ "$PRECISION" != fp32 ] && tf32="--allow-tf32"
    theirs=$("$PYTHON" bench/torch_deltanet.py --scale "$SCALE" --steps "$STEPS" --device cuda --fla --mixer "$mixer" $tf32 2>/dev/null)
    python3 - "$mixer" "$ours" "$theirs" "$peak" <<'PY'
import json, sys
mixer, ours, theirs, peak = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), json.loads(sys.argv[4])
a, t = ours["tokens_per_s"], theirs["tokens_per_s"]
mfu = a * ours["flops_per_token"] / (peak["gflops"] * 1e9)
print(f"{mixer:16s} asiarch {a:10.0f} tok/s   pytorch+fla {t:10.0f} tok/s   ratio {a / t:5.2f}x   "
      f"MFU {100 * mfu:4.1f}% of {peak['gflops'] / 1e3:.1f} TFLOP/s")
PY
done
