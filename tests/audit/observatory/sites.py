"""The nginx sites the Observatory oracle tests (and bench/observatory_agreement.py) grade: each
case names what it covers, the directives of its port-80 and port-443 servers, its page and
any other files, and whether its address is on the HSTS preload list."""

from __future__ import annotations

from dataclasses import dataclass, field

PAGE = "<!doctype html><html><head><title>t</title></head><body>hello</body></html>"
REDIRECT = "return 301 https://$host$request_uri;"
HSTS = 'add_header Strict-Transport-Security "max-age=63072000; includeSubDomains" always;'
NOSNIFF = "add_header X-Content-Type-Options nosniff always;"
DENY = "add_header X-Frame-Options DENY always;"
STRICT_CSP = (
    "add_header Content-Security-Policy \"default-src 'none'; img-src 'self'; script-src "
    "'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\" "
    "always;"
)
GOOD = " ".join(
    [
        HSTS,
        STRICT_CSP,
        NOSNIFF,
        DENY,
        "add_header Referrer-Policy no-referrer always;",
        "add_header Cross-Origin-Resource-Policy same-origin always;",
        'add_header Set-Cookie "__Host-session=1; Path=/; Secure; HttpOnly; SameSite=Strict" '
        "always;",
    ]
)
PREFLIGHT_OK = "if ($request_method = OPTIONS) { return 204; }"
"""Answer preflights (nginx refuses OPTIONS on static files with 405)."""
BASE = " ".join([HSTS, NOSNIFF, DENY])
"""What a case adds its own header to: HSTS, nosniff, X-Frame-Options."""


def csp(policy: str) -> str:
    return f'add_header Content-Security-Policy "{policy}" always;'


def cookie(value: str) -> str:
    return f'add_header Set-Cookie "{value}" always;'


def page_with(head: str = "", body: str = "") -> str:
    return f"<!doctype html><html><head>{head}<title>t</title></head><body>{body}</body></html>"


@dataclass(frozen=True)
class Site:
    id: str
    covers: str
    http: str | None = REDIRECT
    """Directives of the port-80 server (None: nothing listens on 80). ``OTHER`` stands for
    the second site's address."""
    https: str | None = BASE
    """Directives of the port-443 server (None: nothing listens on 443)."""
    page: str = PAGE
    files: dict[str, str] = field(default_factory=dict)
    preloaded: bool = False
    trusted: bool = True
    """Whether both graders are given the site's CA (else its certificate does not verify)."""
    other_https: str | None = None
    """Directives of a second site's port-443 server, on an address of its own."""


