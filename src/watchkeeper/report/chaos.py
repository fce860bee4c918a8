"""A chaos experiment's report (``chaos.verdict.summary``) as plain text, Markdown or HTML."""

from __future__ import annotations

import html
from typing import Any

from watchkeeper.report.html import page, table, tile


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:g} ms"


def verdict_line(found: dict[str, Any]) -> str:
    name = found["experiment"]
    if found["error"]:
        return f"experiment {name}: could not run: {found['error']}"
    if found["interrupted"]:
        return f"experiment {name}: interrupted; every fault rolled back"
    if found["steady_state_before"] is False:
        return f"experiment {name}: the steady state did not hold before; nothing was injected"
    if found["held"]:
        return f"experiment {name}: the steady state HELD"
    return f"experiment {name}: the steady state did NOT hold"


def _monitor_rows(found: dict[str, Any]) -> list[list[str]]:
    rows = []
    for name, seen in found["monitors"].items():
        during = seen["phases"]["during"]
        rows.append(
            [
                name + ("" if seen["hypothesis"] else " (watched)"),
                f"{during['failed']}/{during['checks']}",
                _ms(during["latency_max_ms"]),
                _s(seen["first_failure_after"]),
                _s(seen["detected_after"]),
                _s(seen["recovered_after"]),
                seen["state_at_end"],
            ]
        )
    return rows


MONITOR_HEADERS = [
    "monitor",
    "failed during",
    "slowest during",
    "first failed check",
    "detected",
    "recovered",
    "at end",
]


def lines(found: dict[str, Any]) -> list[str]:
    out = [verdict_line(found)]
    if found["description"]:
        out.append(f"  {found['description']}")
    for reason in found["not_steady"]:
        out.append(f"  not steady before: {reason}")
    for step in found["steps"]:
        at = "" if step["at"] is None else f" at +{step['at']:.1f} s"
        out.append(f"  fault: {step['fault']} for {step['duration']:g} s{at}")
    if found["monitors"]:
        out.append("  monitors (times from the start of the fault):")
        for row in _monitor_rows(found):
            out.append(
                f"    {row[0]}: failed {row[1]} during, slowest {row[2]}, first failed check "
                f"{row[3]}, detected {row[4]}, recovered {row[5]}, now {row[6]}"
            )
    for deviation in found["deviations"]:
        out.append(f"  deviation: {deviation}")
    for breaker in found["fail_fast"]:
        verdict = "held" if breaker["ok"] else "did NOT hold"
        out.append(
            f"  circuit breaker {breaker['monitor']}: {verdict} (slowest check during the "
            f"fault {_ms(breaker['latency_max_ms'])} of {_ms(breaker['latency_bound_ms'])}; "
            f"back {_s(breaker['recovered_after'])} after the rollback, within "
            f"{breaker['recover_within']:g} s)"
        )
    if found["notifications"]:
        for told in found["notifications"]:
            when = "after the run" if told["after_run"] else f"at +{told['at']:.1f} s"
            dry = "would notify" if told["dry_run"] else "notified"
            out.append(f"  {dry} {told['route']} {when}: {told['title']}")
    elif found["steady_state_before"]:
        out.append("  no notification would have gone out")
        for why in found["quiet"]:
            out.append(f"    ({why})")
    for line in found["rollback"]:
        out.append(f"  rollback: {line}")
    return out


