"""The HTTP API of the fault proxy, compatible with Toxiproxy's (so its clients drive it):

    GET    /proxies                       every proxy with its toxics, by name
    POST   /proxies                       create one (201)
    POST   /populate                      create or replace a list (201, {"proxies": [...]})
    GET    /proxies/{proxy}               one proxy with its toxics
    POST   /proxies/{proxy}               change listen, upstream or enabled (PATCH too)
    DELETE /proxies/{proxy}               remove it (204)
    GET    /proxies/{proxy}/toxics        its toxics
    POST   /proxies/{proxy}/toxics        add one
    GET    /proxies/{proxy}/toxics/{t}    one toxic
    POST   /proxies/{proxy}/toxics/{t}    change its toxicity or attributes (PATCH too)
    DELETE /proxies/{proxy}/toxics/{t}    remove it (204)
    POST   /reset                         enable every proxy, remove every toxic (204)
    GET    /version                       {"version": ...}

Errors are ``{"error": message, "status": code}`` with that status. Bodies are capped; a
request from a web browser (a ``Mozilla/`` user agent or an ``Origin`` header) is refused, so
a page the operator visits cannot drive the proxy on their behalf.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from aiohttp import web

from watchkeeper import __version__
from watchkeeper.chaos.collection import Proxies
from watchkeeper.chaos.errors import BadInput, ChaosError

MAX_BODY = 256 * 1024
PROXIES: web.AppKey[Proxies] = web.AppKey("proxies", Proxies)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(message: str, status: int) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def _guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    agent = request.headers.get("User-Agent", "")
    if agent.startswith("Mozilla/") or "Origin" in request.headers:
        return _error("requests from web browsers are refused", 403)
    try:
        return await handler(request)
    except ChaosError as exc:
        return _error(exc.message, exc.status)
    except web.HTTPRequestEntityTooLarge:
        return _error(f"request body over {MAX_BODY} bytes", 413)
    except web.HTTPException as exc:
        return _error(exc.reason, exc.status)


async def _body(request: web.Request) -> object:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"bad request body: {exc}") from exc


def _proxies(request: web.Request) -> Proxies:
    return request.app[PROXIES]


async def list_proxies(request: web.Request) -> web.Response:
    return web.json_response({p.name: p.to_json() for p in _proxies(request).all()})


async def create_proxy(request: web.Request) -> web.Response:
    proxy = await _proxies(request).create(await _body(request))
    return web.json_response(proxy.to_json(), status=201)


async def populate(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, dict) and "proxies" in body:  # some clients wrap the list
        body = body["proxies"]
    created = await _proxies(request).populate(body)
    return web.json_response({"proxies": [p.to_json() for p in created]}, status=201)


async def show_proxy(request: web.Request) -> web.Response:
    return web.json_response(_proxies(request).get(request.match_info["proxy"]).to_json())


async def update_proxy(request: web.Request) -> web.Response:
    proxy = await _proxies(request).update(request.match_info["proxy"], await _body(request))
    return web.json_response(proxy.to_json())


async def delete_proxy(request: web.Request) -> web.Response:
    await _proxies(request).delete(request.match_info["proxy"])
    return web.Response(status=204)


async def list_toxics(request: web.Request) -> web.Response:
    proxy = _proxies(request).get(request.match_info["proxy"])
    return web.json_response([toxic.to_json() for toxic in proxy.toxics.values()])


async def create_toxic(request: web.Request) -> web.Response:
    body = await _body(request)
    toxic = _proxies(request).add_toxic(request.match_info["proxy"], body)
    return web.json_response(toxic.to_json())


async def show_toxic(request: web.Request) -> web.Response:
    info = request.match_info
    return web.json_response(_proxies(request).get_toxic(info["proxy"], info["toxic"]).to_json())


async def update_toxic(request: web.Request) -> web.Response:
    body = await _body(request)
    info = request.match_info
    toxic = _proxies(request).update_toxic(info["proxy"], info["toxic"], body)
    return web.json_response(toxic.to_json())


async def delete_toxic(request: web.Request) -> web.Response:
    info = request.match_info
    _proxies(request).remove_toxic(info["proxy"], info["toxic"])
    return web.Response(status=204)


async def reset(request: web.Request) -> web.Response:
    await _proxies(request).reset()
    return web.Response(status=204)


async def version(request: web.Request) -> web.Response:
    return web.json_response({"version": f"watchkeeper-{__version__}"})


def make_app(proxies: Proxies) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY, middlewares=[_guard])
    app[PROXIES] = proxies
    one = "/proxies/{proxy}"
    toxic = "/proxies/{proxy}/toxics/{toxic}"
    app.router.add_get("/proxies", list_proxies)
    app.router.add_post("/proxies", create_proxy)
    app.router.add_post("/populate", populate)
    app.router.add_get(one, show_proxy)
    app.router.add_post(one, update_proxy)
    app.router.add_patch(one, update_proxy)
    app.router.add_delete(one, delete_proxy)
    app.router.add_get(one + "/toxics", list_toxics)
    app.router.add_post(one + "/toxics", create_toxic)
    app.router.add_get(toxic, show_toxic)
    app.router.add_post(toxic, update_toxic)
    app.router.add_patch(toxic, update_toxic)
    app.router.add_delete(toxic, delete_toxic)
    app.router.add_post("/reset", reset)
    app.router.add_get("/version", version)
    return app


class ChaosServer:
    """The API and its proxies, started and stopped together."""

    def __init__(self, proxies: Proxies | None = None) -> None:
        self.proxies = proxies or Proxies()
        self._runner: web.AppRunner | None = None
        self.host = "127.0.0.1"
        self.port = 0

    async def start(self, host: str = "127.0.0.1", port: int = 8474) -> ChaosServer:
        self._runner = web.AppRunner(make_app(self.proxies), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        try:
            await site.start()
        except OSError:
            await self._runner.cleanup()
            raise
        self.host = host
        self.port = self._runner.addresses[0][1]
        return self

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self.proxies.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
