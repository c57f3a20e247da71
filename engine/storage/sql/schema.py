"""The SQL StorDB's tables (CGRateS's names and columns) and the versioned migrations that create them.

``cdrs`` and ``session_costs`` follow CGRateS's data/storage/{postgres,mysql}/create_cdrs_tables.sql, and the
``tp_*`` tables its create_tariffplan_tables.sql, so SQL reports written for CGRateS read ours. Deliberate
differences: ids are 64-bit, money keeps 10 decimals (CGRateS's 4 would drop the fifth decimal that
rounding_decimals 5 produces), MySQL times keep microseconds (DATETIME(6), UTC), and the tp_* tables have no
unique keys (a tariff plan under edit may hold what a load would refuse; the loader says so, not the insert).

Migrations are numbered; each server records the ones applied in ``pycgrates_schema`` and a start applies the
missing ones under a server-wide lock, so engines starting together do not race. Add a migration by appending to
:data:`MIGRATIONS`; never edit one that shipped.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Column types: s (text), n (money/weight), i (integer), b (boolean).
_PG_TYPES = {"s": "VARCHAR(255)", "t": "TEXT", "n": "NUMERIC(30,10)", "i": "INTEGER", "b": "BOOLEAN"}
_MY_TYPES = {"s": "VARCHAR(255)", "t": "TEXT", "n": "DECIMAL(30,10)", "i": "INT", "b": "TINYINT(1)"}


@dataclass(frozen=True)
class TPColumn:
    csv: str  # the CSV header (the row dict's key); "" for a column filled with ``const``
    column: str
    type: str = "s"
    const: str = ""


@dataclass(frozen=True)
class TPTable:
    kind: str  # the CSV file's stem: Destinations, Rates, ...
    table: str
    pk: str  # the serial column: "id" (rating tables) or "pk" (profile tables)
    columns: tuple[TPColumn, ...]
    index: tuple[str, ...]  # the lookup index after tpid


def _c(spec: str) -> tuple[TPColumn, ...]:
    """``"CSVName:column:type ..."`` (type s when left out; ``=VALUE:column`` for a constant)."""
    out = []
    for item in spec.split():
        csv, column, *typ = item.split(":")
        if csv.startswith("="):
            out.append(TPColumn("", column, "s", csv[1:]))
        else:
            out.append(TPColumn(csv, column, typ[0] if typ else "s"))
    return tuple(out)


_PROFILE = "Tenant:tenant ID:id"
_FILTERED = f"{_PROFILE} FilterIDs:filter_ids ActivationInterval:activation_interval"

#: One literal table: each CSV kind and the CGRateS tp_* table its rows go to.
TP_TABLES: dict[str, TPTable] = {t.kind: t for t in (
    TPTable("Timings", "tp_timings", "id", _c(
        "ID:tag Years:years Months:months MonthDays:month_days WeekDays:week_days Time:time"), ("tag",)),
    TPTable("Destinations", "tp_destinations", "id", _c("ID:tag Prefix:prefix"), ("tag",)),
    TPTable("Rates", "tp_rates", "id", _c(
        "ID:tag ConnectFee:connect_fee:n Rate:rate:n RateUnit:rate_unit RateIncrement:rate_increment "
        "GroupIntervalStart:group_interval_start"), ("tag",)),
    TPTable("DestinationRates", "tp_destination_rates", "id", _c(
        "ID:tag DestinationsID:destinations_tag RatesID:rates_tag RoundingMethod:rounding_method "
        "RoundingDecimals:rounding_decimals:i MaxCost:max_cost:n MaxCostStrategy:max_cost_strategy"), ("tag",)),
    TPTable("RatingPlans", "tp_rating_plans", "id", _c(
        "ID:tag DestinationRatesID:destrates_tag TimingID:timing_tag Weight:weight:n"), ("tag",)),
    TPTable("RatingProfiles", "tp_rating_profiles", "id", _c(
        "=CSVLOAD:loadid Tenant:tenant Category:category Subject:subject ActivationTime:activation_time "
        "RatingPlanID:rating_plan_tag FallbackSubject:fallback_subjects"), ("tenant", "category", "subject")),
    TPTable("SharedGroups", "tp_shared_groups", "id", _c(
        "Id:tag Account:account Strategy:strategy RatingSubject:rating_subject"), ("tag",)),
    TPTable("Actions", "tp_actions", "id", _c(
        "ActionsId:tag Action:action ExtraParameters:extra_parameters:t Filter:filters:t BalanceId:balance_tag "
        "BalanceType:balance_type Categories:categories DestinationIds:destination_tags RatingSubject:rating_subject "
        "SharedGroup:shared_groups ExpiryTime:expiry_time TimingIds:timing_tags Units:units "
        "BalanceWeight:balance_weight BalanceBlocker:balance_blocker BalanceDisabled:balance_disabled "
        "Weight:weight:n"), ("tag",)),
    TPTable("ActionPlans", "tp_action_plans", "id", _c(
        "Id:tag ActionsId:actions_tag TimingId:timing_tag Weight:weight:n"), ("tag",)),
    TPTable("ActionTriggers", "tp_action_triggers", "id", _c(
        "Tag:tag UniqueId:unique_id ThresholdType:threshold_type ThresholdValue:threshold_value:n "
        "Recurrent:recurrent:b MinSleep:min_sleep ExpiryTime:expiry_time ActivationTime:activation_time "
        "BalanceTag:balance_tag BalanceType:balance_type BalanceCategories:balance_categories "
        "BalanceDestinationIds:balance_destination_tags BalanceRatingSubject:balance_rating_subject "
        "BalanceSharedGroup:balance_shared_groups BalanceExpiryTime:balance_expiry_time "
        "BalanceTimingIds:balance_timing_tags BalanceWeight:balance_weight BalanceBlocker:balance_blocker "
        "BalanceDisabled:balance_disabled ActionsId:actions_tag Weight:weight:n"), ("tag",)),
    TPTable("AccountActions", "tp_account_actions", "id", _c(
        "=CSVLOAD:loadid Tenant:tenant Account:account ActionPlanId:action_plan_tag "
        "ActionTriggersId:action_triggers_tag AllowNegative:allow_negative:b Disabled:disabled:b"),
        ("tenant", "account")),
    TPTable("Filters", "tp_filters", "pk", _c(
        f"{_PROFILE} Type:type Element:element Values:values:t ActivationInterval:activation_interval"),
        ("tenant", "id")),
    TPTable("Attributes", "tp_attributes", "pk", _c(
        "Tenant:tenant ID:id Contexts:contexts FilterIDs:filter_ids ActivationInterval:activation_interval "
        "AttributeFilterIDs:attribute_filter_ids Path:path Type:type Value:value:t Blocker:blocker:b "
        "Weight:weight:n"), ("tenant", "id")),
    TPTable("Chargers", "tp_chargers", "pk", _c(
        f"{_FILTERED} RunID:run_id AttributeIDs:attribute_ids Weight:weight:n"), ("tenant", "id")),
    TPTable("Resources", "tp_resources", "pk", _c(
        f"{_FILTERED} UsageTTL:usage_ttl Limit:limit AllocationMessage:allocation_message Blocker:blocker:b "
        "Stored:stored:b Weight:weight:n ThresholdIDs:threshold_ids"), ("tenant", "id")),
    TPTable("Stats", "tp_stats", "pk", _c(
        f"{_FILTERED} QueueLength:queue_length:i TTL:ttl MinItems:min_items:i Metrics:metric_ids "
        "MetricFilterIDs:metric_filter_ids Stored:stored:b Blocker:blocker:b Weight:weight:n "
        "ThresholdIDs:threshold_ids"), ("tenant", "id")),
    TPTable("Thresholds", "tp_thresholds", "pk", _c(
        f"{_FILTERED} MaxHits:max_hits:i MinHits:min_hits:i MinSleep:min_sleep Blocker:blocker:b "
        "Weight:weight:n ActionIDs:action_ids Async:async:b EeIDs:ee_ids"), ("tenant", "id")),
    TPTable("Routes", "tp_routes", "pk", _c(
        f"{_FILTERED} Sorting:sorting SortingParameters:sorting_parameters RouteID:route_id "
        "RouteFilterIDs:route_filter_ids RouteAccountIDs:route_account_ids RouteRatingPlanIDs:route_ratingplan_ids "
        "RouteResourceIDs:route_resource_ids RouteStatIDs:route_stat_ids RouteWeight:route_weight:n "
        "RouteBlocker:route_blocker:b RouteParameters:route_parameters Weight:weight:n"), ("tenant", "id")),
    TPTable("DispatcherProfiles", "tp_dispatcher_profiles", "pk", _c(
        "Tenant:tenant ID:id Subsystems:subsystems FilterIDs:filter_ids ActivationInterval:activation_interval "
        "Strategy:strategy StrategyParameters:strategy_parameters ConnID:conn_id ConnFilterIDs:conn_filter_ids "
        "ConnWeight:conn_weight:n ConnBlocker:conn_blocker:b ConnParameters:conn_parameters Weight:weight:n"),
        ("tenant", "id")),
    TPTable("DispatcherHosts", "tp_dispatcher_hosts", "pk", _c(
        f"{_PROFILE} Address:address Transport:transport ConnectAttempts:connect_attempts:i Reconnects:reconnects:i "
        "MaxReconnectInterval:max_reconnect_interval ConnectTimeout:connect_timeout ReplyTimeout:reply_timeout "
        "TLS:tls:b ClientKey:client_key ClientCertificate:client_certificate CaCertificate:ca_certificate"),
        ("tenant", "id")),
)}


def _tp_ddl(dialect: str, t: TPTable) -> list[str]:
    q = '"' if dialect == "postgres" else "`"
    types = _PG_TYPES if dialect == "postgres" else _MY_TYPES
    serial = f"{q}{t.pk}{q} BIGSERIAL PRIMARY KEY" if dialect == "postgres" else \
        f"{q}{t.pk}{q} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY"
    created = "TIMESTAMP WITH TIME ZONE" if dialect == "postgres" else "TIMESTAMP NULL"
    cols = [serial, f"{q}tpid{q} VARCHAR(64) NOT NULL"]
    # indexed text columns stay short enough for MySQL's 3072-byte keys in utf8mb4
    cols += [f"{q}{c.column}{q} {'VARCHAR(128)' if c.column in t.index and c.type == 's' else types[c.type]} NOT NULL"
             for c in t.columns]
    cols.append(f"{q}created_at{q} {created}")
    index_name = f"{q}{t.table}_tpid_idx{q}"
    index_cols = ", ".join(f"{q}{c}{q}" for c in ("tpid", *t.index))
    if dialect == "postgres":
        return [f"CREATE TABLE IF NOT EXISTS {q}{t.table}{q} ({', '.join(cols)})",
                f"CREATE INDEX IF NOT EXISTS {index_name} ON {q}{t.table}{q} ({index_cols})"]
    cols.append(f"KEY {index_name} ({index_cols})")  # inside the table: re-running the migration is harmless
    return [f"CREATE TABLE IF NOT EXISTS {q}{t.table}{q} ({', '.join(cols)}) DEFAULT CHARSET=utf8mb4"]


_PG_CDRS = [
    """CREATE TABLE IF NOT EXISTS cdrs (
 id BIGSERIAL PRIMARY KEY,
 cgrid VARCHAR(40) NOT NULL,
 run_id VARCHAR(64) NOT NULL,
 origin_host VARCHAR(64) NOT NULL,
 source VARCHAR(64) NOT NULL,
 origin_id VARCHAR(128) NOT NULL,
 tor VARCHAR(16) NOT NULL,
 request_type VARCHAR(24) NOT NULL,
 tenant VARCHAR(64) NOT NULL,
 category VARCHAR(64) NOT NULL,
 account VARCHAR(128) NOT NULL,
 subject VARCHAR(128) NOT NULL,
 destination VARCHAR(128) NOT NULL,
 setup_time TIMESTAMP WITH TIME ZONE NOT NULL,
 answer_time TIMESTAMP WITH TIME ZONE NULL,
 usage BIGINT NOT NULL,
 extra_fields jsonb NOT NULL,
 cost_source VARCHAR(64) NOT NULL,
 cost NUMERIC(30,10) DEFAULT NULL,
 cost_details jsonb,
 extra_info text,
 created_at TIMESTAMP WITH TIME ZONE,
 updated_at TIMESTAMP WITH TIME ZONE NULL,
 deleted_at TIMESTAMP WITH TIME ZONE NULL,
 UNIQUE (cgrid, run_id)
)""",
    "CREATE INDEX IF NOT EXISTS deleted_at_cp_idx ON cdrs (deleted_at)",
    """CREATE TABLE IF NOT EXISTS session_costs (
 id BIGSERIAL PRIMARY KEY,
 cgrid VARCHAR(40) NOT NULL,
 run_id VARCHAR(64) NOT NULL,
 origin_host VARCHAR(64) NOT NULL,
 origin_id VARCHAR(128) NOT NULL,
 cost_source VARCHAR(64) NOT NULL,
 usage BIGINT NOT NULL,
 cost_details jsonb,
 created_at TIMESTAMP WITH TIME ZONE,
 deleted_at TIMESTAMP WITH TIME ZONE NULL,
 UNIQUE (cgrid, run_id)
)""",
    "CREATE INDEX IF NOT EXISTS cgrid_sessionscost_idx ON session_costs (cgrid, run_id)",
    "CREATE INDEX IF NOT EXISTS origin_sessionscost_idx ON session_costs (origin_host, origin_id)",
    "CREATE INDEX IF NOT EXISTS run_origin_sessionscost_idx ON session_costs (run_id, origin_id)",
    "CREATE INDEX IF NOT EXISTS deleted_at_sessionscost_idx ON session_costs (deleted_at)",
]

_MY_CDRS = [
    """CREATE TABLE IF NOT EXISTS cdrs (
  id BIGINT NOT NULL AUTO_INCREMENT,
  cgrid varchar(40) NOT NULL,
  run_id varchar(64) NOT NULL,
  origin_host varchar(64) NOT NULL,
  source varchar(64) NOT NULL,
  origin_id varchar(128) NOT NULL,
  tor varchar(16) NOT NULL,
  request_type varchar(24) NOT NULL,
  tenant varchar(64) NOT NULL,
  category varchar(64) NOT NULL,
  account varchar(128) NOT NULL,
  subject varchar(128) NOT NULL,
  destination varchar(128) NOT NULL,
  setup_time datetime(6) NOT NULL,
  answer_time datetime(6) NULL,
  `usage` BIGINT NOT NULL,
  extra_fields text NOT NULL,
  cost_source varchar(64) NOT NULL,
  cost DECIMAL(30,10) NOT NULL,
  cost_details MEDIUMTEXT,
  extra_info text,
  created_at TIMESTAMP NULL,
  updated_at TIMESTAMP NULL,
  deleted_at TIMESTAMP NULL,
  PRIMARY KEY (id),
  UNIQUE KEY cdrrun (cgrid, run_id),
  KEY deleted_at_cp_idx (deleted_at)
) DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE IF NOT EXISTS session_costs (
  id BIGINT NOT NULL AUTO_INCREMENT,
  cgrid varchar(40) NOT NULL,
  run_id varchar(64) NOT NULL,
  origin_host varchar(64) NOT NULL,
  origin_id varchar(128) NOT NULL,
  cost_source varchar(64) NOT NULL,
  `usage` BIGINT NOT NULL,
  cost_details MEDIUMTEXT,
  created_at TIMESTAMP NULL,
  deleted_at TIMESTAMP NULL,
  PRIMARY KEY (id),
  UNIQUE KEY costid (cgrid, run_id),
  KEY origin_idx (origin_host, origin_id),
  KEY run_origin_idx (run_id, origin_id),
  KEY deleted_at_idx (deleted_at)
) DEFAULT CHARSET=utf8mb4""",
]


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: dict[str, tuple[str, ...]]  # dialect name → statements


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "cdrs and session_costs", {"postgres": tuple(_PG_CDRS), "mysql": tuple(_MY_CDRS)}),
    Migration(2, "tariff plans under edit (tp_*)", {
        d: tuple(s for t in TP_TABLES.values() for s in _tp_ddl(d, t)) for d in ("postgres", "mysql")
    }),
)

#: The table recording applied migrations.
SCHEMA_TABLE = "pycgrates_schema"
