"""How each CSV file of a CGRateS tariff plan is read: one literal table of column specs.

A file's :class:`FileSpec` lists its columns in CSV order by CGRateS's header names. Each :class:`Column` says how
its text is read (its :class:`Kind`: string, decimal, int, bool, duration, time, list, int-list with bounds,
activation interval, params, ...), which field of the object it fills, the text an empty cell stands for, and the
message when a required cell is empty. ``engine.loader.rows`` parses every row by these specs (errors name
``file:line:column``); ``engine.loader.tariffplan`` turns the parsed rows into rating objects;
``engine.loader.profiles`` builds the profile shapes from the same specs.

Profile files (Filters, Attributes, Chargers, ...) hold one profile over several rows with the same Tenant+ID.
Their columns merge by kind: lists grow (no duplicates), an activation interval is set by its first row, params
are added to, every other field takes the last non-empty cell. Columns with ``into`` fill the items of a list of
sub-objects (a :class:`Group`: a route, a dispatcher connection, an attribute, a filter rule, a metric).

The accounting files (SharedGroups, Actions, ActionPlans, ActionTriggers, AccountActions) are read by
``engine.accounts.loading`` from rows keyed by these column names: their columns are declared as text here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from pycgrates.engine.models.tariffplan import MAX_COST_DISCONNECT, MAX_COST_FREE, ROUNDING_METHODS
from pycgrates.engine.storage import base as kinds


class Kind(enum.Enum):
    """How a cell's text is read (the parsers are in ``engine.loader.rows``)."""

    STRING = "string"
    CHOICE = "choice"  # one of Column.choices
    DECIMAL = "decimal"  # money: Decimal
    NUMBER = "number"  # weights, limits: float
    INT = "int"  # within Column.low..high when given
    BOOL = "bool"  # true/false/1/0, empty is false
    DURATION = "duration"  # Go duration or plain units as int nanoseconds; *unlimited and -1 are -1
    TIME = "time"  # RFC3339, unix seconds, ... as int nanoseconds since the epoch
    LIST = "list"  # ';'-separated strings
    INT_LIST = "int-list"  # ';'-separated integers within Column.low..high; *any or empty is every value
    INTERVAL = "activation interval"  # "start[;end]" as {"ActivationTime", "ExpiryTime"}
    PARAMS = "params"  # "k:v;k2:v2" (bare items numbered) as a dict
    DAY_TIMES = "start;end"  # a timing's "HH:MM:SS[;HH:MM:SS]" or *asap, as (StartTime, EndTime)


#: The value of a profile field before any row filled it, by kind (a Column's ``default`` overrides it).
INITIAL: dict[Kind, object] = {
    Kind.STRING: "",
    Kind.CHOICE: "",
    Kind.NUMBER: 0.0,
    Kind.INT: 0,
    Kind.BOOL: False,
    Kind.DURATION: 0,
    Kind.LIST: [],
    Kind.INTERVAL: None,
    Kind.PARAMS: {},
}


@dataclass(frozen=True, slots=True)
class Column:
    """One CSV column: CGRateS's header name, how it is read, and the object field it fills."""

    name: str
    kind: Kind = Kind.STRING
    field: str = ""  # "" = the column's name
    required: str = ""  # the error when the cell is empty (str.format'ed with the row's cells by column name)
    default: str = ""  # the text an empty cell stands for (rating files) / the field's first value (profiles)
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()
    into: str = ""  # profiles: the Group (list of sub-objects) this column fills

    @property
    def target(self) -> str:
        return self.field or self.name


#: A group's row check: (the row's cells by column name, the profile ID) → (column name, message) or None.
GroupCheck = Callable[[Mapping[str, str], str], tuple[str, str] | None]


@dataclass(frozen=True, slots=True)
class Group:
    """A profile's list of sub-objects filled by the columns whose ``into`` names it.

    An item starts on a row whose ``key`` cell is set. With ``per_row`` every such row adds an item; otherwise
    rows with the same key continue one item (a list-kind key starts one item per value).
    """

    field: str
    key: str
    per_row: bool = False
    by_weight: bool = False  # items sorted by descending Weight once every row is read
    check: GroupCheck | None = None


