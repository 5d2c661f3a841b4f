"""Generated from VERSION by scripts/version.py; do not edit."""

VERSION_MAJOR = 0
VERSION_MINOR = 2
VERSION_PATCH = 0
__version__ = "0.2.0"
