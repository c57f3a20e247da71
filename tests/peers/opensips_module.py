"""OpenSIPS's ``cgrates`` module, played from its published behaviour (modules/cgrates: cgrates_common.c,
cgrates_auth.c, cgrates_acc.c, cgrates_engine.c and the module's README), over real TCP to the engine's BiRPC
listener.

What the module puts on the wire, and this peer with it:

- **framing**: JSON objects back to back, no separator, in json-c's default "spaced" form (``{ "a": 1 }``, ``/``
  written ``\\/``); what comes back is read with a streaming tokenizer, any number of objects per read.
- **requests**: ``{ "method": M, "id": <int>, "params": [ { <$cgr_opt() options>, "Event": { <$cgr() fields> } } ] }``
  (compat mode: ``params`` holds the flat event). Integer options go out as booleans (``GetMaxUsage: true``).
  ``cgrates_auth`` → SessionSv1.AuthorizeEventWithDigest (OriginID = Call-ID, Account, SetupTime = unix seconds as a
  string, Destination; GetMaxUsage forced on); the 200 OK of ``cgrates_acc`` → SessionSv1.InitiateSession
  (InitSession on; DialogID/DialogEntry as JSON integers, SetupTime/AnswerTime strings); the dialog's end →
  SessionSv1.TerminateSession (TerminateSession on, Usage ``"<seconds>s"``, no Destination) and, with the ``cdr``
  flag, SessionSv1.ProcessCDR (Usage, AnswerTime, DisconnectCause = the dialog's terminate reason); a missed call
  with ``cdr|missed`` → ProcessCDR with Usage ``"0s"`` and no AnswerTime. Compat mode uses SMGenericV1.*.
- **replies it parses**: a reply is an object whose ``result`` or ``error`` is not null. AuthorizeEventWithDigest:
  the object's members become ``$cgr_ret(name)`` — with the module's own quirk that a JSON *integer* member is
  kept as 1 or 0, a JSON *double* as its integer part — and ``MaxUsage`` must be there: 0 refuses the call (-2).
  InitiateSession: ``MaxUsage`` must be a JSON integer (nanoseconds); 0 ends the dialog ("CGRateS Accounting
  Denied"), -1 or missing is unlimited, anything else lowers the dialog's lifetime to that many seconds.
  TerminateSession's SESSION_NOT_FOUND is ignored.
- **requests from the engine** on the same connection: ``SMGClientV1.DisconnectSession`` and
  ``SessionSv1.DisconnectSession`` with ``{EventStart: {DialogID, DialogEntry (JSON integers)}, Reason}`` end the
  dialog (then the module sends TerminateSession and the CDR, as for any dialog end); ``SessionSv1.GetActiveSessionIDs``
  answers ``[{OriginHost, OriginID}]`` of every engaged session; anything else is answered ``"Unknown Method"``.
  Replies are ``{ "error": null, "result": R, "id": I }``.

Times are whole seconds from ``clock()`` (``time(NULL)`` in the module); a test may pass its own clock.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

AUTHORIZE = "SessionSv1.AuthorizeEventWithDigest"
INITIATE = "SessionSv1.InitiateSession"
TERMINATE = "SessionSv1.TerminateSession"
PROCESS_CDR = "SessionSv1.ProcessCDR"
COMPAT = {AUTHORIZE: "SMGenericV1.GetMaxUsage", INITIATE: "SMGenericV1.InitiateSession",
          TERMINATE: "SMGenericV1.TerminateSession", PROCESS_CDR: "SMGenericV1.ProcessCDR"}
UNKNOWN_METHOD = "Unknown Method"


# ---------------------------------------------------------------------------------------------------- json-c


def json_c(value: Any) -> str:
    """json-c's json_object_to_json_string (JSON_C_TO_STRING_SPACED, slashes escaped)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.17g}"
        return text if any(c in text for c in ".eE") else text + ".0"
    if isinstance(value, str):
        return _json_c_string(value)
    if isinstance(value, dict):
        if not value:
            return "{ }"
        return "{ " + ", ".join(f"{_json_c_string(k)}: {json_c(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        if not value:
            return "[ ]"
        return "[ " + ", ".join(json_c(v) for v in value) + " ]"
    raise TypeError(f"json-c has no {type(value).__name__}")


_ESCAPES = {'"': '\\"', "\\": "\\\\", "/": "\\/", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _json_c_string(text: str) -> str:
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


class Tokener:
    """A streaming JSON reader as json_tokener: any number of objects per read, one split across reads."""

    def __init__(self) -> None:
        self._buf = ""
        self._decoder = json.JSONDecoder()

    def feed(self, data: bytes) -> list[Any]:
        self._buf += data.decode()
        out = []
        while True:
            text = self._buf.lstrip()
            if not text:
                self._buf = ""
                return out
            try:
                obj, end = self._decoder.raw_decode(text)
            except json.JSONDecodeError as exc:
                if exc.pos >= len(text) or exc.msg.startswith("Unterminated string"):  # more bytes to come
                    self._buf = text
                    return out
                raise
            out.append(obj)
            self._buf = text[end:]


def reply_values(result: Any) -> dict[str, Any]:
    """``$cgr_ret(name)`` of a reply object as cgrates_set_reply_with_values() keeps them: nulls left out, JSON
    integers and booleans as 1/0 (the module's quirk), doubles as their integer part, strings as they are,
    objects and arrays as their JSON text."""
    if not isinstance(result, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in result.items():
        if value is None:
            continue
        if isinstance(value, float):
            out[key] = int(value)
        elif isinstance(value, bool | int):
            out[key] = 1 if value else 0
        elif isinstance(value, str):
            out[key] = value
        else:
            out[key] = json_c(value)
    return out


# ---------------------------------------------------------------------------------------------------- dialogs


@dataclass
class Dialog:
    """An OpenSIPS dialog with ``cgrates_acc()`` engaged on it (one default session, no tag)."""

    h_entry: int
    h_id: int
    callid: str
    account: str
    destination: str
    start_time: int
    kvs: dict[str, Any] = field(default_factory=dict)  # $cgr() event fields
    opts: dict[str, Any] = field(default_factory=dict)  # $cgr_opt() options
    cdr: bool = True
    missed: bool = False
    answer_time: int = 0
    lifetime: int = 21600  # the dialog module's default_timeout in the tutorial
    engaged: bool = False
    ended: bool = False
    terminate_reason: str = ""
    duration: int = 0
    end_done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def origin_host(self) -> str:
        value = self.kvs.get("OriginHost")
        return value if isinstance(value, str) else ""

    @property
    def origin_id(self) -> str:
        value = self.kvs.get("OriginID", self.callid)
        return str(value)


class ModuleError(Exception):
    """What the module returns to the script as a negative code."""

    def __init__(self, code: int, text: str = "") -> None:
        super().__init__(f"{code} {text}".strip())
        self.code = code
        self.text = text


class Connection(asyncio.Protocol):
    """One TCP connection of the module to an engine (it answers the engine's requests on any of them)."""

    def __init__(self, module: OpenSIPSModule) -> None:
        self.module = module
        self.tokener = Tokener()
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Future[Any] | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            objects = self.tokener.feed(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            self.module.protocol_errors.append(str(exc))
            self.transport.close()  # type: ignore[union-attr]
            return
        for obj in objects:
            self.process(obj)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiting is not None and not self.waiting.done():
            self.waiting.set_exception(ModuleError(-2, "CGRateS engine closed the connection"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, message: dict[str, Any]) -> None:
        if self.transport is None:
            raise ModuleError(-3, "no suitable CGRateS server found")
        self.module.sent.append(message)
        self.transport.write(json_c(message).encode())

    def process(self, obj: Any) -> None:
        """cgrates_process(): a reply to what this connection waits for, or a request from the engine."""
        if not isinstance(obj, dict):
            self.module.protocol_errors.append(f"not an object: {obj!r}")
            return
        result, error = obj.get("result"), obj.get("error")
        if result is not None or error is not None:
            self.module.replies.append(obj)
            if self.waiting is None or self.waiting.done():
                self.module.protocol_errors.append(f"no handler for reply {obj!r}")
                return
            if error is not None and not isinstance(error, str):
                self.waiting.set_exception(ModuleError(-3, f"Invalid RPC: error of type {type(error).__name__}"))
            elif error is not None and result is not None:
                self.waiting.set_exception(ModuleError(-3, "Invalid RPC: both error and result"))
            else:
                self.waiting.set_result((result, error))
            return
        method, params = obj.get("method"), obj.get("params")
        if not isinstance(method, str):
            self.module.protocol_errors.append(f"Invalid RPC: method missing or not a string: {obj!r}")
            return
        if isinstance(params, list):
            if len(params) != 1:
                self.module.protocol_errors.append(f"too many elements in JSON array: {obj!r}")
                return
            params = params[0]
        elif not isinstance(params, dict):
            self.module.protocol_errors.append(f"Invalid RPC: params is not an array: {obj!r}")
            return
        ok, value = self.module.handle_request(method, params)
        reply = {"error": None, "result": value} if ok else {"error": value, "result": None}
        if "id" in obj:
            reply["id"] = obj["id"]
        self.module.received.append(obj)
        self.transport.write(json_c(reply).encode())  # type: ignore[union-attr]

    async def command(self, message: dict[str, Any], timeout: float) -> tuple[Any, str | None]:
        """Send one command and read until its reply (requests in between are answered)."""
        while self.waiting is not None and not self.waiting.done():  # one command at a time on a connection
            await asyncio.wait([self.waiting])
        self.waiting = asyncio.get_running_loop().create_future()
        self.send(message)
        return await asyncio.wait_for(self.waiting, timeout)


class OpenSIPSModule:
    """The cgrates module of one OpenSIPS, connected to one engine (``cgrates_engine``)."""

    def __init__(self, address: str, *, compat_mode: bool = False, connections: int = 2,
                 clock: Callable[[], int] | None = None, timeout: float = 10.0) -> None:
        host, _, port = address.rpartition(":")
        self.host, self.port = host, int(port)
        self.compat_mode = compat_mode
        self.connection_count = connections
        self.clock = clock or (lambda: int(time.time()))
        self.timeout = timeout
        self.conns: list[Connection] = []
        self.dialogs: dict[tuple[int, int], Dialog] = {}
        self.sent: list[dict[str, Any]] = []
        self.received: list[dict[str, Any]] = []  # requests from the engine
        self.replies: list[dict[str, Any]] = []  # replies from the engine, as they came
        self.protocol_errors: list[str] = []
        self.terminated: asyncio.Queue[Dialog] = asyncio.Queue()
        self._ids = itertools.count(int(time.time()) & 0xFFFF << 16)
        self._h_ids = itertools.count(1000)
        self._background: set[asyncio.Task[Any]] = set()

    # ------------------------------------------------------------------------------------------ connections

    async def connect(self) -> None:
        """Open the default connection and the async ones (max_async_connections)."""
        loop = asyncio.get_running_loop()
        for _ in range(self.connection_count):
            _, conn = await loop.create_connection(lambda: Connection(self), self.host, self.port)
            self.conns.append(conn)

    async def restart(self, *, keep_dialogs: bool) -> None:
        """OpenSIPS restarts: the connections drop and are opened again; with the dialog module's db_mode the
        dialogs (and the cgrates context stored in them) come back, else they are gone."""
        await self.close()
        if not keep_dialogs:
            self.dialogs.clear()
        self.conns = []
        await self.connect()

    async def close(self) -> None:
        for conn in self.conns:
            if conn.transport is not None:
                conn.transport.close()
        for conn in self.conns:
            await conn.closed
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)

    def _conn(self) -> Connection:
        for conn in self.conns:
            if conn.transport is not None and (conn.waiting is None or conn.waiting.done()):
                return conn
        for conn in self.conns:
            if conn.transport is not None:
                return conn
        raise ModuleError(-3, "no suitable CGRateS server found")

    # ------------------------------------------------------------------------------------------ messages

    def message(self, method: str, dialog_kvs: dict[str, Any], opts: dict[str, Any],
                event: dict[str, Any], forced_opts: dict[str, bool]) -> dict[str, Any]:
        """cgr_get_generic_msg() + the pushes of the command."""
        name = COMPAT.get(method, method) if self.compat_mode else method
        msg: dict[str, Any] = {"method": name, "id": next(self._ids)}
        if self.compat_mode:
            params = {**dialog_kvs, **opts, **event}
            msg["params"] = [params]
            return msg
        outer: dict[str, Any] = {}
        for key, value in opts.items():
            outer[key] = bool(value) if isinstance(value, int) and not isinstance(value, bool) else value
        inner = dict(dialog_kvs)
        outer["Event"] = inner
        for key, value in forced_opts.items():
            outer.setdefault(key, value)
        inner.update(event)
        msg["params"] = [outer]
        return msg

    async def command(self, message: dict[str, Any]) -> tuple[Any, str | None]:
        return await self._conn().command(message, self.timeout)

    # ------------------------------------------------------------------------------------------ script functions

    async def cgrates_auth(self, callid: str, account: str, destination: str, *, kvs: dict[str, Any] | None = None,
                           opts: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """(the return code the script sees, $cgr_ret): 1 allowed, -2 refused or an engine error."""
        kvs, opts = dict(kvs or {}), dict(opts or {})
        event = {}
        if "OriginID" not in kvs:
            event["OriginID"] = callid
        event.update({"Account": account, "SetupTime": str(self.clock()), "Destination": destination})
        msg = self.message(AUTHORIZE, kvs, opts, event, {} if self.compat_mode else {"GetMaxUsage": True})
        result, error = await self.command(msg)
        if error is not None:
            return -2, {"": error}
        if self.compat_mode:
            if not isinstance(result, int):
                return -5, {}
            return (-2 if result == 0 else 1), {"": result}
        values = reply_values(result)
        if not isinstance(values.get("MaxUsage"), int):
            return -1, values
        return (-2 if values["MaxUsage"] == 0 else 1), values

    def new_dialog(self, callid: str, account: str, destination: str, *, kvs: dict[str, Any] | None = None,
                   opts: dict[str, Any] | None = None, cdr: bool = True, missed: bool = False) -> Dialog:
        """``cgrates_acc("cdr|missed", account, destination)`` on the initial INVITE: nothing is sent yet."""
        dialog = Dialog(h_entry=next(self._h_ids) % 4096, h_id=next(self._h_ids), callid=callid, account=account,
                        destination=destination, start_time=self.clock(), kvs=dict(kvs or {}),
                        opts=dict(opts or {}), cdr=cdr, missed=missed)
        self.dialogs[(dialog.h_entry, dialog.h_id)] = dialog
        return dialog

    async def answered(self, dialog: Dialog) -> int:
        """The 200 OK: SessionSv1.InitiateSession; the dialog's lifetime after it, or a ModuleError when the
        engine refused (the dialog is then terminated with "CGRateS Accounting Denied")."""
        dialog.answer_time = self.clock()
        event: dict[str, Any] = {}
        if "OriginID" not in dialog.kvs:
            event["OriginID"] = dialog.callid
        if "DialogID" not in dialog.kvs:
            event["DialogID"] = dialog.h_id
        if "DialogEntry" not in dialog.kvs:
            event["DialogEntry"] = dialog.h_entry
        event.update({"Account": dialog.account, "SetupTime": str(dialog.start_time),
                      "AnswerTime": str(dialog.answer_time), "Destination": dialog.destination})
        msg = self.message(INITIATE, dialog.kvs, dialog.opts, event,
                           {} if self.compat_mode else {"InitSession": True})
        try:
            result, error = await self.command(msg)
            code = self._start_reply(dialog, result, error)
        except ModuleError:
            code = -1
        if code < 0:
            await self.terminate_dialog(dialog, "CGRateS Accounting Denied")
            raise ModuleError(code, "accounting denied")
        dialog.engaged = True
        return dialog.lifetime

    def _start_reply(self, dialog: Dialog, result: Any, error: str | None) -> int:
        if error is not None:
            return -1
        if self.compat_mode:
            if result is None:
                return 1
            if not isinstance(result, int) or isinstance(result, bool):
                return -4
            seconds = result
        else:
            if not isinstance(result, dict):
                return -4
            if "MaxUsage" not in result:
                return 1
            usage = result["MaxUsage"]
            if not isinstance(usage, int) or isinstance(usage, bool):
                return -4
            seconds = usage if usage in (0, -1) else usage // 1_000_000_000
        if seconds == 0:
            return -1
        if seconds != -1 and dialog.lifetime > seconds:
            dialog.lifetime = seconds
        return 1

    async def bye(self, dialog: Dialog, reason: str = "Normal Clearing") -> None:
        """A BYE ends the dialog: TerminateSession, then the CDR."""
        await self._ended(dialog, reason)

    async def terminate_dialog(self, dialog: Dialog, reason: str) -> None:
        """The dialog module's terminate_dlg (a disconnect, the lifetime running out): BYEs out, then the same
        end of accounting as a BYE."""
        await self._ended(dialog, reason)

    async def _ended(self, dialog: Dialog, reason: str) -> None:
        if dialog.ended:
            return
        dialog.ended = True
        dialog.terminate_reason = reason
        if dialog.engaged:
            dialog.duration = self.clock() - dialog.answer_time
            event: dict[str, Any] = {}
            if "OriginID" not in dialog.kvs:
                event["OriginID"] = dialog.callid
            event["Account"] = dialog.account
            if dialog.answer_time != dialog.start_time:
                event["SetupTime"] = str(dialog.start_time)
            event.update({"AnswerTime": str(dialog.answer_time), "Usage": f"{dialog.duration}s"})
            msg = self.message(TERMINATE, dialog.kvs, dialog.opts, event,
                               {} if self.compat_mode else {"TerminateSession": True})
            _, error = await self.command(msg)
            if error is not None and error != "SESSION_NOT_FOUND":
                self.protocol_errors.append(f"TerminateSession: {error}")
            if dialog.cdr:
                await self._cdr(dialog)
            dialog.engaged = False
        self.dialogs.pop((dialog.h_entry, dialog.h_id), None)
        dialog.end_done.set()
        self.terminated.put_nowait(dialog)

    async def missed_call(self, dialog: Dialog, reason: str = "Not Found") -> None:
        """The call failed on every branch: with ``cdr|missed``, a CDR of it."""
        dialog.ended = True
        dialog.terminate_reason = reason
        if dialog.cdr and dialog.missed:
            await self._cdr(dialog)
        self.dialogs.pop((dialog.h_entry, dialog.h_id), None)
        dialog.end_done.set()

    async def _cdr(self, dialog: Dialog) -> None:
        event: dict[str, Any] = {"OriginID": dialog.origin_id if "OriginID" in dialog.kvs else dialog.callid,
                                 "Account": dialog.account, "Destination": dialog.destination,
                                 "Usage": f"{dialog.duration}s"}
        if dialog.answer_time:
            event["AnswerTime"] = str(dialog.answer_time)
        if dialog.start_time and dialog.start_time != dialog.answer_time:
            event["SetupTime"] = str(dialog.start_time)
        event["DisconnectCause"] = dialog.terminate_reason
        msg = self.message(PROCESS_CDR, dialog.kvs, dialog.opts, event, {})
        _, error = await self.command(msg)
        if error is not None:
            self.protocol_errors.append(f"ProcessCDR: {error}")

    async def cgrates_cmd(self, method: str, *, kvs: dict[str, Any] | None = None,
                          opts: dict[str, Any] | None = None) -> tuple[int, Any]:
        """``cgrates_cmd(method)``: (1, the reply values) or (-2, the error)."""
        msg = self.message(method, dict(kvs or {}), dict(opts or {}), {}, {})
        result, error = await self.command(msg)
        if error is not None:
            return -2, error
        return 1, reply_values(result) if isinstance(result, dict) else result

    # ------------------------------------------------------------------------------------------ engine requests

    def handle_request(self, method: str, params: Any) -> tuple[bool, Any]:
        """cgrates_process_req(): (ok, result or error text)."""
        if method in ("SMGClientV1.DisconnectSession", "SessionSv1.DisconnectSession"):
            return self._disconnect(params)
        if method == "SessionSv1.GetActiveSessionIDs":
            return True, [{"OriginHost": d.origin_host, "OriginID": d.origin_id}
                          for d in self.dialogs.values() if d.engaged]
        return False, UNKNOWN_METHOD

    def _disconnect(self, params: Any) -> tuple[bool, Any]:
        reason = params.get("Reason") if isinstance(params, dict) else None
        event = params.get("EventStart") if isinstance(params, dict) else None
        if not isinstance(event, dict):
            return False, "EventStart parameter is invalid or not found"
        h_id, h_entry = event.get("DialogID"), event.get("DialogEntry")
        if not isinstance(h_id, int) or isinstance(h_id, bool):
            return False, "DialogID parameter is invalid or not found"
        if not isinstance(h_entry, int) or isinstance(h_entry, bool):
            return False, "DialogEntry parameter is invalid or not found"
        dialog = self.dialogs.get((h_entry, h_id))
        if dialog is None or dialog.ended:
            return False, "cannot terminate dialog"
        text = "CGRateS Disconnect" + (f": {reason}" if isinstance(reason, str) else "")
        task = asyncio.get_running_loop().create_task(self.terminate_dialog(dialog, text))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return True, "OK"


__all__ = ["Dialog", "ModuleError", "OpenSIPSModule", "Tokener", "json_c", "reply_values"]
