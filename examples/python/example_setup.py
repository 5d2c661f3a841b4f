"""What every example script here shares: finding the lstmkit package in a checkout, the
datasets folder, and the command-line options they all take. Importing it first makes
`import lstmkit` work without installing the binding (a script's own folder is on sys.path)."""

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
try:
    import lstmkit  # noqa: F401
except ImportError:  # running from a checkout without `pip install -e bindings/python`
    sys.path.insert(0, str(REPO / "bindings" / "python"))
    import lstmkit  # noqa: F401


def data_dir():
    """$LSTMKIT_DATA, or ../shared/datasets beside the repository."""
    return Path(os.environ.get("LSTMKIT_DATA") or REPO.parent / "shared" / "datasets")


def parser(description, epochs, rows_help, batch_size=None):
    """--epochs, --rows, --batch-size (when the script has a default for it), --seed,
    --dtype-policy and --out; a script adds its own options to what this returns."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--rows", type=int, default=None, help=rows_help)
    if batch_size is not None:
        p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--seed", type=int, default=None, help="seed for reproducible runs")
    p.add_argument("--dtype-policy", default="float32", choices=["float32", "mixed_bfloat16"],
                   help="mixed_bfloat16: matrix products on bfloat16 operands (lstmkit.mixed_precision)")
    p.add_argument("--out", type=Path, default=REPO / "out")
    return p


def parse(p):
    """Parses the command line, seeds lstmkit when --seed was given and sets the dtype policy
    the script's compile will use."""
    args = p.parse_args()
    if args.seed is not None:
        lstmkit.utils.set_random_seed(args.seed)
    lstmkit.mixed_precision.set_global_policy(args.dtype_policy)
    return args
