"""keras.mixed_precision counterparts: the dtype policy models compile with.

    lstmkit.mixed_precision.set_global_policy("mixed_bfloat16")
    model.compile(...)          # or model.compile(..., dtype_policy="mixed_bfloat16")

"mixed_bfloat16" keeps weights, optimizer state and all elementwise work in float32 and runs the
matrix products on bfloat16 operands with float32 accumulation (oneDNN; needs Debian's libdnnl2
and a CPU with AVX512-BF16 or AMX). fit, evaluate and predict raise UnsupportedError where it
cannot run. The policy is a compile setting, saved with the model. Unlike Keras, the layers'
outputs stay float32, so only the products' inputs are rounded.
"""

__all__ = ["DTypePolicy", "set_global_policy", "global_policy"]

POLICIES = ("float32", "mixed_bfloat16")


class DTypePolicy:
    """A policy's name and the dtypes it computes and stores in, as Keras's DTypePolicy."""

    def __init__(self, name):
        if name not in POLICIES:
            raise ValueError("dtype policy must be one of %s, got %r" % (", ".join(POLICIES), name))
        self.name = name

    @property
    def compute_dtype(self):
        return "bfloat16" if self.name == "mixed_bfloat16" else "float32"

    @property
    def variable_dtype(self):
        return "float32"

    def __repr__(self):
        return '<DTypePolicy "%s">' % self.name

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)


_global = DTypePolicy("float32")


def set_global_policy(policy):
    """Sets the policy that compile uses when its dtype_policy argument is not given."""
    global _global
    _global = policy if isinstance(policy, DTypePolicy) else DTypePolicy(policy)


def global_policy():
    return _global
