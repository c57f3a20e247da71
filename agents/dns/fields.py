"""What request processors read of a DNS query (``*req``, ``*vars``) and write into its reply (``*rep``).

CGRateS reads the query through reflection on miekg/dns's ``Msg``, so the paths are that library's field names:
``*req.Id``, ``*req.RecursionDesired``, ``*req.Question[0].Name``, ``*req.Question[0].Qtype``, and the EDNS0
options as ``*req.Option[i].<Field>`` (``Uri`` of the ENUM source-URI option, ``Nsid``, ``Family``/``SourceNetmask``/
``SourceScope``/``Address`` of client subnet, ``Cookie``, ...; ``Code`` of any). ``*vars`` has ``QueryType``
(``NAPTR``), ``QueryName`` (``4.6.9...e164.arpa.``) and ``RemoteHost``.

``*rep`` writes the reply the same way: header fields (``Rcode``, ``Authoritative``, ...), ``Question``,
``Answer`` (records of the question's type: NAPTR ``Order``/``Preference``/``Flags``/``Service``/``Regexp``/
``Replacement``, SRV ``Priority``/``Weight``/``Port``/``Target``, A/AAAA ``A``/``AAAA``, and ``Hdr.Name``/``Ttl``/
``Class``/``Rrtype`` of any), ``Option``. A field without an index fills the last record, a ``new_branch`` field or
the first one starts a new one; ``Answer[i]`` addresses record ``i`` (``i`` = count appends).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from typing import Any

from dnslib import AAAA, CLASS, NAPTR, QTYPE, RR, SRV, A, DNSLabel, DNSQuestion, DNSRecord, EDNSOption

from pycgrates.engine.template.dataprovider import NotFoundError, as_int, as_string, parse_segment
from pycgrates.engine.template.navmap import Leaf

from .codec import TYPE_OPT, DnsError, opt_record, options_of, qtype_name

QUERY_TYPE = "QueryType"
QUERY_NAME = "QueryName"
REMOTE_HOST = "RemoteHost"
DEFAULT_TTL = 60

# EDNS0 option codes (IANA; ESU is what miekg/dns numbers the ENUM source-URI draft)
OPT_NSID, OPT_ESU, OPT_SUBNET, OPT_EXPIRE, OPT_COOKIE, OPT_KEEPALIVE, OPT_PADDING, OPT_EDE = 3, 4, 8, 9, 10, 11, 12, 15

#: header field name → dnslib DNSHeader attribute
_HEADER = {"Id": "id", "Response": "qr", "Opcode": "opcode", "Authoritative": "aa", "Truncated": "tc",
           "RecursionDesired": "rd", "RecursionAvailable": "ra", "Zero": "z", "AuthenticatedData": "ad",
           "CheckingDisabled": "cd", "Rcode": "rcode"}
_BOOLEAN = frozenset(("Response", "Authoritative", "Truncated", "RecursionDesired", "RecursionAvailable", "Zero",
                      "AuthenticatedData", "CheckingDisabled"))


def request_vars(query: DNSRecord, remote_host: str) -> dict[str, Any]:
    """The ``*vars`` of the query's (first) question."""
    q = query.q
    return {QUERY_TYPE: qtype_name(q.qtype), QUERY_NAME: str(q.qname), REMOTE_HOST: remote_host}


# ---------------------------------------------------------------------------------------------------- *req


def option_fields(option: EDNSOption) -> dict[str, Any]:
    """An EDNS0 option as miekg/dns names its fields."""
    data = bytes(option.data)
    out: dict[str, Any] = {"Code": option.code}
    if option.code == OPT_ESU:
        out["Uri"] = data.decode("utf-8", "replace")
    elif option.code == OPT_NSID:
        out["Nsid"] = data.hex()
    elif option.code == OPT_SUBNET and len(data) >= 4:
        family, source, scope = int.from_bytes(data[:2], "big"), data[2], data[3]
        raw = data[4:]
        size = 4 if family == 1 else 16
        out.update(Family=family, SourceNetmask=source, SourceScope=scope)
        if family in (1, 2) and len(raw) <= size:
            out["Address"] = str(ipaddress.ip_address(raw.ljust(size, b"\x00")))
    elif option.code == OPT_COOKIE:
        out["Cookie"] = data.hex()
    elif option.code == OPT_EXPIRE and len(data) == 4:
        out["Expire"] = int.from_bytes(data, "big")
    elif option.code == OPT_KEEPALIVE and len(data) == 2:
        out["Timeout"] = int.from_bytes(data, "big")
    elif option.code == OPT_PADDING:
        out["Padding"] = data.decode("latin-1")
    elif option.code == OPT_EDE and len(data) >= 2:
        out.update(InfoCode=int.from_bytes(data[:2], "big"), ExtraText=data[2:].decode("utf-8", "replace"))
    else:
        out["Data"] = data.decode("latin-1")
    return out


