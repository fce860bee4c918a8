"""Alembic, run from code: no alembic.ini, the scripts ship inside the package.

``upgrade`` brings a database to a revision (``head`` by default) on a connection the caller
owns; upgrading keeps data, so a newer Watchkeeper opens an older store in place.

Only ``upgrade`` needs Alembic (a quarter of a second to import). Which revision a store is at
is one row of ``alembic_version``, and which revisions exist is the script names: a script is
``versions/NNNN_name.py`` with ``revision = "NNNN"``, each revising the one before
(tests/store checks this against Alembic's own reading), so ``wk status`` reads a store without
importing Alembic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

if TYPE_CHECKING:  # alembic loads on first use: commands that never open a store skip it
    from alembic.config import Config

SCRIPT_LOCATION = "watchkeeper.store:migrations"


def alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Migrate to ``revision`` inside one transaction on ``connection`` (committed here)."""
    from alembic import command

    command.upgrade(alembic_config(connection), revision)
    connection.commit()


_VERSIONS = Path(__file__).parent / "migrations" / "versions"
_VERSION_TABLE = sa.table("alembic_version", sa.column("version_num", sa.String))


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the store is at; None before the first migration."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    found = connection.execute(sa.select(_VERSION_TABLE.c.version_num)).scalars().all()
    if len(found) > 1:  # Alembic's own reading refuses this too
        raise RuntimeError(f"the store is at several revisions at once: {sorted(found)}")
    return found[0] if found else None


def known_revisions() -> list[str]:
    """Every revision this Watchkeeper ships, oldest first."""
    names = (path.name for path in _VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))
    return sorted(name[:4] for name in names)


def head_revision() -> str | None:
    known = known_revisions()
    return known[-1] if known else None
