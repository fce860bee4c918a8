"""Findings as SARIF 2.1.0, the format code-scanning UIs read (GitHub, GitLab, Azure DevOps).

One run of one tool (Watchkeeper); one rule per ``Finding.rule_id`` (its title and the
recommendation as help), one result per finding with the subject as the location's URI (a
URL for the audit, a monitor or host name otherwise) and a fingerprint of rule and subject,
so a code-scanning UI tracks the same problem across runs while its numbers change.
Severity maps to SARIF levels: critical → error, warning → warning, info → note.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from watchkeeper import __version__
from watchkeeper.findings import Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/watchkeeper/watchkeeper"
_LEVEL = {"critical": "error", "warning": "warning", "info": "note"}
_SECURITY_SEVERITY = {"critical": "8.0", "warning": "5.0", "info": "1.0"}
"""GitHub ranks security results by this property (high ≥ 7, medium ≥ 4, low < 4)."""


def sarif(
    findings: Sequence[Finding],
    *,
    properties: Mapping[str, Any] | None = None,
    errors: Sequence[str] = (),
) -> dict[str, Any]:
    """The SARIF log of ``findings`` (most important first, as given); ``errors`` (targets
    that could not be looked at) become tool notifications and mark the run unsuccessful."""
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for finding in findings:
        rule_id = finding.rule_id
        if rule_id not in rules:
            rules[rule_id] = _rule(rule_id, finding)
        results.append(_result(finding, rule_id, list(rules).index(rule_id)))
    invocation: dict[str, Any] = {"executionSuccessful": not errors}
    if errors:
        invocation["toolExecutionNotifications"] = [
            {"level": "error", "message": {"text": error}} for error in errors
        ]
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "Watchkeeper",
                "version": __version__,
                "informationUri": INFORMATION_URI,
                "rules": list(rules.values()),
            }
        },
        "invocations": [invocation],
        "results": results,
    }
    if properties:
        run["properties"] = dict(properties)
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(rule_id: str, finding: Finding) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in rule_id.replace("/", "-").split("-")),
        "shortDescription": {"text": finding.title},
        "defaultConfiguration": {"level": _LEVEL[finding.severity.value]},
        "properties": {
            "tags": ["security" if finding.source in _SECURITY_SOURCES else finding.source],
            "security-severity": _SECURITY_SEVERITY[finding.severity.value],
        },
    }
    if finding.recommendation:
        rule["help"] = {"text": finding.recommendation}
    return rule


_SECURITY_SOURCES = frozenset({"headers", "tls", "exposure", "cookies"})


def _result(finding: Finding, rule_id: str, index: int) -> dict[str, Any]:
    evidence = ", ".join(f"{k}={v}" for k, v in finding.evidence.items() if v is not None)
    text = finding.title + (f" ({evidence})" if evidence else "")
    if finding.recommendation:
        text += f". Fix: {finding.recommendation}"
    fingerprint = hashlib.sha256(f"{rule_id}\0{finding.subject}".encode()).hexdigest()
    return {
        "ruleId": rule_id,
        "ruleIndex": index,
        "level": _LEVEL[finding.severity.value],
        "message": {"text": text},
        "locations": [
            {
                # a URL or a host has no lines; line 1 is where code-scanning UIs pin it
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(finding.subject)},
                    "region": {"startLine": 1},
                },
                "message": {"text": finding.subject},
            }
        ],
        "partialFingerprints": {"watchkeeperFinding/v1": fingerprint},
        "properties": {"evidence": dict(finding.evidence), "source": finding.source},
    }


def _uri(subject: str) -> str:
    """The subject as a URI reference: a URL stays as it is (its reserved characters kept),
    anything else is percent-encoded ("orders (table)" → "orders%20%28table%29")."""
    if not subject:
        return "."
    if "://" in subject:
        return quote(subject, safe=":/?#[]@!$&'*+,;=%~")
    return quote(subject, safe="")
