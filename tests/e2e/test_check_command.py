"""``wk check`` end to end: the real command against real local servers."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web as aioweb
from tests.e2e.conftest import write
from tests.helpers import faults
from tests.helpers.certs import CertificateSet
from tests.helpers.cli import wk
from tests.helpers.dns_server import DnsServer
from tests.helpers.servers import RawServer, RefusingPort, WebServer
from tests.helpers.web_app import ProbeTargetServer

PHASES = {"dns", "connect", "tls", "ttfb", "transfer", "total"}


async def test_check_json_reports_ok_failures_and_phases_for_every_kind(
    tmp_path: Path,
    web: ProbeTargetServer,
    https: ProbeTargetServer,
    smtp: RawServer,
    dns_server: DnsServer,
    certificates: CertificateSet,
) -> None:
    config = write(
        tmp_path / "wk.yaml",
        f"""
monitors:
  - name: api
    http: {web.url("/health")}
    expect: ["status == 200", "json.status == 'ok'", "latency < 5s"]
  - name: api-wrong
    http: {web.url("/health")}
    expect: ["status == 201", "json.status == 'down'"]
  - name: secure
    http: {{url: "{https.url("/health", host="localhost")}", ca_file: "{certificates.ca_file}"}}
    expect: ["status == 200", "cert.expires_in > 30d"]
  - name: mail
    tcp: {smtp.address}
    expect: ["tcp.banner contains 'ESMTP'"]
  - name: www
    dns: {{name: www.example.test, resolver: "{dns_server.address}"}}
    expect: ["dns.answers == ['192.0.2.11', '192.0.2.10']"]
""",
    )
    completed = await wk("check", "-c", str(config), "--json")
    assert completed.code == 1, completed.stderr
    results = {r["monitor"]: r for r in completed.json()}
    assert list(results) == ["api", "api-wrong", "secure", "mail", "www"]
    for result in results.values():
        # DESIGN.md's contract, extended with the transfer phase, the HTTP status, when, and
        # the soft (warn:) expectations that failed, and the numbers the check saw
        assert set(result) == {
            *("monitor", "kind", "ok", "latency_ms", "phases", "failures", "error"),
            *("status", "started_at", "warnings", "metrics"),
        }
        assert all(isinstance(v, float) for v in result["metrics"].values())
        assert set(result["phases"]) == PHASES
        assert result["latency_ms"] == result["phases"]["total"] > 0

    assert results["secure"]["metrics"]["cert.expires_in"] > 80 * 86400
    api = results["api"]
    assert (api["kind"], api["ok"], api["failures"], api["error"]) == ("http", True, [], None)
    assert api["phases"]["dns"] is None  # an IP literal needs no lookup
    assert api["phases"]["connect"] > 0 and api["phases"]["ttfb"] > 0
    assert api["phases"]["tls"] is None

    wrong = results["api-wrong"]
    assert wrong["ok"] is False and wrong["error"] is None
    assert wrong["failures"] == [
        "status 200, expected == 201",
        "json.status 'ok', expected == 'down'",
    ]

    secure = results["secure"]
    assert secure["ok"] is True, secure
    assert secure["phases"]["dns"] > 0 and secure["phases"]["tls"] > 0

    mail = results["mail"]
    assert mail["kind"] == "tcp" and mail["ok"] is True and mail["phases"]["connect"] > 0

    www = results["www"]
    assert www["kind"] == "dns" and www["ok"] is True and www["phases"]["dns"] > 0


async def test_check_exits_zero_when_all_pass_and_can_pick_monitors(
    tmp_path: Path, web: ProbeTargetServer
) -> None:
    with RefusingPort() as refusing:
        config = write(
            tmp_path / "wk.yaml",
            f"""
monitors:
  - {{name: good, http: "{web.url("/health")}"}}
  - {{name: gone, http: "{refusing.url("/")}"}}
