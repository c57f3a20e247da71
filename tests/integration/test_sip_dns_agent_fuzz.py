"""Mutated SIP messages and DNS packets through the whole agents (listener, transactions, request processors,
SessionS) of an in-process engine on CGRateS's dnsagent_internal processors and a SIP redirect: what does not parse
gets no answer, every parsable DNS query exactly one, every SIP answer is a response, nothing fails (no task, no
exception reaching the event loop) and both agents still answer afterwards. SIPDNS_FUZZ_COUNT messages of each kind
(20 000 by default; 1 000 000 of each passed in 551 s for SIP and 550 s for DNS on 2 shared cores)."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.agents.dns.codec import parse_message
from pycgrates.agents.sip.codec import SipResponse
from pycgrates.agents.sip.codec import parse_message as parse_sip
from pycgrates.engine.app import Engine
from pycgrates.engine.config import load_config
from tests.conftest import shared_data
from tests.integration.test_sip_dns_fuzz import (
    BATCH,
    FUZZ_COUNT,
    Collector,
    LoopErrors,
    corpus,
    dns_answerable,
    dns_seeds,
    sip_is_garbage,
    sip_seeds,
    wait_for,
)

SIP_PROCESSORS = [
    {"id": "Register", "filters": ["*notstring:~*vars.Method:INVITE"], "flags": ["*none"],
     "reply_fields": [{"tag": "Request", "path": "*rep.Request", "type": "*constant",
                       "value": "SIP/2.0 405 Method Not Allowed"}]},
    {"id": "Routes", "filters": ["*string:~*vars.Method:INVITE"], "flags": ["*event", "*attributes", "*continue"],
     "request_fields": [
         {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.From{*sipuri_user}",
          "mandatory": True},
         {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable", "value": "~*req.To{*sipuri_user}"}]},
    {"id": "Redirect", "filters": ["*string:~*vars.Method:INVITE"], "flags": ["*none"], "reply_fields": [
        {"tag": "Request", "path": "*rep.Request", "type": "*constant", "value": "SIP/2.0 302 Moved Temporarily"},
        {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "\"x\" <sip:"},
        {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "~*req.To{*sipuri_user}"},
        {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "`@10.0.0.2>`"}]},
]


@pytest.fixture
async def engine():
    cfg = load_config(shared_data("conf", "samples", "dnsagent_internal"))
    data = cfg.data
    data["listen"] = {**data["listen"], "rpc_json": "", "http": "", "birpc_json": "", "rpc_json_tls": "",
                      "http_tls": ""}
    data["tls"] = {**data["tls"], "server_certificate": "", "server_key": "", "client_certificate": "",
                   "client_key": "", "ca_certificate": ""}
    for db in ("data_db", "stor_db"):
        data[db]["opts"]["internalDBDumpPath"] = ""
    data["dns_agent"]["listeners"] = [{"address": "127.0.0.1:0", "network": "udp"},
                                      {"address": "127.0.0.1:0", "network": "tcp"}]
    data["dns_agent"]["sessions_conns"] = ["*internal"]
    data["sessions"]["attributes_conns"] = ["*internal"]
    data["sip_agent"] = {**data["sip_agent"], "enabled": True, "listen": "127.0.0.1:0", "listen_net": "udp",
                         "retransmission_timer": "50ms", "request_processors": SIP_PROCESSORS}
    eng = Engine(cfg)
    await eng.start()
    assert await eng.dispatcher.registry.dispatch("APIerSv1.LoadTariffPlanFromFolder", {
        "FolderPath": str(shared_data("tariffplans", "dnsagent"))}) == "OK"
    yield eng
    await eng.stop()


async def send_paced(transport, messages: list[bytes], counted, offset: int = 0) -> None:
    """In batches a loopback socket buffer holds, each batch received before the next goes."""
    for i in range(0, len(messages), BATCH):
        for data in messages[i:i + BATCH]:
            transport.sendto(data)
        await wait_for(lambda n=offset + min(i + BATCH, len(messages)): counted() >= n, 30)


async def test_sip_agent_fuzz(engine):
    agent = engine.ctx.services["sip_agent"]
    server = agent.server
    loop_errors = LoopErrors()
    transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
        Collector, remote_addr=("127.0.0.1", agent.addresses[0][1]))
    try:
        messages = corpus(sip_seeds(), FUZZ_COUNT, 11, text=True)
        garbage = [m[:65000] for m in messages if m.strip(b"\r\n\x00 ") and sip_is_garbage(m)]
        await send_paced(transport, garbage, lambda: server.stats_messages)
        await asyncio.sleep(0.2)
        assert server.stats_garbage == len(garbage) and client.received == []
        valid = [m for m in messages if not sip_is_garbage(m)]
        await send_paced(transport, valid, lambda: server.stats_messages, offset=len(garbage))
        await wait_for(lambda: not server._handlers, 60)
        responses = [parse_sip(d) for d in client.received]
        assert all(isinstance(r, SipResponse) for r in responses)
        assert {r.status for r in responses} >= {100, 200, 302, 405}  # processors answered, and the layer
        assert agent.tasks.failures == 0 and loop_errors.errors == []
        client.received.clear()
        transport.sendto(sip_seeds()[0].replace(b"z9hG4bK-0", b"z9hG4bK-alive"))
        await wait_for(lambda: any(b"302 Moved" in d for d in client.received), 5)
    finally:
        transport.close()
        loop_errors.close()


async def test_dns_agent_fuzz(engine):
    agent = engine.ctx.services["dns_agent"]
    server = agent.server
    ports = {network: port for _, port, network in agent.addresses}
    loop_errors = LoopErrors()
    transport, client = await asyncio.get_running_loop().create_datagram_endpoint(
        Collector, remote_addr=("127.0.0.1", ports["udp"]))
    try:
        messages = [m for m in corpus(dns_seeds(), FUZZ_COUNT, 12, text=False) if m]
        answerable = 0
        for i in range(0, len(messages), BATCH):  # each batch answered before the next: no reply lost in a buffer
            batch = messages[i:i + BATCH]
            answerable += sum(dns_answerable(m) for m in batch)
            for data in batch:
                transport.sendto(data)
            await wait_for(lambda n=i + len(batch), a=answerable: server.stats_messages >= n
                           and len(client.received) >= a, 30)
        await asyncio.sleep(0.2)
        assert len(client.received) == answerable and server.stats_garbage == len(messages) - answerable
        replies = [parse_message(d) for d in client.received]
        assert all(r.header.qr == 1 for r in replies)
        assert {r.header.rcode for r in replies} >= {0, 3}  # answers and NXDOMAINs both
        assert agent.tasks.failures == 0 and loop_errors.errors == []
        reader, writer = await asyncio.open_connection("127.0.0.1", ports["tcp"])
        seed = dns_seeds()[4]  # cgrates.org. A: the sample's DryRunA
        writer.write(len(seed).to_bytes(2, "big") + seed)
        length = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), 5), "big")
        reply = parse_message(await reader.readexactly(length))
        assert str(reply.rr[0].rdata) == "51.38.77.188"
        writer.close()
    finally:
        transport.close()
        loop_errors.close()
