"""``*amqp_json_map``: JSON messages from a RabbitMQ (AMQP 0.9.1) queue, each acknowledged once settled.

``source_path`` is the broker URL (``amqp://guest:guest@127.0.0.1:5672/``); the queue (and exchange binding) come
from the options of :mod:`.brokers`. The consumer's prefetch is ``concurrent_requests`` (1024 by default), so at
most that many messages are unacknowledged at once; a message is acked when its event is settled, a malformed one
is rejected without requeue (dead-lettered where the queue has a dead-letter exchange) after being written aside.
What was unacknowledged when the engine died is redelivered by the broker and refused as duplicate downstream.
"""

from __future__ import annotations

from typing import Any

from pycgrates.engine.ers.brokers import amqp_channel, opt
from pycgrates.engine.ers.connected import ConnectedReader
from pycgrates.engine.ers.progress import CallbackTicket
from pycgrates.engine.ers.records import message_record


class AMQPReader(ConnectedReader):
    kind = "AMQP broker"

    async def consume(self) -> None:
        s = self.settings
        connection, _channel, _exchange, queue = await amqp_channel(
            s.source_path, s.opts, prefetch=s.concurrent_requests if s.concurrent_requests > 0 else 1024)
        async with connection:
            self.connected.set()
            tag = str(opt(s.opts, "amqpConsumerTag", "")) or None
            async with queue.iterator(consumer_tag=tag) as messages:
                async for message in messages:
                    await self._one(message)
            raise ConnectionError("the consumer was cancelled by the broker")

    async def _one(self, message: Any) -> None:
        s = self.settings
        self.number += 1
        rec = message_record(message.body, self.number)
        queue = opt(s.opts, "amqpQueueID", "cgrates_cdrs")
        origin = f"queue {queue} message {message.delivery_tag}"
        if rec.error:
            ticket = CallbackTicket(lambda: message.reject(requeue=False))
        else:
            ticket = CallbackTicket(message.ack)
        await self.service.feed(s, rec, {"*readerID": s.id}, [ticket], origin=origin, sink=self.sink)


__all__ = ["AMQPReader"]
