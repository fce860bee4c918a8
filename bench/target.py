"""A minimal, fast HTTP/1.1 target for benchmarks: answers every request with a small JSON
body and closes (or keeps) the connection as the client asks. Run it as its own process so
the client being measured has its core to itself:

    python bench/target.py --port 0 --cpu 1      # prints the port it listens on
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

BODY = b'{"status":"ok"}'
RESPONSE_CLOSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\nConnection: close\r\n\r\n"
    + BODY
)
RESPONSE_KEEP = RESPONSE_CLOSE.replace(b"Connection: close", b"Connection: keep-alive")


class _Answer(asyncio.Protocol):
    def __init__(self) -> None:
        self.buffer = b""
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            close = b"connection: close" in head.lower()
            assert self.transport is not None
            self.transport.write(RESPONSE_CLOSE if close else RESPONSE_KEEP)
            if close:
                self.transport.close()
                return


async def main(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Answer, "127.0.0.1", port, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cpu", type=int, default=None)
    args = parser.parse_args()
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu % (os.cpu_count() or 1)})
    try:
        import uvloop

        uvloop.run(main(args.port))
    except ImportError:
        asyncio.run(main(args.port))
    except KeyboardInterrupt:
        sys.exit(0)
