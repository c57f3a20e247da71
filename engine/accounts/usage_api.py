"""APIerSv1's usage-record methods (GetMaxUsage, DebitUsage, DebitUsageWithOptions) and GetAccountCost: a
UsageRecord (CGRateS's engine.UsageRecord: text fields, Usage as a duration or units) made a CallDescriptor,
then the Responder's max-session-time or debit."""

from __future__ import annotations

import hashlib
from typing import Any

from pycgrates.engine.accounts.accounting import ActionError, rpc_error
from pycgrates.engine.rating.callcost import CallCost, event_cost
from pycgrates.engine.rating.calldesc import VOICE, CallDescriptor
from pycgrates.engine.rpc.errors import RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.units import DurationError, TimeError, parse_duration, parse_time

_FIELDS = ("ToR", "RequestType", "Tenant", "Category", "Account", "Subject", "Destination", "SetupTime",
           "AnswerTime", "Usage")


class UsageRecords:
    """Mixed into AccountingService (which supplies ``ctx``, ``acc`` and the Responder methods)."""

    ctx: Any
    acc: Any

    async def responder_max_session_time(self, cd: CallDescriptor) -> int: ...
    async def _debit(self, cd: CallDescriptor, method: str, **how: Any) -> CallCost: ...

    def _general(self, option: str, default: Any) -> Any:
        cfg = getattr(self.ctx, "cfg", None)
        return cfg.get("general", option, default=default) if cfg is not None else default

    def _usage_record(self, args: Any, *, time_field: str) -> dict[str, str]:
        """The UsageRecord with CGRateS's defaults (ToR *voice, the general section's tenant, category and
        request type, Subject the Account, the time ``*now``)."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object (a UsageRecord)")
        rec = {f: "" if args.get(f) is None else str(args[f]) for f in _FIELDS}
        rec["ToR"] = rec["ToR"] or VOICE
        rec["RequestType"] = rec["RequestType"] or self._general("default_request_type", "*rated")
        rec["Tenant"] = rec["Tenant"] or self._general("default_tenant", "cgrates.org")
        rec["Category"] = rec["Category"] or self._general("default_category", "call")
        rec["Subject"] = rec["Subject"] or rec["Account"]
        rec[time_field] = rec[time_field] or "*now"
        return rec

    def _descriptor_of(self, rec: dict[str, str], deny_negative: bool) -> CallDescriptor:
        """CGRateS's UsageRecord.AsCallDescriptor: from AnswerTime (else SetupTime) for Usage."""
        try:
            start = parse_time(rec["AnswerTime"] or rec["SetupTime"], self.acc.timezone)
            usage = parse_duration(rec["Usage"] or 0)
        except (TimeError, DurationError) as exc:
            raise server_error(exc) from None
        if start is None:
            raise server_error("AnswerTime or SetupTime is needed")
        cd = CallDescriptor.new(tenant=rec["Tenant"], category=rec["Category"], subject=rec["Subject"],
                                account=rec["Account"], destination=rec["Destination"], answer_time=start,
                                usage=usage, tor=rec["ToR"])
        cd.CgrID = hashlib.sha1("".join(rec[f] for f in _FIELDS).encode()).hexdigest()
        cd.DenyNegativeAccount = deny_negative
        return cd

    @rpc("APIerSv1.GetMaxUsage")
    async def get_max_usage(self, args: Any) -> int:
        """The usage (ns) the account allows for a UsageRecord (-1: no limit); Usage defaults to
        sessions.default_usage of the ToR."""
        rec = self._usage_record(args, time_field="SetupTime")
        if not rec["Usage"]:
            cfg = getattr(self.ctx, "cfg", None)
            defaults = (cfg.get("sessions", "default_usage", default={}) if cfg is not None else {}) or {}
            rec["Usage"] = str(parse_duration(defaults.get(rec["ToR"]) or defaults.get("*any") or 0))
        return await self.responder_max_session_time(self._descriptor_of(rec, deny_negative=False))

    @rpc("APIerSv1.DebitUsage")
    async def debit_usage(self, args: Any) -> str:
        """Debit the cost of a UsageRecord; the account may go negative."""
        return await self._debit_usage(args, allow_negative=True)

    @rpc("APIerSv1.DebitUsageWithOptions")
    async def debit_usage_with_options(self, args: Any) -> str:
        """``{"UsageRecord": {...}, "AllowNegativeAccount": bool}``."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object")
        return await self._debit_usage(args.get("UsageRecord") or {}, bool(args.get("AllowNegativeAccount")))

    async def _debit_usage(self, args: Any, allow_negative: bool) -> str:
        if isinstance(args, dict):
            missing = [f for f in ("Account", "Destination", "Usage") if not args.get(f)]
            if missing:
                raise mandatory_ie_missing(*missing)
        rec = self._usage_record(args, time_field="AnswerTime")
        cd = self._descriptor_of(rec, deny_negative=not allow_negative)
        try:
            await self._debit(cd, "APIerSv1.DebitUsage", negative_ok=allow_negative)
        except RPCError as exc:
            raise server_error(exc.message) from None
        return "OK"

    @rpc("APIerSv1.GetAccountCost")
    async def get_account_cost(self, args: Any) -> dict:
        """What a CGREvent would cost its account, debited as a dry run (the account is not changed): an
        EventCost."""
        if not isinstance(args, dict) or not isinstance(args.get("Event"), dict):
            raise mandatory_ie_missing("Event")
        event = args["Event"]
        rec = self._usage_record({f: event.get(f) for f in _FIELDS}, time_field="AnswerTime")
        cd = self._descriptor_of(rec, deny_negative=False)
        cd.DryRun = True
        try:
            cc = await self._debit(cd, "APIerSv1.GetAccountCost")
        except ActionError as exc:
            raise rpc_error(exc) from exc
        except RPCError as exc:
            raise server_error(exc.message) from None
        return event_cost(cc, cd.CgrID, str(event.get("RunID") or ""))
