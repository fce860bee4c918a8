"""The zip: the evidence files, an index page (HTML and Markdown) and a manifest of hashes."""

from __future__ import annotations

import contextlib
import hashlib
import html
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from watchkeeper import __version__
from watchkeeper.evidence.collect import File

_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1f2937}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:"
    ".35rem .5rem;border-bottom:1px solid #e5e7eb;vertical-align:top}code{font-size:12px;"
    "word-break:break-all;color:#4b5563}.muted{color:#6b7280}"
)


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Bundle:
    """The files of one evidence bundle, with what they say about themselves."""

    files: list[File]
    since: float
    until: float
    config: str
    generated_at: float

    def _listing(self, files: Sequence[File]) -> list[dict[str, Any]]:
        return [
            {
                "name": f.name,
                "title": f.title,
                "bytes": len(f.data),
                "sha256": hashlib.sha256(f.data).hexdigest(),
            }
            for f in files
        ]

    def _period(self) -> dict[str, Any]:
        return {
            "since": self.since,
            "until": self.until,
            "since_iso": _iso(self.since),
            "until_iso": _iso(self.until),
        }

    def index_markdown(self) -> bytes:
        period = self._period()
        lines = [
            "# Watchkeeper compliance evidence",
            "",
            f"Period: {period['since_iso']} to {period['until_iso']}  ",
            f"Generated: {_iso(self.generated_at)} by Watchkeeper {__version__} "
            f"from {os.path.basename(self.config)}",
            "",
            "| File | What it holds | Bytes | SHA-256 |",
            "|---|---|---:|---|",
        ]
        for item in self._listing(self.files):
            title = item["title"].replace("|", "\\|")
            lines.append(
                f"| [{item['name']}]({item['name']}) | {title} | {item['bytes']} | "
                f"`{item['sha256']}` |"
            )
        lines += ["", "[manifest.json](manifest.json) lists every file with its hash.", ""]
        return "\n".join(lines).encode()

    def index_html(self) -> bytes:
        period = self._period()
        rows = "".join(
            f'<tr><td><a href="{html.escape(item["name"])}">{html.escape(item["name"])}</a></td>'
            f"<td>{html.escape(item['title'])}</td><td>{item['bytes']}</td>"
            f"<td><code>{item['sha256']}</code></td></tr>"
            for item in self._listing(self.files)
        )
        page = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>Watchkeeper compliance evidence</title>"
            f"<style>{_STYLE}</style></head><body>"
            "<h1>Watchkeeper compliance evidence</h1>"
            f'<p>Period: <time datetime="{period["since_iso"]}">{period["since_iso"]}</time> '
            f'to <time datetime="{period["until_iso"]}">{period["until_iso"]}</time></p>'
            f'<p class="muted">Generated {_iso(self.generated_at)} by Watchkeeper '
            f"{html.escape(__version__)} from {html.escape(os.path.basename(self.config))}</p>"
            "<table><thead><tr><th>File</th><th>What it holds</th><th>Bytes</th>"
            f"<th>SHA-256</th></tr></thead><tbody>{rows}</tbody></table>"
            '<p><a href="manifest.json">manifest.json</a> lists every file with its hash '
            '(and <a href="index.md">index.md</a> is this page as Markdown).</p>'
            "</body></html>\n"
        )
        return page.encode()

    def all_files(self) -> list[File]:
        """The evidence files, the two index pages and the manifest (covering the rest)."""
        pages = [
            File("index.html", "This index, as a web page", self.index_html()),
            File("index.md", "This index, as Markdown", self.index_markdown()),
        ]
        manifest = {
            "format": "watchkeeper-evidence/1",
            "watchkeeper": __version__,
            "generated_at": self.generated_at,
            "generated_at_iso": _iso(self.generated_at),
            "config": os.path.basename(self.config),
            "period": self._period(),
            "files": self._listing([*self.files, *pages]),
        }
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        return [*self.files, *pages, File("manifest.json", "The manifest", text.encode())]


def write_zip(bundle: Bundle, output: Path) -> int:
    """Write the bundle to ``output`` atomically; returns its size in bytes. OSError if the
    folder cannot be written."""
    folder = output.parent if str(output.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as z:
            stamp = time.gmtime(bundle.generated_at)[:6]
            for item in bundle.all_files():
                info = zipfile.ZipInfo(item.name, date_time=stamp)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                z.writestr(info, item.data)
        os.chmod(temporary, 0o600)  # it names people, addresses and settings
        os.replace(temporary, output)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return output.stat().st_size
