"""The command line, the top floor: ``populace run``, ``report``, ``calibrate`` ... Nothing imports it."""

from populace.cli.main import app, main

__all__ = ["app", "main"]
