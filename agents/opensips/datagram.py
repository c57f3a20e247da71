"""OpenSIPS's event_datagram events and its Management Interface (MI) messages. No I/O.

**Events** (the event_datagram module, one event per UDP datagram, at most 65457 bytes):

- OpenSIPS 3.x: a JSON-RPC 2.0 notification, the event's name as ``method``, its parameters as ``params``::

      {"jsonrpc": "2.0", "method": "E_ACC_CDR", "params": {"method": "INVITE", "callid": "...", ...}}

- OpenSIPS 1.x/2.x (the seed's SM-OpenSIPS era): the name on the first line, then ``name::value`` lines, a blank
  line at the end; lines without ``::`` are bare values::

      E_ACC_CDR
      callid::05dac0aa@0:0:0:0:0:0:0:0
      duration::6

The acc module raises E_ACC_EVENT (an INVITE or BYE transaction answered with success), E_ACC_MISSED_EVENT (a
failed one) and E_ACC_CDR (a whole call, with ``duration``/``ms_duration``, ``setuptime`` and ``created``); the
script's ``evi_extra`` adds its own (``cgr_account``, ``cgr_destination``, ``dialog_id`` ...). E_OPENSIPS_START
is the tutorial script's own event, raised at start-up.

**MI** (mi_datagram over UDP, mi_http over HTTP): JSON-RPC 2.0 requests with named parameters, answered with
``result`` or ``error: {code, message}``; mi_datagram answers an MI engine failure with plain text. The commands
used: ``event_subscribe`` {event, socket, expire}, ``dlg_end_dlg`` {dialog_id} (the dialog's ID or its Call-ID),
``dlg_list`` (answered ``{"Dialogs": [{"ID", "state", "callid", ...}]}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

#: event_datagram's largest event
MAX_DATAGRAM = 65457

E_OPENSIPS_START = "E_OPENSIPS_START"
E_ACC_EVENT = "E_ACC_EVENT"
E_ACC_CDR = "E_ACC_CDR"
E_ACC_MISSED_EVENT = "E_ACC_MISSED_EVENT"
#: what the agent subscribes to (E_OPENSIPS_START is subscribed by the script itself, at its start-up)
SUBSCRIBED_EVENTS = (E_ACC_EVENT, E_ACC_CDR, E_ACC_MISSED_EVENT)

#: dialog states of OpenSIPS's dialog module: 1 unconfirmed, 2 early, 3 confirmed (no ACK yet), 4 confirmed,
#: 5 deleted
DLG_STATE_DELETED = 5


class DatagramError(ValueError):
    """A datagram that is not an OpenSIPS event."""


class MIError(Exception):
    """An MI command refused or failed: its code (0 when OpenSIPS sent plain text) and message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}" if code else message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class OpenSIPSEvent:
    """One event: its name, its parameters as text, the bare values of the old format."""

    name: str
    fields: dict[str, str]
    values: tuple[str, ...] = ()

    def get(self, key: str, default: str = "") -> str:
        return self.fields.get(key) or default


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def decode_event(data: bytes) -> OpenSIPSEvent:
    """An event datagram, in either format. DatagramError when it is neither."""
    if len(data) > MAX_DATAGRAM:
        raise DatagramError(f"{len(data)} bytes, more than event_datagram's {MAX_DATAGRAM}")
    text = data.lstrip()
    if text.startswith(b"{"):
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise DatagramError(f"not JSON: {exc}") from None
        if not isinstance(msg, dict):
            raise DatagramError("not a JSON-RPC notification object")
        name = msg.get("method")
        if not isinstance(name, str) or not name:
            raise DatagramError("a JSON-RPC notification without its method (the event's name)")
        params = msg.get("params")
        if params is None:
            params = {}
        if not isinstance(params, dict):
            raise DatagramError(f"event {name}: params is not an object")
        return OpenSIPSEvent(name, {str(k): _text(v) for k, v in params.items()})
    try:
        body = data.decode()
    except UnicodeDecodeError:
        raise DatagramError("neither JSON nor text") from None
    if "\n\n" not in body:
        raise DatagramError("a text event without its end (an empty line)")
    lines = body.split("\n\n", 1)[0].split("\n")
    name = lines[0].strip()
    if not name or not name.replace("_", "").isalnum():
        raise DatagramError(f"no event name on the first line: {lines[0][:40]!r}")
    fields: dict[str, str] = {}
    values = []
    for line in lines[1:]:
        key, sep, value = line.partition("::")
        if sep:
            fields[key] = value
        elif line:
            values.append(line)
    return OpenSIPSEvent(name, fields, tuple(values))


def encode_event(event: OpenSIPSEvent) -> bytes:
    """An event as OpenSIPS 3.x's event_datagram sends it (for tests and tools)."""
    return orjson.dumps({"jsonrpc": "2.0", "method": event.name, "params": event.fields})


# ---------------------------------------------------------------------------------------------------- MI


def mi_request(method: str, params: Mapping[str, Any] | None, request_id: int) -> bytes:
    """A JSON-RPC 2.0 MI request with named parameters."""
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params:
        msg["params"] = dict(params)
    return orjson.dumps(msg)


def mi_reply(data: bytes) -> tuple[Any, Any]:
    """(id, result) of an MI answer; MIError for an error answer (JSON-RPC or plain text)."""
    try:
        msg = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise MIError(0, data.decode(errors="replace").strip() or "empty MI answer") from None
    if not isinstance(msg, dict):
        raise MIError(0, "MI answer is not a JSON-RPC object")
    error = msg.get("error")
    if error is not None:
        if isinstance(error, dict):
            code = error.get("code")
            raise MIError(code if isinstance(code, int) else 0, _text(error.get("message")))
        raise MIError(0, _text(error))
    if "result" not in msg:
        raise MIError(0, "MI answer without result or error")
    return msg.get("id"), msg["result"]


def subscribe_params(event: str, socket: str, expire: int) -> dict[str, Any]:
    """event_subscribe's parameters: ``socket`` is ``udp:host:port``."""
    return {"event": event, "socket": socket, "expire": expire}


def end_dialog_params(dialog_id: str) -> dict[str, str]:
    return {"dialog_id": dialog_id}


def active_callids(result: Any) -> list[str]:
    """The Call-IDs of the dialogs of a dlg_list answer that are not deleted."""
    dialogs = result.get("Dialogs") if isinstance(result, dict) else None
    if not isinstance(dialogs, list):
        raise MIError(0, "dlg_list answered no Dialogs list")
    out = []
    for dlg in dialogs:
        if not isinstance(dlg, dict) or not dlg.get("callid"):
            continue
        state = dlg.get("state")
        if isinstance(state, int) and state >= DLG_STATE_DELETED:
            continue
        out.append(_text(dlg["callid"]))
    return out


__all__ = [
    "DLG_STATE_DELETED",
    "E_ACC_CDR",
    "E_ACC_EVENT",
    "E_ACC_MISSED_EVENT",
    "E_OPENSIPS_START",
    "MAX_DATAGRAM",
    "SUBSCRIBED_EVENTS",
    "DatagramError",
    "MIError",
    "OpenSIPSEvent",
    "active_callids",
    "decode_event",
    "encode_event",
    "end_dialog_params",
    "mi_reply",
    "mi_request",
    "subscribe_params",
]
