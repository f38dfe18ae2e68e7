"""sciarch_molecules: graph neural networks for molecular properties and protein–ligand binding."""
