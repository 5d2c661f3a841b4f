"""The header, the shared library and the ctypes declarations name the same functions."""

import ctypes
import re
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
import lstmkit
from lstmkit import _capi, errors

HEADER = REPO / "include" / "lstmkit.h"


def header_functions():
    text = HEADER.read_text()
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)  # the tour in the comments calls functions
    text = re.sub(r"//[^\n]*", " ", text)
    # A declaration: return type, name, '(' — the function-pointer typedef has '(*' instead.
    return set(re.findall(r"\b(lstmkit_\w+)\s*\(", text))


def header_macro(name):
    match = re.search(r"#define\s+%s\s+(-?\d+)" % name, HEADER.read_text())
    return int(match.group(1))


def exported_symbols():
    nm = shutil.which("nm")
    if nm is None:
        pytest.skip("nm not installed")
    out = subprocess.run([nm, "-D", "--defined-only", str(_capi.library_path)],
                         check=True, capture_output=True, text=True).stdout
    symbols = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            symbols[parts[2].split("@")[0]] = parts[1]
    return symbols


def test_header_lists_the_expected_api():
    functions = header_functions()
    assert len(functions) == 43, sorted(functions)
    assert "lstmkit_model_fit" in functions and "lstmkit_pad_sequences" in functions
    assert {"lstmkit_model_fit_validation", "lstmkit_model_build",
            "lstmkit_model_reset_states"} <= functions
    assert {"lstmkit_state_create", "lstmkit_state_step", "lstmkit_state_reset", "lstmkit_state_copy",
            "lstmkit_state_free"} <= functions
    assert {"lstmkit_model_predict_texts", "lstmkit_model_set_text_padding",
            "lstmkit_model_get_text_padding", "lstmkit_model_set_target_tokenizer",
            "lstmkit_model_get_target_tokenizer", "lstmkit_tokenizer_sequence_to_text"} <= functions


def test_every_header_function_is_exported_and_nothing_else():
    functions = header_functions()
    symbols = exported_symbols()
    # Version nodes of a version script show up as absolute ('A') symbols; they are not code.
    # Lower-case kinds are local entries of the dynamic table that no other object can bind to.
    exported = {name for name, kind in symbols.items() if kind != "A" and kind.isupper()}
    missing = functions - exported
    assert not missing, "declared in the header but not exported: %s" % sorted(missing)
    extra = exported - functions
    assert not extra, "exported but not in the header: %s" % sorted(extra)[:50]
    assert all(symbols[name] == "T" for name in functions), {n: symbols[n] for n in functions}


def test_every_header_function_has_a_ctypes_declaration():
    functions = header_functions()
    assert set(_capi.DECLARED) == functions
    assert len(_capi.DECLARED) == len(set(_capi.DECLARED))
    source = (REPO / "bindings" / "python" / "lstmkit" / "_capi.py").read_text()
    for name in functions:
        fn = getattr(_capi, name)
        assert fn.argtypes is not None, name
        # The C prototype is written beside each declaration.
        assert re.search(r"#[^\n]*\b%s\(" % name, source), "no prototype comment for %s" % name


def test_header_constants_match_the_binding():
    for name in ("OK", "E_INVALID_ARGUMENT", "E_BAD_CONFIG", "E_WRONG_STATE", "E_IO", "E_FORMAT",
                 "E_NO_MEMORY", "E_BUFFER_TOO_SMALL", "E_CANCELLED", "E_NUMERIC", "E_UNSUPPORTED", "E_INTERNAL",
                 "FLOAT32", "INT32", "EVENT_BATCH_END", "EVENT_EPOCH_END", "PAD_PRE", "PAD_POST"):
        assert getattr(_capi, name) == header_macro("LSTMKIT_" + name), name
    classes = {
        "INVALID_ARGUMENT": errors.InvalidArgumentError, "BAD_CONFIG": errors.BadConfigError,
        "WRONG_STATE": errors.WrongStateError, "IO": errors.LSTMKitIOError,
        "FORMAT": errors.FormatError, "NO_MEMORY": errors.NoMemoryError,
        "BUFFER_TOO_SMALL": errors.BufferTooSmallError, "CANCELLED": errors.CancelledError,
        "NUMERIC": errors.NumericError, "UNSUPPORTED": errors.UnsupportedError, "INTERNAL": errors.InternalError,
    }
    for suffix, cls in classes.items():
        status = header_macro("LSTMKIT_E_" + suffix)
        assert cls.status == status
        assert type(errors.error_for_status(status, "m")) is cls


