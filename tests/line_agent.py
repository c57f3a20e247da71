"""A whole agent on agents.base: a line-based TCP protocol, one line ``Key=value;...`` in (``*req``), one processor run,
one line ``path=value;...`` out (``*rep``); SessionS's DisconnectSession goes out as ``Disconnect=<OriginID>;...``."""

import asyncio
from dataclasses import dataclass

from pycgrates.agents.base import Agent, AgentSettings, BackCall
from pycgrates.agents.request import RequestError
from pycgrates.engine.template.dataprovider import MapDataProvider


@dataclass(slots=True, kw_only=True)
class LineSettings(AgentSettings):
    listen: str = "127.0.0.1:0"


class LineAgent(Agent[LineSettings]):
    name, section = "LineAgent", "line_agent"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self.server: asyncio.Server | None = None
        self.clients: set[asyncio.StreamWriter] = set()

    def configure(self, cfg, section, common) -> LineSettings:
        listen = section.get("listen") or "127.0.0.1:0"
        return common.extend(LineSettings, listen=listen, listener_key=listen)

    async def open_listeners(self, settings: LineSettings) -> None:
        host, _, port = settings.listen.rpartition(":")
        self.server = await asyncio.start_server(lambda r, w: self.tasks.spawn(self.serve(r, w), "client"), host,
                                                 int(port))

    async def close_listeners(self) -> None:
        if self.server is not None:
            self.server.close()
            for client in self.clients:
                client.close()
            self.server = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.clients.add(writer)
        try:
            while line := (await reader.readline()).decode().strip():
                request = dict(item.split("=", 1) for item in line.split(";"))
                try:
                    rep, _ = await self.process(MapDataProvider(request), {})
                    out = ";".join(f"{'.'.join(leaf.path)}={leaf.value}" for leaf in rep.leaves())
                except RequestError as exc:
                    out = f"Error={exc}"
                writer.write(f"{out}\n".encode())
        finally:
            self.clients.discard(writer)
            writer.close()

    async def on_disconnect_session(self, call: BackCall) -> str:
        for client in self.clients:
            client.write(f"Disconnect={call.origin_id};Cause={call.event.get('DisconnectCause')}\n".encode())
        return "OK"
