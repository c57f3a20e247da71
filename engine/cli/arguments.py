"""What each console command's argument may hold: CGRateS's argument structs (console/*.go ``rpcParams``), keyed by
the RPC method the command calls, with the fields the API refuses empty (its ``MissingStructFields``).

``check_arguments(command, method, pairs)`` turns the ``Key=value`` pairs a user typed into the argument sent, or
raises :class:`ArgumentError` with a message naming the key and the fix: a key the struct does not have (with the
closest one it does), a value of the wrong kind, a missing mandatory key. Keys match case-insensitively, as Go's JSON
decoding does, and are sent in the struct's spelling. A number typed for a text field is sent as its text
(``Account=1001``).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# the kinds of value a field takes
S, N, B, L, M, D, T, A = "text", "number", "true/false", "JSON list", "JSON object", "duration", "time", "any value"
_EXAMPLES = {N: "10", B: "true", L: '["a","b"]', M: '{"Key":"value"}', D: '"1m30s"', T: '"2024-01-01T10:00:00Z"'}


class ArgumentError(ValueError):
    """A console argument that cannot be sent; the message says what to type instead."""


@dataclass(frozen=True)
class Params:
    """One argument struct. ``bare``: the field a lone value fills (``destination DST_1``, ``sleep 1s``);
    ``scalar``: the API takes that one field's value itself, not an object."""

    fields: Mapping[str, str]
    required: tuple[str, ...] = ()
    bare: str = ""
    scalar: bool = False
    _folded: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._folded.update({name.casefold(): name for name in self.fields})

    def canonical(self, key: str) -> str | None:
        return self._folded.get(key.casefold())

    def usage(self, command: str) -> str:
        """``cost Subject=... Destination=... [Tenant=...]``: the mandatory keys first; a lone value in <>."""
        parts = [f"{name}={_EXAMPLES.get(self.fields[name], '...')}" for name in self.required if name != self.bare]
        parts += [f"[{name}=...]" for name in self.fields if name not in self.required and name != self.bare]
        if self.bare:
            parts.insert(0, f"<{self.bare}>" if self.bare in self.required else f"[<{self.bare}>]")
        return " ".join([command, *parts]) if parts else f"{command} (no arguments)"


