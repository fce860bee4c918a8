"""The HTTP API answers as Toxiproxy's does: the real ``toxiproxy-python`` client's calls work,
and errors carry Toxiproxy's statuses (409 duplicate, 404 missing, 400 bad input) in its
``{"error", "status"}`` body. Hostile input meets caps."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from tests.chaos.conftest import EchoServer, peer, port_of
from tests.helpers.ports import free_port
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists
from toxiproxy.server import Toxiproxy

from watchkeeper.chaos.api import MAX_BODY, ChaosServer
from watchkeeper.chaos.collection import Proxies
from watchkeeper.chaos.toxics import EFFECTS

call = asyncio.to_thread


async def _request(
    server: ChaosServer, method: str, path: str, body: Any = None, **options: Any
) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.url + path, json=body, **options) as response,
    ):
        text = await response.text()
        return response.status, (await response.json(content_type=None)) if text else None


async def test_the_python_client_creates_lists_and_destroys_proxies(
    chaos: ChaosServer, client: Toxiproxy, echo: EchoServer
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    proxy = await call(client.create, upstream=f"127.0.0.1:{echo.port}", name="one", listen=listen)
    await call(client.create, upstream=f"127.0.0.1:{echo.port}", name="two")

    proxies = await call(client.proxies)
    assert sorted(proxies) == ["one", "two"]
    assert proxies["one"].listen == listen and proxies["one"].enabled is True
    assert port_of(proxies["two"].listen) > 0  # port 0 asked: the port bound is shown
    with pytest.raises(ProxyExists):
        await call(client.create, upstream="127.0.0.1:1", name="one")
    async with peer(port_of(listen)) as connection:
        await connection.ping()

    await call(proxy.destroy)
    assert sorted(await call(client.proxies)) == ["two"]
    await call(client.destroy_all)
    assert await call(client.proxies) == {}


async def test_the_python_client_adds_lists_and_removes_every_toxic_type(
    chaos: ChaosServer, client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await call(client.create, upstream=f"127.0.0.1:{echo.port}", name="all")
    for kind in EFFECTS:
        await call(proxy.add_toxic, type=kind, stream="upstream", toxicity=0.5)

    toxics = await call(proxy.toxics)
    assert sorted(toxics) == sorted(f"{kind}_upstream" for kind in EFFECTS)
    assert toxics["latency_upstream"].attributes == {"latency": 0, "jitter": 0}
    assert toxics["slicer_upstream"].toxicity == 0.5
    status, shown = await _request(chaos, "GET", "/proxies/all")
    assert status == 200 and len(shown["toxics"]) == len(EFFECTS)

    for name in toxics:
        assert await call(proxy.destroy_toxic, name)
    assert await call(proxy.toxics) == {}


async def test_disabling_a_proxy_takes_it_down_and_reset_brings_it_back_clean(
    chaos: ChaosServer, client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await call(client.create, upstream=f"127.0.0.1:{echo.port}", name="down")
    port = port_of(proxy.listen)
    await call(proxy.add_toxic, type="latency", attributes={"latency": 1000})
    await call(proxy.disable)
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    assert (await call(client.proxies))["down"].enabled is False

    assert await call(client.reset)
    shown = (await _request(chaos, "GET", "/proxies/down"))[1]
    assert shown["enabled"] is True and shown["toxics"] == []
    async with peer(port) as connection:
        assert await connection.ping() < 1.0


async def test_populate_creates_keeps_and_replaces(chaos: ChaosServer, echo: EchoServer) -> None:
    first, second = f"127.0.0.1:{free_port()}", f"127.0.0.1:{free_port()}"
    upstream = f"127.0.0.1:{echo.port}"
    body = [{"name": "a", "listen": first, "upstream": upstream}]
    status, created = await _request(chaos, "POST", "/populate", body)
    assert status == 201 and [p["name"] for p in created["proxies"]] == ["a"]
    await _request(chaos, "POST", "/proxies/a/toxics", {"type": "latency"})

    status, again = await _request(chaos, "POST", "/populate", body)  # the same: kept
    assert status == 201 and len(again["proxies"][0]["toxics"]) == 1

    moved = [{"name": "a", "listen": second, "upstream": upstream}]
    status, replaced = await _request(chaos, "POST", "/populate", moved)
    assert replaced["proxies"][0]["listen"] == second and replaced["proxies"][0]["toxics"] == []
    async with peer(port_of(second)) as connection:
        await connection.ping()


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        ("GET", "/proxies/nope", None, 404, "proxy not found"),
        ("DELETE", "/proxies/nope", None, 404, "proxy not found"),
        ("GET", "/proxies/p/toxics/nope", None, 404, "toxic not found"),
        ("DELETE", "/proxies/p/toxics/nope", None, 404, "toxic not found"),
        ("POST", "/proxies", {"upstream": "127.0.0.1:1"}, 400, "missing required field: name"),
        ("POST", "/proxies", {"name": "x"}, 400, "missing required field: upstream"),
        ("POST", "/proxies", {"name": "x", "upstream": "nowhere"}, 400, "not host:port"),
        ("POST", "/proxies/p/toxics", {"type": "gremlin"}, 400, "invalid toxic type"),
        ("POST", "/proxies/p/toxics", {"type": "latency", "stream": "sideways"}, 400, "stream"),
        ("POST", "/proxies/p/toxics", {"type": "latency", "toxicity": 2}, 400, "toxicity"),
        (
            "POST", "/proxies/p/toxics",
            {"type": "latency", "attributes": {"latency": -1}}, 400, "out of range",
        ),
        (
            "POST", "/proxies/p/toxics",
            {"type": "bandwidth", "attributes": {"rate": "fast"}}, 400, "whole number",
        ),
        (
            "POST", "/proxies/p/toxics",
            {"type": "latency", "attributes": {"latencyy": 5}}, 400, "unknown latency attribute",
        ),
        ("POST", "/proxies/p/toxics", [1, 2], 400, "bad request body"),
        ("POST", "/proxies/nope/toxics", {"type": "latency"}, 404, "proxy not found"),
        ("POST", "/proxies/p/toxics", {"type": "latency", "name": "t"}, 409, "already exists"),
    ],
)  # fmt: skip
async def test_errors_have_toxiproxys_statuses_and_body(
    chaos: ChaosServer, echo: EchoServer, method: str, path: str, body: Any, status: int, error: str
) -> None:
    await _request(chaos, "POST", "/proxies", {"name": "p", "upstream": f"127.0.0.1:{echo.port}"})
    await _request(chaos, "POST", "/proxies/p/toxics", {"type": "latency", "name": "t"})

    got, answer = await _request(chaos, method, path, body)

    assert got == status, answer
    assert answer["status"] == status and error in answer["error"], answer


async def test_the_python_client_sees_its_own_exceptions(
    chaos: ChaosServer, client: Toxiproxy, echo: EchoServer
) -> None:
    proxy = await call(client.create, upstream=f"127.0.0.1:{echo.port}", name="errs")
    with pytest.raises(InvalidToxic):
        await call(proxy.add_toxic, type="gremlin")
    with pytest.raises(NotFound):
        await call(proxy.destroy_toxic, "nope")


async def test_a_toxic_update_changes_its_attributes_on_open_connections(
    chaos: ChaosServer, echo: EchoServer
) -> None:
    created = await _request(
        chaos, "POST", "/proxies", {"name": "u", "upstream": f"127.0.0.1:{echo.port}"}
    )
    port = port_of(created[1]["listen"])
    await _request(
        chaos, "POST", "/proxies/u/toxics", {"type": "latency", "attributes": {"latency": 3000}}
    )
    async with peer(port) as connection:
        status, toxic = await _request(
            chaos, "POST", "/proxies/u/toxics/latency_downstream", {"attributes": {"latency": 0}}
        )
        assert status == 200 and toxic["attributes"] == {"latency": 0, "jitter": 0}
        assert await connection.ping() < 3.0


async def test_version_and_the_browser_guard(chaos: ChaosServer) -> None:
    status, answer = await _request(chaos, "GET", "/version")
    assert status == 200 and answer["version"].startswith("watchkeeper-")

    status, answer = await _request(
        chaos, "POST", "/reset", headers={"User-Agent": "Mozilla/5.0 (X11; Linux)"}
    )
    assert status == 403
    status, _ = await _request(chaos, "GET", "/proxies", headers={"Origin": "http://evil.test"})
    assert status == 403


async def test_caps_bound_what_a_client_can_make_it_hold(echo: EchoServer) -> None:
    server = await ChaosServer(Proxies(max_proxies=2, max_toxics=1)).start("127.0.0.1", 0)
    try:
        upstream = f"127.0.0.1:{echo.port}"
        for name in ("a", "b"):
            assert (
                await _request(server, "POST", "/proxies", {"name": name, "upstream": upstream})
            )[0] == 201
        status, answer = await _request(
            server, "POST", "/proxies", {"name": "c", "upstream": upstream}
        )
        assert status == 409 and "too many proxies" in answer["error"]

        await _request(server, "POST", "/proxies/a/toxics", {"type": "latency"})
        status, answer = await _request(server, "POST", "/proxies/a/toxics", {"type": "slicer"})
        assert status == 409 and "too many toxics" in answer["error"]

        status, answer = await _request(
            server, "POST", "/proxies", data=b"[" + b" " * MAX_BODY + b"]"
        )
        assert status == 413
        status, answer = await _request(server, "POST", "/proxies", data=b"[" * 100_000)
        assert status == 400 and "bad request body" in answer["error"]
    finally:
        await server.stop()


async def test_a_listen_address_in_use_is_toxiproxys_500_and_nothing_is_kept(
    chaos: ChaosServer, echo: EchoServer
) -> None:
    listen = f"127.0.0.1:{free_port()}"
    upstream = f"127.0.0.1:{echo.port}"
    first = {"name": "first", "listen": listen, "upstream": upstream}
    assert (await _request(chaos, "POST", "/proxies", first))[0] == 201

    second = {"name": "second", "listen": listen, "upstream": upstream}
    status, answer = await _request(chaos, "POST", "/proxies", second)

    assert status == 500 and answer["error"].startswith(f"listen tcp {listen}: "), answer
    assert (await _request(chaos, "GET", "/proxies/second"))[0] == 404
