"""AgentRequest: the request pipeline every agent runs (CGRateS's agents/agentreq.go and libagents.go).

An agent decodes its wire message into a DataProvider (``*req``), keeps its own variables (``*vars``: ``*cmd``,
``OriginHost``, ``RemoteHost``, ...) and calls :func:`process_request` with the processors compiled at config load
(:func:`compile_processors`). For each processor in order: its ``filters`` are checked on ``*req``/``*vars``; its
``request_fields`` write ``*cgreq`` (the event), ``*opts``, ``*vars``, ``*tmp``; its flags choose the SessionS call
(``agents/processors.py``); the reply lands in ``*cgrep``; its ``reply_fields`` write ``*rep``. ``*vars``, ``*cgrep``,
``*opts`` and ``*rep`` carry over to the next processor, which runs only after ``*continue`` (or when this one's
filters did not pass). The agent encodes the returned ``*rep`` :class:`~engine.template.fields.NavMap` into its answer.
Outputs of its own (``*diamreq``, ``*radDAReq``) the agent declares: processors may write them only then.

The pipeline tells the agent (:class:`SessionReport`) which session a request started in SessionS (an ``*initiate``
with ``*accounts`` that SessionS accepted) and which it ended (a ``*terminate`` SessionS accepted), by its key
(OriginHost, OriginID) and the call's arguments: the agent's session tracking (:mod:`agents.base`) is fed from here.

A SessionS error is not a pipeline error: it is in ``*cgrep.Error`` for reply fields to turn into a failure code
(``"filters": ["*notempty:~*cgrep.Error:"]``). A template that cannot be applied (a mandatory field missing, a value
of the wrong kind) raises :class:`RequestError`; the agent answers it with its error template (``*err``), built by
:func:`build_message` with ``*cgrep.Error`` set to the error.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pycgrates.agents.processors import (
    PROCESS_CDR,
    RALS_ERROR_PREFIX,
    REQUEST_TYPES,
    Flags,
    build_call,
    call_sessions,
    reply_map,
    run_max_usage,
)
from pycgrates.engine.filters.rules import FilterError
from pycgrates.engine.models.event import CGREvent
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing
from pycgrates.engine.sessions.api import V1InitSessionArgs, V1ProcessCDRArgs, V1TerminateSessionArgs
from pycgrates.engine.template.dataprovider import (
    CGREP,
    CGREQ,
    OPTS,
    REP,
    REQ,
    VARS,
    DataProvider,
    MapDataProvider,
    as_string,
)
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.fields import (
    FieldError,
    FieldFilters,
    FieldTemplate,
    NavMap,
    TemplateContext,
    TemplateError,
    compile_fields,
    compile_filters,
    set_fields,
)
from pycgrates.engine.template.rsr import DEFAULT_SEP, RSRParsers, parse_rsr
from pycgrates.engine.units import TimeError, get_timezone, now

log = logging.getLogger("cgr.agents")

TMP = "*tmp"
CFG = "*cfg"
#: what every processor may write; an agent adds its own outputs (``*diamreq``, ``*radDAReq``)
PIPELINE_OUTPUTS = frozenset({CGREQ, CGREP, REP, OPTS, VARS, TMP})

#: a request type an agent handles itself (``*radauth``): it reads the request and sets ``*cgrep``
RequestHandler = Callable[["AgentRequest"], Awaitable[None]]
#: a session as an agent knows it: (OriginHost, OriginID)
SessionKey = tuple[str, str]


class SessionReport(Protocol):
    """Where the pipeline reports the sessions its requests started and ended in SessionS."""

    def started(self, key: SessionKey, args: V1InitSessionArgs) -> None:
        """SessionS accepted an InitiateSession with InitSession (``args``: the call's arguments)."""

    def ended(self, key: SessionKey, args: V1TerminateSessionArgs) -> None:
        """SessionS accepted a TerminateSession."""


def session_key(event: CGREvent | Mapping[str, Any]) -> SessionKey:
    """(OriginHost, OriginID) of a CGREvent, or of one in JSON form (the switch agents build theirs so)."""
    fields = event.get("Event") or {} if isinstance(event, Mapping) else event.Event
    return as_string(fields.get("OriginHost") or ""), as_string(fields.get("OriginID") or "")


# ---------------------------------------------------------------------------------------------------- processors


@dataclass(frozen=True, slots=True)
class RequestProcessor:
    """One compiled entry of an agent's ``request_processors``."""

    id: str
    filters: FieldFilters | None
    tenant: RSRParsers | None
    timezone: str
    flags: Flags
    request_type: str
    request_fields: tuple[FieldTemplate, ...]
    reply_fields: tuple[FieldTemplate, ...]

    @property
    def continues(self) -> bool:
        return self.flags.get_bool("*continue")


def compile_processor(raw: Mapping[str, Any], *, section: str,
                      templates: Mapping[str, Sequence[FieldTemplate]] | None = None,
                      request_types: Collection[str] = (), prefixes: Collection[str] | None = None,
                      sep: str = DEFAULT_SEP, index: int | None = None) -> RequestProcessor:
    """One processor dict compiled; TemplateError names the section, the processor and the field.

    ``request_types`` are the agent's own request types (``*radauth``); ``prefixes`` are the outputs of its own
    (``*diamreq``, ``*radDAReq``) it lets fields write besides ``*cgreq *cgrep *rep *opts *vars *tmp``.
    """
    pid = str(raw.get("id") or "") if isinstance(raw, Mapping) else ""
    where = f"{section} request processor <{pid or f'#{index}' if index is not None else pid}>"
    if not isinstance(raw, Mapping):
        raise TemplateError(f"{where}: a request processor must be an object, have {raw!r}")
    flags_raw = raw.get("flags") or []
    if isinstance(flags_raw, str) or not all(isinstance(f, str) for f in flags_raw):
        raise TemplateError(f"{where}: flags must be a list of strings, have {flags_raw!r}")
    flags = Flags(flags_raw)
    rtype = flags.request_type(tuple(request_types))
    if not rtype:
        raise TemplateError(f"{where}: flags {list(flags.raw)} name no request type "
                            f"(one of {', '.join((*REQUEST_TYPES, *request_types))})")
    timezone = raw.get("timezone") or ""
    if timezone:
        try:
            get_timezone(timezone)
        except TimeError as exc:
            raise TemplateError(f"{where}: timezone: {exc}") from None
    tenant = None
    if raw.get("tenant"):
        try:
            tenant = parse_rsr(str(raw["tenant"]), sep)
        except RSRError as exc:
            raise TemplateError(f"{where}: tenant: {exc}") from None
    allowed = PIPELINE_OUTPUTS | set(prefixes or ())
    return RequestProcessor(
        id=pid,
        filters=compile_filters(raw.get("filters"), where),
        tenant=tenant,
        timezone=timezone,
        flags=flags,
        request_type=rtype,
        request_fields=compile_fields(raw.get("request_fields"), where=f"{where} request_fields",
                                      templates=templates, prefixes=allowed, sep=sep),
        reply_fields=compile_fields(raw.get("reply_fields"), where=f"{where} reply_fields",
                                    templates=templates, prefixes=allowed, sep=sep),
    )


def compile_processors(raw: Any, *, section: str, templates: Mapping[str, Sequence[FieldTemplate]] | None = None,
                       request_types: Collection[str] = (), prefixes: Collection[str] | None = None,
                       sep: str = DEFAULT_SEP) -> tuple[RequestProcessor, ...]:
    """An agent's ``request_processors`` list compiled, in order (``templates``: compile_named_templates)."""
    if not raw:
        return ()
    if not isinstance(raw, list):
        raise TemplateError(f"{section}: request_processors must be a list, have {type(raw).__name__}")
    return tuple(compile_processor(p, section=section, templates=templates, request_types=request_types,
                                   prefixes=prefixes, sep=sep, index=i) for i, p in enumerate(raw))


# ---------------------------------------------------------------------------------------------------- request


class AgentRequest(TemplateContext):
    """One request going through one processor: the DataProvider its fields read and the maps they write.

    Readable prefixes: ``*req`` (the wire message), ``*vars``, ``*cgreq``, ``*cgrep``, ``*rep``, ``*opts``, ``*tmp``,
    ``*cfg`` (when the agent gives its config), any ``providers`` (``*oreq`` ...) and the agent's own ``outputs``
    (``*diamreq`` ...); writable: the same but ``*req``/``*cfg``/providers, one NavMap per ``outputs`` prefix.
    """

    __slots__ = ("processor", "request")

    def __init__(self, request: DataProvider, vars: dict[str, Any] | None = None,
                 processor: RequestProcessor | None = None, *, cgrep: dict[str, Any] | None = None,
                 reply: NavMap | None = None, opts: dict[str, Any] | None = None, tenant: str = "",
                 timezone: str = "", filter_service: Any = None, providers: Mapping[str, DataProvider] | None = None,
                 outputs: Collection[str] = (), cfg: DataProvider | None = None, rounding_decimals: int = 5) -> None:
        sources: dict[str, Any] = {
            REQ: request, VARS: vars if vars is not None else {}, CGREQ: NavMap(),
            CGREP: cgrep if cgrep is not None else {}, REP: reply if reply is not None else NavMap(),
            OPTS: opts if opts is not None else {}, TMP: {},
        }
        if cfg is not None:
            sources[CFG] = cfg
        for prefix in outputs:
            sources[prefix] = NavMap()
        if providers:
            sources.update(providers)
        tz = processor.timezone if processor is not None and processor.timezone else timezone
        super().__init__(sources, tenant=tenant, timezone=tz, filter_service=filter_service,
                         rounding_decimals=rounding_decimals)
        self.request = request
        self.processor = processor
        if processor is not None and processor.tenant is not None:
            try:
                self.tenant = processor.tenant.parse(self) or tenant
            except (RPCError, ValueError):
                self.tenant = tenant

    def __repr__(self) -> str:
        pid = self.processor.id if self.processor is not None else ""
        return f"AgentRequest(processor={pid!r}, tenant={self.tenant!r}, request={self.request!r})"

    @property
    def vars(self) -> dict[str, Any]:
        return self.sources[VARS]

    @property
    def cgr_request(self) -> NavMap:
        return self.sources[CGREQ]

    @property
    def cgr_reply(self) -> dict[str, Any]:
        return self.sources[CGREP]

    @cgr_reply.setter
    def cgr_reply(self, value: dict[str, Any]) -> None:
        self.sources[CGREP] = value

    @property
    def reply(self) -> NavMap:
        return self.sources[REP]

    @property
    def opts(self) -> dict[str, Any]:
        return self.sources[OPTS]

    def output(self, prefix: str) -> NavMap:
        """An output of the agent's own (``*diamreq``, ``*radDAReq`` ...)."""
        return self.sources[prefix]

    def cgr_event(self) -> CGREvent:
        """The CGREvent out of ``*cgreq`` and ``*opts`` (CGRateS's NMAsCGREvent)."""
        return CGREvent(Tenant=self.tenant, ID=secrets.token_hex(4)[:7], Time=now(),
                        Event=self.cgr_request.as_event(), APIOpts=dict(self.opts))


class RequestError(Exception):
    """A processor whose templates could not be applied; the agent answers with its error template."""

    def __init__(self, processor_id: str, cause: Exception, request: AgentRequest | None = None) -> None:
        self.processor_id = processor_id
        self.cause = cause
        self.request = request
        super().__init__(f"processor <{processor_id}>: {cause}")

    @property
    def message(self) -> str:
        """The error as CGRateS words it (what ``*cgrep.Error`` carries)."""
        return str(self.cause)


_PIPELINE_ERRORS = (FieldError, FilterError, RSRError, RPCError, ValueError)


def describe(dp: Any) -> str:
    """A request for the logs: its JSON view where the provider has one."""
    view = getattr(dp, "to_dict", None)
    data = view() if callable(view) else dp.data if isinstance(dp, MapDataProvider) else None
    if data is None:
        return repr(dp)
    return json.dumps(data, default=as_string, separators=(",", ":"))


async def process_request(processors: Sequence[RequestProcessor], request: DataProvider,
                          vars: dict[str, Any] | None, conn: Any, *, tenant_default: str,
                          timezone_default: str = "", filter_service: Any = None, agent: str = "Agent",
                          handlers: Mapping[str, RequestHandler] | None = None,
                          providers: Mapping[str, DataProvider] | None = None, outputs: Collection[str] = (),
                          cfg: DataProvider | None = None, rounding_decimals: int = 5,
                          reply: NavMap | None = None, report: SessionReport | None = None) -> tuple[NavMap, bool]:
    """Run ``processors`` over one request; returns the ``*rep`` NavMap and whether any processor matched.

    ``conn`` is the agent's ``sessions_conns`` Conn (``await conn.call(method, args)``); ``handlers`` are the
    agent's own request types; ``report`` hears of the sessions started and ended. Raises :class:`RequestError`
    when a processor's templates fail.
    """
    vars = vars if vars is not None else {}
    reply = reply if reply is not None else NavMap()
    cgrep: dict[str, Any] = {}
    opts: dict[str, Any] = {}
    processed = False
    for proc in processors:
        ar = AgentRequest(request, vars, proc, cgrep=cgrep, reply=reply, opts=opts, tenant=tenant_default,
                          timezone=timezone_default, filter_service=filter_service, providers=providers,
                          outputs=outputs, cfg=cfg, rounding_decimals=rounding_decimals)
        try:
            matched = await run_processor(ar, proc, conn, agent=agent, handlers=handlers, report=report)
        except RequestError:
            raise
        except _PIPELINE_ERRORS as exc:
            raise RequestError(proc.id, exc, ar) from exc
        cgrep = ar.cgr_reply
        if matched:
            processed = True
            if not proc.continues:
                break
    return reply, processed


async def run_processor(ar: AgentRequest, proc: RequestProcessor, conn: Any, *, agent: str = "Agent",
                        handlers: Mapping[str, RequestHandler] | None = None,
                        report: SessionReport | None = None) -> bool:
    """One processor over one request (CGRateS's processRequest); False when its filters do not pass."""
    if proc.filters is not None and not await proc.filters.passes(ar.tenant, ar, ar.filter_service):
        return False
    await set_fields(ar, proc.request_fields)
    event = ar.cgr_event()
    rtype = proc.request_type
    flags = proc.flags
    if flags.has("*log"):
        log.info("<%s> LOG, processorID: %s, request: %s, event: %s", agent, proc.id, describe(ar.request),
                 json.dumps(event.to_json(), default=as_string))
    if rtype == "*dryrun":
        log.info("<%s> DRY_RUN, processorID: %s, request: %s, event: %s", agent, proc.id, describe(ar.request),
                 json.dumps(event.to_json(), default=as_string))
    handler = handlers.get(rtype) if handlers is not None else None
    if handler is not None:
        await handler(ar)
    ar.cgr_reply = await dispatch_event(proc, event, conn, report=report, cgrep=ar.cgr_reply,
                                        sessions_call=handler is None)
    await set_fields(ar, proc.reply_fields)
    if flags.has("*log") or rtype == "*dryrun":
        log.info("<%s> %s, processorID: %s, reply: %s", agent, "DRY_RUN" if rtype == "*dryrun" else "LOG", proc.id,
                 json.dumps(ar.reply.to_dict(), default=as_string))
    return True


async def dispatch_event(proc: RequestProcessor, event: CGREvent, conn: Any, *,
                         report: SessionReport | None = None, cgrep: dict[str, Any] | None = None,
                         sessions_call: bool = True) -> dict[str, Any]:
    """The SessionS calls a processor's flags choose for one CGREvent (its request type unless ``sessions_call`` is
    False, then ``*cdrs``); returns the ``*cgrep`` map (``Error`` set when SessionS refused). ``event`` may be
    changed: a ``*message`` debit sets its Usage for the CDR. Event readers call it for events they built (or
    merged) themselves."""
    rtype = proc.request_type
    flags = proc.flags
    out: dict[str, Any] = cgrep if cgrep is not None else {}
    if sessions_call and rtype not in ("*none", "*cdrs", "*dryrun"):
        method, args, needs_max_usage = build_call(rtype, flags, event)
        if conn is None:
            result, error = None, str(mandatory_ie_missing("connIDs"))
        else:
            result, error = await call_sessions(conn, method, args)
        out = {"Error": error} if error is not None else reply_map(rtype, result, needs_max_usage)
        if report is not None and error is None:
            if rtype == "*initiate" and args.InitSession:
                report.started(session_key(event), args)
            elif rtype == "*terminate":
                report.ended(session_key(event), args)
        if rtype in ("*message", "*event"):
            if error is not None and error.startswith(RALS_ERROR_PREFIX):
                event.Event["Usage"] = 0  # no second debit through the CDR
            elif (rtype == "*message" and args.Debit) or (
                    rtype == "*event" and {"*authorize", "*initiate", "*update"} & set(flags.params.get("*rals", ()))):
                usage = out.get("MaxUsage") if rtype == "*message" else run_max_usage(out)
                if usage is not None:
                    event.Event["Usage"] = int(usage)
    if flags.get_bool("*cdrs") and rtype != "*dryrun":
        if conn is None:
            error = str(mandatory_ie_missing("connIDs"))
        else:
            _, error = await call_sessions(conn, PROCESS_CDR, V1ProcessCDRArgs.of(event))
        if error is not None:
            out = {**out, "Error": error}
    return out


async def build_message(fields: Sequence[FieldTemplate], request: DataProvider, vars: dict[str, Any] | None = None,
                        *, cgrep: dict[str, Any] | None = None, error: BaseException | str | None = None,
                        tenant: str = "", timezone: str = "", filter_service: Any = None,
                        providers: Mapping[str, DataProvider] | None = None, outputs: Collection[str] = (),
                        cfg: DataProvider | None = None) -> AgentRequest:
    """Apply a named template (``*err``, ``*cca``, ``*asr``, ``*rar``, ``*dmr`` ...) outside the processors.

    ``error`` (a :class:`RequestError` or text) is readable as ``~*cgrep.Error``. The result's ``reply`` or
    ``output(prefix)`` holds what the template wrote.
    """
    cgrep = dict(cgrep or {})
    if error is not None:
        cgrep["Error"] = error.message if isinstance(error, RequestError) else str(error)
    ar = AgentRequest(request, vars, None, cgrep=cgrep, tenant=tenant, timezone=timezone,
                      filter_service=filter_service, providers=providers, outputs=outputs, cfg=cfg)
    await set_fields(ar, fields)
    return ar


__all__ = [
    "AgentRequest",
    "RequestError",
    "RequestHandler",
    "RequestProcessor",
    "SessionKey",
    "SessionReport",
    "build_message",
    "compile_processor",
    "compile_processors",
    "describe",
    "dispatch_event",
    "process_request",
    "run_processor",
    "session_key",
]

