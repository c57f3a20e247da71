"""SIP: the message codec, the server transactions (RFC 3261 §17.2) and the UDP/TCP listeners that run them.

    from pycgrates.agents.sip import SipServer, SipRequest, response_to, SipDataProvider
"""

from .codec import (
    Headers,
    SipDataProvider,
    SipError,
    SipMessage,
    SipRequest,
    SipResponse,
    StreamFramer,
    Via,
    address_uri,
    header_params,
    parse_message,
    parse_status_line,
    response_to,
)
from .transaction import ServerTransaction, SipTimers, TransactionLayer, TxState, transaction_key

__all__ = [
    "Headers",
    "ServerTransaction",
    "SipDataProvider",
    "SipError",
    "SipMessage",
    "SipRequest",
    "SipResponse",
    "SipTimers",
    "StreamFramer",
    "TransactionLayer",
    "TxState",
    "Via",
    "address_uri",
    "header_params",
    "parse_message",
    "parse_status_line",
    "response_to",
    "transaction_key",
]
