"""The HTTP agent's payloads: how a request becomes ``*req`` and how ``*rep`` becomes the response body.

Requests (``request_payload``):

- ``*url``: the query string and a form body (``application/x-www-form-urlencoded``), as Go's ``FormValue``
  reads them: ``~*req.Msisdn`` is the first value, the body's before the query's; a parameter that is absent
  reads as ``""`` (CGRateS's httpUrlDP).
- ``*xml``: the body as an XML document (:mod:`.xmldoc`).
- ``*json``: the body as a JSON object, navigated as any map (``~*req.subscriber.msisdn``, ``~*req.legs[0].id``);
  an absent path is NOT_FOUND, so ``*exists`` filters and mandatory fields see it.

Replies (``reply_payload``): ``*xml`` (CGRateS's XML, :func:`.xmldoc.encode_xml`), ``*json`` (the ``*rep`` tree as
a JSON object: one value per path, a list where a path holds several), ``*text_plain`` (alias ``*text``: a
``path=value`` line per value, in the order written, a repeated pair once, as CGRateS writes it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pycgrates.engine.template.dataprovider import (
    DataProvider,
    MapDataProvider,
    NotFoundError,
    as_string,
    parse_segment,
)
from pycgrates.engine.template.navmap import NavMap

from .xmldoc import XmlDataProvider, XmlError, encode_xml

URL, XML, JSON, TEXT_PLAIN, TEXT = "*url", "*xml", "*json", "*text_plain", "*text"
FORM = "application/x-www-form-urlencoded"


class PayloadError(ValueError):
    """A request body its ``request_payload`` cannot read; the text says what was wrong."""


class UrlDataProvider:
    """Query string and form values as ``*req`` (one path segment: the parameter name)."""

    __slots__ = ("values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = values

    def __repr__(self) -> str:
        return f"UrlDataProvider({dict(self.values)!r})"

    @classmethod
    def of(cls, query: str, body: bytes, content_type: str) -> UrlDataProvider:
        """From the raw query string and body: the first value of each name, the body's first (FormValue)."""
        values: dict[str, str] = {}
        sources = [query]
        if content_type.split(";", 1)[0].strip().lower() == FORM and body:
            sources.insert(0, body.decode("utf-8", "replace"))
        for source in sources:
            for name, value in parse_qsl(source, keep_blank_values=True):
                values.setdefault(name, value)
        return cls(values)

    def field_as_any(self, path: Sequence[str]) -> Any:
        if len(path) != 1:
            raise NotFoundError()
        return self.values.get(path[0], "")

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))

    def to_dict(self) -> dict[str, str]:
        return dict(self.values)


def json_provider(body: bytes) -> MapDataProvider:
    try:
        data = json.loads(body or b"null")
    except ValueError as exc:
        raise PayloadError(f"the body is no JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError(f"the body is JSON {type(data).__name__}, not an object")
    return MapDataProvider(data)


def xml_provider(body: bytes) -> XmlDataProvider:
    try:
        return XmlDataProvider.parse(body)
    except XmlError as exc:
        raise PayloadError(str(exc)) from None


@dataclass(frozen=True, slots=True)
class RequestInput:
    """What a request decoder reads: the raw query string, the body and its Content-Type."""

    query: str
    body: bytes
    content_type: str


#: request_payload → how the request becomes *req
DECODERS: dict[str, Callable[[RequestInput], DataProvider]] = {
    URL: lambda r: UrlDataProvider.of(r.query, r.body, r.content_type),
    XML: lambda r: xml_provider(r.body),
    JSON: lambda r: json_provider(r.body),
}


def encode_text(rep: NavMap) -> bytes:
    lines: dict[str, None] = {}
    for leaf in rep.leaves():
        path = ".".join(parse_segment(p)[0] for p in leaf.path)
        lines[f"{path}={as_string(leaf.value)}\n"] = None
    return "".join(lines).encode()


def encode_json(rep: NavMap) -> bytes:
    return json.dumps(rep.to_dict(), default=as_string, ensure_ascii=False, separators=(",", ":")).encode() \
        if rep else b""


@dataclass(frozen=True, slots=True)
class ReplyEncoder:
    content_type: str
    encode: Callable[[NavMap], bytes]


#: reply_payload → the response body and its Content-Type
ENCODERS: dict[str, ReplyEncoder] = {
    XML: ReplyEncoder("text/xml; charset=utf-8", lambda rep: encode_xml(rep.leaves())),
    JSON: ReplyEncoder("application/json", encode_json),
    TEXT_PLAIN: ReplyEncoder("text/plain; charset=utf-8", encode_text),
    TEXT: ReplyEncoder("text/plain; charset=utf-8", encode_text),
}


__all__ = ["DECODERS", "ENCODERS", "PayloadError", "ReplyEncoder", "RequestInput", "UrlDataProvider"]
