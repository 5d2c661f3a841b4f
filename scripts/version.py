#!/usr/bin/env python3
"""The version is defined once, in VERSION (MAJOR.MINOR.PATCH); this writes it where the C and
Python sides read it at build time, so they can never disagree:

  include/lstmkit.h                 the LSTMKIT_VERSION_MAJOR/MINOR/PATCH macros
  Sources/LSTMKit/CAPI/Version.swift    the library's own copy, which lstmkit_version() returns
                                    (a Swift file rather than the imported header's macros:
                                    SwiftPM does not rebuild when an imported C header changes)
  bindings/python/lstmkit/_version.py   __version__ and the parts (pyproject.toml reads it)
(the Makefile reads VERSION itself)

usage: python3 scripts/version.py          rewrite both from VERSION
       python3 scripts/version.py --check  exit 1, naming the file, if either is out of date
"""
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HEADER = REPO / "include" / "lstmkit.h"
PYTHON = REPO / "bindings" / "python" / "lstmkit" / "_version.py"
SWIFT = REPO / "Sources" / "LSTMKit" / "CAPI" / "Version.swift"


def read_version():
    text = (REPO / "VERSION").read_text().strip()
    if not re.fullmatch(r"\d{1,2}\.\d{1,2}\.\d{1,2}", text):
        # LSTMKIT_VERSION packs the parts as MAJOR * 10000 + MINOR * 100 + PATCH
        raise SystemExit("VERSION must be MAJOR.MINOR.PATCH, each part 0..99, got %r" % text)
    return tuple(int(p) for p in text.split("."))


def header_text(current, parts):
    block = "".join("#define LSTMKIT_VERSION_%s %d\n" % (name, value)
                    for name, value in zip(("MAJOR", "MINOR", "PATCH"), parts))
    pattern = re.compile(r"(#define LSTMKIT_VERSION_MAJOR \d+\n#define LSTMKIT_VERSION_MINOR \d+\n"
                         r"#define LSTMKIT_VERSION_PATCH \d+\n)")
    if len(pattern.findall(current)) != 1:
        raise SystemExit("%s: expected one block of LSTMKIT_VERSION_MAJOR/MINOR/PATCH macros" % HEADER)
    return pattern.sub(block, current)


def python_text(parts):
    return ('"""Generated from VERSION by scripts/version.py; do not edit."""\n\n'
            "VERSION_MAJOR = %d\nVERSION_MINOR = %d\nVERSION_PATCH = %d\n"
            '__version__ = "%d.%d.%d"\n' % (parts + parts))


def swift_text(parts):
    return ("// Generated from VERSION by scripts/version.py; do not edit.\n\n"
            "let libraryVersionParts: (major: Int32, minor: Int32, patch: Int32) = (%d, %d, %d)\n" % parts)


def main(argv):
    check = argv[1:] == ["--check"]
    if argv[1:] not in ([], ["--check"]):
        raise SystemExit(__doc__)
    parts = read_version()
    wanted = {HEADER: header_text(HEADER.read_text(), parts), PYTHON: python_text(parts),
              SWIFT: swift_text(parts)}
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if check:
        for path in stale:
            print("%s does not hold VERSION %d.%d.%d: run python3 scripts/version.py"
                  % (path.relative_to(REPO), *parts), file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(wanted[path])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
