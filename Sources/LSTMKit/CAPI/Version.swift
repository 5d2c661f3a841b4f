// Generated from VERSION by scripts/version.py; do not edit.

let libraryVersionParts: (major: Int32, minor: Int32, patch: Int32) = (0, 2, 0)
