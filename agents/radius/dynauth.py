"""RFC 5176 Dynamic Authorization client: Disconnect-Request and CoA-Request towards a NAS (port 3799).

Over UDP the same bytes (same Identifier and Request Authenticator) are sent again after each ``timeout`` up to
``retries`` times (RFC 5080 §2.2.1); over TCP (RFC 6613) once, waiting ``timeout * (retries + 1)``. Replies
are accepted only from the NAS's address, with the request's Identifier, a valid Response Authenticator (and
Message-Authenticator when present) and a code that answers the request; anything else is logged and ignored.

A NAK is a result, not an exception: ``DynAuthResult.acked`` is False and ``error_cause`` carries the
Error-Cause. ``result.raise_for_nak()`` turns it into a ``DynAuthNak``. No answer at all raises
``DynAuthTimeout``.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .codec import (
    COA_ACK,
    COA_NAK,
    COA_REQUEST,
    CODE_NAMES,
    DISCONNECT_ACK,
    DISCONNECT_NAK,
    DISCONNECT_REQUEST,
    MAX_PACKET,
    Packet,
    RadiusError,
    check_response,
    code_of,
)
from .dictionary import Dictionary

log = logging.getLogger("cgr.radius")

ERROR_CAUSE = 101
DEFAULT_PORT = 3799
ANSWERS = {DISCONNECT_REQUEST: (DISCONNECT_ACK, DISCONNECT_NAK), COA_REQUEST: (COA_ACK, COA_NAK)}
#: Error-Cause names (RFC 5176 §3.6), used when the dictionary in use names attribute 101 otherwise.
ERROR_CAUSES = {
    201: "Residual-Context-Removed", 202: "Invalid-EAP-Packet", 401: "Unsupported-Attribute",
    402: "Missing-Attribute", 403: "NAS-Identification-Mismatch", 404: "Invalid-Request",
    405: "Unsupported-Service", 406: "Unsupported-Extension", 407: "Invalid-Attribute-Value",
    501: "Administratively-Prohibited", 502: "Proxy-Request-Not-Routable", 503: "Session-Context-Not-Found",
    504: "Session-Context-Not-Removable", 505: "Proxy-Processing-Error", 506: "Resources-Unavailable",
    507: "Request-Initiated", 508: "Multiple-Session-Selection-Unsupported",
}


class DynAuthError(RadiusError):
    """A Disconnect/CoA request that got no usable answer."""


class DynAuthTimeout(DynAuthError):
    """The NAS did not answer (after every retry)."""


class DynAuthNak(DynAuthError):
    """The NAS answered Disconnect-NAK or CoA-NAK."""

    def __init__(self, message: str, result: DynAuthResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True, slots=True)
class DynAuthResult:
    """The NAS's answer: ACK or NAK, and the Error-Cause when it gave one."""

    code: int
    reply: Packet
    nas: str

    @property
    def acked(self) -> bool:
        return self.code in (DISCONNECT_ACK, COA_ACK)

    @property
    def code_name(self) -> str:
        return CODE_NAMES.get(self.code, str(self.code))

    @property
    def error_cause(self) -> int | None:
        for attr in self.reply.attributes:
            if attr.code == ERROR_CAUSE and not attr.vendor and len(attr.raw) == 4 and (
                    attr.defn is None or attr.defn.parent is None):
                return int.from_bytes(attr.raw, "big")
        return None

    @property
    def error_cause_name(self) -> str | None:
        cause = self.error_cause
        if cause is None:
            return None
        return ERROR_CAUSES.get(cause, str(cause))

    def raise_for_nak(self) -> DynAuthResult:
        if not self.acked:
            cause = self.error_cause
            detail = f": Error-Cause {self.error_cause_name} ({cause})" if cause is not None else ""
            raise DynAuthNak(f"{self.code_name} from NAS {self.nas}{detail}", self)
        return self


