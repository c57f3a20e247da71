"""OpenSIPS, the seed's way: acc events over event_datagram, the Management Interface over datagram or HTTP.

(OpenSIPS's own ``cgrates`` module needs no agent: it speaks JSON-RPC to SessionS on the engine's BiRPC listener.)

    from pycgrates.agents.opensips import OpenSIPSAgent, decode_event
"""

from .agent import OpenSIPSAgent, OpenSIPSSettings
from .datagram import DatagramError, MIError, OpenSIPSEvent, decode_event, encode_event
from .transport import MIHTTP, EventListener, MIDatagram, mi_client

__all__ = [
    "MIHTTP",
    "DatagramError",
    "EventListener",
    "MIDatagram",
    "MIError",
    "OpenSIPSAgent",
    "OpenSIPSEvent",
    "OpenSIPSSettings",
    "decode_event",
    "encode_event",
    "mi_client",
]
