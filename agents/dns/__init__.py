"""DNS: the codec (dnslib behind our errors, replies, EDNS0, truncation) and the UDP/TCP/TLS listeners.

    from pycgrates.agents.dns import DnsServer, DnsListener, reply_to, pack_reply
"""

from .codec import (
    DnsError,
    error_reply,
    formerr,
    notimp,
    nxdomain,
    pack_reply,
    parse_message,
    parse_query,
    query_problem,
    refused,
    reply_to,
    servfail,
    udp_payload_size,
)
from .fields import DnsDataProvider, apply_reply_fields, request_vars
from .transport import DnsListener, DnsServer, Source, server_tls_context

__all__ = [
    "DnsDataProvider",
    "DnsError",
    "DnsListener",
    "DnsServer",
    "Source",
    "apply_reply_fields",
    "error_reply",
    "formerr",
    "notimp",
    "nxdomain",
    "pack_reply",
    "parse_message",
    "parse_query",
    "query_problem",
    "refused",
    "reply_to",
    "request_vars",
    "server_tls_context",
    "servfail",
    "udp_payload_size",
]
