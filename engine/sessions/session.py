"""A charging session and its runs, and the session lifecycle as one literal transition table.

A session is keyed by CGRID = sha1(OriginID + OriginHost) and forked by ChargerS into runs (RunID); each run
has its own CallDescriptor and its own cost ledger. The reservation arithmetic (what is still reserved from
earlier debits, LastUsed corrections) follows CGRateS's SRun.debitReserve.

What SessionS keeps about a session for itself (the journal sequence, what was granted last)
lives in the session's own fields; ``opts`` is what the client sent in APIOpts, kept as it came.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass, field
from typing import Any

from pycgrates.engine.rating.calldesc import JOURNAL_OPT, CallDescriptor
from pycgrates.engine.sessions.costs import RunCost
from pycgrates.engine.units import money_json, to_decimal


class State(enum.Enum):
    ACTIVE = "active"  # initiated; being charged
    DISCONNECTING = "disconnecting"  # we asked the switch to hang up (credit exhausted, forced); awaiting Terminate
    TERMINATED = "terminated"  # closed; kept for ProcessCDR until the CDR is written


class Event(enum.Enum):
    UPDATE = "update"
    TERMINATE = "terminate"
    DISCONNECT = "disconnect"  # credit exhausted or ForceDisconnect
    TTL_EXPIRED = "ttl_expired"
    CDR_WRITTEN = "cdr_written"


#: (state, event) → next state. A pair missing here is refused (see :func:`next_state`).
TRANSITIONS: dict[tuple[State, Event], State] = {
    (State.ACTIVE, Event.UPDATE): State.ACTIVE,
    (State.ACTIVE, Event.TERMINATE): State.TERMINATED,
    (State.ACTIVE, Event.DISCONNECT): State.DISCONNECTING,
    (State.ACTIVE, Event.TTL_EXPIRED): State.TERMINATED,
    (State.DISCONNECTING, Event.UPDATE): State.DISCONNECTING,
    (State.DISCONNECTING, Event.TERMINATE): State.TERMINATED,
    (State.DISCONNECTING, Event.DISCONNECT): State.DISCONNECTING,
    (State.DISCONNECTING, Event.TTL_EXPIRED): State.TERMINATED,
    (State.TERMINATED, Event.TERMINATE): State.TERMINATED,  # a second Terminate: answered, never charged again
    (State.TERMINATED, Event.CDR_WRITTEN): State.TERMINATED,
}


class TransitionError(Exception):
    def __init__(self, state: State, event: Event) -> None:
        super().__init__(f"session is {state.value}: {event.value} not allowed")
        self.state, self.event = state, event


def next_state(state: State, event: Event) -> State:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise TransitionError(state, event) from None


@dataclass
class SRun:
    """One charging run (CGRateS SRun)."""

    run_id: str
    event: dict  # the run's event (after ChargerS and AttributeS)
    cd: CallDescriptor  # advanced with every debit
    request_type: str
    cost: RunCost = field(default_factory=RunCost)
    extra_duration: int = 0  # charged beyond what was asked (increment rounding), used before debiting again
    last_usage: int = 0
    total_usage: int = 0
    loop_index: int = 0

    @property
    def prepaid(self) -> bool:
        return self.request_type == "*prepaid"

    def debit_reserve(self, dur: int, last_used: int | None) -> int:
        """Apply a LastUsed correction and take ``dur`` out of what is reserved; return what is left to debit."""
        if last_used is not None and self.last_usage != last_used:
            diff = self.last_usage - last_used
            self.extra_duration += diff
            self.total_usage += last_used - self.last_usage
            self.last_usage = last_used
        if self.extra_duration >= dur:
            self.extra_duration -= dur
            self.last_usage = dur
            self.total_usage += dur
            return 0
        rest = dur - self.extra_duration
        self.extra_duration = 0
        return rest

    def to_json(self) -> dict:
        """The run as its snapshot stores it."""
        return {
            "RunID": self.run_id, "Event": self.event, "CD": cd_state(self.cd), "RequestType": self.request_type,
            "Cost": self.cost.to_json(), "ExtraDuration": self.extra_duration, "LastUsage": self.last_usage,
            "TotalUsage": self.total_usage, "LoopIndex": self.loop_index,
        }

    @classmethod
    def from_json(cls, d: dict) -> SRun:
        return cls(run_id=d["RunID"], event=d["Event"], cd=cd_from_state(d["CD"]),
                   request_type=d.get("RequestType", ""),
                   cost=RunCost.from_json(d.get("Cost") or {}), extra_duration=int(d.get("ExtraDuration") or 0),
                   last_usage=int(d.get("LastUsage") or 0), total_usage=int(d.get("TotalUsage") or 0),
                   loop_index=int(d.get("LoopIndex") or 0))


@dataclass
class Session:
    cgrid: str
    tenant: str
    origin_id: str
    origin_host: str
    event_start: dict
    opts: dict  # the client's APIOpts as sent; never changed here
    runs: list[SRun]
    debit_interval: int = 0  # ns; 0: no debit loop
    client: Any = None  # the Conn of the agent the session came from (BiRPC or in-process); None: none
    client_id: str = ""
    state: State = State.ACTIVE
    chargeable: bool = True
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    tasks: list[asyncio.Task] = field(default_factory=list)  # debit loop, disconnect timer
    ttl_task: asyncio.Task | None = None
    last_activity: float = 0.0  # loop time of the last update (TTL)
    ttl: int = 0
    ttl_usage: int | None = None
    ttl_last_used: int | None = None
    cdr_written: bool = False
    disconnect_reason: str = ""
    indexes: dict[str, str] = field(default_factory=dict)
    #: the last journal sequence number given to an accounting call of this session
    journal_seq: int = 0
    #: journal keys of the calls made since the last snapshot (the next snapshot includes them)
    journal_pending: list[str] = field(default_factory=list)
    #: what the last InitiateSession or UpdateSession granted (GetActiveSessions reports it)
    max_usage: int = 0

    @property
    def rals_opts(self) -> dict:
        """The client's APIOpts as forwarded to RALs: without a journal key (the journal is SessionS's own)."""
        opts = self.opts
        return {k: v for k, v in opts.items() if k != JOURNAL_OPT} if JOURNAL_OPT in opts else opts

    def apply(self, event: Event) -> State:
        self.state = next_state(self.state, event)
        return self.state

    def stop_timers(self) -> None:
        current = asyncio.current_task()
        for t in (*self.tasks, self.ttl_task):
            if t is not None and t is not current and not t.done():
                t.cancel()
        self.tasks = [t for t in self.tasks if t is current]
        if self.ttl_task is not current:
            self.ttl_task = None

    def external(self) -> dict:
        """The session as GetActiveSessions reports it (CGRateS ExternalSession), one per run."""
        return {"CGRID": self.cgrid, "Tenant": self.tenant, "OriginID": self.origin_id,
                "OriginHost": self.origin_host, "State": self.state.value}


def cd_state(cd: CallDescriptor) -> dict:
    """A run's CallDescriptor as its snapshot stores it (times and durations in ns)."""
    return {"Category": cd.Category, "Tenant": cd.Tenant, "Subject": cd.Subject, "Account": cd.Account,
            "Destination": cd.Destination, "ToR": cd.ToR, "TimeStart": cd.TimeStart, "TimeEnd": cd.TimeEnd,
            "DurationIndex": cd.DurationIndex, "LoopIndex": cd.LoopIndex, "ExtraFields": cd.ExtraFields,
            "MaxCostSoFar": money_json(cd.MaxCostSoFar)}


def cd_from_state(d: dict) -> CallDescriptor:
    start = int(d.get("TimeStart") or 0)
    return CallDescriptor(
        Category=d.get("Category") or "", Tenant=d.get("Tenant") or "", Subject=d.get("Subject") or "",
        Account=d.get("Account") or "", Destination=d.get("Destination") or "", ToR=d.get("ToR") or "*voice",
        TimeStart=start, TimeEnd=int(d.get("TimeEnd") or start), DurationIndex=int(d.get("DurationIndex") or 0),
        LoopIndex=float(d.get("LoopIndex") or 0), ExtraFields=dict(d.get("ExtraFields") or {}),
        MaxCostSoFar=to_decimal(d.get("MaxCostSoFar") or 0),
    )
