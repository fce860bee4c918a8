"""Leak probes against real nginx sites: each leak found once with its rule, and nothing found
on sites that answer every path with the same page or hide their dotfiles."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from tests.helpers.nginx import Nginx

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.exposure import exposure, site_leaks
from watchkeeper.findings import Severity

SECRET = "hunter2-do-not-show"


def _fill_leaky_root(root: Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".git" / "config").write_text("[core]\n\trepositoryformatversion = 0\n")
    (root / ".env").write_text(
        f"# production\nDATABASE_URL=postgres://app:{SECRET}@db/app\nSECRET_KEY={SECRET}\n"
        "export DEBUG=false\n"
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("site/index.php", "<?php echo 1;")
    (root / "backup.zip").write_bytes(archive.getvalue())
    (root / "db.sql").write_text("-- MySQL dump 10.13\nCREATE TABLE users (id int);\n")
    (root / "index.php~").write_text("<?php $password = 'x'; ?>")
    (root / "uploads").mkdir()
    (root / "uploads" / "cv.pdf").write_bytes(b"%PDF-1.4")
    (root / "index.html").write_text("<!doctype html><title>Shop</title><p>Welcome</p>")


async def test_a_leaky_site_gives_each_leak_once_with_its_rule(tmp_path: Path) -> None:
    site = Nginx(
        tmp_path,
        """
        server {{
            listen {address}:{http_port};
            root {root};
            location /uploads/ {{ autoindex on; }}
            location = /nginx_status {{ stub_status; }}
        }}
        """,
    )
    _fill_leaky_root(site.root)
    with site:
        async with Fetcher(timeout=5, allowed_hosts=frozenset({site.address})) as fetch:
            findings = await site_leaks(site.url("/"), fetch=fetch)
    rules = sorted(f.rule for f in findings)
    assert rules == [
        "backup-exposed",
        "directory-listing",
        "env-exposed",
        "git-exposed",
        "source-exposed",
        "stub-status-exposed",
    ]
    by_rule = {f.rule: f for f in findings}
    assert by_rule["git-exposed"].severity == Severity.critical
    assert by_rule["git-exposed"].evidence["shows"] == "ref: refs/heads/main"
    assert by_rule["env-exposed"].evidence["shows"].startswith("3 variables (DATABASE_URL")
    assert by_rule["directory-listing"].subject == site.url("/uploads/")
    assert by_rule["stub-status-exposed"].severity == Severity.warning
    assert "stub_status" in by_rule["stub-status-exposed"].recommendation
    assert all(f.source == "exposure" for f in findings)
    assert SECRET not in repr([f.as_json() for f in findings])


async def test_a_catch_all_site_is_not_a_leak_whatever_its_page_says(tmp_path: Path) -> None:
    # a single-page app: every path answers 200 with index.html, which happens to hold
    # KEY=VALUE lines and a Git ref in its text
    site = Nginx(
        tmp_path,
        """
        server {{
            listen {address}:{http_port};
            root {root};
            location / {{ try_files $uri /index.html; }}
        }}
        """,
    )
    (site.root / "index.html").write_text(
        "<!doctype html><html><body><pre>\nAPI_URL=/api\nTHEME=dark\nref: refs/heads/main\n"
        "Index of /\n</pre><script>PK</script></body></html>"
    )
    with site:
        async with Fetcher(timeout=5, allowed_hosts=frozenset({site.address})) as fetch:
            probe = await fetch.get(site.url("/.env"))
            findings = await site_leaks(site.url("/"), fetch=fetch)
    assert probe.status == 200  # the trap is real: /.env answers 200
    assert findings == []


async def test_a_catch_all_plain_answer_that_looks_like_a_leak_is_dismissed(
    tmp_path: Path,
) -> None:
    # every path answers exactly what a .git/HEAD holds: only the comparison with an
    # impossible path tells it apart
    site = Nginx(
        tmp_path,
        """
        server {{
            listen {address}:{http_port};
            default_type text/plain;
            location / {{ return 200 "ref: refs/heads/main\\n"; }}
        }}
        """,
    )
    with site:
        async with Fetcher(timeout=5, allowed_hosts=frozenset({site.address})) as fetch:
            probe = await fetch.get(site.url("/.git/HEAD"))
            findings = await site_leaks(site.url("/"), fetch=fetch)
    assert probe.text == "ref: refs/heads/main\n"
    assert findings == []


async def test_a_site_that_denies_dotfiles_and_backups_gives_nothing(tmp_path: Path) -> None:
    # the very lines the findings recommend
    site = Nginx(
        tmp_path,
        """
        server {{
            listen {address}:{http_port};
            root {root};
            location ~ /\\.git {{ deny all; }}
            location ~ /\\.env {{ deny all; }}
            location ~* \\.(bak|sql|zip|tar\\.gz)$|~$ {{ deny all; }}
        }}
        """,
    )
    _fill_leaky_root(site.root)
    with site:
        async with Fetcher(timeout=5, allowed_hosts=frozenset({site.address})) as fetch:
            findings = await exposure(site.url("/"), fetch=fetch)
    assert findings == []


async def test_exposure_follows_the_site_to_https_before_probing(tmp_path: Path) -> None:
    site = Nginx(
        tmp_path,
        """
        server {{
            listen {address}:{http_port};
            return 301 https://{address}:{https_port}$request_uri;
        }}
        server {{
            listen {address}:{https_port} ssl;
            ssl_certificate {cert};
            ssl_certificate_key {key};
            root {root};
        }}
        """,
    )
    (site.root / ".env").write_text("A=1\nB=2\n")
    with site:
        import ssl

        context = ssl.create_default_context(cafile=str(site.ca_file))
        async with Fetcher(
            timeout=5, tls=context, allowed_hosts=frozenset({site.address})
        ) as fetch:
            findings = await site_leaks(site.url("/"), fetch=fetch)
    assert [(f.rule, f.subject) for f in findings] == [
        ("env-exposed", site.url("/.env", https=True))
    ]
