"""``python -m populace`` runs the command line."""

from populace.cli import main

main()
