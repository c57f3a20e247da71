"""An OpenSIPS seen from outside as the seed's SM-OpenSIPS sees it, written from the module documentation: the
event interface with event_datagram (events go only to sockets subscribed, each subscription lapsing after its
``expire``), the acc module's events (E_ACC_EVENT for an answered INVITE and for a BYE, E_ACC_CDR with the
call's duration, E_ACC_MISSED_EVENT), the script's E_OPENSIPS_START at start-up (its startup_route subscribes
its own socket to it), and the Management Interface over mi_datagram (UDP) and mi_http (``POST /mi``), JSON-RPC
2.0: ``event_subscribe``, ``dlg_end_dlg`` (ends the dialog: the tutorial's local_route reports the BYE with
``acc_evi_request``), ``dlg_list``.

Calls are driven by the test (:meth:`OpenSIPSPeer.answer`, :meth:`bye`, :meth:`missed`); times are whole
seconds of ``clock()``. ``text_events`` sends events in OpenSIPS 2.x's text format instead of JSON-RPC.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from pycgrates.agents.opensips.datagram import E_OPENSIPS_START


@dataclass
class Dialog:
    callid: str
    account: str
    destination: str
    reqtype: str
    created: int
    h_entry: int
    h_id: int
    answered: int = 0
    extra: dict[str, str] = field(default_factory=dict)
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    end_reason: str = ""

    @property
    def dialog_id(self) -> str:
        return f"{self.h_entry}:{self.h_id}"


class _MIProtocol(asyncio.DatagramProtocol):
    def __init__(self, peer: OpenSIPSPeer) -> None:
        self.peer = peer
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.peer.mi(data)
        assert self.transport is not None
        self.transport.sendto(reply, addr)


class _EventSender(asyncio.DatagramProtocol):
    pass


class OpenSIPSPeer:
    """One OpenSIPS (see the module docstring)."""

    def __init__(self, *, clock: Callable[[], float] | None = None, text_events: bool = False,
                 cdr_events: bool = False, start_subscriber: str = "") -> None:
        self.clock = clock or time.time
        self.text_events = text_events
        #: do_accounting("evi", "cdr"): an E_ACC_CDR at the end of each call as well
        self.cdr_events = cdr_events
        #: the script's startup_route: subscribe_event("E_OPENSIPS_START", "udp:host:port")
        self.start_subscriber = start_subscriber
        self.subscriptions: dict[tuple[str, str], float] = {}  # (event, socket) → expiry (monotonic)
        self.subscribe_calls: list[dict[str, Any]] = []
        self.mi_calls: list[tuple[str, Any]] = []
        self.dialogs: dict[str, Dialog] = {}
        self.sent: list[tuple[str, dict[str, str]]] = []
        self.mi_port = 0
        self.http_port = 0
        self._mi: _MIProtocol | None = None
        self._sender: asyncio.DatagramTransport | None = None
        self._runner: web.AppRunner | None = None
        self._h_ids = itertools.count(100)

    @property
    def mi_address(self) -> str:
        return f"127.0.0.1:{self.mi_port}"

    @property
    def mi_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}/mi"

    # ------------------------------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        _, self._mi = await loop.create_datagram_endpoint(lambda: _MIProtocol(self),
                                                          local_addr=("127.0.0.1", self.mi_port))
        self.mi_port = self._mi.transport.get_extra_info("sockname")[1]  # type: ignore[union-attr]
        self._sender, _ = await loop.create_datagram_endpoint(_EventSender, local_addr=("127.0.0.1", 0))
        app = web.Application()
        app.router.add_post("/mi", self._mi_http)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.http_port)
        await site.start()
        self.http_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        if self.start_subscriber:
            self.raise_event(E_OPENSIPS_START, {}, sockets=[self.start_subscriber])

    async def stop(self, keep_dialogs: bool = False) -> None:
        """OpenSIPS stops: its subscriptions are forgotten (and its dialogs, unless kept in a database)."""
        for transport in (self._mi.transport if self._mi else None, self._sender):
            if transport is not None:
                transport.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self.subscriptions.clear()
        if not keep_dialogs:
            self.dialogs.clear()

    async def restart(self, keep_dialogs: bool = False) -> None:
        await self.stop(keep_dialogs)
        await self.start()

    # ------------------------------------------------------------------------------------------ MI

    async def _mi_http(self, request: web.Request) -> web.Response:
        return web.Response(body=self.mi(await request.read()), content_type="application/json")

    def mi(self, data: bytes) -> bytes:
        try:
            msg = orjson.loads(data)
        except orjson.JSONDecodeError:
            return b"400 Bad request: not JSON"
        if not isinstance(msg, dict) or msg.get("jsonrpc") != "2.0" or not isinstance(msg.get("method"), str):
            return orjson.dumps({"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid Request"},
                                 "id": None})
        method, params, msg_id = msg["method"], msg.get("params") or {}, msg.get("id")
        self.mi_calls.append((method, params))
        try:
            result = self._mi_command(method, params)
        except LookupError as exc:
            return orjson.dumps({"jsonrpc": "2.0", "error": {"code": exc.args[0], "message": exc.args[1]},
                                 "id": msg_id})
        return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": msg_id})

    def _mi_command(self, method: str, params: dict[str, Any]) -> Any:
        if method == "event_subscribe":
            event, socket = params.get("event"), params.get("socket")
            if not event or not socket:
                raise LookupError(-32602, "Invalid params")
            if not str(socket).startswith("udp:"):
                raise LookupError(400, "Bad parameter value")
            self.subscribe_calls.append(dict(params))
            self.subscriptions[(event, socket)] = time.monotonic() + int(params.get("expire") or 3600)
            return "OK"
        if method == "dlg_end_dlg":
            dialog = self._dialog(str(params.get("dialog_id") or ""))
            if dialog is None:
                raise LookupError(404, "Dialog not found")
            asyncio.get_running_loop().call_soon(self._local_bye, dialog)
            return "OK"
        if method == "dlg_list":
            return {"Dialogs": [{"ID": d.dialog_id, "db_id": str(d.h_entry << 32 | d.h_id), "state": 4,
                                 "user_flags": "", "timestart": d.answered, "timeout": 0, "callid": d.callid,
                                 "from_uri": f"sip:{d.account}@127.0.0.1", "to_uri": f"sip:{d.destination}@127.0.0.1",
                                 "caller_tag": "ft" + d.callid[:6]} for d in self.dialogs.values()]}
        raise LookupError(-32601, "Method not found")

    def _dialog(self, dialog_id: str) -> Dialog | None:
        for dialog in self.dialogs.values():
            if dialog_id in (dialog.dialog_id, dialog.callid, str(dialog.h_entry << 32 | dialog.h_id)):
                return dialog
        return None

    def _local_bye(self, dialog: Dialog) -> None:
        """The dialog module ends the call (BYEs both ways); local_route's acc_evi_request reports the BYE."""
        self.bye(dialog, reason="LOCAL_DISCONNECT")

    # ------------------------------------------------------------------------------------------ events

    def raise_event(self, name: str, params: dict[str, str], sockets: list[str] | None = None) -> int:
        """Send an event to its live subscribers (or ``sockets``); the number it went to."""
        now = time.monotonic()
        targets = sockets if sockets is not None else [sock for (event, sock), expiry in self.subscriptions.items()
                                                       if event == name and expiry > now]
        if self.text_events:
            payload = (name + "\n" + "".join(f"{k}::{v}\n" for k, v in params.items()) + "\n").encode()
        else:
            payload = orjson.dumps({"jsonrpc": "2.0", "method": name, "params": params})
        for sock in targets:
            _, host, port = sock.split(":")
            assert self._sender is not None
            self._sender.sendto(payload, (host, int(port)))
        if targets:
            self.sent.append((name, params))
        return len(targets)

    def send_raw(self, payloads: list[bytes], socket: str) -> None:
        _, host, port = socket.split(":")
        assert self._sender is not None
        for payload in payloads:
            self._sender.sendto(payload, (host, int(port)))

    def _acc(self, dialog: Dialog, method: str, code: str, reason: str, at: int) -> dict[str, str]:
        """acc's parameters with the tutorial script's evi_extra."""
        return {"method": method, "from_tag": "ft" + dialog.callid[:6], "to_tag": "tt" + dialog.callid[:6],
                "callid": dialog.callid, "sip_code": code, "sip_reason": reason, "time": str(at),
                "cgr_reqtype": dialog.reqtype, "cgr_account": dialog.account,
                "cgr_destination": dialog.destination, "cgr_answertime": str(dialog.answered or ""),
                "dialog_id": dialog.dialog_id, **dialog.extra}

    def answer(self, callid: str, account: str, destination: str, reqtype: str = "*prepaid",
               **extra: str) -> Dialog:
        """An INVITE answered 200: E_ACC_EVENT (do_accounting("evi", "missed") on the INVITE)."""
        now = int(self.clock())
        dialog = Dialog(callid, account, destination, reqtype, created=now, h_entry=next(self._h_ids) % 4096,
                        h_id=next(self._h_ids), answered=now, extra=dict(extra))
        self.dialogs[callid] = dialog
        self.raise_event("E_ACC_EVENT", self._acc(dialog, "INVITE", "200", "OK", now))
        return dialog

    def bye(self, dialog: Dialog, reason: str = "OK") -> None:
        """The call ends: E_ACC_EVENT of the BYE (then, with ``cdr_events``, E_ACC_CDR of the whole call)."""
        if dialog.ended.is_set():
            return
        now = int(self.clock())
        self.dialogs.pop(dialog.callid, None)
        dialog.end_reason = reason
        self.raise_event("E_ACC_EVENT", self._acc(dialog, "BYE", "200", reason, now))
        if self.cdr_events:
            cdr = self._acc(dialog, "INVITE", "200", "OK", dialog.answered)
            cdr.update(duration=str(now - dialog.answered), ms_duration=str((now - dialog.answered) * 1000),
                       setuptime="0", created=str(dialog.created))
            self.raise_event("E_ACC_CDR", cdr)
        dialog.ended.set()

    def missed(self, callid: str, account: str, destination: str, code: str = "486", reason: str = "Busy Here",
               reqtype: str = "*postpaid") -> None:
        now = int(self.clock())
        dialog = Dialog(callid, account, destination, reqtype, created=now, h_entry=0, h_id=0)
        params = self._acc(dialog, "INVITE", code, reason, now)
        params.update(created=str(now), setuptime="0")
        self.raise_event("E_ACC_MISSED_EVENT", params)


__all__ = ["Dialog", "OpenSIPSPeer"]
