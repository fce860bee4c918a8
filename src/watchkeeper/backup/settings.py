"""What a ``backup:`` monitor says about a backup, and what its ``drill:`` says about proving
that backup restores. Validated once when the config loads; the rest of the package reads
these models and never the raw YAML.

    - name: orders-backup
      backup:
        path: /var/backups/orders/*.dump
        max_age: 26h          # RPO: the newest file must be younger than this
        keep: 7               # fewer files than this: warning
        drill:
          every: 7d
          into: cluster       # a private PostgreSQL cluster Watchkeeper initialises
          tables: [orders, customers]
          verify: ["select count(*) > 0 from orders"]
          rto: 30m
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watchkeeper.checks.base import CheckSettings
from watchkeeper.units import Duration, Size

FORMATS = (
    "auto",
    "pg_custom",
    "pg_directory",
    "pg_tar",
    "pg_plain",
    "mysql",
    "redis",
    "file",
)
"""``auto`` reads the file's first bytes (and through gzip or zstd); ``file`` checks only age,
size and count (any format Watchkeeper cannot read, e.g. a restic repository's export)."""

Format = Literal[
    "auto", "pg_custom", "pg_directory", "pg_tar", "pg_plain", "mysql", "redis", "file"
]

_TABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")
"""A table name as drills accept it: ``orders`` or ``schema.orders`` (quoted when used)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DrillSpec(_Strict):
    """How to prove that the newest backup restores (``backup: {drill: {...}}``)."""

    every: Duration = 7 * 86400.0
    """How often the drill runs in ``wk up`` (``wk drill NAME`` runs it now)."""
    timeout: Duration = 3600.0
    """The longest a whole drill may take: restore, verification and clean-up."""
    into: str = "auto"
    """Where the backup is restored: ``cluster`` (a private PostgreSQL cluster it initialises
    on a free port), ``redis`` (a throwaway redis-server), or a server URL
    (``postgresql://...``, ``mysql://...``) on which it creates a scratch database it drops
    afterwards. ``auto``: a cluster for PostgreSQL dumps, redis for RDB files; a MariaDB
    dump needs a server named here."""
    tables: tuple[str, ...] = ()
    """Tables the restored database must have (``orders`` or ``schema.orders``)."""
    rows: dict[str, int] = Field(default_factory=dict)
    """At least this many rows per table (a manifest written in the config)."""
    compare: Literal["previous", "source", "manifest", "none"] = "previous"
    """What row counts are held against: the last successful drill's, the live ``source``
    database's, a ``<backup>.manifest.json`` beside the file, or nothing."""
    source: str | None = None
    """The live database the backup is taken from (``compare: source``); read only."""
    tolerance: float = Field(0.1, ge=0.0, le=1.0)
    """How far a table's count may fall below its reference (0.1 = 10 % fewer rows)."""
    verify: tuple[str, ...] = ()
    """Queries (SQL, or Redis commands for RDB files) whose first value must be true or a
    non-zero number: ``select count(*) > 0 from orders``."""
    amcheck: bool = True
    """On PostgreSQL, check every B-tree index with ``amcheck`` where the server has it."""
    rto: Duration | None = None
    """The restore must finish within this (recovery time objective)."""
    rpo: Duration | None = None
    """The restored backup must be younger than this when restored (recovery point
    objective)."""
    isolate: bool = True
    """Restore as a user of the drill's own, made for it (no superuser; owner of the
    scratch database only), so SQL in a dump cannot touch anything else on the server.
    Off: as the user ``into`` names (a dump that creates an untrusted extension, such as
    PostGIS, or MariaDB routines under binary logging, needs it)."""
    jobs: int = Field(2, ge=1, le=32)
    """Parallel jobs for ``pg_restore`` (custom and directory formats)."""
    workdir: str | None = None
    """Where private clusters and copies are made (default: the system's temp folder)."""
    space: float = Field(3.0, ge=0.0, le=100.0)
    """Free space needed in ``workdir`` before a local restore, as a multiple of the backup's
    size (a compressed dump grows when restored); 0 turns the check off."""

    @field_validator("tables", "verify", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for table in value:
            if not _TABLE.fullmatch(table):
                raise ValueError(f"'{table}' is not a table name (orders or schema.orders)")
        return value

    @field_validator("rows")
    @classmethod
    def _rows(cls, value: dict[str, int]) -> dict[str, int]:
        for table, count in value.items():
            if not _TABLE.fullmatch(table):
                raise ValueError(f"'{table}' is not a table name (orders or schema.orders)")
            if count < 0:
                raise ValueError(f"rows of {table} cannot be negative")
        return value

    @field_validator("into")
    @classmethod
    def _into(cls, value: str) -> str:
        if value in ("auto", "cluster", "redis"):
            return value
        if value.startswith(("postgresql://", "postgres://", "mysql://", "mariadb://")):
            return server_url(value, "into")
        raise ValueError(
            f"into '{_shown(value)}' must be cluster, redis, auto or a server URL "
            "(postgresql://user@host/postgres, mysql://root@host)"
        )

    @field_validator("source")
    @classmethod
    def _source_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("postgresql://", "postgres://", "mysql://", "mariadb://")):
            raise ValueError(
                f"source '{_shown(value)}' must be the live database's URL "
                "(postgresql://user@host/db, mysql://user@host/db)"
            )
        return server_url(value, "source")

    @model_validator(mode="after")
    def _source(self) -> DrillSpec:
        if self.compare == "source" and not self.source:
            raise ValueError("compare: source needs source: the live database's URL")
        if self.timeout > self.every:
            raise ValueError("timeout cannot exceed every")
        return self


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _shown(value: str) -> str:
    """``value`` with any password in it masked (a message must never quote one)."""
    from watchkeeper.redact import mask_url

    return mask_url(value)


def server_url(value: str, key: str) -> str:
    """``value`` if it is a server URL the drivers read (a port that is a number, percent
    escapes that are whole, no spaces); else a message that never quotes the password."""
    from urllib.parse import urlsplit

    problem = None
    try:
        parts = urlsplit(value)
        _ = parts.port
        if not parts.hostname and not value.startswith(("postgresql:///", "postgres:///")):
            problem = "names no host"
    except ValueError:
        problem = "has a port that is not a number"
    netloc = value.split("://", 1)[1].split("/", 1)[0]
    if problem is None and (_BAD_ESCAPE.search(netloc) or " " in netloc):
        problem = "has a space or a broken %-escape in its user or password (write %25 for %)"
    if problem is not None:
        raise ValueError(f"the {key} URL {problem}")
    return value


class S3Spec(_Strict):
    """Backups kept in S3-compatible object storage, listed through its API."""

    endpoint: str
    """``https://s3.eu-west-1.amazonaws.com`` or a MinIO/Garage address."""
    bucket: str
    prefix: str = ""
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None


class BackupSpec(CheckSettings):
    """``backup:`` — where the backups are and what a good one looks like."""

    shorthand_field = "path"

    path: str | None = None
    """A folder (every file in it), a glob (``/backups/db-*.dump.gz``) or one file."""
    s3: S3Spec | None = None
    format: Format = "auto"
    max_age: Duration = 26 * 3600.0
    """The newest backup must be younger than this (the recovery point objective)."""
    keep: int | None = Field(None, ge=1, le=100_000)
    """At least this many backups kept: fewer is a warning (rotation deleted too many)."""
    min_size: Size = 1
    """A backup smaller than this fails (an empty file is never a backup)."""
    shrink: float = Field(0.5, ge=0.0, le=1.0)
    """The newest backup smaller than this share of the recent ones' median is a warning."""
    check_format: bool = True
    """Read the newest backup with its format's own tool (``pg_restore --list``, ``gzip -t``,
    ``redis-check-rdb``...) without restoring it."""
    drill: DrillSpec | None = None

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is None:
            return value
        expanded = os.path.expanduser(value)
        if not os.path.isabs(expanded):
            raise ValueError(f"path '{value}' must be absolute (/var/backups/db/*.dump)")
        return expanded

    @model_validator(mode="after")
    def _where(self) -> BackupSpec:
        if (self.path is None) == (self.s3 is None):
            raise ValueError("give path (a folder, glob or file) or s3 (one of them)")
        if self.drill is not None and self.format == "file":
            raise ValueError("format: file cannot be drilled: name the dump's format")
        return self

    def target(self) -> str:
        if self.s3 is not None:
            return f"s3://{self.s3.bucket}/{self.s3.prefix}"
        return self.path or ""

    def host_key(self) -> str:
        return "backup:" + (self.s3.endpoint if self.s3 is not None else "local")
