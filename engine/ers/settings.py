"""The ``ers`` section compiled once: each reader's type, timing, paths, options, and its ``fields`` as a request
processor of the agents' pipeline (agents/request.py) — filters, flags, tenant and timezone included.

Reader types are CGRateS's, in both spellings it has used (``*file_csv`` / ``*fileCSV`` ...), plus the v0.10 names
``*partial_csv`` and ``*flatstore`` (CSV files whose records are partial, see :mod:`.partial`). Types of CGRateS
this build has no client for (Kafka, SQS, S3, AMQP 1.0) are refused at start, naming the reader.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pycgrates.agents.base import compile_agent_templates
from pycgrates.agents.request import RequestProcessor, compile_processor
from pycgrates.engine.config import Config, ConfigError
from pycgrates.engine.ers.brokers import runnable_type
from pycgrates.engine.ers.partial import CACHE_ACTIONS, PartialRules
from pycgrates.engine.template.fields import TemplateError, compile_fields
from pycgrates.engine.template.rsr import DEFAULT_SEP, parse_rsr
from pycgrates.engine.units import SECOND, DurationError, parse_duration

FILE_CSV, FILE_FWV, FILE_XML, FILE_JSON = "*file_csv", "*file_fwv", "*file_xml", "*file_json"
PARTIAL_CSV, FLATSTORE = "*partial_csv", "*flatstore"
AMQP, NATS, SQL, NONE = "*amqp_json_map", "*nats_json_map", "*sql", "*none"

#: every spelling of a reader type → its canonical name
TYPES = {
    FILE_CSV: FILE_CSV, "*fileCSV": FILE_CSV, PARTIAL_CSV: PARTIAL_CSV, FLATSTORE: FLATSTORE,
    FILE_FWV: FILE_FWV, "*fileFWV": FILE_FWV, FILE_XML: FILE_XML, "*fileXML": FILE_XML,
    FILE_JSON: FILE_JSON, "*fileJSON": FILE_JSON, AMQP: AMQP, "*amqpJSONMap": AMQP,
    NATS: NATS, "*natsJSONMap": NATS, SQL: SQL, NONE: NONE,
}
#: CGRateS reader types without a client in this build
UNAVAILABLE = ("*kafka_json_map", "*kafkaJSONMap", "*sqs_json_map", "*sqsJSONMap", "*s3_json_map", "*s3JSONMap",
               "*amqpv1_json_map", "*amqpV1JSONMap")
FILE_TYPES = frozenset({FILE_CSV, PARTIAL_CSV, FLATSTORE, FILE_FWV, FILE_XML, FILE_JSON})
#: the file name ending each file reader takes
SUFFIXES = {FILE_CSV: ".csv", PARTIAL_CSV: ".csv", FLATSTORE: ".csv", FILE_FWV: ".fwv", FILE_XML: ".xml",
            FILE_JSON: ".json"}
#: what the reader's fields may write
OUTPUTS = ("*cgreq", "*opts", "*vars", "*tmp", "*cgrep", "*rep")


@dataclass(slots=True)
class ReaderSettings:
    id: str
    type: str
    run_delay: int  # ns; -1 watches the directory, 0 runs only on ErSv1.RunReader
    start_delay: int  # ns
    concurrent_requests: int
    source_path: str
    processed_path: str
    failed_path: str
    opts: dict[str, Any]
    processor: RequestProcessor
    partial: PartialRules
    reconnects: int
    max_reconnect_interval: int  # ns
    ees_ids: tuple[str, ...] = ()
    ees_success_ids: tuple[str, ...] = ()
    ees_failed_ids: tuple[str, ...] = ()
    #: the fields read ``*hdr``/``*trl`` (fixed-width header and trailer lines)
    uses_header: bool = False
    uses_trailer: bool = False

    def opt(self, name: str, default: Any = None) -> Any:
        value = self.opts.get(name)
        return default if value is None or value == "" else value


@dataclass(slots=True)
class ERsSettings:
    readers: tuple[ReaderSettings, ...]
    concurrent_events: int
    partial_cache_ttl: int  # ns
    tenant: str
    timezone: str
    sessions_conns: list[str]
    ees_conns: list[str]
    extra: dict[str, Any] = field(default_factory=dict)

    def reader(self, reader_id: str) -> ReaderSettings | None:
        return next((r for r in self.readers if r.id == reader_id), None)


def _duration(raw: Any, where: str) -> int:
    try:
        return parse_duration(raw if raw not in (None, "") else "0")
    except DurationError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _ids(raw: Any) -> tuple[str, ...]:
    return tuple(str(i) for i in raw or () if i)


def compile_reader(raw: Mapping[str, Any], *, templates: Mapping[str, Any], sep: str, tenant: str,
                   timezone: str, index: int) -> ReaderSettings | None:
    """One reader of ``ers.readers``; None for a ``*none`` one (the ``*default`` template)."""
    rid = str(raw.get("id") or f"#{index}")
    where = f"ers.readers <{rid}>"
    rtype = runnable_type(str(raw.get("type") or NONE), str(raw.get("source_path") or ""), TYPES, UNAVAILABLE,
                          where, "reader")
    if rtype == NONE:
        return None
    opts = dict(raw.get("opts") or {})
    flags = list(raw.get("flags") or [])
    try:
        processor = compile_processor({"id": rid, "filters": raw.get("filters"), "flags": flags,
                                       "tenant": raw.get("tenant"), "timezone": raw.get("timezone"),
                                       "request_fields": raw.get("fields")},
                                      section="ers", templates=templates, prefixes=OUTPUTS, sep=sep)
        commit = compile_fields(raw.get("partial_commit_fields"), where=f"{where} partial_commit_fields",
                                templates=templates, prefixes=("*cgreq", "*opts", "*vars", "*tmp"), sep=sep)
        dump = compile_fields(raw.get("cache_dump_fields"), where=f"{where} cache_dump_fields",
                              templates=templates, prefixes=("*exp",), sep=sep)
        order_raw = opts.get("partialOrderField") or ""
        order = parse_rsr(str(order_raw), sep) if order_raw else None
    except TemplateError as exc:
        raise ConfigError(str(exc).replace("ers request processor", "ers.readers")) from None
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    action = str(opts.get("partialCacheAction") or "*none")
    if action not in CACHE_ACTIONS:
        raise ConfigError(f"{where}: opts.partialCacheAction <{action}> is not one of {', '.join(CACHE_ACTIONS)}")
    processed = str(raw.get("processed_path") or "")
    partial = PartialRules(order_field=order, commit_fields=commit, dump_fields=dump, action=action,
                           dump_path=str(opts.get("partialPath") or processed),
                           dump_separator=str(opts.get("partialcsvFieldSeparator") or ","),
                           timezone=str(raw.get("timezone") or timezone), tenant=tenant)
    fields = raw.get("fields") or []
    values = " ".join(str(f.get("value") or "") for f in fields if isinstance(f, Mapping))
    run_delay = _duration(raw.get("run_delay"), f"{where}: run_delay")
    return ReaderSettings(
        id=rid, type=rtype, run_delay=-1 if run_delay < 0 else run_delay,
        start_delay=_duration(raw.get("start_delay"), f"{where}: start_delay"),
        concurrent_requests=int(raw.get("concurrent_requests") or 0),
        source_path=str(raw.get("source_path") or ""), processed_path=processed,
        failed_path=str(raw.get("failed_path") or ""), opts=opts, processor=processor, partial=partial,
        reconnects=int(raw.get("reconnects") if raw.get("reconnects") is not None else -1),
        max_reconnect_interval=_duration(raw.get("max_reconnect_interval") or "5m",
                                         f"{where}: max_reconnect_interval"),
        ees_ids=_ids(raw.get("ees_ids")), ees_success_ids=_ids(raw.get("ees_success_ids")),
        ees_failed_ids=_ids(raw.get("ees_failed_ids")),
        uses_header="~*hdr." in values, uses_trailer="~*trl." in values,
    )


def compile_settings(cfg: Config) -> ERsSettings:
    section = cfg.section("ers") or {}
    sep = cfg.get("general", "rsr_separator", default=DEFAULT_SEP) or DEFAULT_SEP
    tenant = cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org"
    timezone = cfg.get("general", "default_timezone", default="") or ""
    templates = compile_agent_templates(cfg.data.get("templates") or {}, sep, "ERs")
    readers = []
    seen: set[str] = set()
    for i, raw in enumerate(section.get("readers") or []):
        reader = compile_reader(raw, templates=templates, sep=sep, tenant=tenant, timezone=timezone, index=i)
        if reader is None:
            continue
        if reader.id in seen:
            raise ConfigError(f"ers.readers: two readers with the id <{reader.id}>")
        seen.add(reader.id)
        readers.append(reader)
    ttl = _duration(section.get("partial_cache_ttl") or "1s", "ers.partial_cache_ttl")
    return ERsSettings(readers=tuple(readers), concurrent_events=max(1, int(section.get("concurrent_events") or 1)),
                       partial_cache_ttl=ttl if ttl > 0 else SECOND, tenant=tenant, timezone=timezone,
                       sessions_conns=list(section.get("sessions_conns") or []),
                       ees_conns=list(section.get("ees_conns") or []))


__all__ = ["AMQP", "FILE_CSV", "FILE_FWV", "FILE_JSON", "FILE_TYPES", "FILE_XML", "FLATSTORE", "NATS", "NONE",
           "PARTIAL_CSV", "SQL", "SUFFIXES", "TYPES", "ERsSettings", "ReaderSettings", "compile_reader",
           "compile_settings"]
