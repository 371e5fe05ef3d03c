"""Review: the order in which a coder sees candidate units (pure strategies over arrays)."""
