"""Alembic, run from code: no alembic.ini, the scripts ship inside the package.

``upgrade`` brings a database to a revision (``head`` by default) on a connection the caller
owns; upgrading keeps data, so a newer Watchkeeper opens an older store in place.
"""

from __future__ import annotations

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


def current_revision(connection: sa.Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revisions() -> set[str]:
    """Every revision this Watchkeeper ships."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}
