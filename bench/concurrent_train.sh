#!/usr/bin/env bash
# concurrent_train.sh — do two trainings on the same cores share them
# gracefully? Times one `asiarch train` alone, then two started together, under
# each OpenMP wait policy, and prints each pair's slowdown against alone.
#
#   bench/concurrent_train.sh [ARCH] [STEPS] [POLICIES...]
#       default: gated_delta_net 150 default passive
#
# A policy is `default` (what asiarch chooses: a bounded spin, kernels/cpu.c),
# `passive` (OMP_WAIT_POLICY=passive) or a number (GOMP_SPINCOUNT=N; libgomp's
# own default is 300000, the setting that made two runs 27x slower). Target:
# each of the two takes at most 2.5x the time of one alone. All runs use every
# core the process may use; run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH=${1:-gated_delta_net}
STEPS=${2:-150}
shift $(( $# < 2 ? $# : 2 ))
POLICIES=("$@")
[ ${#POLICIES[@]} -eq 0 ] && POLICIES=(default passive)
BUILD=${BUILD_DIR:-build}
[ -x "$BUILD/asiarch" ] || { echo "build first: ./bootstrap.sh (or cmake --build $BUILD)" >&2; exit 2; }

# Wall seconds of one training under policy $1.
train_once() {
    local env=(env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT)
    case $1 in
        default) ;;
        passive) env+=(OMP_WAIT_POLICY=passive) ;;
        *) env+=(GOMP_SPINCOUNT="$1") ;;
    esac
    local t0 t1
    t0=$(date +%s.%N)
    "${env[@]}" "$BUILD/asiarch" train "$ARCH" --scale tiny --steps "$STEPS" --no-mqar --json >/dev/null
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc
}

echo "asiarch train $ARCH --scale tiny --steps $STEPS --no-mqar, $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf '%-10s %10s %22s %10s\n' policy "alone (s)" "two at once (s each)" "slowdown"
for p in "${POLICIES[@]}"; do
    alone=$(train_once "$p")
    a=$(mktemp) b=$(mktemp)
    train_once "$p" >"$a" & pa=$!
    train_once "$p" >"$b" & pb=$!
    wait $pa $pb
    ta=$(cat "$a") tb=$(cat "$b")
    rm -f "$a" "$b"
    worst=$(echo "if ($ta > $tb) $ta else $tb" | bc)
    printf '%-10s %10.1f %10.1f %10.1f %9.2fx\n' "$p" "$alone" "$ta" "$tb" "$(echo "$worst / $alone" | bc -l)"
done
echo "target: slowdown <= 2.5x (two runs share the cores: 2x is fair)"
