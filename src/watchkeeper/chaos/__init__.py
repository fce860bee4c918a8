"""The fault proxy: TCP proxies whose links carry toxics (latency, bandwidth, resets, ...), driven
through a Toxiproxy-compatible HTTP API so that existing Toxiproxy clients work unchanged.

    toxics.py   one class per toxic type, what it does to one direction of one connection
    proxy.py    the proxies, their connections and the pumps that move bytes through toxics
    api.py      the HTTP API over the collection of proxies

Errors (``errors.py``): ``ChaosError`` carries the HTTP status the API answers with:
``BadInput`` (400), ``NotFound`` (404), ``Conflict`` (409), ``ListenFailed`` (500).
"""
