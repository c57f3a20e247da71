"""Asterisk over ARI (REST + the events WebSocket): the WebSocket codec, the ARI codec, the client and the agent.

Not aioari: its last release (0.10.2) is from 2020, and it builds its client at connect time from Asterisk's
Swagger 1.1 resource listing through aioswagger11, an unmaintained 2018 fork of swagger-py. The agent uses five
REST resources; they are plain requests here (aiohttp over HTTP, or RESTRequest messages on the WebSocket).

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