""",
        )
        everything = await wk("check", "-c", str(config), "--json")
        assert everything.code == 1
        gone = everything.json()[1]
        assert gone["ok"] is False and "connection refused" in gone["error"]
        only_good = await wk("check", "-c", str(config), "--monitor", "good", "--json")
        assert only_good.code == 0
        assert [r["monitor"] for r in only_good.json()] == ["good"]
        table = await wk("check", "-c", str(config))
        assert table.code == 1 and "connection refused" in table.stdout


async def test_check_names_an_unknown_monitor_and_exits_two(tmp_path: Path) -> None:
    config = write(tmp_path / "wk.yaml", "monitors:\n  - {name: api, tcp: '127.0.0.1:1'}\n")
    completed = await wk("check", "-c", str(config), "--monitor", "apl")
    assert completed.code == 2
    assert "no monitor named 'apl' (did you mean 'api'?)" in completed.stderr


async def test_secrets_never_reach_the_output(tmp_path: Path, web: ProbeTargetServer) -> None:
    config = write(
        tmp_path / "wk.yaml",
        f"""
monitors:
  - name: api
    http: "{web.url("/health")}?token=${{TOKEN}}"
    expect: ["body contains '${{TOKEN}}'"]
""",
    )
    completed = await wk("check", "-c", str(config), "--json", env={"TOKEN": "hunter2-secret"})
    assert completed.code == 1
    assert "hunter2-secret" not in completed.stdout + completed.stderr
    assert "***" in completed.json()[0]["failures"][0]


async def test_tables_show_names_as_written(tmp_path: Path, web: ProbeTargetServer) -> None:
    config = write(
        tmp_path / "wk.yaml",
        f"""
monitors:
  - {{name: "db[replica]", http: "{web.url("/health")}"}}
""",
    )
    table = await wk("check", "-c", str(config), env={"COLUMNS": "150"})
    assert table.code == 0 and "db[replica]" in table.stdout


async def test_check_with_a_catastrophic_regex_against_a_real_server_finishes(
    tmp_path: Path,
) -> None:
    """Python's re would take days on each of these patterns with this body (issue 12: one
    such check froze the whole process); on RE2 they are an ordinary pass or fail."""

    async def page(request: aioweb.Request) -> aioweb.Response:
        return aioweb.Response(text="a" * 100_000 + "!")

    app = aioweb.Application()
    app.router.add_get("/", page)
    async with WebServer(app) as server:
        config = write(
            tmp_path / "wk.yaml",
            f"""
monitors:
  - {{name: nested, http: "{server.url()}", expect: ["body matches '(a+)+$'"]}}
  - {{name: alternation, http: "{server.url()}", expect: ["body not matches '(a|aa)+$'"]}}
  - {{name: words, http: "{server.url()}", expect: ["body matches '([a-zA-Z]+)*$'"]}}
""",
        )
        completed = await wk("check", "-c", str(config), "--json")
    assert completed.code == 1, completed.stderr
    results = {r["monitor"]: r for r in completed.json()}
    assert results["nested"]["ok"] is False
    assert results["nested"]["failures"] == [
        "body 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…', "
        "expected matches '(a+)+$'"
    ]
    assert results["alternation"]["ok"] is True and results["words"]["ok"] is True


async def test_check_refuses_a_backreference_with_the_file_and_line(tmp_path: Path) -> None:
    config = write(
        tmp_path / "wk.yaml",
        "monitors:\n  - name: api\n    http: http://127.0.0.1:1/\n"
        "    expect: [\"body matches '(a)\\\\1'\"]\n",
    )
    completed = await wk("check", "-c", str(config))
    assert completed.code == 2
    assert f"{config}:4: monitor 'api': expect[0]" in completed.stderr
    assert "no backreferences" in completed.stderr
    assert "Traceback" not in completed.stderr


async def test_control_characters_a_target_sends_reach_no_terminal_and_no_store(
    tmp_path: Path,
) -> None:
    """A 'Redis' that answers every command with an error holding terminal escapes (clear the
    screen, set the window title) and a right-to-left override: the error is shown, inert."""
    hostile = b"-ERR \x1b[2J\x1b]0;pwned\x07 boom \xe2\x80\xae\r\n"
    async with RawServer(faults.reply(b"\r\n", hostile * 5)) as server:  # any command
        config = write(
            tmp_path / "wk.yaml",
            f'monitors:\n  - {{name: cache, redis: "redis://{server.address}/0", timeout: 2s}}\n',
        )
        table = await wk("check", "-c", str(config))
        as_json = await wk("check", "-c", str(config), "--json")
    assert table.code == as_json.code == 1
    (result,) = as_json.json()
    assert "\\x1b[2J\\x1b]0;pwned\\x07 boom \\u202e" in result["error"]
    for output in (table.stdout, as_json.stdout):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
