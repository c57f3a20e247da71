"""Kamailio over its evapi module: the netstring/JSON codec, the CGRateS messages and the asyncio client.

    from pycgrates.agents.kamailio import EvapiClient, EvapiEvent, reply_message, session_disconnect
"""

from .client import EvapiClient
from .evapi import (
    DialogID,
    EvapiDecodeError,
    EvapiError,
    EvapiEvent,
    EvapiFramingError,
    JSONStreamFramer,
    NetstringFramer,
    decode_event,
    dlg_list_request,
    make_framer,
    parse_dlg_list_reply,
    reply_event_name,
    reply_message,
    session_disconnect,
)

__all__ = [
    "DialogID",
    "EvapiClient",
    "EvapiDecodeError",
    "EvapiError",
    "EvapiEvent",
    "EvapiFramingError",
    "JSONStreamFramer",
    "NetstringFramer",
    "decode_event",
    "dlg_list_request",
    "make_framer",
    "parse_dlg_list_reply",
    "reply_event_name",
    "reply_message",
    "session_disconnect",
]
