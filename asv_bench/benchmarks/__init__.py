"""hakl's asv suite: one module per op family (see common.py for how they are built)."""
