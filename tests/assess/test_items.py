"""Ranking: risk × impact ÷ effort, and the baseline comparison, on hand-made findings."""

from __future__ import annotations

from typing import Any

from watchkeeper.assess.baseline import compare
from watchkeeper.assess.items import item, rank
from watchkeeper.findings import Finding, Severity


def _finding(source: str, severity: Severity, title: str, **evidence: Any) -> Finding:
    return Finding(source=source, severity=severity, title=title, subject=title, evidence=evidence)


def test_an_outage_a_restart_fixes_ranks_before_a_warning_that_needs_a_rewrite() -> None:
    outage = item(_finding("status", Severity.critical, "api is down"))
    drift = item(_finding("drift", Severity.warning, "api got slower"))
    header = item(_finding("headers", Severity.warning, "no CSP"))
    saving = item(_finding("cost", Severity.warning, "box is oversized", monthly_saving=40))
    assert (outage.risk, outage.impact, outage.effort) == (3, 3, 2)
    assert outage.score == 4.5
    assert drift.score == round(2 * 2 / 3, 2)
    assert header.score == 4.0  # a warning fixed in an hour beats a slow-down to find in code
    assert saving.score == 1.0
    ordered = rank([saving, drift, header, outage])
    assert [i.finding.title for i in ordered] == [
        "api is down",
        "no CSP",
        "api got slower",
        "box is oversized",
    ]


def test_a_big_saving_and_a_critical_hole_weigh_more() -> None:
    small = item(_finding("cost", Severity.warning, "a", monthly_saving=99.0))
    big = item(_finding("cost", Severity.warning, "b", monthly_saving=100.0))
    assert (small.impact, big.impact) == (1, 2)
    warning = item(_finding("tls", Severity.warning, "weak cipher"))
    critical = item(_finding("tls", Severity.critical, "expired certificate"))
    assert (warning.impact, critical.impact) == (2, 3)


def test_an_items_key_survives_its_numbers_changing() -> None:
    one = item(_finding("status", Severity.warning, "api", uptime_pct=99.5))
    two = item(
        Finding(
            source="status",
            severity=Severity.critical,
            title="api",
            subject="api",
            evidence={"uptime_pct": 98.0},
        )
    )
    assert one.key == two.key
    other = item(_finding("status", Severity.warning, "web"))
    assert other.key != one.key


def _report(items: list[Any], **facts: Any) -> dict[str, Any]:
    covered = ["status:status", "audit:/monitors/site"]
    return {"generated": 1000.0, "items": items, "facts": facts, "covered": covered}


def _entry(key: str, severity: str, title: str, scope: str = "status:status") -> dict[str, Any]:
    return {"key": key, "scope": scope, "finding": {"severity": severity, "title": title}}


def test_the_comparison_says_what_regressed_and_what_improved() -> None:
    before = _report(
        [
            _entry("a", "critical", "db is down"),
            _entry("b", "warning", "no CSP"),
            _entry("d", "warning", "weak TLS", scope="audit:wk audit https://x/"),
        ],
        status={
            "monitors": {
                "api": {"uptime_pct": 99.0, "latency_p95_ms": 100.0},
                "web": {"uptime_pct": 100.0, "latency_p95_ms": 50.0},
            },
            "slos": {"checkout": {"budget_remaining_pct": 80.0}},
        },
        audit={"grades": {"site": {"grade": "C"}}},
        capacity={"sustainable_rps": 400.0},
        cost={"monthly_cost": 300.0},
    )
    now = _report(
        [_entry("b", "critical", "no CSP"), _entry("c", "warning", "cache evicts keys")],
        status={
            "monitors": {
                "api": {"uptime_pct": 100.0, "latency_p95_ms": 300.0},
                "web": {"uptime_pct": 100.0, "latency_p95_ms": 52.0},
            },
            "slos": {"checkout": {"budget_remaining_pct": 40.0}},
        },
        audit={"grades": {"site": {"grade": "A"}}},
        capacity={"sustainable_rps": 390.0},
        cost={"monthly_cost": 200.0},
    )
    found = compare(now, before)
    regressed = {c.what for c in found.regressed}
    improved = {c.what for c in found.improved}
    assert regressed == {
        "warning → critical: no CSP",
        "new warning: cache evicts keys",
        "p95 latency of api 100 ms → 300 ms",
        "error budget of checkout 80 % → 40 % left",
    }
    assert improved == {
        "gone: critical: db is down",
        "uptime of api 99.00 % → 100.00 %",
        "audit grade of site C → A",
        "monthly cost 300 → 200",
    }
    # web's p95 moved 2 ms and the rate 2.5 %: noise, not a change; the audit of --target
    # was not run again, so its finding is not "gone"
    assert found.since == 1000.0
    assert compare(now, now).changes == []


def test_the_markdown_and_text_reports_escape_and_rank() -> None:
    from watchkeeper.assess.baseline import Change, Comparison
    from watchkeeper.assess.gather import Section
    from watchkeeper.assess.render import markdown, text
    from watchkeeper.assess.run import Assessment

    hostile = _finding("headers", Severity.warning, "no CSP on <b>|x|</b>")
    fix = Finding(
        source="headers",
        severity=Severity.warning,
        title="t",
        subject="s",
        recommendation="Send it.\nnginx: add_header X-Frame-Options DENY;",
    )
    status = Section("status", facts={"monitors": {"api": {"state": "up", "uptime_pct": 99.5}}})
    report = Assessment(
        0.0,
        86400.0,
        rank(
            [
                item(hostile, "/monitors/site"),
                item(fix),
                item(_finding("status", Severity.critical, "api is down")),
            ]
        ),
        [status, Section("cost", skipped="no prices")],
    )
    comparison = Comparison(0.0, [Change("improved", "gone: critical: db is down")])
    md = markdown(report, comparison)
    assert md.index("api is down") < md.index("no CSP")
    assert "no CSP on \\<b\\>\\|x\\|\\</b\\>" in md  # a table or tag cannot be injected
    assert "     nginx: add_header X-Frame-Options DENY;" in md  # the fix's code, in a block
    assert "| monitor api | up, up 99.500 % |" in md
    assert "- cost: no prices" in md
    assert "- ▲ improved: gone: critical: db is down" in md
    shown = text(report, comparison)
    assert "  1. ✗ critical [availability] api is down" in shown
    assert "         nginx: add_header X-Frame-Options DENY;" in shown