def markdown(found: dict[str, Any]) -> str:
    out = [f"# Chaos experiment `{found['experiment']}`", "", f"**{verdict_line(found)}**", ""]
    if found["description"]:
        out += [found["description"], ""]
    for reason in found["not_steady"]:
        out.append(f"- not steady before: {_md(reason)}")
    if found["steps"]:
        out += ["## Method", ""]
        out += [f"- {_md(s['fault'])} for {s['duration']:g} s" for s in found["steps"]]
        out.append("")
    if found["monitors"]:
        out += ["## Monitors", "", "| " + " | ".join(MONITOR_HEADERS) + " |"]
        out.append("|" + "---|" * len(MONITOR_HEADERS))
        out += ["| " + " | ".join(_md(c) for c in row) + " |" for row in _monitor_rows(found)]
        out.append("")
    if found["deviations"]:
        out += ["## Deviations", ""] + [f"- {_md(d)}" for d in found["deviations"]] + [""]
    if found["fail_fast"]:
        out += ["## Circuit breakers", ""]
        for b in found["fail_fast"]:
            out.append(
                f"- {_md(b['monitor'])}: {'held' if b['ok'] else 'did not hold'} (slowest "
                f"{_ms(b['latency_max_ms'])} of {_ms(b['latency_bound_ms'])}, back "
                f"{_s(b['recovered_after'])} after the rollback)"
            )
        out.append("")
    out += ["## Notifications", ""]
    if found["notifications"]:
        for t in found["notifications"]:
            when = "after the run" if t["after_run"] else f"+{t['at']:.1f} s"
            out.append(f"- {_md(t['route'])} ({when}, {t['event']}): {_md(t['title'])}")
    else:
        out.append("- none")
        out += [f"  - {_md(why)}" for why in found["quiet"]]
    return "\n".join(out) + "\n"


def html_report(found: dict[str, Any]) -> str:
    e = html.escape
    tiles = "".join(
        [
            tile(
                "steady state",
                "held" if found["held"] else "did not hold",
                "pass" if found["held"] else "fail",
            ),
            tile("faults", str(len(found["steps"]))),
            tile("notifications", str(len(found["notifications"]))),
        ]
    )
    body = [
        f"<h1>Chaos experiment {e(found['experiment'])}</h1>",
        f"<p>{e(verdict_line(found))}</p>",
        f'<div class="tiles">{tiles}</div>',
    ]
    if found["description"]:
        body.append(f"<p>{e(found['description'])}</p>")
    if found["steps"]:
        body.append(
            "<h2>Method</h2>"
            + table(
                ["fault", "duration"],
                [[e(s["fault"]), f"{s['duration']:g} s"] for s in found["steps"]],
            )
        )
    if found["monitors"]:
        body.append(
            "<h2>Monitors</h2>"
            + table(MONITOR_HEADERS, [[e(c) for c in row] for row in _monitor_rows(found)])
        )
    if found["deviations"] or found["not_steady"]:
        items = "".join(f"<li>{e(d)}</li>" for d in [*found["not_steady"], *found["deviations"]])
        body.append(f"<h2>Deviations</h2><ul>{items}</ul>")
    if found["fail_fast"]:
        body.append(
            "<h2>Circuit breakers</h2>"
            + table(
                ["monitor", "verdict", "slowest during", "bound", "back after"],
                [
                    [
                        e(b["monitor"]),
                        "held" if b["ok"] else "did not hold",
                        _ms(b["latency_max_ms"]),
                        _ms(b["latency_bound_ms"]),
                        _s(b["recovered_after"]),
                    ]
                    for b in found["fail_fast"]
                ],
            )
        )
    told = [
        [
            e(t["route"]),
            e(t["event"]),
            e(t["title"]),
            "after the run" if t["after_run"] else f"+{t['at']:.1f} s",
        ]
        for t in found["notifications"]
    ]
    quiet = "".join(f"<li>{e(why)}</li>" for why in found["quiet"])
    body.append(
        "<h2>Notifications</h2>"
        + (
            table(["route", "event", "title", "when"], told)
            if told
            else f"<p>none</p><ul>{quiet}</ul>"
        )
    )
    if found["findings"]:
        items = "".join(
            f"<li><b>{e(f['severity'])}</b>: {e(f['title'])}. {e(f['recommendation'])}</li>"
            for f in found["findings"]
        )
        body.append(f"<h2>Findings</h2><ul>{items}</ul>")
    return page(
        f"Chaos experiment {found['experiment']}",
        "".join(body),
        [],
        note="Times are seconds from the start of the fault.",
    )


def _md(text: str) -> str:
    text = html.escape(str(text), quote=False)
    return text.replace("|", "\\|").replace("\n", " ")
