#!/usr/bin/env bash
# Builds the fuzzers and runs one of them as ONE process in the background.
#
#   bash fuzz/run.sh [seconds] [load|json]   default 3600 load; log in fuzz/runs/<date>-<target>.log,
#                                            corpus in fuzz/corpus/ (load) or fuzz/corpus_json/
#   bash fuzz/run.sh build                   only build (fuzz/build/fuzz_load, fuzz/build/fuzz_json)
#   bash fuzz/run.sh smoke [seconds]         in the foreground, against the shipped library (see
#                                            below): replay the seeds, the regressions and the
#                                            corpus, then fuzz each target for `seconds` (default
#                                            15); exits non-zero on any finding. In scripts/test.sh
#   fuzz/build/fuzz_load FILE...             replay inputs (e.g. fuzz/regressions/*)
#
# fuzz_load.c fuzzes model files (lstmkit_model_load); fuzz_json.c the JSON and text arguments
# (model config, compile settings, fit options, tokenizer options and JSON, texts).
#
# LSTMKIT_FUZZ_BUILD chooses the library the harnesses run on (each has its own build folder and
# its harnesses in fuzz/build/, or fuzz/build/<choice>/ for the last two):
#   debug (default)  built again in debug, so Swift's overflow and bounds checks stay on, with
#                    libFuzzer coverage and AddressSanitizer (-sanitize=fuzzer,address), into
#                    .build-fuzz/: finds what the checks catch, which the shipped build does not do
#   release          built again with the release configuration, i.e. Package.swift's shipped
#                    Swift flags (optimisation, -wmo, static stdlib, version script) plus coverage
#                    and ASan, into .build-fuzz-release/: the code as it ships
#   shipped          .build/release/liblstmkit.so itself, uninstrumented (no coverage inside the
#                    library: a blind fuzzer, but the very binary users get, checksum included);
#                    LSTMKIT_FUZZ_PLAIN=1 is the old name for it
# The harness itself is C, built with clang -fsanitize=fuzzer,address,undefined. The debug and
# release builds are compiled with -DLSTMKIT_FUZZING, which makes the loader accept any checksum
# value, so that mutations reach the configuration, weight and tokenizer checks behind the CRC.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
CLANG="$SWIFT_BIN/clang"
SWIFT_RT="$(dirname "$SWIFT_BIN")/lib/swift/linux"
cd "$REPO"

# gold warns once per sanitizer helper symbol it cannot export (harmless: they are the runtime's
# own); keep the log readable (pipefail still sees a failure)
drop_export_warnings() { grep -v "Cannot export local symbol" || true; }

FLAVOR="${LSTMKIT_FUZZ_BUILD:-debug}"
[[ "${LSTMKIT_FUZZ_PLAIN:-0}" == 1 ]] && FLAVOR=shipped
[[ "${1:-}" == smoke ]] && FLAVOR=shipped
if [[ "${1:-}" == smoke ]]; then
    # the suite must not fail where the toolchain cannot build a fuzzer at all
    [[ -x "$CLANG" ]] || { echo "fuzz smoke run skipped: no clang at $CLANG"; exit 0; }
    [[ -f "$("$CLANG" -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]] \
        || { echo "fuzz smoke run skipped: the toolchain has no libFuzzer"; exit 0; }
fi
case "$FLAVOR" in
    debug)
        swift build -c debug --product lstmkit --scratch-path "$REPO/.build-fuzz" \
            -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLSTMKIT_FUZZING
        LIBDIR="$REPO/.build-fuzz/debug"; BUILD="$HERE/build" ;;
    release)
        swift build -c release --product lstmkit --scratch-path "$REPO/.build-fuzz-release" \
            -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLSTMKIT_FUZZING 2>&1 | drop_export_warnings
        LIBDIR="$REPO/.build-fuzz-release/release"; BUILD="$HERE/build/release" ;;
    shipped)
        swift build -c release --product lstmkit
        LIBDIR="$REPO/.build/release"; BUILD="$HERE/build/shipped" ;;
    *) echo "LSTMKIT_FUZZ_BUILD=$FLAVOR: debug, release or shipped" >&2; exit 2 ;;
