"""Keep secrets out of what Watchkeeper prints, logs, stores and serves.

A secret is any value the config took from ``${VAR}`` or ``${file:...}``. Redaction happens
before text is shortened or quoted, so neither a cut-off prefix nor an escaped form of a
secret can slip through.
"""

from __future__ import annotations

from collections.abc import Collection

MASK = "***"


def redact(text: str, secrets: Collection[str]) -> str:
    """Replace every secret in ``text`` with ``***`` (longest first)."""
    if not secrets:
        return text
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
