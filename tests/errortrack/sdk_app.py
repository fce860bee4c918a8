"""A small WSGI web application that raises, instrumented with the real ``sentry-sdk``: run
as a subprocess by the tests (``python sdk_app.py``), it prints its port and serves until
killed. The SDK's DSN, release and compression come from the environment.

    GET /divide            ZeroDivisionError in divide()          (the same bug every time)
    GET /missing           KeyError in lookup()                   (another bug)
    GET /chained?cause=X   RuntimeError raised from a ValueError (X=value) or KeyError
    GET /message?n=N       capture_message("payment N failed for buyer-N@example.com")
    GET /tenant?name=T     a ValueError fingerprinted ["{{ default }}", T]
    GET /burst?n=N         N messages captured at once
    GET /flush             waits until the SDK has sent everything (and its client report)
"""

from __future__ import annotations

import os
import sys
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

import sentry_sdk
from sentry_sdk.integrations.wsgi import SentryWsgiMiddleware


def divide(amount: int) -> float:
    return amount / 0


def lookup(table: dict[str, int], key: str) -> int:
    return table[key]


def parse(text: str) -> int:
    return int(text)


def chained(cause: str) -> None:
    try:
        if cause == "value":
            parse("not a number")
        else:
            lookup({}, "missing")
    except (ValueError, KeyError) as exc:
        raise RuntimeError("could not read the order") from exc


def tenant_failure(name: str) -> None:
    with sentry_sdk.new_scope() as scope:
        scope.fingerprint = ["{{ default }}", name]
        try:
            raise ValueError(f"bad input from {name}")
        except ValueError:
            sentry_sdk.capture_exception()


def app(environ: dict[str, object], start_response: object) -> list[bytes]:
    path = str(environ.get("PATH_INFO", ""))
    query = {k: v[0] for k, v in parse_qs(str(environ.get("QUERY_STRING", ""))).items()}
    if path == "/divide":
        divide(10)
    elif path == "/missing":
        lookup({"a": 1}, "b")
    elif path == "/chained":
        chained(query.get("cause", "value"))
    elif path == "/message":
        n = query.get("n", "1")
        sentry_sdk.capture_message(f"payment {n} failed for buyer-{n}@example.com")
    elif path == "/tenant":
        tenant_failure(query.get("name", "acme"))
    elif path == "/burst":
        for _ in range(int(query.get("n", "10"))):
            sentry_sdk.capture_message("queue is full")
    elif path == "/flush":
        sentry_sdk.flush(timeout=20)
    start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
    return [b"ok"]


class Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    compression = os.environ.get("APP_COMPRESSION", "gzip")
    experiments: dict[str, object] = (
        {"transport_compression_level": 0}
        if compression == "none"
        else {"transport_compression_algo": compression}
    )
    sentry_sdk.init(
        dsn=os.environ["SENTRY_DSN"],
        release=os.environ.get("APP_RELEASE") or None,
        environment="test",
        _experiments=experiments,
    )
    server = make_server("127.0.0.1", 0, SentryWsgiMiddleware(app), handler_class=Quiet)
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
