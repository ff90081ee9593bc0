#!/usr/bin/env bash
# bootstrap.sh — the README's two set-up commands, on a fresh Debian 12 machine:
#
#   ./bootstrap.sh        install missing packages, build, run the main job:
#                         `asiarch discover --sandbox strict` with the built-in
#                         proposer on the KJV Bible corpus (scale tiny, 8 candidates)
#   ./bootstrap.sh test   install missing packages, build (release and ASan+UBSan),
#                         run the whole test suite (release: all tests, including a 60 s
#                         fuzz run of the checker; sanitizers: unit tests)
#
# Environment: JOBS (parallel build jobs, default: all cores), BUILD_DIR (default build).
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(build-essential cmake pkg-config libopenblas-openmp-dev libcjson-dev bible-kjv python3
          clang-14 libclang-14-dev llvm-14-dev libclang-rt-14-dev libomp-14-dev libssl-dev libseccomp-dev
          libsqlite3-dev graphviz libcurl4-openssl-dev chromium)
JOBS=${JOBS:-$(nproc)}
BUILD_DIR=${BUILD_DIR:-build}

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() {   # build DIR [cmake args...]
    local dir=$1; shift
    say "building in $dir"
    cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
    cmake --build "$dir" -j "$JOBS"
}

run_main_job() {
    build "$BUILD_DIR"
    say "discovering mixers: built-in proposer, KJV Bible corpus, scale tiny, strict sandbox"
    mkdir -p runs
    (cd runs && "../$BUILD_DIR/asiarch" discover --sandbox strict --scale tiny --budget 8 --report report.html)
}

run_tests() {
    build "$BUILD_DIR"
    build "$BUILD_DIR-asan" -DASIARCH_SANITIZE=ON
    say "running the test suite (release build)"
    ctest --test-dir "$BUILD_DIR" --output-on-failure -j 1
    say "running the unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ctest --test-dir "$BUILD_DIR-asan" --output-on-failure -j 1 -L unit
}

install_missing
case "${1:-run}" in
    run) run_main_job ;;
    test) run_tests ;;
    *) echo "usage: $0 [run|test]" >&2; exit 2 ;;
esac
