"""The two ways lstmkit is installed outside the checkout (README, "Installing"): the wheel that
`pip wheel ./bindings/python` builds, put into a fresh virtual environment and used from /
with no environment variables; and `make install PREFIX=...`, compiled against with pkg-config.

Both take the release library that scripts/setup.sh built (swift is asked again and finds it up
to date), so they test packaging, not the engine: the predictions are compared with the
checkout's binding on a small untrained model."""

import json
import os
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

import lstmkit
from conftest import REPO
from lstmkit.layers import LSTM, Dense, Embedding
from lstmkit.sequence import pad_sequences
from lstmkit.text import Tokenizer

pytestmark = pytest.mark.skipif(
    "LSTMKIT_LIBRARY" in os.environ,
    reason="packaging tests package the release build, not $LSTMKIT_LIBRARY")

MAX_LIBRARY_BYTES = 8 * 1000 * 1000
MAXLEN = 12
TEXTS = ["a good film with a fine cast", "bad and dull", "the plot was good but the end was bad",
         "fine"]


def defined_version():
    """MAJOR.MINOR.PATCH from the file VERSION, where the Makefile and scripts/version.py read it."""
    return (REPO / "VERSION").read_text().strip()


def platform_tag():
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def exported_symbols(library):
    listing = subprocess.run(["nm", "-D", "--defined-only", str(library)], check=True,
                             capture_output=True, text=True).stdout
    return sorted(line.split()[-1] for line in listing.splitlines())


def dynamic_section(library):
    return subprocess.run(["readelf", "-d", str(library)], check=True, capture_output=True,
                          text=True).stdout


def section_names(library):
    return subprocess.run(["readelf", "-SW", str(library)], check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    """A seeded model saved with its tokenizer, and what the checkout's binding predicts for
    TEXTS padded to MAXLEN."""
    lstmkit.utils.set_random_seed(7)
    tokenizer = Tokenizer(num_words=30)
    tokenizer.fit_on_texts(TEXTS)
    model = lstmkit.Sequential([Embedding(30, 8, input_length=MAXLEN), LSTM(6),
                                Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    x = pad_sequences(tokenizer.texts_to_sequences(TEXTS), maxlen=MAXLEN)
    path = tmp_path_factory.mktemp("model") / "small.lstmkit"
    model.save(path, tokenizer=tokenizer)
    expected = model.predict(x, verbose=0)[:, 0]
    assert expected.std() > 1e-4   # distinct rows, so a mix-up would show
    return path, x, expected


def test_wheel_bundles_the_stripped_library_and_predicts_in_a_fresh_venv(small_model, tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist),
                    str(REPO / "bindings" / "python")], check=True, timeout=300)
    (wheel,) = dist.glob("*.whl")
    version = defined_version()
    assert wheel.name == "lstmkit-%s-py3-none-%s.whl" % (version, platform_tag())
    with zipfile.ZipFile(wheel) as archive:
        metadata = archive.read("lstmkit-%s.dist-info/WHEEL" % version).decode()
        assert "Root-Is-Purelib: false" in metadata
        assert "Tag: py3-none-%s" % platform_tag() in metadata
        info = archive.getinfo("lstmkit/liblstmkit.so")
        assert info.file_size < MAX_LIBRARY_BYTES
        bundled = archive.extract(info, tmp_path / "unzipped")
    assert ".symtab" not in section_names(bundled)
    assert exported_symbols(bundled) == exported_symbols(REPO / ".build/release/liblstmkit.so")

    venv = tmp_path / "venv"
    # numpy comes from the interpreter's own site-packages, so installing the wheel needs no index
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
                   check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    str(wheel)], check=True, timeout=120)
    model_path, x, expected = small_model
    script = ("import json, sys, numpy as np, lstmkit\n"
              "model = lstmkit.load_model(sys.argv[1])\n"
              "x = np.array(json.loads(sys.argv[2]), dtype=np.int32)\n"
              "print(json.dumps({'library': str(lstmkit._capi.library_path),\n"
              "                  'module': lstmkit.__file__,\n"
              "                  'y': model.predict(x, verbose=0)[:, 0].tolist()}))\n")
    done = subprocess.run([str(python), "-c", script, str(model_path), json.dumps(x.tolist())],
                          cwd="/", env={}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    site = str(venv / "lib")
    assert result["module"].startswith(site) and result["library"].startswith(site)
    assert result["library"].endswith("lstmkit/liblstmkit.so")
    np.testing.assert_allclose(result["y"], expected, rtol=0, atol=1e-6)


VERSION_PROGRAM = r"""
#include <stdio.h>
#include "lstmkit.h"
int main(void) {
    printf("%d %s\n", lstmkit_version(), lstmkit_version_string());
    return lstmkit_version() == LSTMKIT_VERSION ? 0 : 1;
}
"""


def test_make_install_gives_a_soname_library_that_pkg_config_programs_link(small_model,
                                                                            tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["make", "-s", "-C", str(REPO), "install", "PREFIX=%s" % prefix], check=True,
                   capture_output=True, text=True, timeout=300)
    lib = prefix / "lib"
    (real,) = lib.glob("liblstmkit.so.0.*")
    assert os.readlink(lib / "liblstmkit.so.0") == real.name
    assert os.readlink(lib / "liblstmkit.so") == "liblstmkit.so.0"
    assert (prefix / "include" / "lstmkit.h").read_bytes() == (REPO / "include/lstmkit.h").read_bytes()
    assert "Library soname: [liblstmkit.so.0]" in dynamic_section(real)
    assert real.stat().st_size < MAX_LIBRARY_BYTES
    assert exported_symbols(real) == exported_symbols(REPO / ".build/release/liblstmkit.so")

    # pkg-config adds no rpath: programs find a non-system prefix through LD_LIBRARY_PATH (or
    # ldconfig), the usual arrangement
    env = dict(os.environ, PKG_CONFIG_PATH=str(lib / "pkgconfig"))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "lstmkit"], env=env, check=True,
                           capture_output=True, text=True).stdout.split()
    assert "-I%s" % (prefix / "include") in flags and "-L%s" % lib in flags
    version = subprocess.run(["pkg-config", "--modversion", "lstmkit"], env=env, check=True,
                             capture_output=True, text=True).stdout.strip()
    assert version == defined_version() and real.name == "liblstmkit.so." + version

    (tmp_path / "version.c").write_text(VERSION_PROGRAM)
    programs = {"version": tmp_path / "version.c", "classify": REPO / "examples/c/classify.c"}
    for name, source in programs.items():
        subprocess.run(["cc", "-std=c99", "-o", str(tmp_path / name), str(source)] + flags,
                       check=True, timeout=120)
        assert "Shared library: [liblstmkit.so.0]" in dynamic_section(tmp_path / name)

    run_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LD_LIBRARY_PATH": str(lib)}
    done = subprocess.run([str(tmp_path / "version")], env=run_env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1] == version

    model_path, _, expected = small_model
    done = subprocess.run([str(tmp_path / "classify"), str(model_path)], env=run_env,
                          input="".join(t + "\n" for t in TEXTS), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    np.testing.assert_allclose([float(v) for v in done.stdout.split()], expected, rtol=0,
                               atol=1e-6)

    subprocess.run(["make", "-s", "-C", str(REPO), "uninstall", "PREFIX=%s" % prefix], check=True,
                   capture_output=True, text=True, timeout=60)
    assert [p for p in prefix.rglob("*") if not p.is_dir()] == []
