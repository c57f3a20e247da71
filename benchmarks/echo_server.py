"""The limit baseline: the plainest asyncio JSON-RPC echo server (uvloop when installed).

It frames as the engine does (one JSON object per line) and answers every request with its own argument, so
the difference between its req/s and the engine's CoreSv1.Ping req/s is what the engine's layers cost.

    python benchmarks/echo_server.py PORT
"""

from __future__ import annotations

import asyncio
import sys

import orjson


class Echo(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        out = []
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            line, self.buf = self.buf[:nl], self.buf[nl + 1 :]
            if line.strip():
                req = orjson.loads(line)
                out.append(orjson.dumps({"id": req["id"], "result": req["params"][0], "error": None}) + b"\n")
        if out:
            self.transport.write(b"".join(out))


async def main(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", port, reuse_address=True)
    print(f"echo listening on 127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 0))
