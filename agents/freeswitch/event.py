"""A FreeSWITCH channel event read as CGRateS reads it (its fsevent.go): the CGREvent of a park, answer or hangup.
No I/O.

Channel variables set in the dialplan or the user directory steer it: ``cgr_reqtype``, ``cgr_tenant``,
``cgr_category``, ``cgr_account`` (else Caller-Username), ``cgr_subject`` (else the account), ``cgr_destination``
(else Caller-Destination-Number, else sip_req_user), ``cgr_route``, ``cgr_disconnectcause`` (else Hangup-Cause),
``cgr_originhost`` (else the connection's alias, which is its address when none is set), ``cgr_flags`` (the
SessionS subsystems, ``;`` between them), ``cgr_opts`` (``key:value,key2:value2``: the APIOpts), ``cgr_acd``.
``process_cdr=false`` and the ``inline`` dialplan make a call ``*none``: not charged, unless ``cgr_reqtype``
says otherwise.

Times: Caller-Channel-Created-Time (setup) and Caller-Channel-Answered-Time (answer) are microseconds since the
epoch, truncated to seconds as CGRateS does (so the CDRs of one call correlate); ``0`` is no time. Usage is
``billsec`` (whole seconds), PDD ``progress_mediamsec`` (else ``progressmsec``), ACD ``cgr_acd`` seconds.
``extra_fields`` (RSR rules ``~*req.<header>``, converters allowed) copy more headers into the event under the
header's name; a rule naming a standard field (``~*req.Account{*...}``) reads that field's value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pycgrates.agents.switch import first, new_cgr_event
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.fields import TemplateError
from pycgrates.engine.template.rsr import DEFAULT_SEP, RSRParsers, parse_rsr
from pycgrates.engine.units import MS, SECOND, DurationError, TimeError, format_time, parse_duration, parse_time

VAR = "variable_"
UNIQUE_ID = "Unique-ID"
EVENT_NAME = "Event-Name"
CALL_DEST_NR = "Caller-Destination-Number"
SIP_REQ_USER = "variable_sip_req_user"
SETUP_TIME = "Caller-Channel-Created-Time"
ANSWER_TIME = "Caller-Channel-Answered-Time"
ANSWER_EPOCH = "variable_answer_epoch"
HANGUP_CAUSE = "Hangup-Cause"
FS_IPV4 = "FreeSWITCH-IPv4"
CALL_DIRECTION = "Call-Direction"

PARK = "CHANNEL_PARK"
ANSWER = "CHANNEL_ANSWER"
HANGUP = "CHANNEL_HANGUP_COMPLETE"

# channel variables the agent writes (uuid_setvar) and the dialplan reads
AUTH_OK = "AUTH_OK"
CGR_NOTIFY = "cgr_notify"
CGR_MAX_USAGE = "cgr_max_usage"
CGR_RESOURCE_ALLOCATION = "cgr_resource_allocation"
CGR_ROUTES = "cgr_routes"
CGR_ORIGIN_HOST = "cgr_originhost"
#: where the connection's index travels in the event, for SessionS to give it back (CGRateS's name)
FS_CONN_ID = "FsConnID"

META_NONE = "*none"


@dataclass(frozen=True, slots=True)
class ExtraField:
    """One ``extra_fields`` rule: the event field it fills and how."""

    name: str
    rule: RSRParsers


def compile_extra_fields(raw: Sequence[Any], where: str, sep: str = DEFAULT_SEP) -> tuple[ExtraField, ...]:
    """``extra_fields`` compiled; only ``~*req.<name>`` rules fill a field (CGRateS ignores the others)."""
    out = []
    for i, rule in enumerate(raw or ()):
        if not isinstance(rule, str) or not rule.startswith("~*req."):
            raise TemplateError(f"{where}[{i}]: {rule!r} is not a ~*req.<header> rule")
        try:
            parsers = parse_rsr(rule, sep)
        except RSRError as exc:
            raise TemplateError(f"{where}[{i}]: {exc}") from None
        if len(parsers) != 1 or len(parsers[0].path) != 2:
            raise TemplateError(f"{where}[{i}]: {rule!r} names no single header (~*req.<header>)")
        out.append(ExtraField(parsers[0].path[1], parsers))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class EventDefaults:
    """What the engine's config gives an event that does not say it."""

    tenant: str = "cgrates.org"
    category: str = "call"
    request_type: str = "*rated"
    timezone: str = ""
    origin_host: str = ""
    extra_fields: tuple[ExtraField, ...] = field(default=())


