"""Diameter agent: codec, dictionaries, peer state machine and transport.

    from pycgrates.agents.diameter import Message, load_dictionaries, DiameterServer, identity_from_config
"""

from .codec import AVP, DecodeError, EncodeError, ResultCode
from .dictionary import AVPDef, Dictionary, DictionaryError, load_dictionaries
from .messages import Message, coerce_value
from .peer import LocalIdentity, PeerConnection, PeerState, Timers, identity_from_config
from .transport import DiameterConnection, DiameterServer, Listener

__all__ = [
    "AVP",
    "AVPDef",
    "DecodeError",
    "DiameterConnection",
    "DiameterServer",
    "Dictionary",
    "DictionaryError",
    "EncodeError",
    "Listener",
    "LocalIdentity",
    "Message",
    "PeerConnection",
    "PeerState",
    "ResultCode",
    "Timers",
    "coerce_value",
    "identity_from_config",
    "load_dictionaries",
]
