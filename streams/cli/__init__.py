"""`rasid …`: argument parsing and one command module per process or tool."""

from streams.cli.main import main

__all__ = ["main"]
