"""Findings for people: numbers as they read, SQL in code blocks and prose beside it."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from watchkeeper.findings import Chart, Finding, Severity
from watchkeeper.report.findings import (
    _code_html,
    _code_md,
    _value,
    headline,
    html_report,
    markdown,
    split_fix,
)


def test_values_read_as_numbers_sizes_and_counts() -> None:
    assert _value(98.996) == "98.996"
    assert _value(0.004) == "0.004"
    assert _value(142.0) == "142"
    assert _value(2_500_000.0) == "2,500,000"
    assert _value(12) == "12"
    assert _value(3 * 1024**2, "used_memory_bytes") == "3MiB"
    assert _value("ttfb") == "ttfb"


def test_statements_and_prose_are_told_apart() -> None:
    sql, prose = split_fix(
        "CREATE INDEX CONCURRENTLY ON public.orders (customer_id); With it the plan costs 8."
    )
    assert sql == "CREATE INDEX CONCURRENTLY ON public.orders (customer_id);"
    assert prose == "With it the plan costs 8."
    assert split_fix("Raise maxmemory.") == ("", "Raise maxmemory.")
    two = split_fix("ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();")
    assert two == ("ALTER SYSTEM SET autovacuum = on;\nSELECT pg_reload_conf();", "")
    prose = 'Vacuum it now: VACUUM (VERBOSE) "public"."t"; then watch it.'
    assert split_fix(prose) == ("", prose), "a sentence is not a statement"


FINDING = Finding(
    source="postgres",
    severity=Severity.warning,
    title="Sequential scans on public.orders <200,000 rows>",
    subject="public.orders",
    evidence={"seq_scans": 150, "size_bytes": 10 * 1024**2, "cost_without_index": 3584.5},
    recommendation="CREATE INDEX CONCURRENTLY ON public.orders (customer_id); Then ANALYZE.",
    chart=Chart("orders", "ms", (1.0, 2.0), (3.0, 4.0), 2.0),
)


def test_markdown_and_html_carry_the_sql_as_code() -> None:
    md = markdown([FINDING], [], ["postgres db"])
    assert "```sql\nCREATE INDEX CONCURRENTLY ON public.orders (customer_id);\n```" in md
    assert "Then ANALYZE." in md and "| size_bytes | 10MiB |" in md
    page = html_report([FINDING], [], ["postgres db"], generated=0.0)
    assert (
        "<pre><code>CREATE INDEX CONCURRENTLY ON public.orders (customer_id);</code></pre>" in page
    )
    assert "&lt;200,000 rows&gt;" in page, "titles are escaped"
    assert '"inline":true' in page and 'id="chart0"' in page


def test_everything_from_a_finding_is_escaped_in_html() -> None:
    hostile = "<script>alert(1)</script>"
    finding = Finding(
        source="redis",
        severity=Severity.info,
        title="key " + hostile,
        subject=hostile,
        evidence={hostile: hostile},
        recommendation="Look at " + hostile,
        chart=Chart("<!--<script>", "", (1.0, 2.0), (3.0, 4.0)),
    )
    page = html_report([finding], [hostile], [hostile], generated=0.0)
    body, script = page.split("<script>", 1)[0], page.split("var charts = ", 1)[1]
    assert "<script>alert" not in body and body.count("&lt;script&gt;") >= 5
    assert "<!--" not in script.split(";\n", 1)[0], "the chart data cannot open a comment"


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(["CREATE", "INDEX", "x;", "SELECT", "a;b", ";", "SET", "VACUUM", "\n"]),
        max_size=14,
    ).map(" ".join)
)
def test_statements_in_prose_are_found_as_a_keyword_up_to_a_word_ending_semicolon(
    prose: str,
) -> None:
    expected = re.sub(
        r"\b(?:CREATE|DROP|ALTER|REINDEX|VACUUM|ANALYZE|SELECT|SET|CONFIG|CLUSTER)\b[^;]*?;(?=\s|$)",
        lambda m: f"`{m.group(0)}`",
        prose,
    )
    assert _code_md(prose) == expected


def test_a_long_text_of_keywords_without_a_semicolon_is_marked_up_in_one_pass() -> None:
    # a lazy regex scanned to the end from each keyword: this took hours, not milliseconds
    prose = "SELECT " * 300_000 + "x;y"
    assert _code_md(prose) == prose
    assert "<code>" not in _code_html(prose)


def test_the_headline_counts_one_as_one() -> None:
    def some(severity: Severity, n: int) -> list[Finding]:
        return [Finding("host", severity, f"t{i}", "s", {}, "r") for i in range(n)]

    assert headline(some(Severity.warning, 1)) == "1 warning"
    assert headline(some(Severity.warning, 2) + some(Severity.critical, 1)) == (
        "1 critical, 2 warnings"
    )
    assert headline([], ["redis"]) == "nothing to report; 1 could not be looked at"
