"""Builds the lstmkit wheel with liblstmkit.so inside it (the metadata is in pyproject.toml).

`pip install ./bindings/python` and `pip wheel ./bindings/python` run `swift build -c release`
in the repository this folder belongs to (pip builds a local folder in place, so the Swift
package is two folders up), then put a stripped copy of the library into the package, where
_capi.find_library looks first. swift is asked every time and rebuilds only what changed, so a
wheel never carries a library older than its sources.

The wheel is tagged py3-none-<platform> (py3-none-linux_x86_64 here): ctypes needs no Python
ABI, but the library is machine code. It is self-contained (the Swift runtime is linked in
statically) except for OpenBLAS and oneDNN, which the library opens at run time: Debian's
libopenblas0 is needed, libdnnl2 is used when present.
"""

import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel   # setuptools >= 70.1
except ImportError:
    from wheel.bdist_wheel import bdist_wheel

LIBRARY_NAME = "liblstmkit.so"
HERE = Path(__file__).resolve().parent
SWIFT_PACKAGE = HERE.parents[1]


def _run(command):
    try:
        return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
    except FileNotFoundError as exc:
        raise SystemExit("building the lstmkit wheel needs %s on PATH (scripts/setup.sh installs "
                         "what the build needs)" % command[0]) from exc


def build_release_library():
    """Path of .build/release/liblstmkit.so, brought up to date by swift."""
    if not (SWIFT_PACKAGE / "Package.swift").is_file():
        raise SystemExit("the lstmkit wheel is built from the repository: no Package.swift at %s "
                         "(pip install ./bindings/python from a checkout)" % SWIFT_PACKAGE)
    release = ["swift", "build", "-c", "release", "--package-path", str(SWIFT_PACKAGE)]
    _run(release + ["--product", "lstmkit"])
    return Path(_run(release + ["--show-bin-path"]).strip()) / LIBRARY_NAME


class BuildPyWithLibrary(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "lstmkit" / LIBRARY_NAME
        # Written beside the package's modules in the build folder, never into the source
        # package, so a checkout keeps loading .build/release's library.
        _run(["strip", "--strip-unneeded", "-o", str(target), str(build_release_library())])


class DistributionWithLibrary(Distribution):
    # The package is installed where compiled modules go (platlib), as a binary wheel.
    def has_ext_modules(self):
        return True


class PlatformWheel(bdist_wheel):
    def get_tag(self):
        _, _, platform = super().get_tag()
        return "py3", "none", platform


setup(distclass=DistributionWithLibrary,
      cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel})