def _merge(*groups: Mapping[str, str], **more: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for group in groups:
        out.update(group)
    out.update(more)
    return out


OPTS = {"APIOpts": M}
TENANT = {"Tenant": S}
TENANT_ID = {"Tenant": S, "ID": S}
TENANT_ACCOUNT = {"Tenant": S, "Account": S}
CGREVENT = {"Tenant": S, "ID": S, "Time": T, "Event": M, "APIOpts": M}
PAGINATOR = {"Tenant": S, "Search": S, "Limit": N, "Offset": N}
ACTIVATION = {"ActivationInterval": M}
SESSION_FILTER = {"Limit": N, "Filters": L, "Tenant": S, "APIOpts": M}
CDR_FILTER = {
    **{name: L for base in ("CGRIDs", "RunIDs", "OriginIDs", "OriginHosts", "Sources", "ToRs", "RequestTypes",
                            "Tenants", "Categories", "Accounts", "Subjects", "DestinationPrefixes", "Costs")
       for name in (base, "Not" + base)},
    "ExtraFields": M, "NotExtraFields": M, "SetupTimeStart": S, "SetupTimeEnd": S, "AnswerTimeStart": S,
    "AnswerTimeEnd": S, "CreatedAtStart": S, "CreatedAtEnd": S, "UpdatedAtStart": S, "UpdatedAtEnd": S,
    "MinUsage": S, "MaxUsage": S, "OrderBy": S, "ExtraArgs": M, "Limit": N, "Offset": N, "APIOpts": M, "Tenant": S,
}
CALL_DESCRIPTOR = {
    "Category": S, "Tenant": S, "Subject": S, "Account": S, "Destination": S, "TimeStart": T, "TimeEnd": T,
    "LoopIndex": N, "DurationIndex": D, "FallbackSubject": S, "RatingInfos": L, "Increments": L, "ToR": S,
    "ExtraFields": M, "MaxRate": N, "MaxRateUnit": D, "MaxCostSoFar": N, "CgrID": S, "RunID": S, "ForceDuration": B,
    "PerformRounding": B, "DenyNegativeAccount": B, "DryRun": B, "APIOpts": M,
}
BALANCE = {"Tenant": S, "Account": S, "BalanceType": S, "Value": N, "Balance": M, "ActionExtraData": M,
           "Overwrite": B, "Cdrlog": B}
CACHE_ITEM = {"APIOpts": M, "Tenant": S, "CacheID": S, "ItemID": S}
CACHE_GROUP = {"APIOpts": M, "Tenant": S, "CacheID": S, "GroupID": S}
CACHE_IDS = {"APIOpts": M, "Tenant": S, "CacheIDs": L}
RELOAD_CACHE = _merge({"APIOpts": M, "Tenant": S}, {name: L for name in (
    "DestinationIDs", "ReverseDestinationIDs", "RatingPlanIDs", "RatingProfileIDs", "ActionIDs", "ActionPlanIDs",
    "AccountActionPlanIDs", "ActionTriggerIDs", "SharedGroupIDs", "ResourceProfileIDs", "ResourceIDs",
    "StatsQueueIDs", "StatsQueueProfileIDs", "ThresholdIDs", "ThresholdProfileIDs", "FilterIDs", "RouteProfileIDs",
    "AttributeProfileIDs", "ChargerProfileIDs", "DispatcherProfileIDs", "DispatcherHostIDs", "TimingIDs",
    "AttributeFilterIndexIDs", "ResourceFilterIndexIDs", "StatFilterIndexIDs", "ThresholdFilterIndexIDs",
    "RouteFilterIndexIDs", "ChargerFilterIndexIDs", "DispatcherFilterIndexIDs", "FilterIndexIDs")})
SESSION_FLAGS = {"GetAttributes": B, "ForceDuration": B, "ProcessThresholds": B, "ProcessStats": B,
                 "AttributeIDs": L, "ThresholdIDs": L, "StatIDs": L}
ROUTE_OPTIONS = {"GetRoutes": B, "RoutesMaxCost": S, "RoutesIgnoreErrors": B, "Limit": N, "Offset": N}
USAGE_RECORD = {"ToR": S, "RequestType": S, "Tenant": S, "Category": S, "Account": S, "Subject": S,
                "Destination": S, "SetupTime": S, "AnswerTime": S, "Usage": S, "ExtraFields": M, "APIOpts": M}

#: the profile kinds administered through APIerSv1 Get/Set/Remove<Kind> and Get<Kind>IDs, with the fields Set takes
PROFILES: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "AttributeProfile": (_merge(TENANT_ID, ACTIVATION, OPTS, Contexts=L, FilterIDs=L, Attributes=L, Blocker=B,
                                Weight=N), ("ID", "Attributes")),
    "ChargerProfile": (_merge(TENANT_ID, ACTIVATION, OPTS, FilterIDs=L, RunID=S, AttributeIDs=L, Weight=N), ("ID",)),
    "ResourceProfile": (_merge(TENANT_ID, ACTIVATION, OPTS, FilterIDs=L, UsageTTL=D, Limit=N, AllocationMessage=S,
                               Blocker=B, Stored=B, Weight=N, ThresholdIDs=L), ("ID",)),
    "StatQueueProfile": (_merge(TENANT_ID, ACTIVATION, OPTS, FilterIDs=L, QueueLength=N, TTL=D, MinItems=N,
                                Metrics=L, Stored=B, Blocker=B, Weight=N, ThresholdIDs=L), ("ID",)),
    "ThresholdProfile": (_merge(TENANT_ID, ACTIVATION, OPTS, FilterIDs=L, MaxHits=N, MinHits=N, MinSleep=D,
                                Blocker=B, Weight=N, ActionIDs=L, Async=B, EeIDs=L), ("ID",)),
    "RouteProfile": (_merge(TENANT_ID, ACTIVATION, OPTS, FilterIDs=L, Sorting=S, SortingParameters=L, Routes=L,
                            Weight=N), ("ID",)),
    "Filter": (_merge(TENANT_ID, ACTIVATION, OPTS, Rules=L), ("ID",)),
    "DispatcherProfile": (_merge(TENANT_ID, ACTIVATION, OPTS, Subsystems=L, FilterIDs=L, Strategy=S,
                                 StrategyParams=M, Weight=N, Hosts=L), ("ID",)),
    "DispatcherHost": (_merge(TENANT_ID, OPTS, Address=S, Transport=S, ConnectAttempts=N, Reconnects=N,
                              MaxReconnectInterval=D, ConnectTimeout=D, ReplyTimeout=D, TLS=B, ClientKey=S,
                              ClientCertificate=S, CaCertificate=S), ("ID",)),
}


