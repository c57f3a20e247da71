"""RADIUS server transport: UDP and TCP (RFC 6613) listeners in front of one request handler.

Every received packet goes through ``RadiusServer.receive`` (transport-independent):

1. the client's secret is found by source address (exact IP, then CIDR keys, then ``*default``); unknown
   clients are dropped;
2. framing, Request Authenticator (Accounting/CoA/Disconnect) and Message-Authenticator are checked on the raw
   bytes; a failure is logged and the packet dropped, never answered;
3. duplicates (RFC 5080 §2.2.2: same source address and port, Identifier and Request Authenticator) inside
   ``duplicate_window`` seconds of the first reply get that reply; one that arrives while the first copy is still
   being processed waits for that result, so the handler runs once per request (:mod:`agents.dedup`);
4. Status-Server (RFC 5997) is answered here; other codes go to ``handler(request, client)``, whose returned
   Packet is the reply (None: no reply).

Drop logs are rate limited (a flood of forged packets must not flood the log); secrets are never logged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pycgrates.agents.dedup import DuplicateDetector
from pycgrates.engine.log import DropLog
from pycgrates.engine.tasks import Supervisor

from .codec import (
    ACCESS_ACCEPT,
    ACCESS_CHALLENGE,
    ACCESS_REJECT,
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    ACCOUNTING_RESPONSE,
    CODE_NAMES,
    MAX_PACKET,
    PROXY_STATE,
    STATUS_SERVER,
    AuthenticatorError,
    Packet,
    RadiusError,
    check_request,
)
from .dictionary import Dictionary

log = logging.getLogger("cgr.radius")

T = TypeVar("T")
DEFAULT_CLIENT = "*default"
AUTH_CODES = frozenset({ACCESS_REQUEST, STATUS_SERVER})
ACCT_CODES = frozenset({ACCOUNTING_REQUEST, STATUS_SERVER})


@dataclass(frozen=True, slots=True)
class RadiusClient:
    """Who sent a request, and the secret and dictionary that apply to it."""

    host: str
    port: int
    transport: str  # "udp" | "tcp"
    listener: str  # "auth" | "acct" | "auth+acct"
    local_address: str
    secret: bytes = field(repr=False)
    dictionary: Dictionary = field(repr=False)

    @property
    def remote_address(self) -> str:
        """``host:port`` (``[v6]:port`` for IPv6), as CGRateS' ``*vars.RemoteHost``."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


Handler = Callable[[Packet, RadiusClient], Awaitable[Packet | None]]
#: what makes two packets one request (RFC 5080 §2.2.2): source address and port, Identifier, Request Authenticator
DuplicateKey = tuple[str, int, int, bytes]


class ClientTable(Mapping[str, T]):
    """{client IP | CIDR | ``*default``: value} looked up by a source address."""

    def __init__(self, table: Mapping[str, T] | None, what: str = "client") -> None:
        self._exact: dict[str, T] = {}
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, T]] = []
        self._default: T | None = None
        self._raw = dict(table or {})
        for key, value in self._raw.items():
            if key == DEFAULT_CLIENT:
                self._default = value
            elif "/" in key:
                try:
                    self._networks.append((ipaddress.ip_network(key, strict=False), value))
                except ValueError:
                    raise ValueError(f"{what}: {key!r} is not an IP address, a network or *default") from None
            else:
                self._exact[_normal_ip(key)] = value
        self._networks.sort(key=lambda item: -item[0].prefixlen)

    def lookup(self, host: str) -> T | None:
        host = _normal_ip(host)
        found = self._exact.get(host)
        if found is not None:
            return found
        if self._networks:
            try:
                ip = ipaddress.ip_address(host)
            except ValueError:
                ip = None
            if ip is not None:
                for net, value in self._networks:
                    if ip.version == net.version and ip in net:
                        return value
        return self._default

    def __getitem__(self, key: str) -> T:
        return self._raw[key]

    def __iter__(self):
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _normal_ip(host: str) -> str:
    if host.startswith("::ffff:") and "." in host:
        return host[7:]
    if "%" in host:
        host = host.split("%", 1)[0]
    return host


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """``"127.0.0.1:1812"``, ``":1812"``, ``"[::1]:1812"`` or ``"host"`` to (host, port); '' host = all."""
    address = address.strip()
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, port = address.split(":")
    elif ":" in address:
        host, port = address, ""
    else:
        host, port = address, ""
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise ValueError(f"RADIUS listener address {address!r}: the port is not a number") from None



