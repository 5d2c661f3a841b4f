"""Generated from VERSION by scripts/version.py; do not edit."""

VERSION_MAJOR = 0
VERSION_MINOR = 1
VERSION_PATCH = 0
__version__ = "0.1.0"
