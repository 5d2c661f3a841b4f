"""tests/c/abi_smoke.c built with -fsanitize=address,undefined against the library under test:
the whole C API the right way and the wrong way, eight threads predicting on one model while
another loads, with AddressSanitizer, LeakSanitizer and UBSan watching the C side.

(tests/c/run_asan.sh goes further: it also instruments the library itself and runs this whole
Python suite against it.)
"""

import os
import shutil
import subprocess

import pytest

from conftest import REPO
from lstmkit import _capi

SOURCE = REPO / "tests" / "c" / "abi_smoke.c"
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]


def compiler():
    for cc in (os.environ.get("CC"), "/opt/swift/usr/bin/clang", "clang", "cc", "gcc"):
        if cc and shutil.which(cc):
            return shutil.which(cc)
    pytest.skip("no C compiler")


def sanitizer_works(cc, tmp_path):
    probe = tmp_path / "probe.c"
    probe.write_text("int main(void) { return 0; }\n")
    result = subprocess.run([cc, *SANITIZE, str(probe), "-o", str(tmp_path / "probe")],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return False
    return subprocess.run([str(tmp_path / "probe")], capture_output=True).returncode == 0


def test_abi_smoke_under_address_and_undefined_sanitizers(tmp_path):
    cc = compiler()
    if not sanitizer_works(cc, tmp_path):
        pytest.skip("%s cannot build with %s (no sanitizer runtime)" % (cc, " ".join(SANITIZE)))
    libdir = str(_capi.library_path.parent)
    exe = tmp_path / "abi_smoke"
    subprocess.run([cc, "-std=c99", "-g", "-O1", "-Wall", "-Wextra", "-Werror", *SANITIZE,
                    "-I", str(REPO / "include"), str(SOURCE), "-L" + libdir, "-llstmkit",
                    "-Wl,-rpath," + libdir, "-lpthread", "-lm", "-o", str(exe)], check=True)
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    result = subprocess.run([str(exe), str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Sanitizer" not in result.stderr, result.stderr[-4000:]
    assert "all calls returned the expected status" in result.stdout
