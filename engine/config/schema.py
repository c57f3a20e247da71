"""The shape of the configuration: which options exist, their JSON types, and how files merge into each other.

The tree is derived from ``defaults.json`` (an option's type is the type of its default) and refined here where
CGRateS gives keys or list items special meaning: free-form names (``rpc_conns``, ``templates``, cache partitions,
DB items), lists of agent request processors and readers/exporters/loaders that later files extend by ``id``,
field templates, and options whose values are durations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOOL = "boolean"
NUMBER = "number"
STRING = "string"
ANY = "any"
LIST = "list"  # replaced whole by a later file; items checked against ``item``
OBJECT = "object"  # merged key by key; keys outside ``fields`` are unknown options
MAP = "map"  # free-form keys merged one by one; each value checked against ``item``
KEYED = "keyed"  # list of objects: an item with a known "id" is merged into it, others are appended

# Options whose value is a duration: a Go duration string ("1s", "-1", "") or a number of nanoseconds.
DURATION_KEYS = frozenset(
    {
        "failed_posts_ttl", "caching_delay", "max_reconnect_interval", "connect_timeout", "reply_timeout",
        "locking_timeout", "caps_stats_interval", "shutdown_timeout", "redisClusterSync", "redisClusterOndownDelay",
        "redisConnectTimeout", "redisReadTimeout", "redisWriteTimeout", "redisPoolPipelineWindow",
        "mongoQueryTimeout", "sqlConnMaxLifetime", "internalDBStartTimeout", "internalDBDumpInterval",
        "internalDBRewriteInterval", "internalDBFsyncInterval", "tlsHandshakeTimeout", "idleConnTimeout",
        "responseHeaderTimeout", "expectContinueTimeout", "dialTimeout", "dialFallbackDelay", "dialKeepAlive",
        "ttl", "debit_interval", "session_ttl", "session_ttl_max_delay", "session_ttl_last_used",
        "session_ttl_usage", "session_last_usage", "channel_sync_interval", "stale_chan_max_extra_usage",
        "min_dur_low_balance", "backup_interval", "payload_maxduration", "max_wait_connection", "store_interval",
        "run_delay", "start_delay", "partial_cache_ttl", "refresh_interval", "cleanup_interval",
        "retransmission_timer", "*usageTTL", "max_usage", "min_call_duration", "max_call_duration",
        "replication_interval", "channel_sync_timeout", "conn_health_check_interval", "session_ttl_last_usage",
        "*ttl", "idempotency_window",
    }
)
# Free-form maps whose values are durations (per ToR).
DURATION_MAPS = frozenset({("sessions", "default_usage"), ("rals", "max_computed_usage")})

# Options whose default is null ("not set"): the type a value must have when one is given.
NULL_DEFAULT_KINDS: dict[str, tuple[str, bool]] = {
    "string_indexed_fields": (LIST, False),
    "rate_string_indexed_fields": (LIST, False),
    "session_ttl_max_delay": (STRING, True),
    "session_ttl_last_used": (STRING, True),
    "session_ttl_usage": (STRING, True),
    "session_last_usage": (STRING, True),
    "session_ttl_last_usage": (STRING, True),
    "listen": (STRING, False),
    "listen_net": (STRING, False),
    "listen_auth": (STRING, False),
    "listen_acct": (STRING, False),
    "listen_bijson": (STRING, False),
    "listen_bigob": (STRING, False),
}

# Lists of connections/listeners whose items start from the default item (missing keys keep their defaults).
ITEM_DEFAULT_LISTS = frozenset({"asterisk_conns", "event_socket_conns", "evapi_conns", "janus_conns", "listeners"})

# Lists of field templates (request_fields, reply_fields, ...): each item is a field definition.
FIELD_LIST_KEYS = frozenset({"request_fields", "reply_fields", "fields", "partial_commit_fields", "cache_dump_fields"})


@dataclass(slots=True)
class Node:
    kind: str
    duration: bool = False
    fields: dict[str, Node] = field(default_factory=dict)  # OBJECT
    item: Node | None = None  # LIST / MAP / KEYED
    replace_entries: bool = False  # MAP: a later file's entry replaces the earlier one whole
    base_item: dict | None = None  # KEYED/LIST: new items start from a copy of this one
    nullable: bool = False  # null is a value here (the default is null)

    @property
    def expected(self) -> str:
        if self.duration:
            return "a duration string"
        return {
            BOOL: "a boolean", NUMBER: "a number", STRING: "a string", LIST: "a list", OBJECT: "an object",
            MAP: "an object", KEYED: "a list", ANY: "any value",
        }[self.kind]


def _leaf(kind: str, duration: bool = False) -> Node:
    return Node(kind, duration=duration)


def _obj(**fields: Node) -> Node:
    return Node(OBJECT, fields=dict(fields))


_S, _N, _B, _L, _A = (_leaf(STRING), _leaf(NUMBER), _leaf(BOOL), _leaf(LIST), _leaf(ANY))
_D = _leaf(STRING, duration=True)

FIELD = _obj(
    tag=_S, path=_S, type=_S, value=_A, filters=_L, width=_N, strip=_S, padding=_S, mandatory=_B,
    attribute_id=_S, new_branch=_B, timezone=_S, blocker=_B, layout=_S, cost_shift_digits=_N,
    rounding_decimals=_N, mask_destinationd_id=_S, mask_length=_N,
)
FIELD_LIST = Node(LIST, item=FIELD)

PROCESSOR = _obj(
    id=_S, filters=_L, tenant=_S, timezone=_S, flags=_L, request_fields=FIELD_LIST, reply_fields=FIELD_LIST,
)
PROCESSORS = Node(KEYED, item=PROCESSOR)

# CGRateS v0.11 reads key_path/cert_path/ca_path/conn_attempts here; its defaults file's comment says
# client_key/client_certificate/ca_certificate/connect_attempts. Both spellings are accepted.
REMOTE_HOST = _obj(
    id=_S, address=_S, transport=_S, synchronous=_B, tls=_B, client_key=_S, client_certificate=_S,
    ca_certificate=_S, connect_attempts=_N, reconnects=_N, max_reconnect_interval=_D, connect_timeout=_D,
    reply_timeout=_D, key_path=_S, cert_path=_S, ca_path=_S, conn_attempts=_N,
)
RPC_CONN = _obj(
    strategy=_S, pool_size=_N, conns=Node(LIST, item=REMOTE_HOST),
    # accepted at pool level too, applying to every member
    connect_attempts=_N, reconnects=_N, connect_timeout=_D, reply_timeout=_D,
)
CACHE_PARTITION = _obj(limit=_N, ttl=_D, static_ttl=_B, precache=_B, remote=_B, replicate=_B)
DB_ITEM = _obj(remote=_B, replicate=_B, route_id=_S, api_key=_S, limit=_N, ttl=_D, static_ttl=_B)
HTTP_AGENT = _obj(
    id=_S, url=_S, sessions_conns=_L, stats_conns=_L, thresholds_conns=_L, request_payload=_S,
    reply_payload=_S, request_processors=PROCESSORS,
)
DA_ADDRESS = _obj(transport=_S, host=_S, port=_N, flags=_L)

# Paths (section, key, ...; "[]" stands for any list item) whose node is set here rather than derived.
OVERRIDES: dict[tuple[str, ...], Node] = {
    ("rpc_conns",): Node(MAP, item=RPC_CONN, replace_entries=True),
    ("templates",): Node(MAP, item=FIELD_LIST, replace_entries=True),
    ("caches", "partitions"): Node(MAP, item=CACHE_PARTITION),
    ("data_db", "items"): Node(MAP, item=DB_ITEM),
    ("stor_db", "items"): Node(MAP, item=DB_ITEM),
    ("ees", "cache"): Node(MAP, item=CACHE_PARTITION),
    ("http", "auth_users"): Node(MAP, item=_S),
    ("radius_agent", "client_secrets"): Node(MAP, item=_S),
    ("radius_agent", "client_dictionaries"): Node(MAP, item=_A),
    ("radius_agent", "client_da_addresses"): Node(MAP, item=DA_ADDRESS),
    ("rals", "balance_rating_subject"): Node(MAP, item=_S),
    ("ers", "readers", "[]", "opts"): Node(MAP, item=_A),  # many reader types, each with its own options
    ("ees", "exporters", "[]", "opts"): Node(MAP, item=_A),
    ("http_agent",): Node(KEYED, item=HTTP_AGENT),
    ("diameter_agent", "request_processors"): PROCESSORS,
    ("radius_agent", "request_processors"): PROCESSORS,
    ("dns_agent", "request_processors"): PROCESSORS,
    ("sip_agent", "request_processors"): PROCESSORS,
    ("janus_agent", "request_processors"): PROCESSORS,
}
# Options accepted in an object that defaults.json leaves out of it, so that the default item new list entries
# start from keeps its shape (the agent applies its own default): path of the object (as in OVERRIDES) -> options.
EXTRA_FIELDS: dict[tuple[str, ...], dict[str, Node]] = {
    ("freeswitch_agent", "event_socket_conns", "[]"): {"reply_timeout": _D},
}
# Lists of id'ed objects where a new id starts from the "*default" item of the defaults.
KEYED_FROM_DEFAULT = frozenset({("ers", "readers"), ("ees", "exporters"), ("loaders",)})


def _kind_of(value: Any) -> str:
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int | float):
        return NUMBER
    if isinstance(value, str):
        return STRING
    if isinstance(value, list):
        return LIST
    if isinstance(value, dict):
        return OBJECT
    return ANY


def build(defaults: dict) -> Node:
    """The schema tree of a configuration whose defaults are ``defaults``."""
    return Node(OBJECT, fields={name: _build(value, (name,)) for name, value in defaults.items()})


def _build(value: Any, path: tuple[str, ...]) -> Node:
    override = OVERRIDES.get(path)
    if override is not None:
        return override
    key = path[-1]
    if path in KEYED_FROM_DEFAULT:
        base = next((i for i in value if isinstance(i, dict) and i.get("id") == "*default"), {})
        return Node(KEYED, item=_build(base, (*path, "[]")), base_item=base)
    if path in DURATION_MAPS:
        return Node(MAP, item=_D)
    if value is None:
        kind, duration = NULL_DEFAULT_KINDS.get(key, (ANY, False))
        return Node(kind, duration=duration, nullable=True)
    if isinstance(value, dict):
        if not value:  # an empty object by default: free-form (opts, DSN params, scheduled IDs, ...)
            return Node(MAP, item=_A)
        fields = {k: _build(v, (*path, k)) for k, v in value.items()}
        return Node(OBJECT, fields={**fields, **EXTRA_FIELDS.get(path, {})})
    if isinstance(value, list):
        if key in FIELD_LIST_KEYS:
            return FIELD_LIST
        first = next((i for i in value if isinstance(i, dict)), None)
        if first is None:
            return Node(LIST)
        return Node(LIST, item=_build(first, (*path, "[]")), base_item=first if key in ITEM_DEFAULT_LISTS else None)
    kind = _kind_of(value)
    return Node(kind, duration=key in DURATION_KEYS and kind in (STRING, NUMBER))
