"""DNS messages, sans-IO, over dnslib (``DNSRecord.parse(bytes)`` / ``record.pack()``) behind our own errors.

:func:`parse_message` turns bytes into a ``dnslib.DNSRecord`` or raises :class:`DnsError`, whatever the bytes
(dnslib raises several exception types, and a few bytes it does not expect raise others). :func:`query_problem`
says which error code an acceptable packet that is no answerable query deserves (opcode, question count, EDNS
version); :func:`reply_to` starts a reply the way a resolver expects it (id, opcode, RD and CD copied, the question,
the client's EDNS0 payload size and DO flag echoed in an OPT), :func:`error_reply` and the ``nxdomain``/``servfail``/
``formerr``/``refused``/``notimp`` helpers make the negative ones, :func:`pack_reply` packs within the room the client
has over UDP (RFC 1035 §4.2.1: 512 bytes; RFC 6891 §6.2.5: the OPT payload size) and sets TC when it does not fit.
"""

from __future__ import annotations

import ipaddress

from dnslib import (
    AAAA,
    NAPTR,
    OPCODE,
    QTYPE,
    RCODE,
    RR,
    SRV,
    A,
    DNSError,
    DNSHeader,
    DNSLabel,
    DNSQuestion,
    DNSRecord,
    EDNSOption,
)

HEADER_SIZE = 12
#: RFC 1035 §4.2.1: the UDP payload every client takes
MIN_UDP_PAYLOAD = 512
MAX_MESSAGE_SIZE = 65535
#: RFC 6891 §9: extended RCODE "BADVERS" (the high 8 bits go in the OPT TTL)
BADVERS = 16
TYPE_OPT = 41
DO_FLAG = 0x8000

NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED = 0, 1, 2, 3, 4, 5


class DnsError(ValueError):
    """Bytes that are no DNS message (or a reply that cannot be packed); the text says what was wrong."""


def parse_message(data: bytes) -> DNSRecord:
    """A DNS message from ``data``; :class:`DnsError` for anything that is not one."""
    if len(data) < HEADER_SIZE:
        raise DnsError(f"{len(data)} bytes are shorter than a DNS header ({HEADER_SIZE})")
    if len(data) > MAX_MESSAGE_SIZE:
        raise DnsError(f"{len(data)} bytes exceed the largest DNS message ({MAX_MESSAGE_SIZE})")
    try:
        record = DNSRecord.parse(bytes(data))
    except DNSError as exc:
        raise DnsError(str(exc)) from None
    except Exception as exc:  # dnslib lets IndexError, UnicodeDecodeError, ValueError ... through on odd input
        raise DnsError(f"undecodable DNS message: {type(exc).__name__}: {exc}") from None
    return record


#: RFC 1035 §2.3.4: a label is at most 63 bytes, a name at most 255 on the wire
MAX_LABEL, MAX_NAME = 63, 255


def parse_query(data: bytes) -> DNSRecord:
    """Like :func:`parse_message`, and a response (QR set) is a :class:`DnsError` too: a server never answers one.
    So is a question name no reply could carry back (a label over 63 bytes — dnslib reads the reserved 0x40-0xBF
    length bytes as lengths —, a name over 255): it would make even the SERVFAIL unwritable."""
    record = parse_message(data)
    if record.header.qr:
        raise DnsError(f"message {record.header.id} is a response, not a query")
    for question in record.questions:
        labels = question.qname.label
        if any(len(label) > MAX_LABEL for label in labels) or sum(len(label) + 1 for label in labels) + 1 > MAX_NAME:
            raise DnsError(f"message {record.header.id}: the question name has a label over {MAX_LABEL} bytes or "
                           f"is over {MAX_NAME}")
    return record


# ---------------------------------------------------------------------------------------------------- EDNS0


def opt_record(message: DNSRecord) -> RR | None:
    """The OPT pseudo-record of ``message`` (RFC 6891), None without EDNS0."""
    for rr in message.ar:
        if rr.rtype == TYPE_OPT:
            return rr
    return None


def edns_version(opt: RR) -> int:
    return (opt.ttl >> 16) & 0xFF


def udp_payload_size(query: DNSRecord) -> int:
    """How many bytes the client reads over UDP: 512, or its OPT payload size when larger (RFC 6891 §6.2.5)."""
    opt = opt_record(query)
    return MIN_UDP_PAYLOAD if opt is None else max(MIN_UDP_PAYLOAD, opt.rclass)


def echo_opt(query_opt: RR, extended_rcode: int = 0) -> RR:
    """The OPT of a reply: the client's payload size and DO flag, version 0, no options (they are per message:
    a cookie or padding echoed blindly is wrong; reply templates add options with ``*rep.Option``)."""
    flags = query_opt.ttl & DO_FLAG
    return RR(".", TYPE_OPT, rclass=query_opt.rclass, ttl=(extended_rcode << 24) | flags, rdata=[])


def options_of(message: DNSRecord) -> list[EDNSOption]:
    """The EDNS0 options of ``message`` in order (empty without EDNS0)."""
    opt = opt_record(message)
    return [o for o in (opt.rdata or []) if isinstance(o, EDNSOption)] if opt is not None else []


# ---------------------------------------------------------------------------------------------------- replies