class DnsDataProvider:
    """A query as ``*req`` (see the module docstring for the paths)."""

    __slots__ = ("query",)

    def __init__(self, query: DNSRecord) -> None:
        self.query = query

    def __repr__(self) -> str:
        return f"DnsDataProvider(id={self.query.header.id}, {[str(q.qname) for q in self.query.questions]})"

    def field_as_any(self, path: Sequence[str]) -> Any:
        if not path:
            raise NotFoundError()
        key, idxs = parse_segment(path[0])
        header = self.query.header
        if key in _HEADER and not idxs and len(path) == 1:
            value = getattr(header, _HEADER[key])
            return bool(value) if key in _BOOLEAN else int(value)
        if key == "Question":
            item = _pick(self.query.questions, idxs)
            fields = {"Name": str(item.qname), "Qtype": item.qtype, "Qclass": item.qclass}
        elif key == "Option":
            fields = option_fields(_pick(options_of(self.query), idxs))
        else:
            raise NotFoundError()
        if len(path) != 2 or path[1] not in fields:
            raise NotFoundError()
        return fields[path[1]]

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))


def _pick(items: Sequence[Any], idxs: tuple[str, ...]) -> Any:
    if len(idxs) > 1:
        raise NotFoundError()
    try:
        return items[int(idxs[0]) if idxs else 0]
    except (ValueError, IndexError):
        raise NotFoundError() from None


# ---------------------------------------------------------------------------------------------------- *rep


