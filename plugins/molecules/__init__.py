"""sciarch_molecules: the molecules plugin."""
