"""Alembic environment: runs on the connection handed over in ``config.attributes``."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from watchkeeper.store.schema import metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, sa.Connection):
        raise RuntimeError("watchkeeper migrations run through watchkeeper.store.migrate only")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
