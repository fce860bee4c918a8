"""wk grades each nginx site exactly as Mozilla's HTTP Observatory scanner (the real one, npm
1.4.8, run on the same site) does: same score, grade, and per test the same result, modifier
and pass. Each site listens on ports 80 and 443 of its own loopback address, as the scanner
only looks there. Run with ``-n 2`` at most (each case starts nginx and Node)."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.audit.observatory.sites import SITES, Site
from tests.helpers.nginx import Nginx
from tests.helpers.observatory import Scanner, ScanServer, preload_entry

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.observatory import (
    ALGORITHM_VERSION,
    HstsPreload,
    ScanError,
    Scorecard,
    grade,
    retrieve,
)


def _escape(directives: str) -> str:
    return directives.replace("{", "{{").replace("}", "}}")


def servers(site: Site, other: str = "") -> str:
    """The nginx server blocks of ``site`` (placeholders left for the Nginx helper)."""
    blocks = []
    if site.http is not None:
        blocks.append(
            "server {{ listen {address}:{http_port}; root {root}; index index.html; "
            + _escape(site.http.replace("OTHER", other))
            + " }}"
        )
    if site.https is not None:
        blocks.append(
            "server {{ listen {address}:{https_port} ssl; ssl_certificate {cert}; "
            "ssl_certificate_key {key}; root {root}; index index.html; "
            + _escape(site.https)
            + " }}"
        )
    return "\n".join(blocks)


@contextmanager
def serve(site: Site, directory: Path) -> Iterator[tuple[Nginx, list[Path]]]:
    """The site's nginx (and the second host it redirects to), and the CA files to trust."""
    with ExitStack() as stack:
        cas: list[Path] = []
        other = ""
        if site.other_https is not None:
            second = Site("other", "", http=None, https=site.other_https)
            target = stack.enter_context(Nginx(directory, servers(second), standard_ports=True))
            (target.root / "index.html").write_text(second.page)
            other = target.address
            cas.append(target.ca_file)
        main = Nginx(directory, servers(site, other), standard_ports=True)
        (main.root / "index.html").write_text(site.page)
        for name, text in site.files.items():
            (main.root / name).write_text(text)
        stack.enter_context(main)
        cas.insert(0, main.ca_file)
        yield main, cas


def trust(cas: list[Path], directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A context trusting the sites' CAs, and the same CAs in one file for Node."""
    bundle = directory / "trusted.pem"
    bundle.write_text("".join(path.read_text() for path in cas))
    context = ssl.create_default_context(cafile=str(bundle))
    return context, bundle


async def grade_site(
    host: str, tls: ssl.SSLContext | bool, preload: HstsPreload
) -> Scorecard | ScanError:
    async with Fetcher(timeout=10, tls=tls) as fetch:
        retrieval = await retrieve(fetch, host)
    try:
        return grade(retrieval, preload=preload)
    except ScanError as exc:
        return exc


def differences(ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    found = []
    for key in ("score", "grade", "algorithmVersion", "statusCode"):
        if ours["scan"][key] != theirs["scan"][key]:
            found.append(
                f"scan.{key}: wk {ours['scan'][key]!r}, Observatory {theirs['scan'][key]!r}"
            )
    for name, test in theirs["tests"].items():
        mine = ours["tests"].get(name)
        if mine is None:
            found.append(f"{name}: missing from wk")
            continue
        for key in ("result", "scoreModifier", "pass"):
            if mine[key] != test[key]:
                found.append(f"{name}.{key}: wk {mine[key]!r}, Observatory {test[key]!r}")
    return found


@pytest.fixture(scope="session")
def scan_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScanServer]:
    """One scanner process per worker: loading it took most of each case's time."""
    server = ScanServer(tmp_path_factory.mktemp("observatory"))
    try:
        yield server
    finally:
        server.close()


async def compare(
    site: Site, directory: Path, scanner: Scanner | ScanServer
) -> tuple[Scorecard | ScanError, dict[str, Any]]:
    """Grade ``site`` both ways: (wk's scorecard or error, the scanner's JSON)."""
    with serve(site, directory) as (main, cas):
        entries = {main.address: preload_entry()} if site.preloaded else {}
        context, bundle = trust(cas, directory)
        ca_file = bundle if site.trusted else None
        if isinstance(scanner, ScanServer):
            theirs = await asyncio.to_thread(
                scanner.scan, main.address, ca_file=ca_file, preload=entries
            )
        else:
            scanner.preload(entries)
            theirs = await asyncio.to_thread(scanner.scan, main.address, ca_file=ca_file)
        ours = await grade_site(
            main.address, context if site.trusted else True, HstsPreload.from_mapping(entries)
        )
    return ours, theirs


@pytest.mark.parametrize("site", SITES, ids=[site.id for site in SITES])
async def test_wk_grades_the_site_as_the_observatory_does(
    site: Site, tmp_path: Path, scan_server: ScanServer
) -> None:
    ours, theirs = await compare(site, tmp_path, scan_server)
    if "error" in theirs:
        assert isinstance(ours, ScanError), f"the scanner refused ({theirs['error']}), wk graded"
        assert str(ours) == theirs["error"]
        return
    assert isinstance(ours, Scorecard), f"wk refused ({ours}), the scanner graded"
    assert theirs["scan"]["algorithmVersion"] == ALGORITHM_VERSION
    problems = differences(ours.as_json(), theirs)
    assert not problems, f"{site.id} ({site.covers}):\n  " + "\n  ".join(problems)