@dataclass(frozen=True)
class FileSpec:
    """One CSV file: its columns in order and what its rows become."""

    table: str
    columns: tuple[Column, ...]
    min_fields: int = 0  # 0: exactly len(columns); else the trailing columns from here on may be left out
    store: str = ""  # profiles: the DataDB kind the profile is stored under
    reload_ids: str = ""  # profiles: the CacheSv1.ReloadCache argument naming the loaded IDs
    groups: tuple[Group, ...] = ()

    @property
    def file(self) -> str:
        return self.table + ".csv"

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def fewest(self) -> int:
        return self.min_fields or len(self.columns)

    @property
    def is_profile(self) -> bool:
        return bool(self.store)

    def index(self, name: str) -> int:
        """The 0-based position of the column named ``name``."""
        return self.names.index(name)


def _text(names: str) -> tuple[Column, ...]:
    """Columns kept as text (the accounting files, read by engine.accounts.loading)."""
    return tuple(Column(n) for n in names.split(","))


def _profile_head(*columns: Column) -> tuple[Column, ...]:
    """Tenant and ID, then the given columns."""
    return (Column("Tenant", required="missing Tenant"), Column("ID", required="missing ID"), *columns)


_FILTER_IDS = Column("FilterIDs", Kind.LIST)
_INTERVAL = Column("ActivationInterval", Kind.INTERVAL)
_WEIGHT = Column("Weight", Kind.NUMBER)
_BLOCKER = Column("Blocker", Kind.BOOL)


def _check_filter_rule(cells: Mapping[str, str], pid: str) -> tuple[str, str] | None:
    rule = cells["Type"]
    if rule and not cells["Element"] and not rule.startswith("*never"):
        return "Element", f"filter {pid}: rule {rule} needs an Element (e.g. ~*req.Account)"
    return None


def _check_attribute(cells: Mapping[str, str], pid: str) -> tuple[str, str] | None:
    if cells["Path"]:
        if not cells["Type"]:
            return "Type", f"attribute {cells['Path']} of {pid} needs a Type (e.g. *constant)"
    elif cells["Type"] or cells["Value"]:
        return "Path", f"attribute of {pid} has a Type or Value but no Path"
    return None


_RATING = (
    FileSpec(
        "Timings",
        (
            Column("ID", required="missing timing ID"),
            Column("Years", Kind.INT_LIST, low=1, high=9999),
            Column("Months", Kind.INT_LIST, low=1, high=12),
            Column("MonthDays", Kind.INT_LIST, low=-1, high=31),
            Column("WeekDays", Kind.INT_LIST, low=0, high=7),
            Column("Time", Kind.DAY_TIMES),
        ),
    ),
    FileSpec(
        "Destinations",
        (
            Column("ID", required="missing destination ID"),
            Column("Prefix", required="missing prefix for destination {ID}"),
        ),
    ),
    FileSpec(
        "Rates",
        (
            Column("ID", required="missing rate ID"),
            Column("ConnectFee", Kind.DECIMAL, default="0"),
            Column("Rate", Kind.DECIMAL),
            Column("RateUnit", Kind.DURATION, low=0),
            Column("RateIncrement", Kind.DURATION, low=0),
            Column("GroupIntervalStart", Kind.DURATION, low=0),
        ),
    ),
    FileSpec(
        "DestinationRates",
        (
            Column("ID", required="missing destination rate ID"),
            Column(
                "DestinationsID",
                field="DestinationId",
                required="missing destination ID (use *any for every destination)",
            ),
            Column("RatesID", field="RateId", required="missing rate ID"),
            Column("RoundingMethod", Kind.CHOICE, default="*middle", choices=ROUNDING_METHODS),
            Column("RoundingDecimals", Kind.INT, default="4", low=0, high=12),
            Column("MaxCost", Kind.DECIMAL, default="0"),
            Column("MaxCostStrategy", Kind.CHOICE, choices=("", MAX_COST_FREE, MAX_COST_DISCONNECT)),
        ),
    ),
    FileSpec(
        "RatingPlans",
        (
            Column("ID", required="missing rating plan ID"),
            Column("DestinationRatesID", field="DestinationRatesId", required="missing destination rates ID"),
            Column("TimingID", field="TimingId", default="*any"),
            Column("Weight", Kind.NUMBER, default="0"),
        ),
    ),
    FileSpec(
        "RatingProfiles",
        (
            Column("Tenant", required="missing Tenant"),
            Column("Category", required="missing Category"),
            Column("Subject", required="missing Subject"),
            Column("ActivationTime", Kind.TIME),
            Column("RatingPlanID", field="RatingPlanId", required="missing RatingPlanID"),
            Column("FallbackSubject", Kind.LIST),
        ),
        min_fields=5,
    ),
)