def apply_reply_fields(reply: DNSRecord, leaves: Iterable[Leaf]) -> None:
    """Write ``*rep`` into ``reply`` (its question gives the type and name of new answers). DnsError names the
    field that cannot be written."""
    question = reply.questions[0] if reply.questions else DNSQuestion(".", QTYPE.A)
    for leaf in leaves:
        segments = [parse_segment(p) for p in leaf.path]
        key, idxs = segments[0]
        rest = [k for k, _ in segments[1:]]
        where = "*rep." + ".".join(leaf.path)
        try:
            if key in _HEADER and len(segments) == 1:
                value = _bool(leaf.value) if key in _BOOLEAN else as_int(leaf.value)
                setattr(reply.header, _HEADER[key], value)
            elif key == "Question":
                item = _slot(reply.questions, idxs, leaf.new_branch, lambda: DNSQuestion(".", QTYPE.A))
                _set_question(item, rest, leaf.value)
            elif key == "Answer":
                item = _slot(reply.rr, idxs, leaf.new_branch, lambda: _new_answer(question))
                _set_answer(item, rest, leaf.value)
            elif key == "Option":
                _set_option(reply, idxs, rest, leaf.value, leaf.new_branch)
            # other paths (Ns, Extra, ...) are not written, as in CGRateS
        except DnsError as exc:
            raise DnsError(f"{where}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise DnsError(f"{where}: value <{as_string(leaf.value)}>: {exc}") from None


def _slot(items: list, idxs: tuple[str, ...], new_branch: bool, make: Any) -> Any:
    if idxs:
        i = int(idxs[-1])
        if i == len(items):
            items.append(make())
        elif not 0 <= i < len(items):
            raise DnsError(f"index {i} is out of range ({len(items)} present)")
        return items[i]
    if new_branch or not items:
        items.append(make())
    return items[-1]


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = as_string(value).strip().lower()
    if text in ("true", "1", "t"):
        return True
    if text in ("false", "0", "f", ""):
        return False
    raise ValueError("not a boolean")


def _set_question(item: DNSQuestion, rest: list[str], value: Any) -> None:
    if rest == ["Name"]:
        item.qname = DNSLabel(as_string(value))
    elif rest == ["Qtype"]:
        item.qtype = as_int(value)
    elif rest == ["Qclass"]:
        item.qclass = as_int(value)
    else:
        raise DnsError("a question has Name, Qtype and Qclass")


def _new_answer(question: DNSQuestion) -> RR:
    qtype = question.qtype
    rdata: Any
    if qtype == QTYPE.A:
        rdata = A("0.0.0.0")
    elif qtype == QTYPE.AAAA:
        rdata = AAAA("::")
    elif qtype == QTYPE.NAPTR:
        rdata = NAPTR(0, 0, b"", b"", b"", DNSLabel("."))
    elif qtype == QTYPE.SRV:
        rdata = SRV(0, 0, 0, ".")
    else:
        raise DnsError(f"no answer of type {qtype_name(qtype)} can be written (NAPTR, SRV, A, AAAA)")
    return RR(question.qname, qtype, CLASS.IN, DEFAULT_TTL, rdata)


_NAPTR_FIELDS = {"Order": "order", "Preference": "preference", "Flags": "flags", "Service": "service",
                 "Regexp": "regexp", "Replacement": "replacement"}
_SRV_FIELDS = {"Priority": "priority", "Weight": "weight", "Port": "port", "Target": "target"}


def _set_answer(rr: RR, rest: list[str], value: Any) -> None:
    if len(rest) == 2 and rest[0] == "Hdr":
        field = rest[1]
        if field == "Name":
            rr.rname = DNSLabel(as_string(value))
        elif field == "Ttl":
            rr.ttl = as_int(value)
        elif field == "Class":
            rr.rclass = as_int(value)
        elif field == "Rrtype":
            rr.rtype = as_int(value)
        elif field != "Rdlength":  # computed when packed
            raise DnsError("Hdr has Name, Rrtype, Class, Ttl")
        return
    if len(rest) != 1:
        raise DnsError("an answer field is Hdr.<field> or a field of the record")
    field, rdata = rest[0], rr.rdata
    if isinstance(rdata, NAPTR) and field in _NAPTR_FIELDS:
        attr = _NAPTR_FIELDS[field]
        if attr in ("order", "preference"):
            setattr(rdata, attr, _u16(value))
        elif attr == "replacement":
            rdata.replacement = DNSLabel(as_string(value) or ".")
        else:
            setattr(rdata, attr, as_string(value).encode())
    elif isinstance(rdata, SRV) and field in _SRV_FIELDS:
        attr = _SRV_FIELDS[field]
        if attr == "target":
            rdata.target = DNSLabel(as_string(value))
        else:
            setattr(rdata, attr, _u16(value))
    elif isinstance(rdata, A) and field == "A":
        rr.rdata = A(str(ipaddress.IPv4Address(as_string(value))))
    elif isinstance(rdata, AAAA) and field == "AAAA":
        rr.rdata = AAAA(str(ipaddress.IPv6Address(as_string(value))))
    else:
        raise DnsError(f"a {qtype_name(rr.rtype)} answer has no field {field}")


def _u16(value: Any) -> int:
    number = as_int(value)
    if not 0 <= number <= 0xFFFF:
        raise ValueError("not a 16-bit number")
    return number


def _set_option(reply: DNSRecord, idxs: tuple[str, ...], rest: list[str], value: Any, new_branch: bool) -> None:
    if len(rest) != 1:
        raise DnsError("an option is written as Option.<Field>")
    opt = opt_record(reply)
    if opt is None:
        opt = RR(".", TYPE_OPT, rclass=4096, ttl=0, rdata=[])
        reply.add_ar(opt)
    options: list = opt.rdata
    field = rest[0]
    code, data = _option_data(field, value)
    if idxs:
        i = int(idxs[-1])
        if i == len(options):
            options.append(EDNSOption(code, data))
            return
        if not 0 <= i < len(options):
            raise DnsError(f"index {i} is out of range ({len(options)} present)")
    elif new_branch or not options:
        options.append(EDNSOption(code, data))
        return
    else:
        i = len(options) - 1
    if options[i].code != code:
        raise DnsError(f"option {i} has code {options[i].code}, not the {field} option ({code})")
    options[i] = EDNSOption(code, data)


def _option_data(field: str, value: Any) -> tuple[int, bytes]:
    text = as_string(value)
    if field == "Uri":
        return OPT_ESU, text.encode()
    if field == "Nsid":
        return OPT_NSID, bytes.fromhex(text)
    if field == "Cookie":
        return OPT_COOKIE, bytes.fromhex(text)
    if field == "Expire":
        return OPT_EXPIRE, as_int(value).to_bytes(4, "big")
    if field == "Timeout":
        return OPT_KEEPALIVE, as_int(value).to_bytes(2, "big")
    if field == "Padding":
        return OPT_PADDING, text.encode("latin-1")
    if field == "ExtraText":
        return OPT_EDE, b"\x00\x00" + text.encode()
    raise DnsError(f"no option is written by field {field} (Uri, Nsid, Cookie, Expire, Timeout, Padding, ExtraText)")


__all__ = ["DnsDataProvider", "apply_reply_fields", "option_fields", "request_vars"]
