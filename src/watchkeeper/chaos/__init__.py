"""The fault proxy: TCP proxies whose links carry toxics (latency, bandwidth, resets, ...), driven
through a Toxiproxy-compatible HTTP API so that existing Toxiproxy clients work unchanged.

    toxics.py       one class per toxic type: what it does to one direction of one connection
    links.py        one proxied connection: its two sockets and the links that move its bytes
    proxy.py        a proxy: a listening address, an upstream, its toxics and connections
    collection.py   the proxies by name, with caps: what the API drives
    api.py          the HTTP API

Errors (``errors.py``): ``ChaosError`` carries the HTTP status the API answers with:
``BadInput`` (400), ``NotFound`` (404), ``Conflict`` (409), ``ListenFailed`` (500).
"""
