"""What every command shares: the -c option, loading config with clean errors, exit codes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from watchkeeper.config import DEFAULT_FILE, Config, load_config
from watchkeeper.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from watchkeeper.store import Store

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

# soft_wrap: a long line stays one line (the terminal wraps it; logs and scripts keep it whole)
# and piped output gets room for whole table cells instead of Rich's 80 columns
_WIDTH = None if sys.stdout.isatty() else 200
console = Console(highlight=False, soft_wrap=True, width=_WIDTH)
errors = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print one line to stderr and exit."""
    errors.print(message, markup=False, soft_wrap=True)
    raise typer.Exit(code)


def load(path: str = DEFAULT_FILE) -> Config:
    """Load and validate a config, or print each problem on one line and exit 2."""
    try:
        return load_config(path)
    except ConfigError as exc:
        for line in exc.lines()[:50]:
            errors.print(line, markup=False, soft_wrap=True)
        if len(exc.problems) > 50:
            errors.print(f"... and {len(exc.problems) - 50} more", markup=False)
        raise typer.Exit(EXIT_USAGE) from None


def open_store(config: Config, *, existing: bool = False) -> Store:
    """Open the config's store, or fail in one line. ``existing``: the store ``wk up`` made;
    create and migrate nothing."""
    from watchkeeper.store import Store

    try:
        return Store.open(config.storage, existing=existing)
    except StoreError as exc:
        fail(f"{config.path}: {exc}")


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()
