#!/usr/bin/env bash
# Installs what lstmkit needs on a fresh Debian machine with Swift (OpenBLAS, oneDNN for the
# mixed_bfloat16 policy, a C compiler, and patchelf and pkg-config for `make install` from Debian's
# packages, numpy/pandas/matplotlib/pytest from PyPI) and builds .build/release/liblstmkit.so.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for pkg in libopenblas-dev libdnnl-dev gcc binutils make patchelf pkgconf; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

python3 -m pip install --quiet --disable-pip-version-check -r requirements.txt

swift build -c release --product lstmkit
