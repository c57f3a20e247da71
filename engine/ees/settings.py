"""The ``ees`` section compiled once: each exporter's type, target, options, filters, flags and its ``fields`` (an
export template writing ``*exp``, and ``*hdr``/``*trl`` for files), and the failed-posts options.

Exporter types are CGRateS's in both spellings it has used (``*file_csv`` / ``*fileCSV`` ...). Types this build
has no client for (Kafka, SQS, S3, AMQP 1.0, Elasticsearch) are refused at start, naming the exporter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pycgrates.agents.base import compile_agent_templates
from pycgrates.agents.processors import Flags
from pycgrates.engine.config import Config, ConfigError
from pycgrates.engine.ers.brokers import runnable_type
from pycgrates.engine.template.fields import FieldFilters, FieldTemplate, TemplateError, compile_fields, compile_filters
from pycgrates.engine.template.rsr import DEFAULT_SEP
from pycgrates.engine.units import SECOND, DurationError, parse_duration

FILE_CSV, FILE_FWV, HTTP_POST, HTTP_JSON = "*file_csv", "*file_fwv", "*http_post", "*http_json_map"
AMQP, NATS, SQL, LOG, RPC, VIRT, NONE = ("*amqp_json_map", "*nats_json_map", "*sql", "*log", "*rpc", "*virt",
                                         "*none")
TYPES = {
    FILE_CSV: FILE_CSV, "*fileCSV": FILE_CSV, FILE_FWV: FILE_FWV, "*fileFWV": FILE_FWV,
    HTTP_POST: HTTP_POST, "*httpPost": HTTP_POST, HTTP_JSON: HTTP_JSON, "*httpJSONMap": HTTP_JSON,
    AMQP: AMQP, "*amqpJSONMap": AMQP, NATS: NATS, "*natsJSONMap": NATS, SQL: SQL, LOG: LOG, RPC: RPC, VIRT: VIRT,
    NONE: NONE,
}
UNAVAILABLE = ("*kafka_json_map", "*kafkaJSONMap", "*sqs_json_map", "*sqsJSONMap", "*s3_json_map", "*s3JSONMap",
               "*amqpv1_json_map", "*amqpV1JSONMap", "*els", "*elastic")
#: how many events one send carries at most, per type (1: the target takes them one by one)
BATCH = {FILE_CSV: 500, FILE_FWV: 500, AMQP: 200, NATS: 200, SQL: 500, LOG: 100, VIRT: 500}


@dataclass(slots=True)
class ExporterSettings:
    id: str
    type: str
    export_path: str
    opts: dict[str, Any]
    timezone: str
    filters: FieldFilters | None
    flags: Flags
    attribute_ids: tuple[str, ...]
    attribute_context: str
    synchronous: bool
    attempts: int
    concurrent_requests: int
    failed_posts_dir: str
    fields: tuple[FieldTemplate, ...]
    header: tuple[FieldTemplate, ...]
    trailer: tuple[FieldTemplate, ...]
    batch: int
    idle_close: float  # seconds a file exporter's file stays open without exports

    def opt(self, name: str, default: Any = None) -> Any:
        value = self.opts.get(name)
        return default if value is None or value == "" else value


@dataclass(slots=True)
class EEsSettings:
    exporters: tuple[ExporterSettings, ...]
    attributes_conns: list[str]
    failed_posts_dir: str
    failed_posts_ttl: float  # seconds a failed-posts file takes appends before a new one is started
    tenant: str
    timezone: str

    def exporter(self, exporter_id: str) -> ExporterSettings | None:
        return next((e for e in self.exporters if e.id == exporter_id), None)


def _seconds(raw: Any, where: str) -> float:
    try:
        return parse_duration(raw if raw not in (None, "") else "0") / SECOND
    except DurationError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def compile_exporter(raw: Mapping[str, Any], *, templates: Mapping[str, Any], sep: str, cache: Mapping[str, Any],
                     default_failed_dir: str, index: int) -> ExporterSettings | None:
    eid = str(raw.get("id") or f"#{index}")
    where = f"ees.exporters <{eid}>"
    etype_raw = str(raw.get("type") or NONE)
    etype = runnable_type(etype_raw, str(raw.get("export_path") or ""), TYPES, UNAVAILABLE, where, "exporter")
    if etype == NONE:
        return None
    try:
        all_fields = compile_fields(raw.get("fields"), where=f"{where} fields", templates=templates,
                                    prefixes=("*exp", "*hdr", "*trl", "*vars", "*tmp"), sep=sep)
        filters = compile_filters(raw.get("filters"), where)
    except TemplateError as exc:
        raise ConfigError(str(exc)) from None
    opts = dict(raw.get("opts") or {})
    if raw.get("field_separator") and "csvFieldSeparator" not in opts:  # the v0.10 place of the separator
        opts["csvFieldSeparator"] = raw["field_separator"]
    part = cache.get(etype) or cache.get(etype_raw) or {}
    attempts = int(raw.get("attempts") or 1)
    return ExporterSettings(
        id=eid, type=etype, export_path=str(raw.get("export_path") or ""), opts=opts,
        timezone=str(raw.get("timezone") or ""), filters=filters, flags=Flags(list(raw.get("flags") or [])),
        attribute_ids=tuple(raw.get("attribute_ids") or ()), attribute_context=str(raw.get("attribute_context") or ""),
        synchronous=bool(raw.get("synchronous")), attempts=max(1, attempts),
        concurrent_requests=int(raw.get("concurrent_requests") or 0),
        failed_posts_dir=str(raw.get("failed_posts_dir") or default_failed_dir),
        fields=tuple(f for f in all_fields if f.prefix not in ("*hdr", "*trl")),
        header=tuple(f for f in all_fields if f.prefix == "*hdr"),
        trailer=tuple(f for f in all_fields if f.prefix == "*trl"),
        batch=max(1, int(opts.get("batchSize") or BATCH.get(etype, 1))),
        idle_close=_seconds(part.get("ttl") or "5s", f"ees.cache {etype}: ttl") or 5.0,
    )


def compile_settings(cfg: Config) -> EEsSettings:
    section = cfg.section("ees") or {}
    sep = cfg.get("general", "rsr_separator", default=DEFAULT_SEP) or DEFAULT_SEP
    templates = compile_agent_templates(cfg.data.get("templates") or {}, sep, "EEs")
    failed = section.get("failed_posts") or {}
    failed_dir = str(failed.get("dir") or cfg.get("general", "failed_posts_dir", default="") or "")
    exporters = []
    seen: set[str] = set()
    for i, raw in enumerate(section.get("exporters") or []):
        exp = compile_exporter(raw, templates=templates, sep=sep, cache=section.get("cache") or {},
                               default_failed_dir=failed_dir, index=i)
        if exp is None:
            continue
        if exp.id in seen:
            raise ConfigError(f"ees.exporters: two exporters with the id <{exp.id}>")
        seen.add(exp.id)
        exporters.append(exp)
    return EEsSettings(exporters=tuple(exporters), attributes_conns=list(section.get("attributes_conns") or []),
                       failed_posts_dir=failed_dir,
                       failed_posts_ttl=_seconds(failed.get("ttl") or "5s", "ees.failed_posts.ttl") or 5.0,
                       tenant=cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org",
                       timezone=cfg.get("general", "default_timezone", default="") or "")


__all__ = ["AMQP", "FILE_CSV", "FILE_FWV", "HTTP_JSON", "HTTP_POST", "LOG", "NATS", "NONE", "RPC", "SQL", "TYPES",
           "VIRT", "EEsSettings", "ExporterSettings", "compile_exporter", "compile_settings"]
