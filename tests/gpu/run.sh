#!/usr/bin/env bash
# tests/gpu/run.sh — every GPU check and the GPU benchmark, in one call on a
# machine with an NVIDIA GPU (the `device` tool's lent machine), in under 8
# minutes:
#
#   1. build (Release) if there is no build yet;
#   2. the kernel and executor tests on the real GPU (the same sources CI
#      runs on the emulated device): every op forward and backward against
#      the CPU kernels, every reference mixer trained on both devices;
#   3. 50 training steps of each reference mixer on both devices through
#      the CLI, losses compared;
#   4. `asiarch sandbox selftest --cuda` (strict profile, GPU opened before
#      lock-down);
#   5. `asiarch jit`: the CUDA kernel files of examples/kernels run in the
#      sandbox against their C references (test_jit_cli runs them when it
#      finds a GPU), and their timings;
#   6. the benchmark: 20m DeltaNet and Gated DeltaNet tokens/s against
#      PyTorch + flash-linear-attention (bench/gpu_train_vs_fla.sh), when
#      PYTHON points at a venv with torch and fla.
#
# Output: a summary on stdout; logs under ${OUT:-/tmp/asiarch-gpu}. Exit 0
# when every check passed.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/asiarch-gpu}
BUILD=${BUILD_DIR:-build}
mkdir -p "$OUT"
failed=0
step() { printf '\n== %s\n' "$*"; }
check() {   # check NAME COMMAND...: run, log, report
    local name=$1; shift
    local t0=$SECONDS
    if "$@" >"$OUT/$name.log" 2>&1; then
        printf 'PASS %-28s %4ds\n' "$name" $((SECONDS - t0))
    else
        printf 'FAIL %-28s %4ds (log: %s/%s.log)\n' "$name" $((SECONDS - t0)) "$OUT" "$name"
        tail -n 20 "$OUT/$name.log"
        failed=1
    fi
}

step "machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not found"
if [ ! -x "$BUILD/asiarch" ]; then
    step "build"
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.log" 2>&1 &&
        cmake --build "$BUILD" -j"$(nproc)" >"$OUT/build.log" 2>&1 || { echo "build failed: $OUT/build.log"; tail -30 "$OUT/build.log"; exit 1; }
fi
"$BUILD/asiarch" train delta_net --scale tiny --steps 1 --device cuda --no-mqar --json >"$OUT/probe.json" 2>"$OUT/probe.log" \
    || { echo "--device cuda does not start:"; cat "$OUT/probe.log"; exit 1; }

step "kernels and executor on the GPU (ASIARCH_TEST_DEVICE=cuda-required)"
for t in test_gpu_kernels test_gpu_layout test_gpu_norm test_gpu_train test_gpu_linattn test_gpu_exec; do
    [ -x "$BUILD/tests/$t" ] && check "$t" env ASIARCH_TEST_DEVICE=cuda-required "$BUILD/tests/$t"
done

step "reference mixers: 50 steps on both devices"
losses() {   # losses MIXER DEVICE: the final training loss of 50 tiny steps
    "$BUILD/asiarch" train "$1" --scale tiny --steps 50 --no-mqar --json --device "$2" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["train_loss"])'
}
compare_mixer() {
    local cpu gpu
    cpu=$(losses "$1" cpu) && gpu=$(losses "$1" cuda) || return 1
    echo "$1 cpu $cpu gpu $gpu"
    python3 -c "import sys; c,g=float('$cpu'),float('$gpu'); sys.exit(0 if abs(c-g) <= 2e-2*abs(c) else 1)"
}
for m in $("$BUILD/asiarch" train --list | awk 'NF{print $1}'); do
    check "train50_$m" compare_mixer "$m"
done

step "sandbox self-test with the CUDA filter"
check sandbox_selftest_cuda "$BUILD/asiarch" sandbox selftest --cuda

step "asiarch jit: CUDA kernel files against their C references"
[ -x "$BUILD/tests/test_jit_cli" ] && check test_jit_cli "$BUILD/tests/test_jit_cli"
for k in reduce linattn; do
    check "jit_run_$k" "$BUILD/asiarch" jit run "examples/kernels/$k.cu" --bench
    cat "$OUT/jit_run_$k.log"
done

step "benchmark"
if [ -n "${PYTHON:-}" ] && "$PYTHON" -c "import torch, fla" 2>/dev/null; then
    bench/gpu_train_vs_fla.sh | tee "$OUT/bench.txt"
else
    echo "skipped: set PYTHON to a python with torch and flash-linear-attention (pip install torch flash-linear-attention)"
fi

[ $failed -eq 0 ] && echo "ALL GPU CHECKS PASSED" || echo "SOME GPU CHECKS FAILED"
exit $failed
