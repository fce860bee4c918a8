"""Content Security Policy: the effective policy of the headers and meta tags, judged for
script and object sources that defeat it ('unsafe-inline', data:, broad schemes, wildcards),
'unsafe-eval', http: sources on an https page, and style sources, best to worst; a policy
whose only source list is ``default-src 'none'`` earns the most."""

from __future__ import annotations

from typing import Any

from watchkeeper.audit.observatory.charts import Result
from watchkeeper.audit.observatory.csp_parser import (
    DUPLICATES,
    CspError,
    Policy,
    parse_csp,
    parse_csp_meta,
)
from watchkeeper.audit.observatory.jsstring import code_unit_key
from watchkeeper.audit.observatory.model import Outcome, Retrieval

NAME = "content-security-policy"
EXPECTATION = Result.csp_no_unsafe
BROAD = frozenset(
    {"ftp:", "http:", "https:", "*", "http://*", "http://*.*", "https://*", "https://*.*"}
)
INLINE = frozenset({"'unsafe-inline'", "data:"})
BROAD_OR_INLINE = BROAD | INLINE
PASSIVE = ("img-src", "media-src")
NONCE_OR_HASH = ("'sha256-", "'sha384-", "'sha512-", "'nonce-")
PASSING = frozenset(
    {
        EXPECTATION,
        Result.csp_no_unsafe_default_src_none,
        Result.csp_unsafe_inline_style_only,
        Result.csp_insecure_passive_only,
    }
)


def _has_nonce_or_hash(sources: set[str]) -> bool:
    return any(source.startswith(NONCE_OR_HASH) for source in sources)


def _insecure(source: str) -> bool:
    return source.startswith(("http:", "ftp:"))


def run(retrieval: Retrieval) -> Outcome:
    session = retrieval.session
    extra: dict[str, Any] = {
        "data": None,
        "http": False,
        "meta": False,
        "policy": None,
        "numPolicies": 0,
    }
    if session is None or session.response is None:
        return Outcome(Result.csp_missing, False, extra)
    header_policies = session.headers.values_of("content-security-policy")
    meta_policies = list(retrieval.http_equiv.get("content-security-policy", ()))
    extra["numPolicies"] = len(header_policies) + len(meta_policies)
    try:
        csp = parse_csp([*header_policies, *meta_policies])
    except CspError:
        return Outcome(Result.csp_invalid, False, extra)
    try:
        header_only = parse_csp(header_policies)
    except CspError:
        header_only = {}
    try:
        meta_only = parse_csp_meta(meta_policies)
    except CspError:
        meta_only = {}
    if not header_only and not meta_only:
        if session.headers.first("content-security-policy-report-only"):
            return Outcome(Result.csp_report_only, False, extra)
        return Outcome(Result.csp_missing, False, extra)

    extra["http"] = bool(header_policies)
    extra["meta"] = bool(meta_policies)
    result, policy = _judge(csp, header_only, https=session.scheme == "https")
    extra["policy"] = policy
    passed = result in PASSING
    if passed and DUPLICATES in csp:
        result = Result.csp_duplicate_directives
    extra["data"] = {
        directive: sorted(sources, key=code_unit_key)
        for directive, sources in csp.items()
        if directive != DUPLICATES
    }
    return Outcome(result, passed, extra)


def _judge(csp: Policy, header_only: Policy, *, https: bool) -> tuple[Result, dict[str, bool]]:
    """The first (worst) result that applies, and the scanner's policy flags. Source sets are
    shared with ``csp`` (script-src may be default-src itself) and edited in place, as the
    scanner does: what one step removes, later steps and the reported data no longer see."""
    result: Result | None = None
    flags = dict.fromkeys(
        (
            "antiClickjacking",
            "defaultNone",
            "insecureBaseUri",
            "insecureFormAction",
            "insecureSchemeActive",
            "insecureSchemePassive",
            "strictDynamic",
            "unsafeEval",
            "unsafeInline",
            "unsafeInlineStyle",
            "unsafeObjects",
        ),
        False,
    )
    default_src = csp.get("default-src")
    base_uri = csp.get("base-uri", {"*"})
    frame_ancestors = header_only.get("frame-ancestors", {"*"})
    form_action = csp.get("form-action", {"*"})
    object_src = _first(csp.get("object-src"), default_src)
    script_src = _first(csp.get("script-src"), default_src)
    style_src = _first(csp.get("style-src"), default_src)

    for sources in (script_src, style_src):
        if _has_nonce_or_hash(sources) and "'unsafe-inline'" in sources:
            sources.discard("'unsafe-inline'")
    if _has_nonce_or_hash(script_src) and "'strict-dynamic'" in script_src:
        for source in list(script_src):
            if source.startswith(tuple(BROAD)) or source in ("'self'", "'unsafe-inline'"):
                script_src.discard(source)
        flags["strictDynamic"] = True
    elif "'strict-dynamic'" in script_src:
        result = Result.csp_invalid

    active = [
        source
        for directive, sources in csp.items()
        if directive not in PASSIVE and directive != "script-src"
        for source in sources
    ]
    active.extend(script_src)
    passive = [
        source
        for directive in PASSIVE
        for source in _first(csp.get(directive), default_src, fallback=set())
    ]

    if any(source in BROAD_OR_INLINE for source in script_src) or any(
        source in BROAD for source in object_src
    ):
        result = result or Result.csp_unsafe_inline
        flags["unsafeInline"] = True
    if https and any(_insecure(source) for source in active):
        result = result or Result.csp_insecure_scheme
        flags["insecureSchemeActive"] = True
    if "'unsafe-eval'" in script_src or "'unsafe-eval'" in style_src:
        result = result or Result.csp_unsafe_eval
        flags["unsafeEval"] = True
    if https and any(_insecure(source) for source in passive):
        result = result or Result.csp_insecure_passive_only
        flags["insecureSchemePassive"] = True
    if any(source in BROAD_OR_INLINE for source in style_src):
        result = result or Result.csp_unsafe_inline_style_only
        flags["unsafeInlineStyle"] = True
    default_src = csp.get("default-src")
    if default_src is not None and default_src == {"'none'"}:
        result = result or Result.csp_no_unsafe_default_src_none
        flags["defaultNone"] = True
    else:
        result = result or Result.csp_no_unsafe

    flags["antiClickjacking"] = not any(source in BROAD for source in frame_ancestors)
    flags["insecureBaseUri"] = any(source in BROAD_OR_INLINE for source in base_uri)
    flags["insecureFormAction"] = any(source in BROAD for source in form_action)
    flags["unsafeObjects"] = any(source in BROAD for source in object_src)
    return result, flags


def _first(
    own: set[str] | None, default: set[str] | None, *, fallback: set[str] | None = None
) -> set[str]:
    """``own || default || fallback`` with the very set objects (edits show through)."""
    if own is not None:
        return own
    if default is not None:
        return default
    return {"*"} if fallback is None else fallback
