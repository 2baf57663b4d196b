"""Op families: one package each. Importing a family registers its ops in hakl.op.OPS."""
from . import softmax  # noqa: F401

FAMILIES = ("softmax",)
