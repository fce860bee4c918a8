"""A migrated SQLite store copied into place instead of migrated per test.

Migrating an empty store to the newest schema takes Alembic a seventh of a second of CPU
(half a second in a fresh process, with its import); hundreds of tests each start from an
empty store. ``fresh_sqlite(url)`` puts a copy of one store migrated once per worker at the
URL's file, so ``Store.open`` finds it at the head revision and has nothing to do. Tests
about migrating (tests/store/test_migrations.py) and about ``wk up`` creating its store
do not use it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from watchkeeper.store import Store
from watchkeeper.store.database import parse_url, sqlite_path

_TEMPLATE: list[Path] = []


def _template() -> Path:
    if not _TEMPLATE:
        folder = Path(tempfile.mkdtemp(prefix="wk-template-store-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        Store.open(f"sqlite:///{path}").close()  # migrated to head; the WAL is folded in
        assert not Path(f"{path}-wal").exists() or not Path(f"{path}-wal").stat().st_size
        _TEMPLATE.append(path)
    return _TEMPLATE[0]


def fresh_sqlite(url: str) -> None:
    """If ``url`` names a SQLite file that does not exist yet, make it a copy of a store
    migrated to head (parent folders too); anything else (PostgreSQL, memory, an existing
    file) is left alone."""
    if not url.startswith("sqlite"):
        return
    path = sqlite_path(parse_url(url))
    if path is None or path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(), path)
