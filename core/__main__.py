"""``python -m sciarch`` runs the ``sciarch`` command."""

from .cli import main

main()