SITES: tuple[Site, ...] = (
    Site(
        "bare", "no security header at all, http and https both serve the page", http="", https=""
    ),
    Site(
        "a-plus",
        "the full set: redirect, HSTS, strict CSP, nosniff, XFO, referrer, CORP, a __Host- cookie",
        https=GOOD,
    ),
    Site(
        "csp-unsafe-inline",
        "CSP script-src 'unsafe-inline'",
        https=f"{BASE} " + csp("default-src 'self'; script-src 'self' 'unsafe-inline'"),
    ),
    Site(
        "csp-unsafe-eval",
        "CSP script-src 'unsafe-eval'",
        https=f"{BASE} " + csp("default-src 'self'; script-src 'self' 'unsafe-eval'"),
    ),
    Site(
        "csp-strict-dynamic-nonce",
        "strict-dynamic with a nonce discards 'unsafe-inline' and https:",
        https=f"{BASE} "
        + csp(
            "object-src 'none'; base-uri 'none'; script-src 'nonce-abc123' 'strict-dynamic' "
            "'unsafe-inline' https:"
        ),
    ),
    Site(
        "csp-strict-dynamic-alone",
        "strict-dynamic without a nonce or hash is invalid",
        https=f"{BASE} " + csp("default-src 'self'; script-src 'strict-dynamic'"),
    ),
    Site(
        "csp-default-none",
        "default-src 'none' earns the most",
        https=f"{BASE} " + csp("default-src 'none'"),
    ),
    Site(
        "csp-meta",
        "a policy in a meta tag only; its frame-ancestors does not count as a header's",
        https=BASE,
        page=page_with(
            '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'; '
            "frame-ancestors 'none'\">"
        ),
    ),
    Site(
        "csp-meta-only-forbidden",
        "a meta policy of only frame-ancestors is no policy",
        https=BASE,
        page=page_with(
            '<meta http-equiv="content-security-policy" content="frame-ancestors \'none\'">'
        ),
    ),
    Site(
        "csp-two-headers",
        "two CSP headers arrive joined by a comma",
        https=f"{BASE} " + csp("default-src 'self'") + " " + csp("img-src 'self'"),
    ),
    Site(
        "csp-header-and-meta",
        "header and meta policies merged (a source must be in both)",
        https=f"{BASE} " + csp("default-src 'self' https://cdn.example; object-src 'none'"),
        page=page_with(
            '<meta http-equiv="Content-Security-Policy" content="default-src https://cdn.example">'
        ),
    ),
    Site(
        "csp-report-only",
        "only Content-Security-Policy-Report-Only",
        https=f"{BASE} add_header Content-Security-Policy-Report-Only \"default-src 'self'\" "
        "always;",
    ),
    Site(
        "csp-insecure-scheme",
        "an https site allowing http: scripts",
        https=f"{BASE} " + csp("default-src 'self'; script-src 'self' http://cdn.example"),
    ),
    Site(
        "csp-insecure-passive",
        "an https site allowing http: images only",
        https=f"{BASE} " + csp("default-src 'self'; img-src 'self' http://img.example"),
    ),
    Site(
        "csp-duplicate-directive",
        "a directive repeated makes the policy invalid",
        https=f"{BASE} " + csp("default-src 'self'; script-src 'self'; script-src 'none'"),
    ),
    Site(
        "csp-duplicate-report-uri",
        "report-uri repeated only costs the bonus",
        https=f"{BASE} " + csp("default-src 'self'; report-uri /a; report-uri /b"),
    ),
    Site(
        "csp-style-inline",
        "'unsafe-inline' for styles only passes without the bonus",
        https=f"{BASE} " + csp("default-src 'self'; style-src 'self' 'unsafe-inline'"),
    ),
    Site(
        "csp-broad-object",
        "object-src falls back to a default-src of https:",
        https=f"{BASE} " + csp("default-src https:; script-src 'self'"),
    ),
    Site(
        "cookie-session-bare",
        "a session cookie without Secure or HttpOnly",
        https=f"{BASE} " + cookie("sessionid=abc; Path=/"),
    ),
    Site(
        "cookie-session-no-httponly",
        "a Secure session cookie without HttpOnly",
        https=f"{BASE} " + cookie("login_token=abc; Path=/; Secure"),
    ),
    Site(
        "cookie-insecure-no-hsts",
        "a plain cookie without Secure and no HSTS",
        https=f"{NOSNIFF} {DENY} " + cookie("theme=dark; Path=/"),
    ),
    Site(
        "cookie-samesite-variants",
        "SameSite Strict, Lax and None (with Secure): bonus",
        https=f"{BASE} "
        + cookie("a=1; Path=/; Secure; SameSite=Strict")
        + " "
        + cookie("b=2; Path=/; Secure; SameSite=Lax")
        + " "
        + cookie("c=3; Path=/; Secure; SameSite=None"),
    ),
    Site(
        "cookie-samesite-invalid",
        "SameSite with an unknown value",
        https=f"{BASE} " + cookie("a=1; Path=/; Secure; SameSite=Bogus"),
    ),
    Site(
        "cookie-samesite-none-insecure",
        "SameSite=None without Secure",
        https=f"{BASE} " + cookie("a=1; Path=/; SameSite=None"),
    ),
    Site(
        "cookie-host-prefix",
        "a __Host- cookie breaking its rule is dropped; a CSRF cookie without SameSite",
        https=f"{BASE} "
        + cookie("__Host-bad=1; Path=/app; Secure")
        + " "
        + cookie("csrftoken=x; Path=/; Secure"),
    ),
    Site(
        "cookie-robots-only",
        "a cookie set only on /robots.txt is not graded (verified)",
        https=f"{BASE} location = /robots.txt {{ {HSTS} " + cookie("sessrobot=1") + " "
        "return 200 'ok'; }",
        files={"robots.txt": "User-agent: *\n"},
    ),
    Site(
        "cors-refused-preflight",
        "Access-Control-Allow-Origin on a preflight answered 405 does not count",
        https=f"{BASE} add_header Access-Control-Allow-Origin * always;",
    ),
    Site(
        "cors-public",
        "Access-Control-Allow-Origin: *",
        https=f"{BASE} {PREFLIGHT_OK} add_header Access-Control-Allow-Origin * always;",
    ),
    Site(
        "cors-reflect-credentials",
        "the request's Origin echoed back with credentials",
        https=f"{BASE} {PREFLIGHT_OK} add_header Access-Control-Allow-Origin $http_origin always; "
        "add_header Access-Control-Allow-Credentials true always;",
    ),
    Site("no-https", "http only: no redirect, no HSTS possible", https=None, http=f"{NOSNIFF}"),
    Site(
        "redirect-http-first",
        "http redirects to another http page before https",
        http="location = / { return 302 http://$host/next; } "
        "location = /next { return 301 https://$host/; }",
    ),
    Site(
        "redirect-off-host",
        "http redirects to https on another host first",
        http="return 301 https://OTHER/;",
        other_https=BASE,
    ),
    Site(
        "redirect-to-http",
        "http redirects but never reaches https",
        http="location = / { return 301 http://$host/plain; } location = /plain { "
        "return 200 'plain'; }",
    ),
    Site("no-redirect", "http serves the page instead of redirecting", http=""),
    Site(
        "hsts-short",
        "HSTS max-age of a day",
        https=f"{NOSNIFF} {DENY} add_header Strict-Transport-Security max-age=86400 always;",
    ),
    Site(
        "hsts-no-max-age",
        "HSTS without max-age",
        https=f"{NOSNIFF} {DENY} add_header Strict-Transport-Security includeSubDomains always;",
    ),
    Site(
        "hsts-twice", "HSTS sent twice reads as set twice", https=f"{NOSNIFF} {DENY} {HSTS} {HSTS}"
    ),
    Site(
        "hsts-nan",
        "HSTS max-age that is not a number (the scanner lets it pass)",
        https=f"{NOSNIFF} {DENY} add_header Strict-Transport-Security max-age=soon always;",
    ),
    Site(
        "hsts-preloaded",
        "a preloaded host: HSTS and redirection excused",
        http="",
        https=f"{NOSNIFF} {DENY}",
        preloaded=True,
    ),
    Site(
        "xfo-via-csp",
        "CSP frame-ancestors instead of X-Frame-Options",
        https=f"{HSTS} {NOSNIFF} " + csp("default-src 'self'; frame-ancestors 'self'"),
    ),
    Site(
        "xfo-invalid",
        "X-Frame-Options with a bogus value, sent twice",
        https=f"{HSTS} {NOSNIFF} add_header X-Frame-Options DENY always; "
        "add_header X-Frame-Options SAMEORIGIN always;",
    ),
    Site(
        "xfo-allow-from",
        "X-Frame-Options ALLOW-FROM",
        https=f'{HSTS} {NOSNIFF} add_header X-Frame-Options "ALLOW-FROM https://a.example" always;',
    ),
    Site(
        "referrer-unsafe",
        "Referrer-Policy unsafe-url",
        https=f"{BASE} add_header Referrer-Policy unsafe-url always;",
    ),
    Site(
        "referrer-last-wins",
        "several values: the last known one counts",
        https=f'{BASE} add_header Referrer-Policy "no-referrer, bogus, unsafe-url, '
        'strict-origin" always;',
    ),
    Site(
        "referrer-meta",
        "a meta referrer overrides the header",
        https=f"{BASE} add_header Referrer-Policy unsafe-url always;",
        page=page_with('<meta name="referrer" content="same-origin">'),
    ),
    Site(
        "referrer-invalid",
        "a Referrer-Policy nobody knows",
        https=f"{BASE} add_header Referrer-Policy everything always;",
    ),
    Site(
        "sri-external-secure-no-integrity",
        "a third-party script over https, no hash",
        page=page_with('<script src="https://cdn.example.net/lib.js"></script>'),
    ),
    Site(
        "sri-external-integrity",
        "a third-party script over https with a hash",
        page=page_with(
            '<script src="https://cdn.example.net/lib.js" '
            'integrity="sha384-abc" crossorigin="anonymous"></script>'
        ),
    ),
    Site(
        "sri-external-http",
        "a third-party script over http, no hash",
        page=page_with('<script src="http://cdn.example.net/lib.js"></script>'),
    ),
    Site(
        "sri-protocol-relative",
        "a protocol-relative third-party script with a hash",
        page=page_with('<script src="//cdn.example.net/lib.js" integrity="sha384-x"></script>'),
    ),
    Site(
        "sri-same-origin",
        "same-origin scripts, one hashed, one inline",
        page=page_with(
            '<script src="/app.js" integrity="sha256-x"></script><script>var a = 1;</script>'
        ),
    ),
    Site(
        "nosniff-invalid",
        "X-Content-Type-Options with a wrong value",
        https=f"{HSTS} {DENY} add_header X-Content-Type-Options sniff-away always;",
    ),
    Site(
        "corp-same-site",
        "Cross-Origin-Resource-Policy same-site",
        https=f"{BASE} add_header Cross-Origin-Resource-Policy same-site always;",
    ),
    Site(
        "corp-invalid",
        "Cross-Origin-Resource-Policy with an unknown value",
        https=f"{BASE} add_header Cross-Origin-Resource-Policy everyone always;",
    ),
    Site(
        "untrusted-cert",
        "a certificate neither grader trusts: graded without it, and the "
        "robots.txt cookie now counts",
        https=f"{BASE} location = /robots.txt {{ {HSTS} "
        f"" + cookie("sessrobot=1") + " return 200 'ok'; }",
        trusted=False,
    ),
    Site(
        "redirect-loop",
        "http redirects to itself and https to itself: both chains stop after 10 hops",
        http="return 301 http://$host/;",
        https=f"{BASE} location = / {{ {HSTS} return 302 https://$host/; }}",
    ),
    Site(
        "https-only",
        "nothing on port 80: no redirect needed",
        http=None,
        https=GOOD,
    ),
    Site(
        "cookie-quirks",
        "a cookie for a Domain that is an IP address is dropped, a deleted (Max-Age=0) "
        "session cookie is still graded, a cookie on the http redirect is not",
        http=REDIRECT + " " + cookie("httponlyredirect=1"),
        https=f"{BASE} "
        + cookie("ipdomain=1; Path=/; Secure; Domain=$host")
        + " "
        + cookie("oldsession=; Path=/; Max-Age=0"),
    ),
    Site(
        "csp-nonce-unsafe-inline",
        "a nonce makes 'unsafe-inline' ignored, without strict-dynamic too",
        https=f"{BASE} "
        + csp("default-src 'self'; script-src 'self' 'nonce-r4nd0m' 'unsafe-inline'"),
    ),
    Site(
        "csp-case-and-short",
        "directives and sources in capitals; a second, too short policy in a meta tag",
        https=f"{BASE} " + csp("DEFAULT-SRC 'SELF'; Script-Src 'Unsafe-Inline'"),
        page=page_with('<meta http-equiv="content-security-policy" content="a">'),
    ),
    Site(
        "csp-with-report-only",
        "an enforced policy and a report-only one: only the enforced counts",
        https=f"{BASE} "
        + csp("default-src 'none'")
        + ' add_header Content-Security-Policy-Report-Only "default-src *" always;',
    ),
    Site(
        "sri-base-href",
        "a <base href> makes relative scripts absolute (another site's, for the grader)",
        page=page_with('<base href="https://cdn.example.net/"><script src="/app.js"></script>'),
    ),
    Site(
        "sri-in-template-and-comment",
        "scripts inside <template> and comments are not the page's",
        page=page_with(
            '<template><script src="http://evil.example/a.js"></script></template>'
            '<!-- <script src="http://evil.example/b.js"></script> -->'
        ),
    ),
    Site(
        "json-string-page",
        "a body that parses as a JSON string is read as that string's HTML (the scanner's "
        "HTTP library parses JSON bodies)",
        page='"<script src=\\"http://evil.example/a.js\\"></script>"',
    ),
    Site(
        "json-object-page",
        "a body that parses as a JSON object has no scripts to grade",
        page='{"html": "<script src=\\"http://evil.example/a.js\\"></script>"}',
    ),
    Site(
        "untrusted-cert-robots-404",
        "an untrusted certificate, robots.txt answered 404 with a cookie",
        https=f"{BASE} location = /robots.txt {{ {HSTS} "
        + cookie("robotsess=1")
        + " return 404; }",
        trusted=False,
    ),
    Site(
        "referrer-meta-only",
        "a referrer policy given only by a meta tag",
        page=page_with('<meta name="REFERRER" content="strict-origin-when-cross-origin">'),
    ),
    Site(
        "status-401",
        "a login wall (401) is still graded",
        https=f"{BASE} location = / {{ {HSTS} return 401 'login'; }}",
    ),
    Site(
        "status-500",
        "a server error is not graded",
        http="return 500;",
        https=f"{BASE} location = / {{ return 500 'broken'; }}",
    ),
)
