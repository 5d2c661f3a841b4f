#!/usr/bin/env bash
# The whole test suite: Swift unit tests (engine, gradients), then the Python binding's tests, which
# also build and run the C example against the release library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build --disable-swift-testing   # the suite is XCTest; no empty Swift Testing run
python3 -m pytest -q bindings/python/tests
# The fuzzers on the library exactly as it ships (.build/release, the flags of Package.swift):
# every seed, regression and corpus input replayed, then 15 s of mutations per harness.
bash fuzz/run.sh smoke 15
# The library itself under AddressSanitizer (a debug build in .build-asan/) with the C smoke test
# and the Python tests of the C ABI's bad inputs, damaged files and resume; skipped, saying why,
# when the toolchain has no ASan runtime. The whole suite under ASan: bash tests/c/run_asan.sh
bash tests/c/run_asan.sh --quick
