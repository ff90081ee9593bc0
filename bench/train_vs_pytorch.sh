#!/usr/bin/env bash
# train_vs_pytorch.sh — training throughput of asiarch against PyTorch eager on
# the same machine, in one run: the same DeltaNet model (same shapes,
# chunkwise delta rule, same batch, AdamW with clipping).
#
#   bench/train_vs_pytorch.sh [SCALE] [STEPS]      (default: small 30)
#
# Needs a built tree (./bootstrap.sh) and PyTorch for the peer
# (`pip install torch`). Prints tokens/s of each, the ratio, and asiarch's
# model FLOP utilisation against the measured OpenBLAS sgemm peak. Both sides
# run on all cores; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-small}
STEPS=${2:-30}
BUILD=${BUILD_DIR:-build}
THREADS=${THREADS:-$(nproc)}
[ -x "$BUILD/asiarch" ] || { echo "build first: ./bootstrap.sh (or cmake --build $BUILD)" >&2; exit 2; }
python3 -c "import torch" 2>/dev/null || { echo "the PyTorch peer needs torch: pip install torch" >&2; exit 2; }

peak=$("$BUILD/bench/bench_sgemm_peak" 2048 5)
ours=$(OMP_NUM_THREADS=$THREADS "$BUILD/asiarch" train delta_net --scale "$SCALE" --steps "$STEPS" --no-mqar --json)
theirs=$(python3 bench/torch_deltanet.py --scale "$SCALE" --steps "$STEPS" --threads "$THREADS" 2>/dev/null)

python3 - "$peak" "$ours" "$theirs" <<'PY'
import json, sys
peak, ours, theirs = (json.loads(s) for s in sys.argv[1:4])
a, t = ours["tokens_per_s"], theirs["tokens_per_s"]
mfu = a * ours["flops_per_token"] / (peak["sgemm_gflops"] * 1e9)
print(f"scale {ours['scale']}, {ours['threads']} threads, {ours['steps']} steps")
print(f"asiarch          {a:10.0f} tokens/s")
print(f"pytorch eager    {t:10.0f} tokens/s   (torch {theirs['torch']})")
print(f"ratio            {a / t:10.2f} x   (target >= 2)")
print(f"sgemm peak       {peak['sgemm_gflops']:10.1f} GFLOP/s (OpenBLAS, n=2048)")
print(f"asiarch MFU      {100 * mfu:10.1f} %   ({ours['flops_per_token'] / 1e6:.2f} MFLOP/token fwd+bwd)")
PY
