"""What request processors read of a SIP request (``*req``, ``*vars``) and write into its response (``*rep``).

As CGRateS's SIP agent: ``*req.<Header>`` is the header's value (every field of that name joined with ``,``),
``*req.Request`` the start line; ``*vars.Method`` and ``*vars.RemoteHost`` describe the request. In ``*rep``,
``Request`` is the status line (``SIP/2.0 302 Moved Temporarily``) and any other path a header the response carries
(one value: the last one written wins). Parts of a value (the user of a URI, ...) are left to the RSR converters
(``{*sipuri_user}``, ``{*sipuri_host}``, ``{*sipuri_method}``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pycgrates.engine.template.dataprovider import NotFoundError, as_string, parse_segment
from pycgrates.engine.template.navmap import Leaf

from .codec import SipError, SipRequest, SipResponse

REQUEST_LINE = "Request"
REQUEST_URI = "Request-URI"
METHOD = "Method"
CONTENT = "Content"
REMOTE_HOST = "RemoteHost"


class SipDataProvider:
    """A message as ``*req``: ``Request`` is the start line, ``Request-URI`` and ``Method`` its parts, ``Content``
    the body, any other name a header (compact or full, any case) with its fields joined by ``,``; ``Name[i]``
    is the i-th value of a list header (``Via[1]``, ``Contact[0]``) or the i-th field of another."""

    __slots__ = ("message",)

    def __init__(self, message: SipRequest | SipResponse) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"SipDataProvider({self.message.start_line()!r})"

    def field_as_any(self, path: Sequence[str]) -> Any:
        if len(path) != 1:
            raise NotFoundError()
        name, idxs = parse_segment(path[0])
        msg = self.message
        if not idxs:
            if name == REQUEST_LINE:
                return msg.start_line()
            if isinstance(msg, SipRequest) and name == REQUEST_URI:
                return msg.uri
            if isinstance(msg, SipRequest) and name == METHOD:
                return msg.method
            if name == CONTENT:
                return msg.body.decode("utf-8", "replace")
            value = msg.headers.joined(name)
            if value is None:
                raise NotFoundError()
            return value
        if len(idxs) != 1:
            raise NotFoundError()
        values = msg.headers.values(name)
        try:
            return values[int(idxs[0])]
        except (ValueError, IndexError):
            raise NotFoundError() from None

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))

    def to_dict(self) -> dict[str, str]:
        """The message for the logs: start line, headers (fields joined), body."""
        out: dict[str, str] = {REQUEST_LINE: self.message.start_line()}
        for name, _ in self.message.headers:
            if name not in out:
                out[name] = self.message.headers.joined(name) or ""
        if self.message.body:
            out[CONTENT] = self.message.body.decode("utf-8", "replace")
        return out


def request_vars(request: SipRequest, remote_host: str) -> dict[str, Any]:
    """The ``*vars`` a SIP request starts with: ``Method`` and ``RemoteHost`` (``ip:port``)."""
    return {METHOD: request.method, REMOTE_HOST: remote_host}


def apply_reply_fields(response: SipResponse, leaves: Iterable[Leaf]) -> None:
    """Write ``*rep`` into ``response``: ``Request`` sets the status line, any other path the header of that
    name (indexes dropped, nested paths joined with dots as CGRateS does). SipError names a bad value."""
    for leaf in leaves:
        name = ".".join(parse_segment(p)[0] for p in leaf.path)
        value = as_string(leaf.value)
        if name == REQUEST_LINE:
            try:
                response.set_status_line(value)
            except SipError as exc:
                raise SipError(f"*rep.{REQUEST_LINE}: {exc}") from None
            continue
        try:
            response.headers.set(name, value)
        except SipError as exc:
            raise SipError(f"*rep.{name}: {exc}") from None


__all__ = ["SipDataProvider", "apply_reply_fields", "request_vars"]
