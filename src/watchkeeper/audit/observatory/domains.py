"""Registrable domains (the Public Suffix List, as shipped in the ``publicsuffixlist`` package:
nothing is fetched) and IP literals, as the scanner's libraries see them."""

from __future__ import annotations

import ipaddress
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publicsuffixlist import PublicSuffixList

SPECIAL_USE = ("local", "example", "invalid", "localhost", "test")
"""RFC 6761 names a cookie library treats as suffixes of their own."""


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@cache
def _list(icann_only: bool) -> PublicSuffixList:
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList(only_icann=icann_only)


def registrable_domain(host: str, *, icann_only: bool = True) -> str | None:
    """The domain one level below the public suffix (``a.b.example.co.uk`` ->
    ``example.co.uk``); None for an IP address, a bare suffix or a malformed name. The
    Observatory's SRI test compares these with ICANN suffixes only; cookies use private
    suffixes too (``github.io``)."""
    name = host.strip().rstrip(".").lower()
    if not name or is_ip(name) or len(name) > 253:
        return None
    labels = name.split(".")
    if any(not label or len(label) > 63 or label[0] == "-" or label[-1] == "-" for label in labels):
        return None
    found: str | None = _list(icann_only).privatesuffix(name)
    return found


def cookie_domain_suffix(domain: str) -> str | None:
    """What a cookie library takes as the registrable part of a cookie's Domain attribute,
    None when the attribute names a public suffix (or an IP address): such a cookie is
    dropped."""
    labels = domain.split(".")
    top = labels[-1]
    if top in SPECIAL_USE:
        if len(labels) > 1:
            return f"{labels[-2]}.{top}"
        if top in ("localhost", "invalid"):
            return top
    return registrable_domain(domain, icann_only=False)
