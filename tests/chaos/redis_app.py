"""The app under test of the chaos experiments: an aiohttp service whose ``GET /`` reads a key
from Redis through the fault proxy.

    python redis_app.py PORT REDIS_PORT        MODE=plain (default) or MODE=fallback

``plain`` waits for Redis as long as Redis takes (the usual first version of an app);
``fallback`` gives Redis 200 ms and then answers from the last value it read: a timeout plus a
fallback, the smallest circuit breaker.
"""

from __future__ import annotations

import asyncio
import os
import sys

import redis.asyncio as redis
from aiohttp import web

BUDGET = 0.2


def main() -> None:
    port, redis_port = int(sys.argv[1]), int(sys.argv[2])
    fallback = os.environ.get("MODE", "plain") == "fallback"
    client = redis.Redis(host="127.0.0.1", port=redis_port)
    last: dict[str, bytes | None] = {"value": None}

    async def index(request: web.Request) -> web.Response:
        try:
            call = client.get("chaos:greeting")
            value = await (asyncio.wait_for(call, BUDGET) if fallback else call)
        except (redis.RedisError, TimeoutError, OSError) as exc:
            if fallback:
                return web.Response(text=f"fallback {last['value']!r}")
            return web.Response(status=503, text=f"redis: {exc}")
        last["value"] = value
        return web.Response(text=f"fresh {value!r}")

    app = web.Application()
    app.router.add_get("/", index)
    web.run_app(app, host="127.0.0.1", port=port, print=None, handle_signals=True)


if __name__ == "__main__":
    main()
