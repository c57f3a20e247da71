"""Asterisk over ARI (REST + the events WebSocket): the WebSocket codec, the ARI codec, the client and the agent.

    from pycgrates.agents.asterisk import AsteriskAgent, ARIClient, ARIEvent
"""

from .agent import AsteriskAgent, AsteriskConn, AsteriskSettings, ChannelOrder, asterisk_conns
from .ari import ARIError, ARIEvent, RESTCall, RESTResult
from .client import ARIClient, ARIRejected
from .websocket import WebSocketCodec, WebSocketError

__all__ = [
    "ARIClient",
    "ARIError",
    "ARIEvent",
    "ARIRejected",
    "AsteriskAgent",
    "AsteriskConn",
    "AsteriskSettings",
    "ChannelOrder",
    "RESTCall",
    "RESTResult",
    "WebSocketCodec",
    "WebSocketError",
    "asterisk_conns",
]
