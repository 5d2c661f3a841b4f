#!/usr/bin/env bash
# Runs the C smoke test and the Python suite against a liblstmkit.so built with
# AddressSanitizer (debug configuration, so Swift's own overflow and bounds checks stay on too).
#
#   bash tests/c/run_asan.sh            build into .build-asan/, then the smoke test and the whole
#                                       Python suite (about 15 minutes on 2 shared cores)
#   bash tests/c/run_asan.sh --quick    the smoke test and the Python files in QUICK below (the C
#                                       ABI's bad inputs, damaged files, resume, bfloat16, threads
#                                       predicting on one handle, streams, text in one call): part of
#                                       scripts/test.sh; skipped, saying why, when the toolchain
#                                       has no ASan runtime or LSTMKIT_SKIP_ASAN=1
#
# The Python run preloads the ASan runtime into the interpreter; leak checking is off there
# because CPython itself keeps allocations alive at exit. The exported-symbol test is skipped: a
# debug build has no version script, so it exports Swift symbols besides the C API. (Test ids are
# relative to bindings/python, where pytest finds its rootdir.)
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
SWIFT_BIN="${SWIFT_BIN:-/opt/swift/usr/bin}"
CLANG="$SWIFT_BIN/clang"
SWIFT_RT="$(dirname "$SWIFT_BIN")/lib/swift/linux"
cd "$REPO"

QUICK=0
if [[ "${1:-}" == --quick ]]; then QUICK=1; shift; fi
QUICK_TESTS=(bindings/python/tests/test_bad_input.py bindings/python/tests/test_model_file_damage.py
             bindings/python/tests/test_resume.py bindings/python/tests/test_bfloat16.py
             bindings/python/tests/test_concurrent_predict.py bindings/python/tests/test_streams.py
             bindings/python/tests/test_predict_texts.py)

skip() { echo "ASan run skipped: $*"; exit 0; }
if [[ "${LSTMKIT_SKIP_ASAN:-0}" == 1 ]]; then skip "LSTMKIT_SKIP_ASAN=1"; fi
[[ -x "$CLANG" ]] || skip "no clang at $CLANG (set SWIFT_BIN to the toolchain's bin directory)"
ASAN_RT="$("$CLANG" -print-file-name=libclang_rt.asan-x86_64.so)"
[[ -f "$ASAN_RT" ]] || skip "the toolchain has no ASan runtime (libclang_rt.asan-x86_64.so)"

start=$SECONDS
# gold warns once per ASan helper symbol that it cannot export (harmless: they are the
# runtime's own), at both links below; keep the log readable (pipefail still sees a failure)
drop_asan_export_warnings() { grep -v "Cannot export local symbol '__asan_" || true; }
swift build -c debug --product lstmkit --scratch-path "$REPO/.build-asan" -Xswiftc -sanitize=address 2>&1 \
    | drop_asan_export_warnings
echo "ASan library build: $((SECONDS - start)) s"
LIBDIR="$REPO/.build-asan/debug"
mkdir -p "$REPO/.build-asan/c"
"$CLANG" -std=c99 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -I include \
    tests/c/abi_smoke.c -L"$LIBDIR" -llstmkit -Wl,-rpath,"$LIBDIR" -Wl,-rpath,"$SWIFT_RT" \
    -lpthread -lm -o "$REPO/.build-asan/c/abi_smoke" 2>&1 | drop_asan_export_warnings
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
"$REPO/.build-asan/c/abi_smoke" "$(mktemp -d)"

if [[ $QUICK == 1 ]]; then TESTS=("${QUICK_TESTS[@]}"); else TESTS=(bindings/python/tests); fi
LD_PRELOAD="$ASAN_RT" LSTMKIT_LIBRARY="$LIBDIR/liblstmkit.so" LD_LIBRARY_PATH="$SWIFT_RT" \
    python3 -m pytest -q -p no:cacheprovider "${TESTS[@]}" \
    --deselect tests/test_abi.py::test_every_header_function_is_exported_and_nothing_else "$@"
echo "ASan run ($([[ $QUICK == 1 ]] && echo quick || echo full)): $((SECONDS - start)) s in all"
