#!/usr/bin/env bash
# run_fuzz.sh TARGET SECONDS — build fuzz/fuzz_TARGET.c with libFuzzer,
# AddressSanitizer and UndefinedBehaviorSanitizer, and fuzz it for SECONDS
# seconds, starting from the target's seed corpus (for check: the checker's
# test programs in tests/check/; for answer: the answer shapes in
# tests/answers/). Exits non-zero when the fuzzer finds a crash, a hang
# (-timeout=5 per input), a leak or a broken invariant; the input that
# triggered it is left in build-fuzz/artifacts/.
#
#   fuzz/run_fuzz.sh check 60      (needs the release build: BUILD_DIR, default build)
#   fuzz/run_fuzz.sh sandbox 60    (the same)
#   fuzz/run_fuzz.sh answer 30
#   fuzz/run_fuzz.sh graph 60     (random DSL programs built and run for one training step)
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: fuzz/run_fuzz.sh TARGET SECONDS}
seconds=${2:?usage: fuzz/run_fuzz.sh TARGET SECONDS}
out=build-fuzz
mkdir -p "$out/artifacts" "$out/corpus-$target"

CC=${CC:-clang-14}
LLVM=/usr/lib/llvm-14
flags=(-std=c17 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)

timeout=5
max_len=32768
case "$target" in
check)
    # The DSL header is embedded in the binary, as in the CMake build.
    cmake -DIN=include/asiarch.h -DOUT="$out/dsl_header.c" -P jit/embed_header.cmake
    cmake -DIN=include/asiarch_kernel.h -DOUT="$out/kernel_header.c" -DVAR=jit_kernel_header -P jit/embed_header.cmake
    srcs=(fuzz/fuzz_check.c jit/check.c jit/source.c report/report.c "$out/dsl_header.c" "$out/kernel_header.c")   # in-process checker
    incs=(-Ijit -Ireport -Iinclude -I"$LLVM/include" -I/usr/include/cjson)
    libs=(-L"$LLVM/lib" -Wl,-rpath,"$LLVM/lib" -lclang -lcjson)
    # Tokens of the DSL, so mutations reach past the parser quickly.
    cat > "$out/check.dict" <<'DICT'
"#include <asiarch.h>"
"#define"
"#if"
"aa_t mixer(aa_layer *l, aa_t x)"
"aa_linear(l, \"q\", x, 4)"
"aa_pointwise1(\"f\", x)"
"AA_NAME(\"n\");"
"for (int i = 0; i < 4; i++)"
"while"
"goto"
"static"
"const"
"extern"
"inline"
"volatile"
"__attribute__((constructor))"
"__asm__(\"x\")"
"__builtin_trap()"
"_Pragma(\"x\")"
"_Generic"
"sizeof"
"switch"
"case"
"return"
"struct"
"union"
"typedef"
"??="
"\\\x0a"
"/*"
"*/"
"&&"
"->"
"int *"
"float"
"{"
"}"
"("
")"
";"
DICT
    dict=(-dict="$out/check.dict")
    seeds=(tests/check/accept tests/check/reject)   # the checker's own test corpus
    ;;
sandbox)
    # The harness (supervisor side) is instrumented; the runner it starts is
    # the release build's asiarch-runner, which executes the system calls.
    build=${BUILD_DIR:-build}
    [ -x "$build/asiarch-runner" ] || { echo "run_fuzz.sh: build $build first (no $build/asiarch-runner)" >&2; exit 2; }
    srcs=(fuzz/fuzz_sandbox.c sandbox/supervisor.c sandbox/channel.c jit/process.c)
    incs=(-Isandbox -Ijit -Iproto -Ireport -Iruntime -Iir -Idata -Ikernels -Iinclude -I/usr/include/cjson
          -DASIARCH_RUNNER_BUILD_PATH="\"$(realpath "$build/asiarch-runner")\"")
    # The runtime reaches the GPU layer (gpu, and jit's NVRTC service), the
    # supervisor the kernel prototyper (naming out-of-bounds faults): only
    # those archive members are linked, which need libcrypto and libdl.
    libs=("$build/libaa_proto.a" "$build/libaa_runtime.a" "$build/libaa_gpu.a" "$build/libaa_jit.a" "$build/libaa_arch.a"
          "$build/libaa_ir.a" "$build/libaa_kernels.a" "$build/libaa_data.a" "$build/libaa_report.a"
          -L/usr/lib/x86_64-linux-gnu/openblas-openmp -lopenblas -fopenmp -lcjson -lcrypto -ldl -lm -lpthread)
    # Seeds: one record per interesting call (abi, nr, modes, args); byte 0 picks the profile.
    mkdir -p "$out/seeds-sandbox"
    python3 - "$out/seeds-sandbox" <<'PY'
import struct, sys, os
def rec(abi, nr, modes=0, args=(0,)*6):
    return struct.pack("<BBHI6Q", abi, 0, nr, modes, *[a & (2**64-1) for a in args])
