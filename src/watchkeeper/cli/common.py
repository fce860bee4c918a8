"""What every command shares: the -c option, loading config with clean errors, exit codes.

Light on purpose (see ``app``): the config package is imported by ``load``, Rich by the first
use of ``console`` or ``errors``, so a command that prints one plain line pays for neither.
"""

from __future__ import annotations

import functools
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from watchkeeper.errors import StoreError

if TYPE_CHECKING:
    from rich.console import Console

    from watchkeeper.config import Config
    from watchkeeper.store import Store

    console: Console
    """Standard output, for tables and styled lines."""
    errors: Console
    """Standard error."""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

ConfigOption = Annotated[
    str,
    typer.Option(
        "--config",
        "-c",
        envvar="WATCHKEEPER_CONFIG",
        metavar="FILE",
        help="The config file.",
        show_default=True,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class Format(StrEnum):
    """How a report is printed (``--format``)."""

    text = "text"
    md = "md"
    html = "html"
    json = "json"


OutputOption = Annotated[
    Path | None,
    typer.Option("--output", "-o", metavar="FILE", help="Write the report here."),
]


@functools.cache
def _console(stderr: bool) -> Console:
    from rich.console import Console

    # soft_wrap: a long line stays one line (the terminal wraps it; logs and scripts keep it
    # whole) and piped output gets room for whole table cells instead of Rich's 80 columns
    width = None if sys.stdout.isatty() else 200
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


if not TYPE_CHECKING:

    def __getattr__(name: str) -> object:
        """``console`` and ``errors``, made (and Rich imported) on first use."""
        if name not in ("console", "errors"):
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return _console(stderr=name == "errors")


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit."""
    _console(stderr=True).print(message, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def load(path: str) -> Config:
    """Load and validate a config, or print each problem on one line and exit 2."""
    from watchkeeper.config import load_config
    from watchkeeper.errors import ConfigError

    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.lines()[:50]:
            _console(stderr=True).print(line, markup=False, soft_wrap=True)
        if len(exc.problems) > 50:
            _console(stderr=True).print(f"... and {len(exc.problems) - 50} more", markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def open_store(config: Config, *, existing: bool = False) -> Store:
    """Open the config's store, or fail in one line. ``existing``: the store ``wk up`` made;
    create and migrate nothing."""
    from watchkeeper.store import Store

    try:
        return Store.open(config.storage, existing=existing)
    except StoreError as exc:
        fail(f"{config.path}: {exc}")


def write_text(path: Path, text: str) -> None:
    """Write a report whole or not at all (a temporary file beside it, then renamed), or
    fail in one line."""
    import os

    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError as exc:
        fail(f"{path}: cannot write ({exc.strerror})")


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