@dataclass(slots=True)
class _Listener:
    transport: str
    kind: str
    codes: frozenset[int]
    host: str
    port: int
    server: Any = None


class RadiusServer:
    """RADIUS auth/acct listeners calling ``handler(request, client) -> reply | None``."""

    def __init__(self, handler: Handler, *, secrets: Mapping[str, str | bytes],
                 dictionaries: Mapping[str, Dictionary] | Dictionary, duplicate_window: float = 30.0,
                 require_message_authenticator: bool = False, handler_timeout: float | None = 60.0,
                 max_in_flight: int = 10000, max_cached: int = 200000, tasks: Supervisor | None = None) -> None:
        self.handler = handler
        self.secrets = ClientTable({k: v.encode() if isinstance(v, str) else v for k, v in secrets.items()},
                                   "radius_agent.client_secrets")
        if isinstance(dictionaries, Dictionary):
            dictionaries = {DEFAULT_CLIENT: dictionaries}
        self.dictionaries = ClientTable(dictionaries, "radius_agent.client_dictionaries")
        if DEFAULT_CLIENT not in dictionaries:
            raise ValueError("radius_agent.client_dictionaries needs a *default entry")
        self.require_message_authenticator = require_message_authenticator
        self.handler_timeout = handler_timeout
        self.max_in_flight = max_in_flight
        #: replies (their bytes, None for no reply) by request, for the retransmissions
        self.duplicates: DuplicateDetector[DuplicateKey, bytes | None] = DuplicateDetector(duplicate_window,
                                                                                            max_cached)
        #: the requests being processed
        self.tasks = tasks if tasks is not None else Supervisor("RADIUS server")
        self.listeners: list[_Listener] = []
        self.stats: Counter[str] = Counter()
        self._tcp_writers: set[asyncio.StreamWriter] = set()
        self._drop_log = DropLog(log, "RADIUS", "packets")

    # ------------------------------------------------------------ listeners

    async def start(self, listeners: Iterable[Mapping[str, Any]]) -> None:
        """Open the ``radius_agent.listeners`` ({network: udp|tcp, auth_address, acct_address})."""
        for spec in listeners:
            network = str(spec.get("network") or "udp").lstrip("*").lower()
            auth, acct = spec.get("auth_address") or "", spec.get("acct_address") or ""
            if auth and acct and split_address(auth, 1812) == split_address(acct, 1813) \
                    and split_address(auth, 1812)[1] != 0:
                await self.listen(network, auth, "auth+acct")  # one port serving both
                continue
            if auth:
                await self.listen(network, auth, "auth")
            if acct:
                await self.listen(network, acct, "acct")

    async def listen(self, network: str, address: str, kind: str) -> tuple[str, int]:
        """Open one listener; ``kind`` is auth, acct or auth+acct. Returns the bound (host, port)."""
        codes = {"auth": AUTH_CODES, "acct": ACCT_CODES, "auth+acct": AUTH_CODES | ACCT_CODES}.get(kind)
        if codes is None:
            raise ValueError(f"RADIUS listener kind {kind!r}: use auth, acct or auth+acct")
        host, port = split_address(address, 1812 if kind.startswith("auth") else 1813)
        loop = asyncio.get_running_loop()
        listener = _Listener(network, kind, codes, host, port)
        if network == "udp":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UDPProtocol(self, listener), local_addr=(host or "0.0.0.0", port))
            listener.server = transport
            sockname = transport.get_extra_info("sockname")
        elif network == "tcp":
            server = await asyncio.start_server(
                lambda r, w: self._tcp_connection(r, w, listener), host or None, port)
            listener.server = server
            sockname = server.sockets[0].getsockname()
        else:
            raise ValueError(f"RADIUS listener network {network!r}: use udp or tcp")
        listener.host, listener.port = sockname[0], sockname[1]
        self.listeners.append(listener)
        log.info("RADIUS %s listener on %s/%s:%d", kind, network, listener.host, listener.port)
        return listener.host, listener.port

    def address(self, network: str = "udp", kind: str = "auth") -> tuple[str, int]:
        """The bound address of the first listener of that network serving ``kind``."""
        for lst in self.listeners:
            if lst.transport == network and kind in lst.kind.split("+"):
                return lst.host, lst.port
        raise LookupError(f"no {network} {kind} listener")

    async def close(self) -> None:
        """Stop listening and finish the requests in flight."""
        for lst in self.listeners:
            lst.server.close()
        for writer in list(self._tcp_writers):
            writer.close()
        for lst in self.listeners:
            if lst.transport == "tcp":
                await lst.server.wait_closed()
        await self.tasks.drain(timeout=5)
        self.listeners.clear()

    async def __aenter__(self) -> RadiusServer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------ TCP (RFC 6613)

    async def _tcp_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              listener: _Listener) -> None:
        peer = writer.get_extra_info("peername")
        host, port = peer[0], peer[1]
        if self.secrets.lookup(host) is None:
            self._drop("RADIUS: TCP connection from unknown client %s closed", host)
            self.stats["dropped_unknown_client"] += 1
            writer.close()
            return
        self._tcp_writers.add(writer)
        local = writer.get_extra_info("sockname")
        local_address = f"{local[0]}:{local[1]}"
        try:
            while True:
                head = await reader.readexactly(4)
                length = (head[2] << 8) | head[3]
                if length < 20 or length > MAX_PACKET:
                    self._drop("RADIUS: bad Length %d from %s:%d over TCP; closing", length, host, port)
                    self.stats["dropped_malformed"] += 1
                    break
                data = head + await reader.readexactly(length - 4)
                if not self.receive(data, host, port, listener, writer.write, local_address, "tcp"):
                    break  # RFC 6613 §2.6.4: a connection that carried garbage is closed
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self._tcp_writers.discard(writer)
            writer.close()

    # ------------------------------------------------------------ the common path

    def _drop(self, msg: str, *args: Any) -> None:
        self._drop_log(msg, *args)

    def receive(self, data: bytes, host: str, port: int, listener: _Listener, send: Callable[[bytes], Any],
                local_address: str = "", transport: str = "udp") -> bool:
        """Validate one received packet and start (or join) its processing; False when it was dropped."""
        self.stats["received"] += 1
        secret = self.secrets.lookup(host)
        if secret is None:
            self.stats["dropped_unknown_client"] += 1
            self._drop("RADIUS: packet from unknown client %s:%d dropped (no client_secrets entry)", host, port)
            return False
        try:
            code = check_request(data, secret, require_message_authenticator=self.require_message_authenticator)
        except AuthenticatorError as exc:
            self.stats["dropped_authenticator"] += 1
            self._drop("RADIUS: packet from %s:%d dropped: %s", host, port, exc)
            return False
        except RadiusError as exc:
            self.stats["dropped_malformed"] += 1
            self._drop("RADIUS: malformed packet from %s:%d dropped: %s", host, port, exc)
            return False
        if code not in listener.codes:
            self.stats["dropped_code"] += 1
            self._drop("RADIUS: %s from %s:%d dropped: not served on this %s listener",
                       CODE_NAMES.get(code, f"code {code}"), host, port, listener.kind)
            return False
        key = (host, port, data[1], data[4:20])
        first = self.duplicates.claim(key, time.monotonic())
        if first is not None:
            self.stats["duplicates"] += 1
            first.add_done_callback(lambda fut: _send_result(fut, send))
            return True
        if self.duplicates.in_flight > self.max_in_flight:
            self.duplicates.forget(key)
            self.stats["dropped_overload"] += 1
            self._drop("RADIUS: %d requests in flight; packet from %s:%d dropped", self.max_in_flight, host, port)
            return True
        client = RadiusClient(host, port, transport, listener.kind, local_address, secret,
                              self.dictionaries.lookup(host))  # type: ignore[arg-type]
        self.tasks.spawn(self._process(key, data, code, client, send), f"{client.remote_address} id={data[1]}")
        return True

    async def _process(self, key: DuplicateKey, data: bytes, code: int, client: RadiusClient,
                       send: Callable[[bytes], Any]) -> None:
        try:
            reply_bytes = await self._answer(data, code, client)
        except BaseException as exc:
            self.duplicates.failed(key, exc)
            raise
        self.duplicates.done(key, reply_bytes, time.monotonic())
        if reply_bytes is not None:
            self.stats["replies"] += 1
            try:
                send(reply_bytes)
            except (OSError, RuntimeError) as exc:  # the TCP peer went away
                log.info("RADIUS: reply to %s not sent: %s", client.remote_address, exc)

    async def _answer(self, data: bytes, code: int, client: RadiusClient) -> bytes | None:
        try:
            request = Packet.decode(data, client.dictionary, client.secret)
        except RadiusError as exc:
            self.stats["dropped_malformed"] += 1
            self._drop("RADIUS: packet from %s dropped: %s", client.remote_address, exc)
            return None
        if code == STATUS_SERVER:
            self.stats["status_server"] += 1
            reply: Packet | None = request.reply(ACCESS_ACCEPT if "auth" in client.listener else ACCOUNTING_RESPONSE)
        else:
            self.stats["handled"] += 1
            try:
                if self.handler_timeout:
                    reply = await asyncio.wait_for(self.handler(request, client), self.handler_timeout)
                else:
                    reply = await self.handler(request, client)
            except TimeoutError:
                log.error("RADIUS: %s id=%d from %s: no answer from the handler in %ss; not replying",
                          request.code_name, request.identifier, client.remote_address, self.handler_timeout)
                return None
            except Exception:
                log.exception("RADIUS: %s id=%d from %s: handler failed; not replying",
                              request.code_name, request.identifier, client.remote_address)
                return None
        if reply is None:
            return None
        reply.identifier = request.identifier
        reply.request_authenticator = request.authenticator
        reply.secret = client.secret
        if code == STATUS_SERVER or reply.code in (ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE):
            # Signing every Access reply defeats forged-response attacks (BlastRADIUS, CVE-2024-3596).
            reply.add_message_authenticator = True
        if not any(a.code == PROXY_STATE and not a.vendor for a in reply.attributes):
            # RFC 2865 §5.33: Proxy-State comes back unmodified and in order.
            reply.attributes.extend(a for a in request.attributes if a.code == PROXY_STATE and not a.vendor)
        try:
            return reply.encode()
        except RadiusError as exc:
            log.error("RADIUS: reply to %s id=%d from %s cannot be encoded: %s",
                      request.code_name, request.identifier, client.remote_address, exc)
            return None


def _send_result(future: asyncio.Future[bytes | None], send: Callable[[bytes], Any]) -> None:
    if future.cancelled():
        return
    reply = future.result()
    if reply is not None:
        try:
            send(reply)
        except (OSError, RuntimeError):
            pass


class _UDPProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: RadiusServer, listener: _Listener) -> None:
        self.server = server
        self.listener = listener
        self.transport: asyncio.DatagramTransport | None = None
        self.local_address = ""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("sockname")
        self.local_address = f"{sock[0]}:{sock[1]}"

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        transport = self.transport
        if transport is None:
            return
        self.server.receive(data, addr[0], addr[1], self.listener, lambda reply: transport.sendto(reply, addr),
                            self.local_address, "udp")

    def error_received(self, exc: Exception) -> None:
        log.debug("RADIUS UDP listener: %s", exc)
