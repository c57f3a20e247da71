"""An asyncio client of Kamailio's evapi listener: one connection to one Kamailio, kept up across its restarts.

CGRateS dials Kamailio (``kamailio_agent.evapi_conns``); Kamailio's script pushes events to every connected
client with ``evapi_relay``/``evapi_async_relay`` and reacts in ``event_route[evapi:message-received]`` to what we
send back::

    client = EvapiClient("127.0.0.1:8448", on_event=handle, on_reconnect=resync)
    await client.start()
    await client.send(reply_message("CGR_SESSIONAUTH_REPLY", ev["tr_index"], ev["tr_label"], max_usage=60))
    await client.stop()

Events go to ``on_event(client, event)``; when it returns an awaitable, that runs as a supervised task. A frame
that is not a JSON event is skipped (logged, rate-limited); broken framing drops the connection and dials again.
``netstring_format=None`` takes the framing Kamailio uses from its first message (and keeps it for the next
connections); until Kamailio has sent one, messages go out as netstrings, its default.
Reconnection with back-off and the ``on_reconnect`` callback come from
:class:`~pycgrates.agents.reconnect.ReconnectingClient`, the same implementation as the FreeSWITCH client's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pycgrates.agents.reconnect import Backoff, Callback, ReconnectingClient

from .evapi import (
    MAX_MESSAGE,
    AutoFramer,
    EvapiDecodeError,
    EvapiEvent,
    EvapiFramingError,
    decode_event,
    encode_message,
    frame,
    make_framer,
)

EventCallback = Callable[["EvapiClient", EvapiEvent], Any]


class EvapiClient(ReconnectingClient):
    """One Kamailio evapi connection (see the module docstring)."""

    kind = "Kamailio"
    protocol_errors = (EvapiFramingError,)

    def __init__(
        self,
        address: str,
        *,
        alias: str = "",
        netstring_format: bool | None = True,
        on_event: EventCallback | None = None,
        max_message: int = MAX_MESSAGE,
        backoff: Backoff | None = None,
        connect_timeout: float = 3.0,
        on_reconnect: Callback | None = None,
        on_down: Callback | None = None,
    ) -> None:
        super().__init__(address, alias=alias, backoff=backoff, connect_timeout=connect_timeout,
                         on_reconnect=on_reconnect, on_down=on_down)
        self.netstring_format = netstring_format
        self.max_message = max_message
        self.on_event = on_event
        self._framer = make_framer(netstring_format, max_message)
        self._detected: bool | None = None   # the framing found on a connection (netstring_format None)

    @classmethod
    def from_config(cls, conn: Mapping[str, Any], **kwargs: Any) -> EvapiClient:
        """From an ``evapi_conns`` entry (address, reconnects, max_reconnect_interval, alias)."""
        address = str(conn.get("address") or "")
        if not address:
            raise ValueError("evapi_conns: an entry has no address (host:port of Kamailio's evapi bind_addr)")
        kwargs.setdefault("backoff", Backoff.from_config(conn))
        return cls(address, alias=str(conn.get("alias") or ""), **kwargs)

    async def send(self, message: Mapping[str, Any] | bytes) -> None:
        """Send one message (a mapping is encoded as JSON). ConnectionLost when not connected."""
        self._require_connected()
        payload = message if isinstance(message, bytes) else encode_message(message)
        self._write(frame(payload, self.framing))
        await self._drain()

    @property
    def framing(self) -> bool:
        """Whether messages are netstrings on this connection (as configured, else as Kamailio sent them)."""
        if self.netstring_format is not None:
            return self.netstring_format
        self._note_framing()
        return self._detected if self._detected is not None else True

    def _note_framing(self) -> None:
        if isinstance(self._framer, AutoFramer) and self._framer.netstring_format is not None:
            self._detected = self._framer.netstring_format

    def _reset(self) -> None:
        self._note_framing()  # what the last connection found stands for the next one
        self._framer = make_framer(self.netstring_format, self.max_message)

    def _data_received(self, data: bytes) -> None:
        self._framer.feed(data)
        for payload in self._framer:
            try:
                event = decode_event(payload)
            except EvapiDecodeError as exc:
                self.bad_input("message", exc)
                continue
            self._notify(self.on_event, self, event, what=f"event {event.name}")


__all__ = ["EvapiClient", "EventCallback"]