seeds = {
  "openat": rec(0, 257, 0b000010 << 0 | 2 << 2, (-100, 0, 0, 0, 0, 0)),
  "open_i386": rec(1, 5, 2, (0, 0, 0, 0, 0, 0)),
  "openat_x32": rec(2, 257, 2 << 2, (-100, 0, 0, 0, 0, 0)),
  "creat_planted": rec(0, 85, 2, (4, 0o644, 0, 0, 0, 0)),
  "socket": rec(0, 41, 0, (2, 1, 0, 0, 0, 0)),
  "execve": rec(0, 59, 2 | 1 << 2 | 1 << 4, (3, 0, 0, 0, 0, 0)),
  "getpid_write": rec(0, 39) + rec(0, 1, 3 | 1 << 2, (1, 0, 16, 0, 0, 0)),
  "mmap_exec": rec(0, 9, 0, (0, 4096, 7, 0x22, 2**64-1, 0)),
}
for name, body in seeds.items():
    for profile in (0, 1):
        with open(os.path.join(sys.argv[1], f"{name}-{profile}"), "wb") as f:
            f.write(bytes([profile]) + body)
PY
    seeds=("$out/seeds-sandbox")
    timeout=15
    max_len=$((1 + 64 * 56))
    ;;
graph)
    # The graph builder, the runtime and the kernels, all instrumented.
    # The reference mixers are compiled one by one with the symbol prefixes
    # the CMake build gives them (their files are also standalone DSL files).
    mkdir -p "$out/arch-graph"
    arch_objs=()
    for f in arch/*.c; do
        ref=$(basename "$f" .c)
        obj="$out/arch-graph/$ref.o"
        defs=()
        [ "$ref" != registry ] && defs=(-Dmixer=aa_ref_${ref}_mixer -Daa_meta_name=aa_ref_${ref}_name
                                        -Daa_meta_motivation=aa_ref_${ref}_motivation)
        "$CC" "${flags[@]/-fsanitize=fuzzer,/-fsanitize=fuzzer-no-link,}" "${defs[@]}" -Iarch -Iir -Iinclude -c "$f" -o "$obj"
        arch_objs+=("$obj")
        if [ "$ref" != registry ]; then   # its text, as the build embeds it (arch_ref.source)
            cmake -DIN="$f" -DOUT="$out/arch-graph/${ref}_source.c" -DVAR=aa_ref_${ref}_source -P jit/embed_header.cmake
            arch_objs+=("$out/arch-graph/${ref}_source.c")
        fi
    done
    srcs=(fuzz/fuzz_graph.c ir/*.c runtime/*.c kernels/*.c data/*.c report/report.c "${arch_objs[@]}")
    incs=(-Iruntime -Iir -Ikernels -Idata -Iarch -Ireport -Iinclude -Igpu -Ikernels/cuda -Ijit -I/usr/include/cjson
          -I/usr/include/x86_64-linux-gnu/openblas-openmp -fopenmp -fno-math-errno)
    # The GPU layer the runtime reaches comes from the release build (never
    # used here: the fuzzer's models run on the CPU).
    build=${BUILD_DIR:-build}
    [ -f "$build/libaa_gpu.a" ] || { echo "run_fuzz.sh: build $build first (no $build/libaa_gpu.a)" >&2; exit 2; }
    libs=("$build/libaa_gpu.a" "$build/libaa_jit.a" "$build/libaa_report.a" -L/usr/lib/x86_64-linux-gnu/openblas-openmp
          -lopenblas -fopenmp -lcjson -lcrypto -ldl -lm -lpthread)
    export OMP_NUM_THREADS=1   # one thread: the fuzzer wants the same run for the same input
    seeds=()
    timeout=10
    max_len=512
    ;;
answer)
    # The prompt templates are embedded, as in the CMake build.
    names=$(cd prompts && ls *.md | sed 's/\.md$//' | paste -sd, -)
    cmake -DDIR=prompts -DNAMES="$names" -DOUT="$out/llm_prompts.c" -P llm/embed_prompts.cmake
    srcs=(fuzz/fuzz_answer.c llm/answer.c llm/prompt.c llm/util.c "$out/llm_prompts.c")
    incs=(-Illm -I/usr/include/cjson)
    libs=(-lcjson -lm)
    # Pieces of answers, so mutations reach fences, JSON and placeholders quickly.
    cat > "$out/answer.dict" <<'DICT'
"```c"
"```C"
"```json"
"```"
"````"
"~~~"
"   ```"
"\x0d\x0a"
"#include <asiarch.h>"
"aa_t mixer(aa_layer *l, aa_t x)"
"AA_NAME(\"n\");"
"{\"performance\": 7, \"innovation\": \"4\", \"complexity\": 10"
"\"rationale\": \"r\"}"
"{\"summary\": \"s\", \"strengths\": [\"a\"], \"weaknesses\": \"w\", \"next_idea\": \"n\"}"
"{\"novel\": true, \"closest\": null, \"reason\": \"r\"}"
"{{name}}"
"{{"
"}}"
"{"
"}"
"\\\""
"\""
DICT
    dict=(-dict="$out/answer.dict")
    seeds=(tests/answers)   # answer shapes from the parser's unit tests
    ;;
*)
    echo "run_fuzz.sh: unknown target '$target' (known: check, sandbox, answer, graph)" >&2
    exit 2
    ;;
esac

echo "+ $CC ${flags[*]} ${incs[*]} ${srcs[*]} ${libs[*]} -o $out/fuzz_$target"
"$CC" "${flags[@]}" "${incs[@]}" "${srcs[@]}" "${libs[@]}" -o "$out/fuzz_$target"

# libclang's crash recovery would turn a crash inside it into a quiet -1;
# the fuzzer should see it.
export LIBCLANG_DISABLE_CRASH_RECOVERY=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# New inputs go to build-fuzz/corpus-TARGET; the seed corpora stay as committed.
if [ "$target" != check ]; then
    exec "$out/fuzz_$target" ${dict[@]+"${dict[@]}"} -max_total_time="$seconds" -timeout="$timeout" \
        -rss_limit_mb=4096 -max_len="$max_len" \
        -print_final_stats=1 -artifact_prefix="$out/artifacts/" "$out/corpus-$target" ${seeds[@]+"${seeds[@]}"}
fi

# The checker runs libclang in-process here (for coverage), and libclang has
# crashes of its own on some inputs; asiarch contains those by running the
# checker in a child process. So the fuzzer runs in fork mode and goes on
# after a crash, and each one it finds is sorted afterwards:
#   - in libclang or LLVM: contained. `asiarch check` (the release build's,
#     with its asiarch-check helper) must reject the input with exit 1;
#   - anywhere in our code (jit/, report/, the harness): a failure.
build=${BUILD_DIR:-build}
[ -x "$build/asiarch" ] || { echo "run_fuzz.sh: build $build first (no $build/asiarch)" >&2; exit 2; }
run_dir="$out/run-check.$$"
mkdir -p "$run_dir/artifacts"
trap 'rm -rf "$run_dir"' EXIT
"$out/fuzz_check" "${dict[@]}" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=4096 -max_len="$max_len" \
    -print_final_stats=1 -artifact_prefix="$run_dir/artifacts/" "$out/corpus-check" "${seeds[@]}" \
    > "$run_dir/fuzz.log" 2>&1 || true
tail -n 25 "$run_dir/fuzz.log"

failed=0
for a in "$run_dir"/artifacts/*; do
    [ -e "$a" ] || continue
    keep="$out/artifacts/$(basename "$a")"
    cp "$a" "$keep"
    # Reproduce once, in-process, for the sanitizer's stack trace.
    timeout 60 "$out/fuzz_check" -timeout="$timeout" -rss_limit_mb=4096 "$a" > "$run_dir/repro.log" 2>&1 || true
    # The first frame that is not the C library or the sanitizer runtime
    # ("#3 0x... in f jit/check.c:12" or "#0 0x...  (/lib/.../libclang-14.so.13+0x51727b)").
    frame=$(grep -E '^ +#[0-9]+ 0x[0-9a-f]+ ' "$run_dir/repro.log" |
            grep -vE 'libc\.so|libasan|libubsan|/sanitizer_common/|in __interceptor_|in __asan_|in __sanitizer|in __ubsan' |
            head -n 1 || true)
    ours=0
    if grep -q 'invariant broken' "$run_dir/repro.log" ||
       grep -E 'runtime error' "$run_dir/repro.log" | grep -qE '(jit|report|fuzz)/[a-z_]+\.c'; then
        ours=1
    elif [ -n "$frame" ] && ! grep -qE 'libclang|libLLVM' <<<"$frame"; then
        ours=1
    fi
    if [ "$ours" = 1 ]; then
        echo "run_fuzz.sh: a failure in asiarch's own code; input kept as $keep" >&2
        echo "  ${frame:-$(grep -m1 -E 'runtime error|ERROR:' "$run_dir/repro.log")}" >&2
        failed=1
        continue
    fi
    set +e
    "$build/asiarch" check "$a" > "$run_dir/check.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" != 1 ]; then
        echo "run_fuzz.sh: libclang fails on $keep, and asiarch check did not contain it (exit $rc):" >&2
        head -n 5 "$run_dir/check.log" >&2
        failed=1
    else
        echo "run_fuzz.sh: contained: libclang fails on $keep (${frame:-no frame}); asiarch check rejects it:"
        grep -m1 -E 'check/|dsl/' "$run_dir/check.log" || true
    fi
done
exit "$failed"
