"""The molecules plugin's architectures, one per module.

2D message passing over molecular graphs: :mod:`.dmpnn` (written here), :mod:`.gine` and
:mod:`.attentivefp` (PyTorch Geometric's operators). 3D models over conformers and protein–ligand
complexes: :mod:`.schnet` and :mod:`.dimenet` (PyTorch Geometric's models on this plugin's own
neighbour graphs) and :mod:`.egnn` (written here). Shared parts: :mod:`.readout`, :mod:`.geometry`.
Every model takes a PyG ``Batch`` and returns ``[graphs, out_features]``.
"""