_ACCOUNTING = (
    FileSpec("SharedGroups", _text("Id,Account,Strategy,RatingSubject")),
    FileSpec(
        "Actions",
        _text(
            "ActionsId,Action,ExtraParameters,Filter,BalanceId,BalanceType,Categories,DestinationIds,RatingSubject,"
            "SharedGroup,ExpiryTime,TimingIds,Units,BalanceWeight,BalanceBlocker,BalanceDisabled,Weight"
        ),
    ),
    FileSpec("ActionPlans", _text("Id,ActionsId,TimingId,Weight")),
    FileSpec(
        "ActionTriggers",
        _text(
            "Tag,UniqueId,ThresholdType,ThresholdValue,Recurrent,MinSleep,ExpiryTime,ActivationTime,BalanceTag,"
            "BalanceType,BalanceCategories,BalanceDestinationIds,BalanceRatingSubject,BalanceSharedGroup,"
            "BalanceExpiryTime,BalanceTimingIds,BalanceWeight,BalanceBlocker,BalanceDisabled,ActionsId,Weight"
        ),
    ),
    FileSpec("AccountActions", _text("Tenant,Account,ActionPlanId,ActionTriggersId,AllowNegative,Disabled")),
)

_PROFILES = (
    FileSpec(
        "Filters",
        _profile_head(
            Column("Type", into="Rules"),
            Column("Element", into="Rules"),
            Column("Values", Kind.LIST, into="Rules"),
            _INTERVAL,
        ),
        store=kinds.FILTER,
        reload_ids="FilterIDs",
        groups=(Group("Rules", key="Type", per_row=True, check=_check_filter_rule),),
    ),
    FileSpec(
        "Attributes",
        _profile_head(
            Column("Contexts", Kind.LIST),
            _FILTER_IDS,
            _INTERVAL,
            Column("AttributeFilterIDs", Kind.LIST, field="FilterIDs", into="Attributes"),
            Column("Path", into="Attributes"),
            Column("Type", into="Attributes"),
            Column("Value", into="Attributes"),
            _BLOCKER,
            _WEIGHT,
        ),
        store=kinds.ATTRIBUTE_PROFILE,
        reload_ids="AttributeProfileIDs",
        groups=(Group("Attributes", key="Path", per_row=True, check=_check_attribute),),
    ),
    FileSpec(
        "Chargers",
        _profile_head(_FILTER_IDS, _INTERVAL, Column("RunID"), Column("AttributeIDs", Kind.LIST), _WEIGHT),
        store=kinds.CHARGER_PROFILE,
        reload_ids="ChargerProfileIDs",
    ),
    FileSpec(
        "Resources",
        _profile_head(
            _FILTER_IDS,
            _INTERVAL,
            Column("UsageTTL", Kind.DURATION),
            Column("Limit", Kind.NUMBER),
            Column("AllocationMessage"),
            _BLOCKER,
            Column("Stored", Kind.BOOL),
            _WEIGHT,
            Column("ThresholdIDs", Kind.LIST),
        ),
        store=kinds.RESOURCE_PROFILE,
        reload_ids="ResourceProfileIDs",
    ),
    FileSpec(
        "Stats",
        _profile_head(
            _FILTER_IDS,
            _INTERVAL,
            Column("QueueLength", Kind.INT),
            Column("TTL", Kind.DURATION),
            Column("MinItems", Kind.INT),
            Column("Metrics", Kind.LIST, field="MetricID", into="Metrics"),
            Column("MetricFilterIDs", Kind.LIST, field="FilterIDs", into="Metrics"),
            Column("Stored", Kind.BOOL),
            _BLOCKER,
            _WEIGHT,
            Column("ThresholdIDs", Kind.LIST),
        ),
        store=kinds.STATQUEUE_PROFILE,
        reload_ids="StatsQueueProfileIDs",
        groups=(Group("Metrics", key="Metrics"),),
    ),
    FileSpec(
        "Thresholds",
        _profile_head(
            _FILTER_IDS,
            _INTERVAL,
            Column("MaxHits", Kind.INT),
            Column("MinHits", Kind.INT),
            Column("MinSleep", Kind.DURATION),
            _BLOCKER,
            _WEIGHT,
            Column("ActionIDs", Kind.LIST),
            Column("Async", Kind.BOOL),
            Column("EeIDs", Kind.LIST),
        ),
        min_fields=11,
        store=kinds.THRESHOLD_PROFILE,
        reload_ids="ThresholdProfileIDs",
    ),
    FileSpec(
        "Routes",
        _profile_head(
            _FILTER_IDS,
            _INTERVAL,
            Column("Sorting"),
            Column("SortingParameters", Kind.LIST),
            Column("RouteID", field="ID", into="Routes"),
            Column("RouteFilterIDs", Kind.LIST, field="FilterIDs", into="Routes"),
            Column("RouteAccountIDs", Kind.LIST, field="AccountIDs", into="Routes"),
            Column("RouteRatingPlanIDs", Kind.LIST, field="RatingPlanIDs", into="Routes"),
            Column("RouteResourceIDs", Kind.LIST, field="ResourceIDs", into="Routes"),
            Column("RouteStatIDs", Kind.LIST, field="StatIDs", into="Routes"),
            Column("RouteWeight", Kind.NUMBER, field="Weight", into="Routes"),
            Column("RouteBlocker", Kind.BOOL, field="Blocker", into="Routes"),
            Column("RouteParameters", into="Routes"),
            _WEIGHT,
        ),
        store=kinds.ROUTE_PROFILE,
        reload_ids="RouteProfileIDs",
        groups=(Group("Routes", key="RouteID", by_weight=True),),
    ),
    FileSpec(
        "DispatcherProfiles",
        _profile_head(
            Column("Subsystems", Kind.LIST),
            _FILTER_IDS,
            _INTERVAL,
            Column("Strategy"),
            Column("StrategyParameters", Kind.PARAMS, field="StrategyParams"),
            Column("ConnID", field="ID", into="Hosts"),
            Column("ConnFilterIDs", Kind.LIST, field="FilterIDs", into="Hosts"),
            Column("ConnWeight", Kind.NUMBER, field="Weight", into="Hosts"),
            Column("ConnBlocker", Kind.BOOL, field="Blocker", into="Hosts"),
            Column("ConnParameters", Kind.PARAMS, field="Params", into="Hosts"),
            _WEIGHT,
        ),
        store=kinds.DISPATCHER_PROFILE,
        reload_ids="DispatcherProfileIDs",
        groups=(Group("Hosts", key="ConnID"),),
    ),
    FileSpec(
        "DispatcherHosts",
        _profile_head(
            Column("Address"),
            Column("Transport", default="*json"),
            Column("ConnectAttempts", Kind.INT),
            Column("Reconnects", Kind.INT),
            Column("MaxReconnectInterval", Kind.DURATION),
            Column("ConnectTimeout", Kind.DURATION),
            Column("ReplyTimeout", Kind.DURATION),
            Column("TLS", Kind.BOOL),
            Column("ClientKey"),
            Column("ClientCertificate"),
            Column("CaCertificate"),
        ),
        min_fields=4,
        store=kinds.DISPATCHER_HOST,
        reload_ids="DispatcherHostIDs",
    ),
)

#: Every known file, in the order a folder is read (a later file may name what an earlier one defines).
SPECS: dict[str, FileSpec] = {s.table: s for s in (*_RATING, *_ACCOUNTING, *_PROFILES)}

RATING_TABLES = tuple(s.table for s in _RATING)
ACCOUNTING_TABLES = tuple(s.table for s in _ACCOUNTING)
PROFILE_TABLES = tuple(s.table for s in _PROFILES)