def _profile_methods() -> dict[str, Params]:
    out: dict[str, Params] = {}
    for kind, (fields, required) in PROFILES.items():
        out[f"APIerSv1.Get{kind}"] = Params(_merge(TENANT_ID, OPTS), ("ID",), bare="ID")
        out[f"APIerSv1.Remove{kind}"] = Params(_merge(TENANT_ID, OPTS), ("ID",), bare="ID")
        out[f"APIerSv1.Get{kind}IDs"] = Params(PAGINATOR)
        out[f"APIerSv1.Get{kind}Count"] = Params(PAGINATOR)
        out[f"APIerSv1.Set{kind}"] = Params(fields, required)
    out["APIerSv2.SetAttributeProfile"] = out["APIerSv1.SetAttributeProfile"]
    return out


def _event_methods(*methods: str) -> dict[str, Params]:
    return {method: Params(CGREVENT) for method in methods}


ARGUMENTS: dict[str, Params] = {
    **_profile_methods(),
    **_event_methods(
        "AttributeSv1.GetAttributeForEvent", "AttributeSv1.ProcessEvent", "ChargerSv1.GetChargersForEvent",
        "ChargerSv1.ProcessEvent", "ResourceSv1.AllocateResources", "ResourceSv1.AuthorizeResources",
        "ResourceSv1.GetResourcesForEvent", "ResourceSv1.ReleaseResources", "RouteSv1.GetRoutes",
        "RouteSv1.GetRouteProfilesForEvent", "RouteSv1.GetRoutesList", "StatSv1.GetStatQueuesForEvent",
        "StatSv1.ProcessEvent", "ThresholdSv1.GetThresholdsForEvent", "ThresholdSv1.ProcessEvent",
        "DispatcherSv1.GetProfilesForEvent", "SessionSv1.ProcessCDR", "SchedulerSv1.Reload"),
    # core, config, cache
    "CoreSv1.Status": Params({"Debug": B, "Timezone": S, "Tenant": S, "APIOpts": M}),
    "CoreSv1.Ping": Params(CGREVENT),
    "CoreSv1.Sleep": Params({"Duration": D}, ("Duration",), bare="Duration"),
    "ConfigSv1.GetConfig": Params({"APIOpts": M, "Tenant": S, "Section": S}, bare="Section"),
    "ConfigSv1.ReloadConfig": Params({"APIOpts": M, "Tenant": S, "Path": S, "Section": S, "DryRun": B}),
    "CacheSv1.Clear": Params(CACHE_IDS),
    "CacheSv1.GetCacheStats": Params(CACHE_IDS),
    "CacheSv1.PrecacheStatus": Params(CACHE_IDS),
    "CacheSv1.ReloadCache": Params(RELOAD_CACHE),
    "CacheSv1.LoadCache": Params(RELOAD_CACHE),
    "CacheSv1.GetItemIDs": Params({"APIOpts": M, "Tenant": S, "CacheID": S, "ItemIDPrefix": S}, ("CacheID",)),
    "CacheSv1.HasItem": Params(CACHE_ITEM, ("CacheID", "ItemID")),
    "CacheSv1.GetItemExpiryTime": Params(CACHE_ITEM, ("CacheID", "ItemID")),
    "CacheSv1.RemoveItem": Params(CACHE_ITEM, ("CacheID", "ItemID")),
    "CacheSv1.HasGroup": Params(CACHE_GROUP, ("CacheID", "GroupID")),
    "CacheSv1.GetGroupItemIDs": Params(CACHE_GROUP, ("CacheID", "GroupID")),
    "CacheSv1.RemoveGroup": Params(CACHE_GROUP, ("CacheID", "GroupID")),
    # tariff plans
    "APIerSv1.LoadTariffPlanFromFolder": Params({"FolderPath": S, "DryRun": B, "Validate": B, "APIOpts": M,
                                                 "Caching": S}, ("FolderPath",), bare="FolderPath"),
    "APIerSv1.LoadTariffPlanFromStorDb": Params({"TPid": S, "DryRun": B, "Validate": B, "APIOpts": M, "Caching": S},
                                                ("TPid",), bare="TPid"),
    "APIerSv1.ImportTariffPlanFromFolder": Params({"TPid": S, "FolderPath": S, "RunId": S, "CsvSeparator": S,
                                                   "APIOpts": M}, ("TPid", "FolderPath")),
    "APIerSv1.GetLoadIDs": Params({"Item": S}, bare="Item", scalar=True),
    "APIerSv1.GetLoadTimes": Params({"Timezone": S, "Item": S}, bare="Item"),
    "APIerSv1.GetLoadHistory": Params({"Limit": N, "Offset": N}),
    "APIerSv1.GetDataDBVersions": Params({}),
    "APIerSv1.GetStorDBVersions": Params({}),
    "APIerSv1.SetDataDBVersions": Params({"Versions": M, "Overwrite": B}),
    "APIerSv1.SetStorDBVersions": Params({"Versions": M, "Overwrite": B}),
    "APIerSv1.ComputeActionPlanIndexes": Params({}),
    "APIerSv1.ComputeFilterIndexes": Params({"Tenant": S, "Context": S, "APIOpts": M, "AttributeS": B,
                                             "ResourceS": B, "StatS": B, "RouteS": B, "ThresholdS": B,
                                             "ChargerS": B, "DispatcherS": B}),
    "APIerSv1.GetFilterIndexes": Params({"Tenant": S, "Context": S, "ItemType": S, "FilterType": S,
                                         "FilterField": S, "FilterValue": S, "Limit": N, "Offset": N},
                                        ("ItemType",)),
    "APIerSv1.RemoveFilterIndexes": Params({"Tenant": S, "Context": S, "ItemType": S, "APIOpts": M},
                                           ("ItemType",)),
    # rating
    "APIerSv1.GetCost": Params({"Tenant": S, "Category": S, "Subject": S, "AnswerTime": S, "Destination": S,
                                "Usage": S, "APIOpts": M}, ("Subject", "Destination", "AnswerTime", "Usage")),
    "APIerSv1.GetDataCost": Params({"Tenant": S, "Category": S, "Subject": S, "AnswerTime": S, "Usage": D,
                                    "Opts": M}, ("Subject", "AnswerTime", "Usage")),
    "APIerSv1.GetMaxUsage": Params(USAGE_RECORD, ("Account", "Destination")),
    "APIerSv1.GetEventCost": Params({"CgrId": S, "RunId": S}, ("CgrId",), bare="CgrId"),
    "RALsV1.GetRatingPlansCost": Params({"RatingPlanIDs": L, "Destination": S, "SetupTime": S, "Usage": S,
                                         "APIOpts": M}, ("RatingPlanIDs", "Destination")),
    "APIerSv1.GetDestination": Params({"ID": S}, ("ID",), bare="ID", scalar=True),
    "APIerSv2.GetDestinations": Params({"DestinationIDs": L}),
    "APIerSv1.SetDestination": Params({"Id": S, "Prefixes": L, "Overwrite": B}, ("Id", "Prefixes")),
    "APIerSv1.GetRatingPlan": Params({"ID": S}, ("ID",), bare="ID", scalar=True),
    "APIerSv1.GetRatingProfile": Params({"Tenant": S, "Category": S, "Subject": S}, ("Category", "Subject")),
    "APIerSv1.GetRatingProfileIDs": Params(PAGINATOR),
    "APIerSv1.SetRatingProfile": Params({"Tenant": S, "Category": S, "Subject": S, "Overwrite": B,
                                         "RatingPlanActivations": L, "APIOpts": M},
                                        ("Subject", "RatingPlanActivations")),
    "APIerSv1.RemoveRatingProfile": Params({"Tenant": S, "Category": S, "Subject": S, "APIOpts": M},
                                           ("Category", "Subject")),
    "Responder.GetMaxSessionTime": Params(CALL_DESCRIPTOR, ("Account", "Destination", "TimeStart", "TimeEnd")),
    "Responder.Debit": Params(CALL_DESCRIPTOR, ("Account", "Destination", "TimeStart", "TimeEnd")),
    "Responder.MaxDebit": Params(CALL_DESCRIPTOR, ("Account", "Destination", "TimeStart", "TimeEnd")),
    # accounts, actions, triggers, scheduler
    "APIerSv2.GetAccounts": Params({"Tenant": S, "AccountIDs": L, "Offset": N, "Limit": N, "Filter": M}),
    "APIerSv2.SetAccount": Params({"Tenant": S, "Account": S, "ActionPlanIDs": L, "ActionPlansOverwrite": B,
                                   "ActionTriggerIDs": L, "ActionTriggerOverwrite": B, "ExtraOptions": M,
                                   "ReloadScheduler": B}, ("Account",)),
    "APIerSv1.RemoveAccount": Params({"Tenant": S, "Account": S, "ReloadScheduler": B}, ("Account",)),
    "APIerSv1.GetAccountActionPlan": Params(TENANT_ACCOUNT, ("Account",)),
    "APIerSv1.GetAccountActionTriggers": Params(TENANT_ACCOUNT, ("Account",)),
    "APIerSv1.AddAccountActionTriggers": Params(_merge(TENANT_ACCOUNT, ActionTriggerIDs=L, ActionTriggerOverwrite=B,
                                                       ActivationDate=S, Executed=B), ("Account",)),
    "APIerSv1.RemoveAccountActionTriggers": Params(_merge(TENANT_ACCOUNT, GroupID=S, UniqueID=S), ("Account",)),
    "APIerSv1.ResetAccountActionTriggers": Params(_merge(TENANT_ACCOUNT, GroupID=S, UniqueID=S, Executed=B),
                                                  ("Account",)),
    "APIerSv1.SetAccountActionTriggers": Params(_merge(TENANT_ACCOUNT, GroupID=S, UniqueID=S, ActionTrigger=M),
                                                ("Account",)),
    "APIerSv1.SetBalance": Params(BALANCE, ("Account", "BalanceType")),
    "APIerSv1.AddBalance": Params(BALANCE, ("Account", "BalanceType")),
    "APIerSv1.DebitBalance": Params(BALANCE, ("Account", "BalanceType")),
    "APIerSv1.RemoveBalances": Params(BALANCE, ("Account", "BalanceType")),
    "APIerSv1.ExecuteAction": Params({"Tenant": S, "Account": S, "ActionsId": S}, ("ActionsId",)),
    "APIerSv1.GetActions": Params({"ActionsId": S}, ("ActionsId",), bare="ActionsId", scalar=True),
    "APIerSv1.SetActions": Params({"ActionsId": S, "Overwrite": B, "Actions": L}, ("ActionsId", "Actions")),
    "APIerSv1.GetActionPlan": Params({"ID": S}, bare="ID"),
    "APIerSv1.SetActionPlan": Params({"Id": S, "ActionPlan": L, "Overwrite": B, "ReloadScheduler": B},
                                     ("Id", "ActionPlan")),
    "APIerSv1.RemoveActionPlan": Params({"ID": S}, ("ID",), bare="ID"),
    "APIerSv1.GetActionTriggers": Params({"GroupIDs": L}),
    "APIerSv1.SetActionTrigger": Params({"GroupID": S, "UniqueID": S, "ActionTrigger": M}, ("GroupID",)),
    "APIerSv1.RemoveActionTrigger": Params({"GroupID": S, "UniqueID": S}, ("GroupID",)),
    "APIerSv1.GetSharedGroup": Params({"ID": S}, ("ID",), bare="ID", scalar=True),
    "APIerSv1.GetScheduledActions": Params({"Tenant": S, "Account": S, "TimeStart": T, "TimeEnd": T, "Limit": N,
                                            "Offset": N}),
    "SchedulerSv1.ExecuteActions": Params({"ActionPlanID": S, "TimeStart": T, "TimeEnd": T, "APIOpts": M,
                                           "Tenant": S}),
    # live state of the profile services
    "ResourceSv1.GetResource": Params(_merge(TENANT_ID, OPTS), ("ID",), bare="ID"),
    "ThresholdSv1.GetThreshold": Params(_merge(TENANT_ID, OPTS), ("ID",), bare="ID"),
    "StatSv1.GetQueueStringMetrics": Params(_merge(TENANT_ID, OPTS), ("ID",), bare="ID"),
    "StatSv1.ResetStatQueue": Params(_merge(TENANT_ID, OPTS), ("ID",), bare="ID"),
    # sessions, CDRs, STIR
    "SessionSv1.AuthorizeEvent": Params(_merge(CGREVENT, SESSION_FLAGS, ROUTE_OPTIONS, AuthorizeResources=B,
                                               GetMaxUsage=B)),
    "SessionSv1.InitiateSession": Params(_merge(CGREVENT, SESSION_FLAGS, AllocateResources=B, InitSession=B)),
    "SessionSv1.UpdateSession": Params(_merge(CGREVENT, SESSION_FLAGS, UpdateSession=B)),
    "SessionSv1.TerminateSession": Params(_merge(CGREVENT, SESSION_FLAGS, TerminateSession=B, ReleaseResources=B)),
    "SessionSv1.ProcessMessage": Params(_merge(CGREVENT, SESSION_FLAGS, ROUTE_OPTIONS, AllocateResources=B,
                                               Debit=B)),
    "SessionSv1.ProcessEvent": Params(_merge(CGREVENT, Flags=L)),
    "SessionSv1.GetCost": Params(_merge(CGREVENT, Flags=L)),
    "SessionSv1.GetActiveSessions": Params(SESSION_FILTER),
    "SessionSv1.GetActiveSessionsCount": Params(SESSION_FILTER),
    "SessionSv1.GetPassiveSessions": Params(SESSION_FILTER),
    "SessionSv1.GetPassiveSessionsCount": Params(SESSION_FILTER),
    "SessionSv1.ForceDisconnect": Params(_merge(SESSION_FILTER, Event=M)),
    "SessionSv1.AlterSessions": Params(_merge(SESSION_FILTER, Event=M)),
    "SessionSv1.SyncSessions": Params({}),
    "SessionSv1.DisconnectPeer": Params({"OriginHost": S, "OriginRealm": S, "DisconnectCause": N, "APIOpts": M},
                                        ("OriginHost",)),
    "SessionSv1.STIRAuthenticate": Params({"Attest": L, "PayloadMaxDuration": S, "DestinationTn": S,
                                           "OriginatorTn": S, "OriginatorURI": S, "DestinationURI": S,
                                           "Identity": S, "APIOpts": M}, ("Identity",)),
    "SessionSv1.STIRIdentity": Params({"Payload": M, "PublicKeyPath": S, "PrivateKeyPath": S, "OverwriteIAT": B,
                                       "APIOpts": M}, ("Payload",)),
    "CDRsV1.GetCDRs": Params(CDR_FILTER),
    "CDRsV1.GetCDRsCount": Params(CDR_FILTER),
    "CDRsV1.RateCDRs": Params(_merge(CDR_FILTER, Flags=L)),
    "CDRsV1.ProcessEvent": Params(_merge(CGREVENT, Flags=L)),
    "CDRsV1.ProcessCDR": Params({}, bare=""),  # a CDR in CGRateS's CDR shape: any field of it
    "APIerSv1.ExportCDRs": Params(_merge(CDR_FILTER, ExporterIDs=L, Verbose=B)),
    "APIerSv1.ReplayFailedPosts": Params({"SourcePath": S, "FailedPath": S, "Modules": L}),
    # run in the console itself
    "*local.parse": Params({"Expression": S, "Value": S}, ("Expression",)),
}
#: methods whose argument is a whole document of a shape too wide to list (a CDR): only JSON is checked
OPEN_ARGUMENTS = frozenset({"CDRsV1.ProcessCDR"})

