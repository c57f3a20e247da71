"""FreeSWITCH over its event socket: the ESL codec, ``show channels`` parsing and the asyncio client.

    from pycgrates.agents.freeswitch import ESLClient, ESLEvent, parse_show_channels
"""

from .channels import parse_show_channels, parse_show_channels_json
from .client import ESLClient
from .esl import (
    ESLAuthError,
    ESLCommandError,
    ESLError,
    ESLEvent,
    ESLEventError,
    ESLFramer,
    ESLMessage,
    ESLProtocolError,
    parse_event,
)

__all__ = [
    "ESLAuthError",
    "ESLClient",
    "ESLCommandError",
    "ESLError",
    "ESLEvent",
    "ESLEventError",
    "ESLFramer",
    "ESLMessage",
    "ESLProtocolError",
    "parse_event",
    "parse_show_channels",
    "parse_show_channels_json",
]
