"""Stack traces and debug pages: each framework's page recognised, look-alikes not, and a
real server that answers a bad query with a Python traceback."""

from __future__ import annotations

import asyncio

import pytest
from tests.helpers.faults import read_request
from tests.helpers.servers import RawServer

from watchkeeper.audit._http import Fetcher
from watchkeeper.audit.exposure import find_trace, site_leaks
from watchkeeper.findings import Severity

PYTHON = b"""<pre>Traceback (most recent call last):
  File &quot;/srv/app/views.py&quot;, line 42, in order
    total = int(request.args[&quot;id&quot;])
ValueError: invalid literal for int() with base 10: "'"
</pre>"""

SAMPLES = {
    "Werkzeug debugger": b"<title>ValueError // Werkzeug Debugger</title><p>The debugger "
    b"caught an exception in your WSGI application. You can now look at the traceback",
    "Django debug page": b"<p>You're seeing this error because you have <code>DEBUG = True"
    b"</code> in your Django settings file.</p>",
    "Python traceback": PYTHON,
    "Rails exception page": b"<h1>Routing Error</h1><p>ActionController::RoutingError</p>"
    b"<p>Rails.root: /app</p>",
    "PHP error": b"<br />\n<b>Fatal error</b>:  Uncaught Error: Call to undefined function "
    b"f() in /var/www/html/index.php:3\nStack trace:\n#0 {main}\n  thrown in "
    b"<b>/var/www/html/index.php</b> on line <b>3</b><br />",
    "Java stack trace": b"java.lang.NullPointerException\n\tat com.shop.web.OrderController"
    b".show(OrderController.java:57)\n\tat jdk.internal.reflect.Method.invoke(Method.java:1)",
    "ASP.NET error page": b"<h1>Server Error in '/' Application.</h1><h2><i>Object "
    b"reference not set to an instance of an object.</i></h2>",
    "ASP.NET Core developer exception page": b"<h1>An unhandled exception occurred while "
    b"processing the request.</h1>",
    ".NET stack trace": b"System.InvalidOperationException: boom\n   at Shop.Orders.Show(Int32 "
    b"id) in /src/Shop/Orders.cs:line 12",
    "Node.js stack trace": b"TypeError: x is undefined\n    at Layer.handle [as handle_request] "
    b"(/app/node_modules/express/lib/router/layer.js:95:5)\n",
}


@pytest.mark.parametrize("framework", sorted(SAMPLES))
def test_each_framework_s_error_page_is_recognised(framework: str) -> None:
    trace = find_trace(SAMPLES[framework])
    assert trace is not None
    assert trace.signature.framework == framework
    critical = framework == "Werkzeug debugger"
    assert (trace.signature.severity == Severity.critical) == critical
    assert trace.signature.fix


@pytest.mark.parametrize(
    "text",
    [
        b"<p>When Python prints <code>Traceback (most recent call last):</code> read it "
        b"from the bottom up.</p>",
        b"<p>We moved from Rails.root: to a new layout</p>",
        b"<p>Java's NullPointerException is at the heart of this post.</p>",
        b"<p>Server Error in the application, please retry.</p>",
        b"<h1>404 Not Found</h1><hr><center>nginx</center>",
    ],
)
def test_pages_that_only_talk_about_errors_are_not_traces(text: bytes) -> None:
    assert find_trace(text) is None


def test_a_huge_hostile_body_is_read_in_one_pass() -> None:
    # a frame pattern's prefix repeated: RE2 is linear, and only MAX_TEXT is read
    body = b'File "' * 2_000_000
    assert find_trace(body) is None


async def test_a_server_answering_a_bad_query_with_a_traceback_is_found() -> None:
    async def app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        line = request.split(b"\r\n", 1)[0]
        if b"?" in line:
            status, body = b"500 Internal Server Error", PYTHON
        elif line.startswith(b"GET / "):
            status, body = b"200 OK", b"<!doctype html><p>shop</p>"
        else:
            status, body = b"404 Not Found", b"not found"
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: text/html\r\nContent-Length: "
            + str(len(body)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + body
        )
        await writer.drain()
        writer.close()

    async with RawServer(app) as server, Fetcher(timeout=5) as fetch:
        findings = await site_leaks(server.url("/"), fetch=fetch)
    assert [
        (f.rule, f.severity, f.evidence["framework"], f.evidence["status"]) for f in findings
    ] == [("stack-trace", Severity.warning, "Python traceback", 500)]
    assert findings[0].subject == server.url("/").rstrip("/")
    assert "views.py" in str(findings[0].evidence["excerpt"])