#: CGRateS's ``ping <service>`` names → the service's Ping method
PING_SERVICES = {
    "attributes": "AttributeSv1.Ping", "chargers": "ChargerSv1.Ping", "resources": "ResourceSv1.Ping",
    "stats": "StatSv1.Ping", "thresholds": "ThresholdSv1.Ping", "routes": "RouteSv1.Ping",
    "sessions": "SessionSv1.Ping", "cdrs": "CDRsV1.Ping", "rals": "RALsV1.Ping", "schedulers": "SchedulerSv1.Ping",
    "apiers": "APIerSv1.Ping", "caches": "CacheSv1.Ping", "cores": "CoreSv1.Ping", "dispatchers": "DispatcherSv1.Ping",
    "ees": "EeSv1.Ping",
}


def check_arguments(command: str, method: str, pairs: dict[str, Any], bare: Any = None) -> Any:
    """The argument to send for ``pairs`` (and a lone ``bare`` value), checked against the method's struct."""
    params = ARGUMENTS.get(method)
    if params is None or method in OPEN_ARGUMENTS:
        return bare if bare is not None else pairs
    usage = f"usage: {params.usage(command)}"
    if bare is not None:
        if not params.bare:
            raise ArgumentError(f"{command} takes Key=value arguments, not a lone value ({bare!r}); {usage}")
        pairs = {params.bare: bare, **pairs}
    out: dict[str, Any] = {}
    for key, value in pairs.items():
        name = params.canonical(key)
        if name is None:
            raise ArgumentError(_unknown(command, key, params) + f"; {usage}")
        if name in out:
            raise ArgumentError(f"{command}: {name} is given twice")
        out[name] = _checked(command, name, params.fields[name], value)
    missing = [name for name in params.required if _empty(out.get(name))]
    if missing:
        raise ArgumentError(f"{command} needs {', '.join(missing)}; {usage}")
    if params.scalar:
        return out.get(params.bare, "")
    return out


def _unknown(command: str, key: str, params: Params) -> str:
    if not params.fields:
        return f"{command} takes no arguments (got {key})"
    close = difflib.get_close_matches(key, list(params.fields), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{command} has no argument {key}{hint}"


def _checked(command: str, name: str, kind: str, value: Any) -> Any:
    if value is None or kind == A:
        return value
    if kind in (S, D, T) and isinstance(value, str):
        return value
    if kind == S and isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value)
    if kind in (N, D, T) and isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if kind == N and isinstance(value, str):
        try:
            return int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            pass
    if kind == B and isinstance(value, bool):
        return value
    if kind == B and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == L and isinstance(value, list):
        return value
    if kind == M and isinstance(value, dict):
        return value
    example = _EXAMPLES.get(kind, '"text"')
    raise ArgumentError(f"{command}: {name} must be {_article(kind)} {kind} (for example {name}={example}), "
                        f"not {_describe(value)}")


def _number_text(value: int | float) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _describe(value: Any) -> str:
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return f"{kinds.get(type(value), type(value).__name__)} ({value!r})"


__all__ = ["ARGUMENTS", "PING_SERVICES", "ArgumentError", "Params", "check_arguments"]
