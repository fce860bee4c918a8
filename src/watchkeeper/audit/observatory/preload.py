"""The HSTS preload list the Observatory consults (Chromium's list of hosts browsers only ever
reach over https).

Nothing is downloaded here: a list is read from a file the operator provides, either the
scanner's own ``conf/hsts-preload.json`` (host -> {includeSubDomains, mode, ...}) or
Chromium's ``transport_security_state_static.json`` (``{"entries": [{"name", "mode",
"include_subdomains"}]}``, ``//`` comments allowed). Without one, no host counts as
preloaded, so a preloaded site grades as its headers alone would have it (the Observatory
would give it ``hsts-preloaded``, +5, and may excuse a missing redirect).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_FILE = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PreloadEntry:
    include_subdomains: bool
    mode: str


@dataclass(frozen=True)
class HstsPreload:
    entries: Mapping[str, PreloadEntry] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> HstsPreload:
        """From the scanner's format, or Chromium's (an ``entries`` list)."""
        entries: dict[str, PreloadEntry] = {}
        listed = data.get("entries")
        if isinstance(listed, list):
            for item in listed:
                if isinstance(item, dict) and isinstance(item.get("name"), str):
                    entries[item["name"].strip().lower()] = PreloadEntry(
                        bool(item.get("include_subdomains")), str(item.get("mode", ""))
                    )
            return cls(entries)
        for name, item in data.items():
            if isinstance(item, dict):
                entries[name.strip().lower()] = PreloadEntry(
                    bool(item.get("includeSubDomains")), str(item.get("mode", ""))
                )
        return cls(entries)

    @classmethod
    def from_file(cls, path: Path) -> HstsPreload:
        """Raises ValueError with a one-line reason when the file is not such a list."""
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE + 1)
        except OSError as exc:
            raise ValueError(f"{path}: {exc.strerror or exc}") from None
        if len(raw) > MAX_FILE:
            raise ValueError(f"{path}: larger than {MAX_FILE // (1024 * 1024)} MiB")
        text = raw.decode("utf-8", errors="replace")
        try:
            data = json.loads(_without_line_comments(text))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: not an HSTS preload list")
        return cls.from_mapping(data)

    def lookup(self, host: str) -> PreloadEntry | None:
        """The entry that forces https on ``host``: its own, or a parent's that includes
        subdomains."""
        name = host.lower()
        own = self.entries.get(name)
        if own is not None and own.mode == "force-https":
            return own
        labels = name.split(".")
        for start in range(1, len(labels)):
            parent = self.entries.get(".".join(labels[start:]))
            if parent is not None and parent.mode == "force-https" and parent.include_subdomains:
                return parent
        return None


def _without_line_comments(text: str) -> str:
    """Chromium's file has ``//`` comment lines; the scanner drops ``//`` to line end."""
    if "//" not in text:
        return text
    return "\n".join(line.split("//", 1)[0] for line in text.split("\n"))
