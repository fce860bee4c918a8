"""The price catalog: what each machine type of each provider costs a month, and from when.

A CSV (``#`` lines are comments) with the columns ``COLUMNS``; the one shipped in this package
(``catalog.csv``) is dated, and ``wk cost catalog update FILE.csv`` installs a refreshed one
beside the config (``INSTALLED_NAME``), which every later run reads instead. A leaf module:
the config loader reads it to check ``instance: {provider, type}``.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

COLUMNS = (
    "provider",
    "type",
    "family",
    "class",
    "vcpu",
    "memory_gib",
    "monthly_usd",
    "region",
    "source",
    "date",
)
CLASSES = ("general", "compute", "memory", "shared")
"""``shared``: burstable or shared-core vCPUs (t3, e2-micro, B, Hetzner CX/CPX, DO basic)."""
INSTALLED_NAME = "watchkeeper-prices.csv"
"""The refreshed catalog's file name, in the config file's directory."""
MAX_BYTES = 4 * 1024 * 1024
MAX_ROWS = 20_000
STALE_DAYS = 180
"""A catalog whose newest row is older than this is shown with a warning."""


class CatalogError(ValueError):
    """A catalog that cannot be used: ``str()`` is one line naming ``file:line``."""


@dataclass(frozen=True, slots=True)
class Price:
    """One machine type of one provider."""

    provider: str
    type: str
    family: str
    kind: str
    """``general``, ``compute``, ``memory`` or ``shared`` (the CSV's ``class``)."""
    vcpu: float
    memory_gib: float
    monthly_usd: float
    region: str
    source: str
    date: dt.date

    @property
    def label(self) -> str:
        return f"{self.provider}/{self.type}"


@dataclass(frozen=True, slots=True)
class Catalog:
    prices: tuple[Price, ...]
    origin: str
    """Where it was read from: ``shipped`` or the installed file's path."""

    @property
    def date(self) -> dt.date:
        """The newest row's date (a catalog is as old as its freshest price)."""
        return max(p.date for p in self.prices)

    @property
    def oldest(self) -> dt.date:
        return min(p.date for p in self.prices)

    def providers(self) -> list[str]:
        return sorted({p.provider for p in self.prices})

    def of(self, provider: str) -> list[Price]:
        """The provider's types, cheapest first."""
        wanted = provider.lower()
        return sorted(
            (p for p in self.prices if p.provider == wanted), key=lambda p: (p.monthly_usd, p.type)
        )

    def find(self, provider: str, type_: str) -> Price | None:
        wanted = (provider.lower(), type_.lower())
        return next((p for p in self.prices if (p.provider, p.type.lower()) == wanted), None)

    def age_days(self, today: dt.date) -> int:
        return (today - self.date).days

    def stale(self, today: dt.date) -> bool:
        return self.age_days(today) > STALE_DAYS


def parse(text: str, filename: str) -> Catalog:
    """Every row checked; the first bad one is a CatalogError ``filename:line: why``."""
    lines = text.splitlines()
    rows = csv.reader(lines)
    header: list[str] | None = None
    prices: list[Price] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        line = rows.line_num
        if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
            continue
        if header is None:
            header = [cell.strip().lower() for cell in row]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise CatalogError(
                    f"{filename}:{line}: the header lacks {', '.join(missing)} "
                    f"(columns: {','.join(COLUMNS)})"
                )
            continue
        if len(prices) >= MAX_ROWS:
            raise CatalogError(f"{filename}:{line}: more than {MAX_ROWS} rows")
        price = _price(row, header, f"{filename}:{line}")
        key = (price.provider, price.type.lower())
        if key in seen:
            raise CatalogError(
                f"{filename}:{line}: {price.label} is listed twice (first at line {seen[key]})"
            )
        seen[key] = line
        prices.append(price)
    if header is None:
        raise CatalogError(f"{filename}:1: empty: expected the header {','.join(COLUMNS)}")
    if not prices:
        raise CatalogError(f"{filename}:{len(lines)}: no prices after the header")
    return Catalog(tuple(prices), filename)


def _price(row: list[str], header: list[str], where: str) -> Price:
    if len(row) != len(header):
        raise CatalogError(f"{where}: {len(row)} columns, the header has {len(header)}")
    cells = {name: cell.strip() for name, cell in zip(header, row, strict=True)}
    for name in ("provider", "type", "source"):
        if not cells[name]:
            raise CatalogError(f"{where}: {name} is empty")
        if not cells[name].isprintable() or len(cells[name]) > 300:
            raise CatalogError(f"{where}: {name} is not one short line of text")
    kind = cells["class"].lower()
    if kind not in CLASSES:
        raise CatalogError(f"{where}: class '{cells['class']}' is not one of {', '.join(CLASSES)}")
    numbers = {
        name: _number(cells[name], name, where) for name in ("vcpu", "memory_gib", "monthly_usd")
    }
    try:
        date = dt.date.fromisoformat(cells["date"])
    except ValueError:
        raise CatalogError(f"{where}: date '{cells['date']}' is not YYYY-MM-DD") from None
    return Price(
        provider=cells["provider"].lower(),
        type=cells["type"],
        family=cells["family"],
        kind=kind,
        vcpu=numbers["vcpu"],
        memory_gib=numbers["memory_gib"],
        monthly_usd=numbers["monthly_usd"],
        region=cells["region"],
        source=cells["source"],
        date=date,
    )


def _number(text: str, name: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CatalogError(f"{where}: {name} '{text}' is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise CatalogError(f"{where}: {name} must be a number above zero, not '{text}'")
    return value


def read(path: str | os.PathLike[str]) -> Catalog:
    """A catalog file, checked (CatalogError on a file that cannot be read or used)."""
    return parse(_text(path), os.fspath(path))


def _text(path: str | os.PathLike[str]) -> str:
    shown = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise CatalogError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES:
        raise CatalogError(f"{shown}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{shown}: not UTF-8 text (byte {exc.start})") from None
    return text


def shipped() -> Catalog:
    """The catalog that comes with this Watchkeeper."""
    text = resources.files(__package__).joinpath("catalog.csv").read_text(encoding="utf-8")
    found = parse(text, "catalog.csv")
    return Catalog(found.prices, "shipped")


def installed_path(config_path: str | os.PathLike[str]) -> Path:
    """Where ``wk cost catalog update`` puts a refreshed catalog for this config."""
    return Path(os.path.abspath(config_path)).parent / INSTALLED_NAME


_cache: dict[tuple[str, int, int], Catalog] = {}


def current(config_path: str | os.PathLike[str] | None) -> Catalog:
    """The catalog in use for a config: the installed one if there is one, else the
    shipped one. An installed file that went bad is a CatalogError (not silently ignored)."""
    if config_path is None:
        return _shipped()
    path = installed_path(config_path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        return _shipped()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read ({exc.strerror or exc})") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _cache:
        _cache.clear()
        _cache[key] = read(path)
    return _cache[key]


_shipped_catalog: list[Catalog] = []


def _shipped() -> Catalog:
    if not _shipped_catalog:
        _shipped_catalog.append(shipped())
    return _shipped_catalog[0]


def install(source: str | os.PathLike[str], config_path: str | os.PathLike[str]) -> Catalog:
    """Check ``source`` and put a copy where ``current`` finds it, atomically: a bad file
    is a CatalogError and leaves the catalog in use as it was."""
    text = _text(source)
    found = parse(text, os.fspath(source))
    target = installed_path(config_path)
    try:
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".prices-", suffix=".csv")
    except OSError as exc:
        raise CatalogError(f"{target.parent}: cannot write ({exc.strerror or exc})") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temporary, target)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise CatalogError(f"{target}: cannot write ({exc.strerror or exc})") from None
    return Catalog(found.prices, str(target))
