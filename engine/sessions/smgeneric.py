"""SMGenericV1: the flat-event SessionS methods OpenSIPS 2.3's cgrates module calls (its ``compat_mode``).

CGRateS still serves them (apier/v1/smg.go, deprecated): the parameter is the event itself, Tenant taken from it
(else general.default_tenant) and a fresh event ID; the max usage comes back as float64 seconds, which Go writes
as a JSON integer when whole — the module accepts nothing else. Each is the SessionSv1 call with its one subsystem
switched on.
"""

from __future__ import annotations

import uuid
from typing import Any

from pycgrates.engine.models import cdr as C
from pycgrates.engine.rpc.errors import mandatory_ie_missing
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.sessions.api import (
    V1AuthorizeArgs,
    V1InitSessionArgs,
    V1ProcessCDRArgs,
    V1TerminateSessionArgs,
    V1UpdateSessionArgs,
)
from pycgrates.engine.units import SECOND


def seconds(ns: Any) -> float | int:
    """A duration in ns as Go's float64 seconds encode: a whole number of seconds is a JSON integer."""
    ns = int(ns or 0)
    return ns // SECOND if ns % SECOND == 0 else ns / SECOND


class SMGenericV1:
    """A mixin of :class:`engine.sessions.service.SessionService`: each method calls the service's SessionSv1 one."""

    def _flat(self, ev: Any) -> dict[str, Any]:
        if not isinstance(ev, dict):
            raise mandatory_ie_missing("Event")
        sessions: Any = self
        tenant = C.as_string(ev.get(C.TENANT)) or sessions._general("default_tenant", "cgrates.org")
        return {"Tenant": tenant, "ID": uuid.uuid4().hex, "Event": ev}

    @rpc("SMGenericV1.GetMaxUsage")
    async def smg_get_max_usage(self, ev: Any) -> float | int:
        sessions: Any = self
        reply = await sessions.authorize_event(V1AuthorizeArgs(GetMaxUsage=True, **self._flat(ev)))
        return seconds(reply.get("MaxUsage"))

    @rpc("SMGenericV1.InitiateSession")
    async def smg_initiate_session(self, ev: Any) -> float | int:
        sessions: Any = self
        reply = await sessions.initiate_session(V1InitSessionArgs(InitSession=True, **self._flat(ev)))
        return seconds(reply.get("MaxUsage"))

    @rpc("SMGenericV1.UpdateSession")
    async def smg_update_session(self, ev: Any) -> float | int:
        sessions: Any = self
        reply = await sessions.update_session(V1UpdateSessionArgs(UpdateSession=True, **self._flat(ev)))
        return seconds(reply.get("MaxUsage"))

    @rpc("SMGenericV1.TerminateSession")
    async def smg_terminate_session(self, ev: Any) -> str:
        sessions: Any = self
        return await sessions.terminate_session(V1TerminateSessionArgs(TerminateSession=True, **self._flat(ev)))

    @rpc("SMGenericV1.ProcessCDR")
    async def smg_process_cdr(self, ev: Any) -> str:
        sessions: Any = self
        return await sessions.process_cdr(V1ProcessCDRArgs(**self._flat(ev)))


__all__ = ["SMGenericV1", "seconds"]
