#!/usr/bin/env bash
# The whole test suite: Swift unit tests (engine, gradients), then the Python binding's tests, which
# also build and run the C example against the release library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build --build-tests
swift test --skip-build --disable-swift-testing   # the suite is XCTest; no empty Swift Testing run
python3 -m pytest -q bindings/python/tests
