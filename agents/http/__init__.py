"""HTTP: the request payloads (``*url``, ``*xml``, ``*json``) and reply payloads (``*xml``, ``*json``,
``*text_plain``) of the HTTP agent, and the agent itself (:mod:`.agent`, mounted on the engine's HTTP listener).

    from pycgrates.agents.http import DECODERS, ENCODERS, XmlDataProvider, encode_xml
"""

from .payloads import DECODERS, ENCODERS, PayloadError, ReplyEncoder, RequestInput, UrlDataProvider
from .xmldoc import XmlDataProvider, XmlError, encode_xml, parse_xml

__all__ = [
    "DECODERS",
    "ENCODERS",
    "PayloadError",
    "ReplyEncoder",
    "RequestInput",
    "UrlDataProvider",
    "XmlDataProvider",
    "XmlError",
    "encode_xml",
    "parse_xml",
]
