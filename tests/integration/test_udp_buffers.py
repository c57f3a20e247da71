"""The SIP and DNS UDP listeners ask for a large receive buffer, so that a burst of requests waits in the kernel
while the event loop is busy instead of being dropped (the default buffer holds about 150 small datagrams)."""

from __future__ import annotations

import socket
from pathlib import Path

from pycgrates.agents.dns.transport import DnsListener, DnsServer
from pycgrates.agents.sip.transport import UDP_RECEIVE_BUFFER, SipListener, SipServer


def default_buffer() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


def expected() -> int:
    """What the kernel grants for UDP_RECEIVE_BUFFER: twice the smaller of it and net.core.rmem_max."""
    limit = Path("/proc/sys/net/core/rmem_max")
    cap = int(limit.read_text()) if limit.exists() else UDP_RECEIVE_BUFFER
    return 2 * min(UDP_RECEIVE_BUFFER, cap)


async def test_sip_and_dns_udp_listeners_get_a_large_receive_buffer():
    async def never(*_args):
        raise AssertionError("no request is sent")

    sip = SipServer(never, listeners=[SipListener("127.0.0.1", 0, "udp")])
    dns = DnsServer(never, listeners=[DnsListener("127.0.0.1", 0, "udp")])
    await sip.start()
    await dns.start()
    try:
        sizes = [sip._endpoints[0].transport.get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF),
                 dns._endpoints[0].get_extra_info("socket").getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)]
        assert sizes == [expected()] * 2 and expected() > default_buffer()
    finally:
        await sip.stop()
        await dns.stop()
