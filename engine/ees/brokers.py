"""``*amqp_json_map`` (RabbitMQ) and ``*nats_json_map`` (NATS, JetStream with ``natsJetStream``): one JSON message
per event. AMQP messages are persistent and each batch is published with publisher confirms awaited together;
JetStream publishes wait for the stream's acknowledgements. Options as in :mod:`pycgrates.engine.ers.brokers`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pycgrates.engine.ees.exporter import Exporter
from pycgrates.engine.ers.brokers import NATS_SUBJECT, amqp_channel, amqp_routing_key, nats_connect, opt, truthy


class AMQPExporter(Exporter):
    connected_target = True

    def __init__(self, settings: Any, service: Any) -> None:
        super().__init__(settings, service)
        self._conn: Any = None
        self._exchange: Any = None

    async def connect(self) -> None:
        self._conn, _channel, self._exchange, _queue = await amqp_channel(self.settings.export_path,
                                                                          self.settings.opts)

    async def disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    async def send(self, payloads: Sequence[Any]) -> None:
        import aio_pika

        key = amqp_routing_key(self.settings.opts)
        await asyncio.gather(*(self._exchange.publish(
            aio_pika.Message(p, content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=key) for p in payloads))


class NATSExporter(Exporter):
    connected_target = True

    def __init__(self, settings: Any, service: Any) -> None:
        super().__init__(settings, service)
        self._nc: Any = None
        self._js: Any = None

    async def connect(self) -> None:
        self._nc = await nats_connect(self.settings.export_path, name=f"cgrates-ees-{self.settings.id}")
        if truthy(opt(self.settings.opts, "natsJetStream", False)):
            self._js = self._nc.jetstream()

    async def disconnect(self) -> None:
        nc, self._nc, self._js = self._nc, None, None
        if nc is not None and not nc.is_closed:
            await nc.close()

    async def send(self, payloads: Sequence[Any]) -> None:
        subject = str(opt(self.settings.opts, "natsSubject", NATS_SUBJECT))
        if self._js is not None:
            await asyncio.gather(*(self._js.publish(subject, p) for p in payloads))
            return
        for p in payloads:
            await self._nc.publish(subject, p)
        await self._nc.flush()


__all__ = ["AMQPExporter", "NATSExporter"]
