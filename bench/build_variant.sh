#!/usr/bin/env bash
# Builds the release library of a git revision, optionally with another Swift optimisation flag
# in place of Package.swift's release one, into a folder of its own, and prints the .so's path.
# For comparing builds with bench/compare_builds.py.
#
#   bash bench/build_variant.sh REV OUTDIR [SWIFT_OPT]
#   bash bench/build_variant.sh HEAD /tmp/v-O -O          # this revision, bounds checks on
#   bash bench/build_variant.sh HEAD~1 /tmp/v-before      # the previous revision as it shipped
set -euo pipefail
REV="$1"; OUT="$2"; OPT="${3:-}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
rm -rf "$OUT/src"; mkdir -p "$OUT/src"
git -C "$REPO" archive "$REV" | tar -x -C "$OUT/src"
if [[ -n "$OPT" ]]; then
    grep -q '"-Ounchecked"' "$OUT/src/Package.swift" || { echo "no -Ounchecked in Package.swift at $REV" >&2; exit 2; }
    sed -i "s/\"-Ounchecked\"/\"$OPT\"/" "$OUT/src/Package.swift"
fi
(cd "$OUT/src" && swift build -c release --product lstmkit --scratch-path "$OUT/build" >&2)
echo "$OUT/build/release/liblstmkit.so"
