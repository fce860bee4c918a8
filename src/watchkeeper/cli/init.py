"""``wk init``: write a commented example config."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from watchkeeper.cli.common import EXIT_USAGE, ConfigOption, console, fail
from watchkeeper.config import DEFAULT_FILE
from watchkeeper.config.example import EXAMPLE


def init(
    config: ConfigOption = DEFAULT_FILE,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented example watchkeeper.yaml to start from."""
    if os.path.exists(config) and not force:
        fail(f"{config} already exists (use --force to overwrite)", EXIT_USAGE)
    try:
        with open(config, "w", encoding="utf-8") as handle:
            handle.write(EXAMPLE)
    except OSError as exc:
        fail(f"cannot write {config}: {exc.strerror or exc}")
    console.print(f"wrote {config} — edit it, then run: wk validate -c {config}")
