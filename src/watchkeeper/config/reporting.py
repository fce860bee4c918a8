"""Collecting config problems, each located at file:line and its monitor, with secrets
masked; and validating pieces of config with pydantic into such problems."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from watchkeeper.config.messages import describe
from watchkeeper.config.yamlsource import Path, line_of
from watchkeeper.errors import ConfigError
from watchkeeper.redact import redact


class Reporter:
    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.lines: dict[Path, int] = {}
        self.problems: list[ConfigError] = []
        self.secrets: set[str] = set()
        self.raw: Any = None

    def problem(self, message: str, path: Path = (), monitor: str | None = None) -> None:
        if monitor is None and len(path) >= 2 and path[0] == "monitors":
            monitor = self.monitor_name(path[1])
        message = redact(message, self.secrets)  # an error may quote a substituted value
        self.problems.append(
            ConfigError(
                message, file=self.filename, line=line_of(self.lines, path), monitor=monitor
            )
        )

    def validate(
        self,
        model: type[BaseModel],
        data: Any,
        path: Path,
        monitor: str | None = None,
        extra_keys: tuple[str, ...] = (),
        shorthand: tuple[str, str] | None = None,
    ) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                loc = tuple(error["loc"])
                message = describe(error, model, extra_keys, data)
                if shorthand and message.startswith(f"{shorthand[0]}: "):
                    # the user wrote `tcp: host` — talk about `tcp`, not `address`
                    message = shorthand[1] + message[len(shorthand[0]) :]
                    loc = ()
                self.problem(message, (*path, *loc), monitor)
            return None

    def monitor_name(self, index: object) -> str | None:
        monitors = self.raw.get("monitors") if isinstance(self.raw, dict) else None
        if isinstance(index, int) and isinstance(monitors, list) and index < len(monitors):
            item = monitors[index]
            name = item.get("name") if isinstance(item, dict) else None
            return name if isinstance(name, str) and name else f"monitors[{index}]"
        return None
