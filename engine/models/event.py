"""CGRateS's CGREvent as a model: one event (a map of fields) of a tenant, with the options for the services it
crosses (``APIOpts``).

The argument objects of the event APIs (SessionSv1's V1InitSessionArgs, CDRsV1's ArgV1ProcessEvent, ...) embed
it as CGRateS does: they subclass :class:`CGREvent`, and their JSON is the event's keys plus their own. On the
wire: ``{"Tenant": str, "ID": str, "Time": RFC3339 | null, "Event": {...}, "APIOpts": {...}}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Self

from pycgrates.engine.units import format_time, parse_time


@dataclass(slots=True)
class CGREvent:
    Tenant: str = ""
    ID: str = ""
    Time: datetime | None = None
    #: the event's fields as they came (values are not converted: services read them as CGRateS does)
    Event: dict[str, Any] = field(default_factory=dict)
    #: the caller's options; services read them and never change them
    APIOpts: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Self:
        if not isinstance(data, dict):
            raise TypeError("arguments must be a JSON object")
        return cls(**event_fields(data, timezone))

    def to_json(self) -> dict[str, Any]:
        return {"Tenant": self.Tenant, "ID": self.ID, "Time": format_time(self.Time) if self.Time else None,
                "Event": self.Event, "APIOpts": self.APIOpts}

    def cgr_event(self) -> CGREvent:
        """The event part alone (an argument object without its flags), sharing the event's maps."""
        return CGREvent(Tenant=self.Tenant, ID=self.ID, Time=self.Time, Event=self.Event, APIOpts=self.APIOpts)

    @classmethod
    def of(cls, event: CGREvent, **fields: Any) -> Self:
        """An argument object for ``event`` (its maps shared, not copied) with the given flags and fields."""
        return cls(Tenant=event.Tenant, ID=event.ID, Time=event.Time, Event=event.Event, APIOpts=event.APIOpts,
                   **fields)


def event_fields(data: dict[str, Any], timezone: str | None = None) -> dict[str, Any]:
    """The CGREvent keys of a JSON argument object, decoded (for the models embedding a CGREvent)."""
    event = data.get("Event")
    if event is None:
        event = {}
    elif not isinstance(event, dict):
        raise TypeError("Event must be a JSON object")
    opts = data.get("APIOpts")
    if opts is None:
        opts = {}
    elif not isinstance(opts, dict):
        raise TypeError("APIOpts must be a JSON object")
    return {"Tenant": str(data.get("Tenant") or ""), "ID": str(data.get("ID") or ""),
            "Time": parse_time(data.get("Time"), timezone), "Event": event, "APIOpts": opts}