def query_problem(query: DNSRecord) -> int | None:
    """The RCODE an unanswerable query gets (NOTIMP for another opcode, FORMERR without exactly one question,
    BADVERS for EDNS past version 0), None when the query can go to the handler."""
    if query.header.opcode != OPCODE.QUERY:
        return NOTIMP
    if len(query.questions) != 1:
        return FORMERR
    opts = [rr for rr in query.ar if rr.rtype == TYPE_OPT]
    if len(opts) > 1:
        return FORMERR  # RFC 6891 §6.1.1
    if opts and edns_version(opts[0]) > 0:
        return BADVERS
    return None


def reply_to(query: DNSRecord, rcode: int = NOERROR, authoritative: bool = False) -> DNSRecord:
    """An empty reply to ``query``: id, opcode, RD and CD copied, the question, the client's OPT echoed."""
    qh = query.header
    header = DNSHeader(id=qh.id, qr=1, opcode=qh.opcode, aa=int(authoritative), rd=qh.rd, cd=qh.cd,
                       rcode=rcode & 0xF)
    reply = DNSRecord(header, questions=list(query.questions))
    opt = opt_record(query)
    if opt is not None:
        reply.add_ar(echo_opt(opt, rcode >> 4))
    return reply


def error_reply(query: DNSRecord, rcode: int) -> DNSRecord:
    """A reply carrying only ``rcode`` (and the question and OPT)."""
    return reply_to(query, rcode)


def nxdomain(query: DNSRecord) -> DNSRecord:
    return error_reply(query, NXDOMAIN)


def servfail(query: DNSRecord) -> DNSRecord:
    return error_reply(query, SERVFAIL)


def formerr(query: DNSRecord) -> DNSRecord:
    return error_reply(query, FORMERR)


def refused(query: DNSRecord) -> DNSRecord:
    return error_reply(query, REFUSED)


def notimp(query: DNSRecord) -> DNSRecord:
    return error_reply(query, NOTIMP)


def pack_reply(reply: DNSRecord, max_size: int = MAX_MESSAGE_SIZE) -> bytes:
    """``reply`` on the wire within ``max_size`` bytes: when it does not fit, the TC bit set and the answer,
    authority and additional records left out (the OPT kept), so the client asks again over TCP."""
    try:
        data = reply.pack()
    except Exception as exc:  # a value dnslib cannot encode (a label over 63 bytes, a string over 255, ...)
        raise DnsError(f"the reply cannot be packed: {type(exc).__name__}: {exc}") from None
    if len(data) <= max_size:
        return data
    if max_size >= MAX_MESSAGE_SIZE:
        raise DnsError(f"the reply of {len(data)} bytes exceeds the largest DNS message")
    header = DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap, tc=1)
    truncated = DNSRecord(header, questions=list(reply.questions))
    opt = opt_record(reply)
    if opt is not None:
        truncated.add_ar(opt)
    data = truncated.pack()
    if len(data) > max_size:
        data = DNSRecord(DNSHeader(id=reply.header.id, bitmap=reply.header.bitmap, tc=1)).pack()
    return data


# ---------------------------------------------------------------------------------------------------- records


def qtype_name(qtype: int) -> str:
    """``35`` → ``NAPTR`` (``TYPE65280`` for a type without a name, as RFC 3597 writes it)."""
    try:
        return str(QTYPE[qtype])
    except Exception:
        return f"TYPE{qtype}"


def rcode_name(rcode: int) -> str:
    try:
        return str(RCODE[rcode])
    except Exception:
        return f"RCODE{rcode}"


def naptr(name: str, order: int, preference: int, flags: str, service: str, regexp: str,
          replacement: str = ".", ttl: int = 60) -> RR:
    """A NAPTR record (RFC 3403), as ENUM and LCR answers carry them."""
    return RR(name, QTYPE.NAPTR, ttl=ttl, rdata=NAPTR(order, preference, flags.encode(), service.encode(),
                                                     regexp.encode(), DNSLabel(replacement)))


def srv(name: str, priority: int, weight: int, port: int, target: str, ttl: int = 60) -> RR:
    return RR(name, QTYPE.SRV, ttl=ttl, rdata=SRV(priority, weight, port, target))


def address(name: str, ip: str, ttl: int = 60) -> RR:
    """An A or AAAA record, by the address's family."""
    parsed = ipaddress.ip_address(ip)
    if parsed.version == 4:
        return RR(name, QTYPE.A, ttl=ttl, rdata=A(str(parsed)))
    return RR(name, QTYPE.AAAA, ttl=ttl, rdata=AAAA(str(parsed)))


__all__ = [
    "BADVERS",
    "FORMERR",
    "MIN_UDP_PAYLOAD",
    "NOERROR",
    "NOTIMP",
    "NXDOMAIN",
    "REFUSED",
    "SERVFAIL",
    "DNSQuestion",
    "DNSRecord",
    "DnsError",
    "EDNSOption",
    "address",
    "echo_opt",
    "edns_version",
    "error_reply",
    "formerr",
    "naptr",
    "notimp",
    "nxdomain",
    "opt_record",
    "options_of",
    "pack_reply",
    "parse_message",
    "parse_query",
    "qtype_name",
    "query_problem",
    "rcode_name",
    "refused",
    "reply_to",
    "servfail",
    "srv",
    "udp_payload_size",
]
