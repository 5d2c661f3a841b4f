"""Measurement aids shared by the bench scripts (not part of lstmkit).

Both must run before liblstmkit.so (and so OpenBLAS) is loaded:
  * ftz(): compiles bench/ftz.c and loads it, which sets flush-to-zero/denormals-are-zero in the
    calling thread; OpenBLAS worker threads created afterwards inherit it. Returns the .so path
    (to LD_PRELOAD into child programs such as bench/latency).
  * coretype(name): OPENBLAS_CORETYPE, which overrides OpenBLAS's CPU detection in DYNAMIC_ARCH
    builds (Debian's 0.3.21 does not recognise this VM's CPU and falls back to Prescott kernels).
"""
import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ftz():
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        raise SystemExit("--ftz needs a C compiler")
    out = Path(tempfile.mkdtemp(prefix="lstmkit-ftz-")) / "libftz.so"
    subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", str(out), str(HERE / "ftz.c")], check=True)
    ctypes.CDLL(str(out))
    return str(out)


def coretype(name):
    if name:
        os.environ["OPENBLAS_CORETYPE"] = name


def variant_name(base, use_ftz, core, threads=2):
    """lstmkit, lstmkit-ftz, lstmkit-ftz-skylakex, ... with -1t when not run on 2 threads."""
    return (base + ("-ftz" if use_ftz else "") + ("-" + core.lower() if core else "")
            + ("" if threads == 2 else "-%dt" % threads))
