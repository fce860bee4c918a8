"""Fixtures shared by every test package."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.certs import CertificateSet, make_certificates
from tests.helpers.dumps import Dumps, make_dumps
from tests.helpers.postgres import PrivatePostgres

# The suite starts hundreds of fresh interpreters (wk, its workers); with bytecode writing
# off (PYTHONDONTWRITEBYTECODE, as some shells and containers set it) each one compiles
# watchkeeper's sources again: 0.7 s of CPU per wk up, 0.2 s per short command. Compiled
# files go to a cache of their own under the temporary directory instead (never into the
# tree); the xdist workers and every subprocess inherit the setting.
if os.environ.get("PYTHONDONTWRITEBYTECODE") and not os.environ.get("PYTHONPYCACHEPREFIX"):
    _PYCACHE = Path(tempfile.gettempdir()) / f"watchkeeper-tests-pycache-{os.getuid()}"
    del os.environ["PYTHONDONTWRITEBYTECODE"]
    os.environ["PYTHONPYCACHEPREFIX"] = str(_PYCACHE)
    sys.pycache_prefix = str(_PYCACHE)
    sys.dont_write_bytecode = False


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    """A test CA and the leaves it signed (valid, expired, wrong host, ...), made once."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))


@pytest.fixture(scope="session")
def backup_dumps(tmp_path_factory: pytest.TempPathFactory) -> Dumps:
    """Real backups of throwaway databases on the machine's PostgreSQL, MariaDB and a private
    Redis (pg_dump in four formats, mariadb-dump, an RDB), made once per worker; treat them
    as read-only (copy before damaging or moving one)."""
    return make_dumps(tmp_path_factory.mktemp("dumps"))


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A throw-away PostgreSQL server of the test's own (one it may stop or kill)."""
    server = PrivatePostgres().init()
    server.start()
    try:
        yield server
    finally:
        server.destroy()