class ChannelEvent:
    """One channel event's headers, read as CGRateS reads them (see the module docstring)."""

    __slots__ = ("defaults", "headers")

    def __init__(self, headers: Mapping[str, str], defaults: EventDefaults) -> None:
        self.headers = headers
        self.defaults = defaults

    def var(self, name: str) -> str:
        return self.headers.get(VAR + name, "")

    @property
    def name(self) -> str:
        return self.headers.get(EVENT_NAME, "")

    @property
    def uuid(self) -> str:
        return self.headers.get(UNIQUE_ID, "")

    @property
    def request_type(self) -> str:
        detected = ""
        if self.var("process_cdr") == "false" or self.headers.get("Caller-Dialplan") == "inline":
            detected = META_NONE  # FreeSWITCH makes no CDR here, or a dialplan not ours (a refer from elsewhere)
        return first(self.var("cgr_reqtype"), detected, self.defaults.request_type)

    @property
    def account(self) -> str:
        return first(self.var("cgr_account"), self.headers.get("Caller-Username"))

    @property
    def subject(self) -> str:
        return first(self.var("cgr_subject"), self.account)

    @property
    def destination(self) -> str:
        return first(self.var("cgr_destination"), self.headers.get(CALL_DEST_NR), self.headers.get(SIP_REQ_USER))

    @property
    def call_destination(self) -> str:
        """The number dialled: where an unparked call is transferred back to."""
        return first(self.headers.get(CALL_DEST_NR), self.headers.get(SIP_REQ_USER))

    @property
    def category(self) -> str:
        return first(self.var("cgr_category"), self.defaults.category)

    @property
    def tenant(self) -> str:
        return first(self.var("cgr_tenant"), self.defaults.tenant)

    @property
    def origin_host(self) -> str:
        return first(self.var(CGR_ORIGIN_HOST), self.defaults.origin_host, self.headers.get(FS_IPV4))

    @property
    def flags(self) -> str | None:
        """``cgr_flags`` as set (None when the channel has none: CGRateS then charges)."""
        return self.headers.get(VAR + "cgr_flags")

    @property
    def answered(self) -> bool:
        """Whether the hangup is of an answered call (CGRateS: answer_epoch is not "0")."""
        return self.headers.get(ANSWER_EPOCH) != "0"

    def setup_time(self) -> datetime | None:
        return _fs_time(self.headers.get(SETUP_TIME, ""), self.defaults.timezone)

    def answer_time(self) -> datetime | None:
        try:
            return _fs_time(self.headers.get(ANSWER_TIME, ""), self.defaults.timezone)
        except TimeError:
            return None

    def usage(self) -> int:
        return _duration(self.var("billsec"), SECOND)

    def pdd(self) -> int:
        return _duration(first(self.var("progress_mediamsec"), self.var("progressmsec")), MS)

    def acd(self) -> int:
        return _duration(self.var("cgr_acd"), SECOND)

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        for item in self.var("cgr_opts").split(","):
            key, sep, value = item.partition(":")
            if sep:
                opts[key] = value
        return opts

    def missing_parameter(self) -> str:
        """The first mandatory field the call lacks ("" when none), as CGRateS checks before initiating."""
        for name, value in (("Account", self.account), ("Subject", self.subject),
                            ("Destination", self.destination), ("Category", self.category),
                            ("OriginID", self.uuid), ("Tenant", self.tenant), (CALL_DEST_NR, self.call_destination)):
            if not value.strip():
                return name
        return ""

    def event(self, setup: datetime | None = None) -> dict[str, Any]:
        """The CGREvent's Event (CGRateS's AsMapStringInterface). TimeError when the setup time is unreadable."""
        if setup is None:
            setup = self.setup_time()
        out: dict[str, Any] = {
            "ToR": "*voice",
            "OriginID": self.uuid,
            "OriginHost": self.origin_host,
            "Source": "FS_" + self.name,
            "RequestType": self.request_type,
            "Tenant": self.tenant,
            "Category": self.category,
            "Account": self.account,
            "Subject": self.subject,
            "Destination": self.destination,
            "SetupTime": format_time(setup),
            "AnswerTime": format_time(self.answer_time()),
            "Usage": self.usage(),
            "PDD": self.pdd(),
            "ACD": self.acd(),
            "Cost": -1.0,
            "Route": self.var("cgr_route"),
            "DisconnectCause": first(self.var("cgr_disconnectcause"), self.headers.get(HANGUP_CAUSE)),
        }
        extra = {}
        for xf in self.defaults.extra_fields:
            value = out[xf.name] if xf.name in out else self.headers.get(xf.name, "")
            try:
                extra[xf.name] = xf.rule.parse_value(value)
            except (RSRError, ValueError):
                continue  # a converter that does not apply to this value: the field is left out
        return {**extra, **out}

    def cgr_event(self) -> dict[str, Any]:
        """The CGREvent of this channel event (CGRateS's AsCGREvent). TimeError when the setup time is bad."""
        setup = self.setup_time()
        return new_cgr_event(self.tenant, setup, self.event(setup), self.options())


def fs_array(items: Sequence[str]) -> str:
    """A FreeSWITCH array variable, its length first (``ARRAY::2|:a|:b``: FreeSWITCH has no len() of arrays)."""
    return f"ARRAY::{len(items)}" + "".join(f"|:{item}" for item in items) if items else ""


def _fs_time(raw: str, timezone: str) -> datetime | None:
    raw = raw.strip()
    if raw in ("", "0"):
        return None
    if not raw.isdigit() or len(raw) <= 6:
        raise TimeError(f"cannot read time from {raw[:40]!r} (microseconds since the epoch)")
    return parse_time(raw[:-6], timezone or None)


def _duration(raw: str, unit: int) -> int:
    try:
        return parse_duration(raw.strip(), unit) if raw else 0
    except DurationError:
        return 0


__all__ = [
    "ANSWER",
    "AUTH_OK",
    "CALL_DEST_NR",
    "CGR_MAX_USAGE",
    "CGR_NOTIFY",
    "CGR_ORIGIN_HOST",
    "CGR_RESOURCE_ALLOCATION",
    "CGR_ROUTES",
    "FS_CONN_ID",
    "HANGUP",
    "META_NONE",
    "PARK",
    "ChannelEvent",
    "EventDefaults",
    "ExtraField",
    "compile_extra_fields",
    "fs_array",
]
