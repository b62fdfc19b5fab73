"""One module per step kind: ``extras`` (its key components) and ``run`` (its handler)."""
