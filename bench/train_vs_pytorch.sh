#!/usr/bin/env bash
# train_vs_pytorch.sh — training throughput of asiarch against PyTorch eager on
# the same machine, in one run: the same DeltaNet model (same shapes,
# chunkwise delta rule, same batch, AdamW with clipping).
#
#   bench/train_vs_pytorch.sh [SCALE] [STEPS] [ROUNDS]   (default: small 30 3)
#
# Needs a built tree (./bootstrap.sh) and PyTorch for the peer
# (`pip install torch`). Prints tokens/s of each, the ratio, and asiarch's
# model FLOP utilisation against the measured OpenBLAS sgemm peak. Both sides
# run on all cores, alternating for ROUNDS rounds; the medians are compared,
# so a burst of background load hits both. Run it on an otherwise idle machine.
# OpenBLAS's kernel family (OPENBLAS_CORETYPE, or its own CPU detection) sets
# asiarch's GEMM speed; the report names it.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${1:-small}
STEPS=${2:-30}
ROUNDS=${3:-3}
BUILD=${BUILD_DIR:-build}
THREADS=${THREADS:-$(nproc)}
[ -x "$BUILD/asiarch" ] || { echo "build first: ./bootstrap.sh (or cmake --build $BUILD)" >&2; exit 2; }
python3 -c "import torch" 2>/dev/null || { echo "the PyTorch peer needs torch: pip install torch" >&2; exit 2; }

peak=$("$BUILD/bench/bench_sgemm_peak" 2048 5)
ours="" theirs=""
for _ in $(seq "$ROUNDS"); do
    ours+=$(OMP_NUM_THREADS=$THREADS "$BUILD/asiarch" train delta_net --scale "$SCALE" --steps "$STEPS" --no-mqar --json)$'\n'
    theirs+=$(python3 bench/torch_deltanet.py --scale "$SCALE" --steps "$STEPS" --threads "$THREADS" 2>/dev/null)$'\n'
done

python3 - "$peak" "$ours" "$theirs" <<'PY'
import json, statistics, sys
peak = json.loads(sys.argv[1])
runs_ours = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
runs_theirs = [json.loads(l) for l in sys.argv[3].splitlines() if l.strip()]
ours, theirs = runs_ours[0], runs_theirs[0]
a = statistics.median(r["tokens_per_s"] for r in runs_ours)
t = statistics.median(r["tokens_per_s"] for r in runs_theirs)
print("rounds: asiarch " + " ".join(f"{r['tokens_per_s']:.0f}" for r in runs_ours)
      + " | pytorch " + " ".join(f"{r['tokens_per_s']:.0f}" for r in runs_theirs) + " tokens/s")
mfu = a * ours["flops_per_token"] / (peak["sgemm_gflops"] * 1e9)
print(f"scale {ours['scale']}, {ours['threads']} threads, {ours['steps']} steps, median of {len(runs_ours)} rounds")
print(f"asiarch          {a:10.0f} tokens/s")
print(f"pytorch eager    {t:10.0f} tokens/s   (torch {theirs['torch']})")
print(f"ratio            {a / t:10.2f} x   (target >= 2)")
print(f"sgemm peak       {peak['sgemm_gflops']:10.1f} GFLOP/s (OpenBLAS {peak['core']} kernels, n=2048)")
print(f"asiarch MFU      {100 * mfu:10.1f} %   ({ours['flops_per_token'] / 1e6:.2f} MFLOP/token fwd+bwd)")
PY