esac
mkdir -p "$BUILD/lib" "$HERE/runs" "$HERE/corpus" "$HERE/corpus_json"
# A private copy, so rebuilding the library does not pull it from under a running fuzzer.
cp "$LIBDIR/liblstmkit.so" "$BUILD/lib/liblstmkit.so.tmp"
mv "$BUILD/lib/liblstmkit.so.tmp" "$BUILD/lib/liblstmkit.so"
for target in fuzz_load fuzz_json; do
    "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$REPO/include" "$HERE/$target.c" -o "$BUILD/$target.tmp" \
        -L"$BUILD/lib" -llstmkit -Wl,-rpath,"$BUILD/lib" -Wl,-rpath,"$SWIFT_RT" 2>&1 | drop_export_warnings
    mv "$BUILD/$target.tmp" "$BUILD/$target"   # a running fuzzer keeps its old copy
done
[[ "${1:-}" == build ]] && exit 0

if [[ -z "$(ls -A "$HERE/seeds" 2>/dev/null)" || -z "$(ls -A "$HERE/seeds_json" 2>/dev/null)" ]]; then
    python3 "$HERE/make_seeds.py" "$HERE/seeds" "$HERE/seeds_json"
fi
# ASan's leak checker is off: the Swift runtime keeps one-time allocations alive until exit.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
LIMITS=(-rss_limit_mb=2048 -timeout=10)

if [[ "${1:-}" == smoke ]]; then
    SECONDS_TO_RUN="${2:-15}"
    start=$SECONDS
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    # -runs=0: every input of the folders once; then mutations into a scratch corpus, so the
    # committed folders stay as they are
    mkdir -p "$work/load" "$work/json"
    "$BUILD/fuzz_load" "${LIMITS[@]}" -runs=0 "$HERE/seeds" "$HERE/regressions" "$HERE/corpus" >"$work/log" 2>&1 \
        || { tail -40 "$work/log"; exit 1; }
    "$BUILD/fuzz_json" "${LIMITS[@]}" -runs=0 "$HERE/seeds_json" "$HERE/regressions/json" "$HERE/corpus_json" >"$work/log" 2>&1 \
        || { tail -40 "$work/log"; exit 1; }
    for target in load json; do
        seeds="$HERE/seeds"; [[ $target == json ]] && seeds="$HERE/seeds_json"
        "$BUILD/fuzz_$target" "${LIMITS[@]}" -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
            -artifact_prefix="$HERE/runs/" "$work/$target" "$seeds" >"$work/log" 2>&1 \
            || { tail -40 "$work/log"; echo "fuzz_$target found something; the input is in fuzz/runs/"; exit 1; }
        echo "fuzz_$target on the shipped library: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') executions in ${SECONDS_TO_RUN}s, no finding"
    done
    echo "fuzz smoke run: $((SECONDS - start)) s"
    exit 0
fi

SECONDS_TO_RUN="${1:-3600}"
TARGET="${2:-load}"
case "$TARGET" in
    load) CORPUS=("$HERE/corpus" "$HERE/seeds"); MAX_LEN=65536 ;;
    json) CORPUS=("$HERE/corpus_json" "$HERE/seeds_json"); MAX_LEN=8192 ;;
    *) echo "unknown target $TARGET (load or json)" >&2; exit 2 ;;
esac
LOG="$HERE/runs/$(date +%Y%m%d-%H%M%S)-$TARGET-$FLAVOR.log"
# Niced (LSTMKIT_FUZZ_NICE, default 10), so a long run does not starve builds and tests beside it.
nohup nice -n "${LSTMKIT_FUZZ_NICE:-10}" "$BUILD/fuzz_$TARGET" -max_total_time="$SECONDS_TO_RUN" "${LIMITS[@]}" \
    -max_len="$MAX_LEN" -print_final_stats=1 -artifact_prefix="$HERE/runs/" \
    "${CORPUS[@]}" >"$LOG" 2>&1 &
echo "fuzzing fuzz_$TARGET ($FLAVOR library) for ${SECONDS_TO_RUN}s as pid $!; log: $LOG"
echo "crashing inputs land in fuzz/runs/crash-*; copy them to fuzz/regressions/ once fixed"
