#!/usr/bin/env bash
# Builds the fuzzers and runs one of them as ONE process in the background.
#
#   bash fuzz/run.sh [seconds] [load|json]   default 3600 load; log in fuzz/runs/<date>-<target>.log,
#                                            corpus in fuzz/corpus/ (load) or fuzz/corpus_json/
#   bash fuzz/run.sh build                   only build (fuzz/build/fuzz_load, fuzz/build/fuzz_json)
#   fuzz/build/fuzz_load FILE...             replay inputs (e.g. fuzz/regressions/*)
#
# fuzz_load.c fuzzes model files (lstmkit_model_load); fuzz_json.c the JSON and text arguments
# (model config, compile settings, fit options, tokenizer options and JSON, texts).
#
# The library is built a second time, in debug (Swift's overflow and bounds checks stay on) with
# libFuzzer coverage and AddressSanitizer (-sanitize=fuzzer,address), into .build-fuzz/. The
# harness itself is C, built with clang -fsanitize=fuzzer,address,undefined. Set
# LSTMKIT_FUZZ_PLAIN=1 to link against the ordinary release library instead (no coverage inside
# the library: a much weaker, blind fuzzer, but no second build). The fuzzing build is compiled
# with -DLSTMKIT_FUZZING, which makes the loader accept any checksum value, so that mutations
# reach the configuration, weight and tokenizer checks behind the CRC.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
CLANG="$SWIFT_BIN/clang"
SWIFT_RT="$(dirname "$SWIFT_BIN")/lib/swift/linux"
cd "$REPO"

if [[ "${LSTMKIT_FUZZ_PLAIN:-0}" == 1 ]]; then
    swift build -c release --product lstmkit
    LIBDIR="$REPO/.build/release"
else
    swift build -c debug --product lstmkit --scratch-path "$REPO/.build-fuzz" \
        -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLSTMKIT_FUZZING
    LIBDIR="$REPO/.build-fuzz/debug"
fi
mkdir -p "$HERE/build/lib" "$HERE/runs" "$HERE/corpus" "$HERE/corpus_json"
# A private copy, so rebuilding the library does not pull it from under a running fuzzer.
cp "$LIBDIR/liblstmkit.so" "$HERE/build/lib/liblstmkit.so.tmp"
mv "$HERE/build/lib/liblstmkit.so.tmp" "$HERE/build/lib/liblstmkit.so"
LIBDIR="$HERE/build/lib"
for target in fuzz_load fuzz_json; do
    "$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
        -I"$REPO/include" "$HERE/$target.c" -o "$HERE/build/$target.tmp" \
        -L"$LIBDIR" -llstmkit -Wl,-rpath,"$LIBDIR" -Wl,-rpath,"$SWIFT_RT"
    mv "$HERE/build/$target.tmp" "$HERE/build/$target"   # a running fuzzer keeps its old copy
done
[[ "${1:-}" == build ]] && exit 0

SECONDS_TO_RUN="${1:-3600}"
TARGET="${2:-load}"
if [[ -z "$(ls -A "$HERE/seeds" 2>/dev/null)" || -z "$(ls -A "$HERE/seeds_json" 2>/dev/null)" ]]; then
    python3 "$HERE/make_seeds.py" "$HERE/seeds" "$HERE/seeds_json"
fi
case "$TARGET" in
    load) CORPUS=("$HERE/corpus" "$HERE/seeds"); MAX_LEN=65536 ;;
    json) CORPUS=("$HERE/corpus_json" "$HERE/seeds_json"); MAX_LEN=8192 ;;
    *) echo "unknown target $TARGET (load or json)" >&2; exit 2 ;;
esac
LOG="$HERE/runs/$(date +%Y%m%d-%H%M%S)-$TARGET.log"
# ASan's leak checker is off: the Swift runtime keeps one-time allocations alive until exit.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:symbolize=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Niced (LSTMKIT_FUZZ_NICE, default 10), so a long run does not starve builds and tests beside it.
nohup nice -n "${LSTMKIT_FUZZ_NICE:-10}" "$HERE/build/fuzz_$TARGET" -max_total_time="$SECONDS_TO_RUN" -rss_limit_mb=2048 -timeout=10 \
    -max_len="$MAX_LEN" -print_final_stats=1 -artifact_prefix="$HERE/runs/" \
    "${CORPUS[@]}" >"$LOG" 2>&1 &
echo "fuzzing fuzz_$TARGET for ${SECONDS_TO_RUN}s as pid $!; log: $LOG"
echo "crashing inputs land in fuzz/runs/crash-*; copy them to fuzz/regressions/ once fixed"
