#!/usr/bin/env bash
# train_vs_pytorch.sh — training throughput of asiarch against PyTorch eager on
# the same machine, in one run: the same DeltaNet model (same shapes,
# chunkwise delta rule, same batch, AdamW with clipping).
#
#   bench/train_vs_pytorch.sh [SCALE] [STEPS] [ROUNDS]   (default: small 30 3)
#
# Needs a built tree (./bootstrap.sh) and current PyTorch for the peer
# (`python3 -m venv v && v/bin/pip install torch`, then PYTHON=v/bin/python).
# Prints tokens/s of each, the ratio, the torch version, the sgemm peak of
# both (OpenBLAS n=2048, torch.matmul n=2048), and asiarch's model FLOP
# utilisation against the better of the two peaks. Both sides
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
PYTHON=${PYTHON:-python3}
"$PYTHON" -c "import torch" 2>/dev/null || { echo "the PyTorch peer needs torch: pip install torch (or set PYTHON)" >&2; exit 2; }

peak=$("$BUILD/bench/bench_sgemm_peak" 2048 5)
torch_peak=$("$PYTHON" - "$THREADS" <<'PY'
import json, sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
n = 2048
a, b = torch.rand(n, n), torch.rand(n, n)
best = 0.0
for r in range(6):   # best of 5 after a warm-up, as bench_sgemm_peak
    t = time.perf_counter(); torch.matmul(a, b); t = time.perf_counter() - t
    if r: best = max(best, 2 * n ** 3 / t / 1e9)
print(json.dumps({"sgemm_gflops": best, "torch": torch.__version__}))
PY
)
ours="" theirs=""
for _ in $(seq "$ROUNDS"); do
    ours+=$(OMP_NUM_THREADS=$THREADS "$BUILD/asiarch" train delta_net --scale "$SCALE" --steps "$STEPS" --no-mqar --json)$'\n'
    theirs+=$("$PYTHON" bench/torch_deltanet.py --scale "$SCALE" --steps "$STEPS" --threads "$THREADS" 2>/dev/null)$'\n'
done

python3 - "$peak" "$ours" "$theirs" "$torch_peak" <<'PY'
import json, statistics, sys
peak = json.loads(sys.argv[1])
tpeak = json.loads(sys.argv[4])
runs_ours = [json.loads(l) for l in sys.argv[2].splitlines() if l.strip()]
runs_theirs = [json.loads(l) for l in sys.argv[3].splitlines() if l.strip()]
ours, theirs = runs_ours[0], runs_theirs[0]
a = statistics.median(r["tokens_per_s"] for r in runs_ours)
t = statistics.median(r["tokens_per_s"] for r in runs_theirs)
print("rounds: asiarch " + " ".join(f"{r['tokens_per_s']:.0f}" for r in runs_ours)
      + " | pytorch " + " ".join(f"{r['tokens_per_s']:.0f}" for r in runs_theirs) + " tokens/s")
best_peak = max(peak["sgemm_gflops"], tpeak["sgemm_gflops"])
mfu = a * ours["flops_per_token"] / (best_peak * 1e9)
print(f"scale {ours['scale']}, {ours['threads']} threads, {ours['steps']} steps, median of {len(runs_ours)} rounds")
print(f"cpu              {ours.get('cpu', '?')}")
print(f"asiarch          {a:10.0f} tokens/s   (OpenBLAS {ours['blas_core']} kernels, chosen by {ours.get('blas_core_chosen_by', '?')})")
print(f"pytorch eager    {t:10.0f} tokens/s   (torch {theirs['torch']})")
print(f"ratio            {a / t:10.2f} x   (target >= 2)")
print(f"sgemm peak       {peak['sgemm_gflops']:10.1f} GFLOP/s OpenBLAS {peak['core']}, {tpeak['sgemm_gflops']:.1f} torch.matmul (n=2048)")
print(f"asiarch MFU      {100 * mfu:10.1f} %   of the better peak, {best_peak:.1f} GFLOP/s "
      f"({ours['flops_per_token'] / 1e6:.2f} MFLOP/token fwd+bwd; target >= 50%)")
PY
