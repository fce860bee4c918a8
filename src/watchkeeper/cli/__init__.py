"""Command line: thin commands that parse arguments, call the package and print."""

from __future__ import annotations


def main() -> None:
    from watchkeeper.cli.app import app

    app()