def test_library_version_matches_the_header():
    major = header_macro("LSTMKIT_VERSION_MAJOR")
    minor = header_macro("LSTMKIT_VERSION_MINOR")
    patch = header_macro("LSTMKIT_VERSION_PATCH")
    assert _capi.lstmkit_version() == major * 10000 + minor * 100 + patch
    assert _capi.library_version() == "%d.%d.%d" % (major, minor, patch)
    assert _capi.EXPECTED_VERSION == major * 10000 + minor * 100 + patch


def test_version_is_defined_once():
    """The header, the library and the binding hold what VERSION says (scripts/version.py writes them)."""
    version = (REPO / "VERSION").read_text().strip()
    check = subprocess.run([sys.executable, str(REPO / "scripts" / "version.py"), "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    assert lstmkit.__version__ == version == _capi.library_version()


def test_version_check_notices_a_stale_copy(tmp_path):
    """--check fails, naming the file, when VERSION moved on and the copies did not."""
    copy = tmp_path / "repo"
    for part in ("VERSION", "scripts/version.py", "include/lstmkit.h", "bindings/python/lstmkit/_version.py",
                 "Sources/LSTMKit/CAPI/Version.swift"):
        (copy / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / part, copy / part)
    (copy / "VERSION").write_text("9.8.7\n")   # not the version the repository has
    script = [sys.executable, str(copy / "scripts" / "version.py")]
    stale = subprocess.run(script + ["--check"], capture_output=True, text=True)
    assert stale.returncode == 1 and "include/lstmkit.h" in stale.stderr and "_version.py" in stale.stderr
    assert "Version.swift" in stale.stderr
    subprocess.run(script, check=True)
    assert subprocess.run(script + ["--check"]).returncode == 0
    assert "#define LSTMKIT_VERSION_MINOR 8\n" in (copy / "include" / "lstmkit.h").read_text()
    assert '__version__ = "9.8.7"' in (copy / "bindings/python/lstmkit/_version.py").read_text()
    assert "(9, 8, 7)" in (copy / "Sources/LSTMKit/CAPI/Version.swift").read_text()


STRUCT_PROBE = r"""
#include <stddef.h>
#include <stdio.h>
#include "lstmkit.h"
#define F(s, f) printf(#s " " #f " %zu %zu\n", offsetof(s, f), sizeof(((s *)0)->f))
int main(void) {
    printf("lstmkit_array size %zu\n", sizeof(lstmkit_array));
    printf("lstmkit_progress size %zu\n", sizeof(lstmkit_progress));
    F(lstmkit_array, dtype); F(lstmkit_array, ndim); F(lstmkit_array, shape); F(lstmkit_array, data);
    F(lstmkit_progress, event); F(lstmkit_progress, epoch); F(lstmkit_progress, epochs);
    F(lstmkit_progress, step); F(lstmkit_progress, steps); F(lstmkit_progress, elapsed_seconds);
    F(lstmkit_progress, n_values); F(lstmkit_progress, names); F(lstmkit_progress, values);
    return 0;
}
"""


def test_struct_layouts_match_the_c_compiler(tmp_path):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    src = tmp_path / "probe.c"
    src.write_text(STRUCT_PROBE)
    subprocess.run([cc, "-std=c99", "-I", str(REPO / "include"), "-o", str(tmp_path / "probe"),
                    str(src)], check=True)
    out = subprocess.run([str(tmp_path / "probe")], check=True, capture_output=True,
                         text=True).stdout
    structs = {"lstmkit_array": _capi.lstmkit_array, "lstmkit_progress": _capi.lstmkit_progress}
    for line in out.splitlines():
        parts = line.split()
        cls = structs[parts[0]]
        if parts[1] == "size":
            assert ctypes.sizeof(cls) == int(parts[2]), line
        else:
            field = getattr(cls, parts[1])
            assert (field.offset, field.size) == (int(parts[2]), int(parts[3])), line


def test_errors_map_statuses_and_builtin_bases():
    err = errors.error_for_status(-4, "cannot open x")
    assert isinstance(err, OSError) and isinstance(err, errors.LSTMKitError)
    assert err.status == -4 and str(err) == "cannot open x"
    assert isinstance(errors.error_for_status(-1, "m"), ValueError)
    unknown = errors.error_for_status(-42, "new code")
    assert type(unknown) is errors.LSTMKitError and unknown.status == -42


def test_library_needs_nothing_from_the_swift_toolchain():
    """The release .so links the Swift runtime statically and opens OpenBLAS at run time, so a
    machine without Swift (or without OpenBLAS, which then fails with a message) can load it."""
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf not installed")
    out = subprocess.run([readelf, "-d", str(_capi.library_path)], check=True,
                         capture_output=True, text=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out))
    allowed = {"libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libdl.so.2",
               "libpthread.so.0", "ld-linux-x86-64.so.2"}
    assert needed, out
    assert needed <= allowed, needed - allowed
    assert not any("swift" in name.lower() for name in needed)
