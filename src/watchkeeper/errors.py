"""The one exception tree of Watchkeeper.

    WatchkeeperError                  root: anything a user can cause or fix
     ├── ConfigError                  a config file is wrong; carries file:line and the monitor
     ├── ExpectationError             an expectation does not parse; carries the column
     ├── StoreError                   the store cannot be opened, migrated or written
     └── AuthError (auth/)            a user or token request that cannot be done

Expected probe failures (refused, timeout, bad certificate...) are never exceptions: they are
failed Results. Only bugs raise past a check, and the runner turns those into an error Result.
"""

from __future__ import annotations


class WatchkeeperError(Exception):
    """Root of every error Watchkeeper raises on purpose."""


class ExpectationError(WatchkeeperError):
    """An expectation could not be parsed; ``position`` is the 0-based column of the fault."""

    def __init__(self, message: str, text: str, position: int) -> None:
        self.message = message
        self.text = text
        self.position = max(0, min(position, len(text)))
        super().__init__(f"{message} at column {self.position + 1}")


class ConfigError(WatchkeeperError):
    """A configuration problem, located as precisely as we can: ``file:line: [monitor] msg``."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        monitor: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.monitor = monitor
        self.problems: list[ConfigError] = [self]
        super().__init__(self.one_line())

    @classmethod
    def collect(cls, problems: list[ConfigError]) -> ConfigError:
        """One error standing for several; ``problems`` keeps each, in file order."""
        ordered = sorted(problems, key=lambda p: (p.file or "", p.line or 0))
        first = ordered[0]
        error = cls(first.message, file=first.file, line=first.line, monitor=first.monitor)
        error.problems = ordered
        return error

    def lines(self) -> list[str]:
        return [problem.one_line() for problem in self.problems]

    def one_line(self) -> str:
        where = self.file or "<config>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        who = f"monitor '{self.monitor}': " if self.monitor else ""
        return f"{where}: {who}{self.message}"


class StoreError(WatchkeeperError):
    """The store could not be opened, migrated or written."""