class DynAuthClient:
    """Sends Disconnect/CoA requests to one NAS."""

    def __init__(self, host: str, port: int = DEFAULT_PORT, *, secret: str | bytes, dictionary: Dictionary,
                 transport: str = "udp", timeout: float = 3.0, retries: int = 2) -> None:
        transport = transport.lstrip("*").lower()
        if transport not in ("udp", "tcp"):
            raise ValueError(f"dynamic authorization transport {transport!r}: use udp or tcp")
        if not host:
            raise ValueError("dynamic authorization needs the NAS host")
        self.host = host
        self.port = port or DEFAULT_PORT
        self.secret = secret.encode() if isinstance(secret, str) else secret
        self.dictionary = dictionary
        self.transport = transport
        self.timeout = timeout
        self.retries = max(0, retries)

    @property
    def nas(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def new_request(self, code: int | str) -> Packet:
        """An empty Disconnect-Request or CoA-Request with a fresh Identifier."""
        code = code_of(code)
        if code not in ANSWERS:
            raise ValueError(f"{CODE_NAMES.get(code, code)} is not a Disconnect-Request or CoA-Request")
        return Packet(code, os.urandom(1)[0], dictionary=self.dictionary, secret=self.secret)

    async def disconnect(self, attributes: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> DynAuthResult:
        """Send a Disconnect-Request with these attributes (name -> value, or (name, value) pairs)."""
        return await self.send(self._with(DISCONNECT_REQUEST, attributes))

    async def coa(self, attributes: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> DynAuthResult:
        """Send a CoA-Request with these attributes (name -> value, or (name, value) pairs)."""
        return await self.send(self._with(COA_REQUEST, attributes))

    def _with(self, code: int, attributes: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Packet:
        request = self.new_request(code)
        items = attributes.items() if isinstance(attributes, Mapping) else attributes
        for name, value in items:
            request.add(name, value)
        return request

    async def send(self, request: Packet) -> DynAuthResult:
        """Send ``request`` and return the NAS's ACK/NAK; DynAuthTimeout when none comes."""
        if request.code not in ANSWERS:
            raise ValueError(f"{request.code_name} is not a Disconnect-Request or CoA-Request")
        request.secret = self.secret
        data = request.encode()
        assert request.authenticator is not None
        if self.transport == "udp":
            reply = await self._send_udp(request, data)
        else:
            reply = await self._send_tcp(request, data)
        return DynAuthResult(reply.code, reply, self.nas)

    def _accept(self, request: Packet, data: bytes) -> Packet | None:
        """The decoded reply if ``data`` answers ``request``; None (logged) otherwise."""
        if len(data) < 20 or data[1] != request.identifier:
            return None
        try:
            code = check_response(data, self.secret, request.authenticator or b"")
            if code not in ANSWERS[request.code]:
                raise RadiusError(f"{CODE_NAMES.get(code, code)} does not answer a {request.code_name}")
            return Packet.decode(data, self.dictionary, self.secret, request_authenticator=request.authenticator)
        except RadiusError as exc:
            log.warning("RADIUS: reply from NAS %s to %s id=%d ignored: %s", self.nas, request.code_name,
                        request.identifier, exc)
            return None

    async def _send_udp(self, request: Packet, data: bytes) -> Packet:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Packet] = loop.create_future()
        client = self

        class _Protocol(asyncio.DatagramProtocol):
            def datagram_received(self, datagram: bytes, addr: tuple) -> None:
                if answer.done():
                    return
                reply = client._accept(request, datagram)
                if reply is not None:
                    answer.set_result(reply)

            def error_received(self, exc: Exception) -> None:
                log.debug("RADIUS: dynamic authorization to %s: %s", client.nas, exc)

        try:
            transport, _ = await loop.create_datagram_endpoint(_Protocol, remote_addr=(self.host, self.port))
        except OSError as exc:
            raise DynAuthError(f"{request.code_name} to NAS {self.nas}: cannot send: {exc}") from exc
        try:
            for attempt in range(self.retries + 1):
                transport.sendto(data)
                try:
                    return await asyncio.wait_for(asyncio.shield(answer), self.timeout)
                except TimeoutError:
                    if attempt < self.retries:
                        log.info("RADIUS: no answer from NAS %s to %s id=%d in %ss; retrying",
                                 self.nas, request.code_name, request.identifier, self.timeout)
        finally:
            transport.close()
        raise DynAuthTimeout(f"{request.code_name} to NAS {self.nas}: no answer after {self.retries + 1} "
                             f"attempts of {self.timeout}s")

    async def _send_tcp(self, request: Packet, data: bytes) -> Packet:
        total = self.timeout * (self.retries + 1)
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise DynAuthError(f"{request.code_name} to NAS {self.nas}: cannot connect over TCP: "
                               f"{exc or 'timed out'}") from exc
        try:
            writer.write(data)

            async def read_answer() -> Packet:
                while True:
                    head = await reader.readexactly(4)
                    length = (head[2] << 8) | head[3]
                    if length < 20 or length > MAX_PACKET:
                        raise DynAuthError(f"{request.code_name} to NAS {self.nas}: bad Length {length} in reply")
                    frame = head + await reader.readexactly(length - 4)
                    reply = self._accept(request, frame)
                    if reply is not None:
                        return reply

            return await asyncio.wait_for(read_answer(), total)
        except TimeoutError:
            raise DynAuthTimeout(f"{request.code_name} to NAS {self.nas}: no answer over TCP in {total}s") from None
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise DynAuthError(f"{request.code_name} to NAS {self.nas}: TCP connection closed before an "
                               "answer") from exc
        finally:
            writer.close()
