"""SARIF output, held against Microsoft's SARIF multitool (its schema and rule checks)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from watchkeeper.findings import Finding, Severity
from watchkeeper.report.sarif import sarif

ORACLE = Path(__file__).parents[1] / "oracles" / "sarif"
MULTITOOL = ORACLE / "node_modules" / "@microsoft" / "sarif-multitool-linux" / "Sarif.Multitool"

FINDINGS = [
    Finding(
        "headers",
        Severity.critical,
        "Content Security Policy (CSP) header not implemented",
        "https://shop.example.test/",
        {"modifier": -25, "header": None},
        "Send Content-Security-Policy: default-src 'self'; nginx: add_header "
        "Content-Security-Policy \"default-src 'self'\" always;",
        rule="csp-not-implemented",
    ),
    Finding(
        "tls",
        Severity.warning,
        "TLS 1.0 offered",
        "shop.example.test:443",
        {"protocol": "TLSv1"},
        "ssl_protocols TLSv1.2 TLSv1.3;",
        rule="tls-1.0-offered",
    ),
    Finding(
        "tls",
        Severity.warning,
        "TLS 1.0 offered",
        "api.example.test:443",
        {"protocol": "TLSv1"},
        "ssl_protocols TLSv1.2 TLSv1.3;",
        rule="tls-1.0-offered",
    ),
    Finding(  # no rule: derived from the title; hostile text survives as data
        "exposure",
        Severity.info,
        'Directory listing at /backup/ "<script>" ünïcödé\nsecond line',
        "orders (table) 100%",
        {},
    ),
]


def _validate(log: dict[str, object], tmp_path: Path) -> list[dict[str, object]]:
    if not MULTITOOL.exists():
        pytest.fail(
            f"the SARIF oracle is not installed: run `npm ci --ignore-scripts --prefix {ORACLE}` "
            "(.ci/run does)",
            pytrace=False,
        )
    if not os.access(MULTITOOL, os.X_OK):  # npm --ignore-scripts leaves it unexecutable
        MULTITOOL.chmod(0o755)
    given = tmp_path / "wk.sarif"
    given.write_text(json.dumps(log))
    out = tmp_path / "validation.sarif"
    env = dict(os.environ, DOTNET_SYSTEM_GLOBALIZATION_INVARIANT="1")
    done = subprocess.run(
        [str(MULTITOOL), "validate", str(given), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    return [r for run in report["runs"] for r in run.get("results", [])]


def test_the_log_passes_the_multitools_schema_and_rule_checks(tmp_path: Path) -> None:
    problems = _validate(
        sarif(FINDINGS, errors=["https://down.example.test/: connection refused"]), tmp_path
    )
    assert [
        (p["ruleId"], p.get("level"), p["message"].get("arguments"))
        for p in problems
        if p.get("level", "warning") in ("error", "warning")  # SARIF's default level
    ] == []


def test_the_validator_does_reject_a_broken_log(tmp_path: Path) -> None:
    # the oracle can fail: a result whose message is a bare string breaks the schema
    log = sarif(FINDINGS)
    log["runs"][0]["results"][0]["message"] = "bare string"  # type: ignore[index]
    problems = _validate(log, tmp_path)
    assert any(p.get("level") == "error" for p in problems)


def test_rules_are_shared_and_levels_follow_severity() -> None:
    log = sarif(FINDINGS)
    run = log["runs"][0]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert rules == [
        "headers/csp-not-implemented",
        "tls/tls-1.0-offered",
        "exposure/directory-listing-at-backup-script-ünïcödé-second-line",
    ]
    results = run["results"]
    assert [r["level"] for r in results] == ["error", "warning", "warning", "note"]
    assert [r["ruleIndex"] for r in results] == [0, 1, 1, 2]
    assert results[1]["partialFingerprints"] != results[2]["partialFingerprints"]
    assert results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "orders%20%28table%29%20100%25"
    )
    assert run["invocations"] == [{"executionSuccessful": True}]
