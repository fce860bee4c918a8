"""Fixtures shared by every test package."""

from __future__ import annotations

import pytest
from tests.helpers.certs import CertificateSet, make_certificates


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> CertificateSet:
    """A test CA and the leaves it signed (valid, expired, wrong host, ...), made once."""
    return make_certificates(tmp_path_factory.mktemp("certificates"))
