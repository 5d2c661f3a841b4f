#!/usr/bin/env bash
# Runs the C smoke test and the whole Python suite against a liblstmkit.so built with
# AddressSanitizer (debug configuration, so Swift's own overflow and bounds checks stay on too).
#
#   bash tests/c/run_asan.sh            build into .build-asan/, then run both
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

swift build -c debug --product lstmkit --scratch-path "$REPO/.build-asan" -Xswiftc -sanitize=address
LIBDIR="$REPO/.build-asan/debug"
mkdir -p "$REPO/.build-asan/c"
"$CLANG" -std=c99 -g -fsanitize=address,undefined -fno-sanitize-recover=undefined -I include \
    tests/c/abi_smoke.c -L"$LIBDIR" -llstmkit -Wl,-rpath,"$LIBDIR" -Wl,-rpath,"$SWIFT_RT" \
    -lpthread -lm -o "$REPO/.build-asan/c/abi_smoke"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
"$REPO/.build-asan/c/abi_smoke" "$(mktemp -d)"

ASAN_RT="$("$CLANG" -print-file-name=libclang_rt.asan-x86_64.so)"
LD_PRELOAD="$ASAN_RT" LSTMKIT_LIBRARY="$LIBDIR/liblstmkit.so" LD_LIBRARY_PATH="$SWIFT_RT" \
    python3 -m pytest -q -p no:cacheprovider bindings/python/tests \
    --deselect tests/test_abi.py::test_every_header_function_is_exported_and_nothing_else "$@"
