"""``*nats_json_map``: JSON messages from NATS; with ``natsJetStream`` from a durable pull consumer, each
acknowledged once settled (JetStream redelivers what was not acknowledged, refused as duplicate downstream).

``source_path`` is the server URL (``nats://127.0.0.1:4222``); subject, stream and consumer come from the options
of :mod:`.brokers`. The stream must exist (as with CGRateS); the durable consumer is created when missing, with
``max_ack_pending`` = ``concurrent_requests`` and ``ack_wait`` = ``natsAckWait`` (pycgrates, "10s": how soon
what a dead engine had fetched is handed out again). Without JetStream the reader subscribes to the subject (in the
``natsQueueID`` queue group when set): core NATS keeps nothing for a subscriber that is gone, so that mode is at
most once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pycgrates.engine.ers.brokers import NATS_SUBJECT, nats_ack_wait, nats_connect, nats_max_wait, opt, truthy
from pycgrates.engine.ers.connected import ConnectedReader
from pycgrates.engine.ers.progress import CallbackTicket
from pycgrates.engine.ers.records import message_record

_FETCH = 256


class NATSReader(ConnectedReader):
    kind = "NATS server"

    async def consume(self) -> None:
        s = self.settings
        nc = await nats_connect(s.source_path, name=f"cgrates-ers-{s.id}")
        try:
            subject = str(opt(s.opts, "natsSubject", NATS_SUBJECT))
            if truthy(opt(s.opts, "natsJetStream", False)):
                await self._jetstream(nc, subject)
            else:
                await self._core(nc, subject)
        finally:
            if not nc.is_closed:
                await nc.close()

    async def _jetstream(self, nc: Any, subject: str) -> None:
        from nats.errors import TimeoutError as NATSTimeout
        from nats.js.api import AckPolicy, ConsumerConfig

        s = self.settings
        js = nc.jetstream()
        pending = s.concurrent_requests if s.concurrent_requests > 0 else 1024
        durable = str(opt(s.opts, "natsConsumerName", "cgrates"))
        sub = await js.pull_subscribe(subject, durable=durable, stream=opt(s.opts, "natsStreamName"),
                                      config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, max_ack_pending=pending,
                                                            ack_wait=nats_ack_wait(s.opts)))
        self.connected.set()
        wait = nats_max_wait(s.opts)
        while not nc.is_closed:
            try:
                msgs = await sub.fetch(min(_FETCH, pending), timeout=wait)
            except NATSTimeout:
                continue
            for msg in msgs:
                await self._one(msg, subject, CallbackTicket(msg.ack))
        raise ConnectionError("the connection was closed")

    async def _core(self, nc: Any, subject: str) -> None:
        queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)
        await nc.subscribe(subject, queue=str(opt(self.settings.opts, "natsQueueID", "")), cb=queue.put)
        self.connected.set()
        while not nc.is_closed:
            try:
                msg = await asyncio.wait_for(queue.get(), 1.0)
            except TimeoutError:
                continue
            await self._one(msg, subject, CallbackTicket(_nothing))
        raise ConnectionError("the connection was closed")

    async def _one(self, msg: Any, subject: str, ticket: CallbackTicket) -> None:
        self.number += 1
        rec = message_record(msg.data, self.number)
        await self.service.feed(self.settings, rec, {"*readerID": self.settings.id}, [ticket],
                                origin=f"subject {subject} message {self.number}", sink=self.sink)


async def _nothing() -> None:
    return None


__all__ = ["NATSReader"]
