"""How readers and exporters reach message brokers from CGRateS's options: AMQP 0.9.1 (RabbitMQ, aio-pika) and
NATS (nats-py, JetStream where ``natsJetStream`` is set). One place for the option names and their defaults.

AMQP (``amqpQueueID`` "cgrates_cdrs", ``amqpExchange``, ``amqpExchangeType`` "direct", ``amqpRoutingKey``,
``amqpConsumerTag``): the queue is declared durable; with an exchange, the exchange is declared durable and the
queue bound to it with the routing key. Exported messages are persistent and published with publisher confirms.

NATS (``natsSubject`` "cgrates_cdrs", ``natsQueueID``, ``natsJetStream``, ``natsStreamName``,
``natsConsumerName`` "cgrates", ``natsJetStreamMaxWait`` "5s", pycgrates' ``natsAckWait`` "10s"): JetStream
consumers are durable pull consumers
acknowledged explicitly; without JetStream a reader is a plain (at most once) subscriber.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Collection, Mapping
from typing import Any

from pycgrates.engine.units import SECOND, parse_duration

AMQP_QUEUE = "cgrates_cdrs"
NATS_SUBJECT = "cgrates_cdrs"


#: the Python client each reader/exporter type needs, and the package that brings it
CLIENTS = {"*amqp_json_map": ("aio_pika", "aio-pika"), "*nats_json_map": ("nats", "nats-py"),
           "*sql": ("asyncpg", "asyncpg (PostgreSQL) or aiomysql (MySQL)")}


def runnable_type(raw_type: str, path: str, types: Mapping[str, str], unavailable: Collection[str], where: str,
                  what: str) -> str:
    """A reader's or exporter's ``type`` as this build runs it (``*none`` too); ConfigError when the type is
    unknown, not in this build, or its client library is not installed (``what``: "reader" or "exporter")."""
    from pycgrates.engine.config import ConfigError

    if raw_type in unavailable:
        raise ConfigError(f"{where}: type {raw_type} is not available in this build (it has "
                          f"{', '.join(sorted(set(types.values()) - {'*none'}))}); remove the {what} or change its "
                          "type")
    kind = types.get(raw_type)
    if kind is None:
        raise ConfigError(f"{where}: unsupported {what} type <{raw_type}> (one of {', '.join(sorted(types))})")
    if kind != "*none":
        missing = missing_client(kind, path)
        if missing:
            raise ConfigError(f"{where}: {missing}")
    return kind


def missing_client(kind: str, url: str = "") -> str:
    """Why a type cannot run here ("" when it can): its client library is not installed."""
    module, package = CLIENTS.get(kind, ("", ""))
    if kind == "*sql" and "mysql" in url:
        module, package = "aiomysql", "aiomysql"
    if module and importlib.util.find_spec(module) is None:
        return f"type {kind} needs the {package} package; install it (pip install {package.split()[0]})"
    return ""


def opt(opts: dict[str, Any], name: str, default: Any = None) -> Any:
    value = opts.get(name)
    return default if value is None or value == "" else value


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "yes")


async def amqp_channel(url: str, opts: dict[str, Any], *, prefetch: int = 0) -> tuple[Any, Any, Any, Any]:
    """(connection, channel, exchange to publish on, queue) for the options; the caller closes the connection."""
    import aio_pika

    connection = await aio_pika.connect(url, timeout=10)
    try:
        channel = await connection.channel(publisher_confirms=True)
        if prefetch > 0:
            await channel.set_qos(prefetch_count=prefetch)
        queue_id = str(opt(opts, "amqpQueueID", AMQP_QUEUE))
        queue = await channel.declare_queue(queue_id, durable=True)
        exchange_name = str(opt(opts, "amqpExchange", ""))
        if exchange_name:
            exchange = await channel.declare_exchange(exchange_name, str(opt(opts, "amqpExchangeType", "direct")),
                                                      durable=True)
            await queue.bind(exchange, routing_key=str(opt(opts, "amqpRoutingKey", queue_id)))
        else:
            exchange = channel.default_exchange
    except BaseException:
        await connection.close()
        raise
    return connection, channel, exchange, queue


def amqp_routing_key(opts: dict[str, Any]) -> str:
    """Where exported messages are routed: the routing key with an exchange, the queue on the default one."""
    queue_id = str(opt(opts, "amqpQueueID", AMQP_QUEUE))
    return str(opt(opts, "amqpRoutingKey", queue_id)) if opt(opts, "amqpExchange", "") else queue_id


async def nats_connect(url: str, *, name: str = "cgrates") -> Any:
    import nats

    return await nats.connect(servers=[u.strip() for u in url.split(",") if u.strip()] or ["nats://127.0.0.1:4222"],
                              name=name, connect_timeout=5, max_reconnect_attempts=0, allow_reconnect=False)


def nats_max_wait(opts: dict[str, Any]) -> float:
    return parse_duration(opt(opts, "natsJetStreamMaxWait", "5s")) / SECOND


def nats_ack_wait(opts: dict[str, Any]) -> float:
    """How long JetStream waits for a reader's ack before handing the message out again (pycgrates option)."""
    return parse_duration(opt(opts, "natsAckWait", "10s")) / SECOND


__all__ = [
    "AMQP_QUEUE",
    "CLIENTS",
    "NATS_SUBJECT",
    "amqp_channel",
    "amqp_routing_key",
    "missing_client",
    "nats_ack_wait",
    "nats_connect",
    "nats_max_wait",
    "opt",
    "runnable_type",
    "truthy",
]
