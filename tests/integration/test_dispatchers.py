"""DispatcherS end to end: two pool engines (CGRateS's dispatchers/all and all2 sample configs) behind a dispatching
engine (dispatchers/dispatchers_internal, with its ``*internal`` AttributeS checking API keys) that runs the
dispatchers tariff plan; every engine is a real cgr-engine process spoken to over JSON-RPC. Which engine answered
is read from CoreSv1.Status's NodeID (ALL or ALL2). The samples run unmodified but for their listen addresses,
their storage (internal, under the test's folder, where they name MongoDB or Redis) and addresses of themselves.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import urllib.request

import pytest

from tests.conftest import require_binary, shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides, without_unavailable_services
from tests.integration.test_radius_agent import ACCT, AUTH, SESSION_ID, Agent, nas_dictionary, received

TENANT = "cgrates.org"
CORE_KEY = {"*apiKey": "core12345"}


def internal_storage(tmp, port: int, http_port: int | None = None) -> dict:
    """Listen on ``port`` (and ``http_port``) only, keep data under ``tmp``, in the internal stores."""
    over = storage_overrides(tmp, port, http_port)
    over["data_db"]["db_type"] = "*internal"
    over["stor_db"]["db_type"] = "*internal"
    return over


def start(tmp, sample: str, port: int, extra: dict | None = None, http_port: int | None = None) -> EngineProcess:
    srcs = [shared_data("conf", "samples", "dispatchers", sample)]
    over = internal_storage(tmp, port, http_port)
    over.update(without_unavailable_services(*srcs))
    over.update(extra or {})
    cfg = make_config_dir(tmp / "cfg", *srcs, overrides=over)
    return EngineProcess(cfg, port, tmp / "engine.log").start()


def own_conns(port: int, *names: str) -> dict:
    return {"rpc_conns": {n: {"strategy": "*first", "conns": [{"address": f"127.0.0.1:{port}", "transport": "*json"}]}
                          for n in names}}


class Pool:
    def __init__(self, tmp_path_factory) -> None:
        self.ports = {"ALL": free_port(), "ALL2": free_port()}
        self.engines: dict[str, EngineProcess] = {}
        self.tmp = tmp_path_factory
        for node, sample, conns in (("ALL", "all", ("conn1", "rplConn")), ("ALL2", "all2", ("conn1",))):
            self.start(node, sample, conns)

    def start(self, node: str, sample: str = "", conns: tuple[str, ...] = ()) -> EngineProcess:
        sample = sample or {"ALL": "all", "ALL2": "all2"}[node]
        conns = conns or (("conn1", "rplConn") if node == "ALL" else ("conn1",))
        port = self.ports[node]
        eng = start(self.tmp.mktemp(node), sample, port, own_conns(port, *conns))
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "oldtutorial"))}) == "OK"
        self.engines[node] = eng
        return eng

    def stop(self) -> None:
        for eng in self.engines.values():
            eng.kill()


def point_hosts(dsp: EngineProcess, pool: Pool) -> None:
    """The plan's hosts ALL and ALL2 at the pool's addresses (the plan names fixed ports)."""
    for node, port in pool.ports.items():
        host = dsp.call("APIerSv1.GetDispatcherHost", {"Tenant": TENANT, "ID": node})
        host["Address"] = f"127.0.0.1:{port}"
        host["Reconnects"] = 0
        assert dsp.call("APIerSv1.SetDispatcherHost", host) == "OK"


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    p = Pool(tmp_path_factory)
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def dsp(tmp_path_factory, pool):
    tmp = tmp_path_factory.mktemp("dsp")
    port, http_port = free_port(), free_port()
    eng = start(tmp, "dispatchers_internal", port, http_port=http_port)
    eng.http_port = http_port  # type: ignore[attr-defined]
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "dispatchers"))}) == "OK"
        point_hosts(eng, pool)
        yield eng
    finally:
        eng.kill()


def status(dsp: EngineProcess, event: dict | None = None, opts: dict | None = None) -> str:
    """Where a CoreSv1.Status call went."""
    opts = {**CORE_KEY, **(opts or {})}
    reply = dsp.call("CoreSv1.Status", {"Tenant": TENANT, "Event": event or {}, "APIOpts": opts})
    return reply["NodeID"]


def landed(dsp: EngineProcess, n: int, event: dict | None = None, opts: dict | None = None) -> list[str]:
    return [status(dsp, event, opts) for _ in range(n)]


# ---------------------------------------------------------------------------------------------------- profiles, API


def test_profiles_and_hosts_are_loaded_and_served_by_the_api(dsp):
    ids = dsp.call("APIerSv1.GetDispatcherProfileIDs", {"Tenant": TENANT})
    assert {"PING1", "PING2", "EVENT1", "EVENT7"} <= set(ids)
    prf = dsp.call("APIerSv1.GetDispatcherProfile", {"Tenant": TENANT, "ID": "EVENT7"})
    assert prf["Strategy"] == "*weight" and prf["StrategyParams"] == {"*default_ratio": "1"}
    assert [(h["ID"], h["Params"]) for h in prf["Hosts"]] == [("ALL", {}), ("ALL2", {"*ratio": "1"})]
    assert set(dsp.call("APIerSv1.GetDispatcherHostIDs", {"Tenant": TENANT})) == {"SELF", "ALL", "ALL2",
                                                                                   "NonexistingHost"}
    new = {"Tenant": TENANT, "ID": "TMP", "Subsystems": ["*sessions"], "Strategy": "*hash",
           "StrategyParams": {"*hash": "~*req.Account"}, "Weight": 5,
           "Hosts": [{"ID": "ALL", "Weight": 10}, {"ID": "ALL2", "Weight": 10}]}
    assert dsp.call("APIerSv1.SetDispatcherProfile", new) == "OK"
    got = dsp.call("APIerSv1.GetDispatcherProfile", {"Tenant": TENANT, "ID": "TMP"})
    assert got["Strategy"] == "*hash" and [h["ID"] for h in got["Hosts"]] == ["ALL", "ALL2"]
    assert dsp.call("APIerSv1.RemoveDispatcherProfile", {"Tenant": TENANT, "ID": "TMP"}) == "OK"
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        dsp.call("APIerSv1.GetDispatcherProfile", {"Tenant": TENANT, "ID": "TMP"})
    with pytest.raises(RuntimeError, match="Strategy '\\*fastest' is not a dispatch strategy"):
        dsp.call("APIerSv1.SetDispatcherProfile", {**new, "Strategy": "*fastest"})
    assert dsp.call("APIerSv1.SetDispatcherHost", {"Tenant": TENANT, "ID": "TMPH", "Address": "127.0.0.1:1"}) == "OK"
    assert dsp.call("APIerSv1.RemoveDispatcherHost", {"Tenant": TENANT, "ID": "TMPH"}) == "OK"


def test_get_profiles_for_event(dsp):
    [prf] = dsp.call("DispatcherSv1.GetProfilesForEvent", {"Tenant": TENANT, "Event": {"EventName": "Event1"},
                                                          "APIOpts": {"*dispatchersProfilesCount": 1}})
    assert prf["ID"] == "EVENT1"
    with pytest.raises(RuntimeError, match="DISPATCHER_ERROR:NOT_FOUND"):
        dsp.call("DispatcherSv1.GetProfilesForEvent", {"Tenant": "other.org", "Event": {}})
    assert dsp.call("DispatcherSv1.Ping", {}) == "Pong"


def test_remote_core_calls_go_where_the_event_dispatches(dsp):
    event = {"Tenant": TENANT, "Event": {"EventName": "Event1"}, "APIOpts": CORE_KEY}  # EVENT1: ALL2 first
    assert dsp.call("DispatcherSv1.RemoteStatus", event)["NodeID"] == "ALL2"
    assert dsp.call("DispatcherSv1.RemotePing", event) == "Pong"
    assert dsp.call("DispatcherSv1.RemoteSleep", {**event, "Duration": "10ms"}) == "OK"
    with pytest.raises(RuntimeError, match=r"MANDATORY_IE_MISSING: \[ApiKey\]"):
        dsp.call("DispatcherSv1.RemotePing", {"Tenant": TENANT})


def test_api_keys_are_checked_with_attributes(dsp):
    with pytest.raises(RuntimeError, match=r"MANDATORY_IE_MISSING: \[ApiKey\]"):
        dsp.call("CoreSv1.Status", {"Tenant": TENANT})
    with pytest.raises(RuntimeError, match="UNKNOWN_API_KEY"):
        dsp.call("CoreSv1.Status", {"Tenant": TENANT, "APIOpts": {"*apiKey": "nobody"}})
    with pytest.raises(RuntimeError, match="UNAUTHORIZED_API"):
        dsp.call("CoreSv1.Status", {"Tenant": TENANT, "APIOpts": {"*apiKey": "attr12345"}})
    assert status(dsp) in ("ALL", "ALL2")


def test_http_json_rpc_is_dispatched_and_metrics_read_this_engines_own_services(dsp):
    body = json.dumps({"method": "CoreSv1.Status", "params": [{"Tenant": TENANT, "APIOpts": CORE_KEY}], "id": 1})
    url = f"http://127.0.0.1:{dsp.http_port}"
    req = urllib.request.Request(url + "/jsonrpc", body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["result"]["NodeID"] == "ALL"
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        text = resp.read().decode()
    # SessionS of the dispatching engine itself (not dispatched, so no API key needed)
    assert "\ncgr_active_sessions 0" in text, text[-2000:]
    assert 'cgr_rpc_requests_total{method="CoreSv1.Status"}' in text


# ---------------------------------------------------------------------------------------------------- strategies


def test_weight_goes_to_the_heaviest_host(dsp):
    assert set(landed(dsp, 6)) == {"ALL"}  # PING1: ALL 20, ALL2 10
    assert set(landed(dsp, 6, {"EventName": "Event1"})) == {"ALL2"}  # EVENT1: ALL2 20, ALL 10


def test_round_robin_alternates(dsp):
    went = landed(dsp, 6, {"EventName": "RoundRobin"})
    assert went in (["ALL2", "ALL"] * 3, ["ALL", "ALL2"] * 3), went


def test_random_uses_both(dsp):
    counts = collections.Counter(landed(dsp, 60, {"EventName": "Random"}))
    assert set(counts) == {"ALL", "ALL2"} and min(counts.values()) >= 10, counts


def set_profile(dsp: EngineProcess, pid: str, strategy: str, hosts: list[tuple[str, float]], subsystems=("*any",),
                params: dict | None = None, weight: float = 50) -> None:
    """A profile of the test's own, selected by ``EventName`` = its ID."""
    assert dsp.call("APIerSv1.SetDispatcherProfile", {
        "Tenant": TENANT, "ID": pid, "Subsystems": list(subsystems), "FilterIDs": [f"*string:~*req.EventName:{pid}"],
        "Strategy": strategy, "StrategyParams": params or {}, "Weight": weight,
        "Hosts": [{"ID": h, "Weight": w} for h, w in hosts]}) == "OK"


def cdr_event(name: str, origin_id: str) -> dict:
    return {"Tenant": TENANT, "Event": {"EventName": name, "OriginID": origin_id, "ToR": "*voice", "Account": "1001",
                                        "Destination": "1002", "RequestType": "*none", "Usage": "1s",
                                        "AnswerTime": "2024-01-01T10:00:00Z", "SetupTime": "2024-01-01T10:00:00Z"},
            "Flags": ["*rals:false", "*chargers:false"], "APIOpts": {"*apiKey": "cdrs12345"}}


def stored_on(pool: Pool, origin_id: str) -> set[str]:
    """The pool engines that stored a CDR of ``origin_id``."""
    out = set()
    for node, eng in pool.engines.items():
        try:
            if eng.call("CDRsV1.GetCDRs", {"OriginIDs": [origin_id]}):
                out.add(node)
        except RuntimeError as exc:
            assert "NOT_FOUND" in str(exc)
    return out


@pytest.mark.parametrize("strategy", ["*broadcast_sync", "*broadcast", "*broadcast_async"])
def test_broadcasts_reach_every_host(dsp, pool, strategy):
    name = "B" + strategy.strip("*")
    set_profile(dsp, name, strategy, [("ALL", 20), ("ALL2", 10)])
    origin = f"{name}-{time.time_ns()}"
    reply = dsp.call("CDRsV1.ProcessEvent", cdr_event(name, origin))
    assert reply == (None if strategy == "*broadcast_async" else "OK")
    deadline = time.monotonic() + 5
    while stored_on(pool, origin) != {"ALL", "ALL2"} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stored_on(pool, origin) == {"ALL", "ALL2"}


@pytest.mark.parametrize("strategy", ["*first", "*load"])
def test_first_and_load_send_sequential_calls_to_the_heaviest(dsp, strategy):
    name = "S" + strategy.strip("*")
    set_profile(dsp, name, strategy, [("ALL", 10), ("ALL2", 20)])
    assert set(landed(dsp, 5, {"EventName": name})) == {"ALL2"}


def test_weight_stores_on_one_host_only(dsp, pool):
    origin = f"w-{time.time_ns()}"
    assert dsp.call("CDRsV1.ProcessEvent", cdr_event("Event1", origin)) == "OK"
    assert stored_on(pool, origin) == {"ALL2"}


def test_load_ratio_sends_to_the_least_loaded_host(dsp):
    # EVENT7: *weight with *default_ratio 1 (ALL2 *ratio 1): one after another every call goes to ALL; while a
    # call is in flight on ALL the next goes to ALL2
    opts = {"EventType": "LoadDispatcher"}
    assert set(landed(dsp, 4, opts=opts)) == {"ALL"}
    done = []
    sleeper = threading.Thread(target=lambda: done.append(dsp.call(
        "CoreSv1.Sleep", {"Tenant": TENANT, "Duration": "2s", "APIOpts": {**CORE_KEY, **opts}})))
    sleeper.start()
    time.sleep(0.3)
    during = landed(dsp, 3, opts=opts)
    sleeper.join()
    assert during == ["ALL2"] * 3 and done == ["OK"]
    assert set(landed(dsp, 2, opts=opts)) == {"ALL"}


def test_hash_keeps_each_account_on_one_host(dsp):
    set_profile(dsp, "Hash", "*hash", [("ALL", 10), ("ALL2", 10)], params={"*hash": "~*req.Account"})
    where = {}
    for i in range(24):
        went = set(landed(dsp, 3, {"EventName": "Hash", "Account": f"acc{i}"}))
        assert len(went) == 1, (i, went)
        where[f"acc{i}"] = went.pop()
    assert set(where.values()) == {"ALL", "ALL2"}, where  # the accounts spread over both
    # an event without an Account is ordered by weight (ALL first: equal weights keep the profile's order)
    assert set(landed(dsp, 3, {"EventName": "Hash"})) == {"ALL"}


def test_hash_keeps_an_accounts_sessions_cdrs_on_one_engine(dsp, pool):
    set_profile(dsp, "HashS", "*hash", [("ALL", 10), ("ALL2", 10)], subsystems=("*sessions",),
                params={"*hash": "~*req.Account"})
    where: dict[str, set[str]] = {}
    for i in range(12):
        account = f"h{i}"
        for n in range(3):
            origin = f"hs-{account}-{n}-{time.time_ns()}"
            ev = cdr_event("HashS", origin)
            ev["Event"]["Account"] = account
            ev["APIOpts"] = {"*apiKey": "ses12345"}
            assert dsp.call("SessionSv1.ProcessCDR", ev) == "OK"
            where.setdefault(account, set()).update(stored_on(pool, origin))
    assert all(len(nodes) == 1 for nodes in where.values()), where
    assert set().union(*where.values()) == {"ALL", "ALL2"}, where


def test_route_id_sticks_to_the_first_host(dsp):
    # EVENT2 is *round_robin: without a route ID the calls alternate, with one they stay where the first went
    assert len(set(landed(dsp, 2, {"EventName": "RoundRobin"}))) == 2
    route = {"*routeID": f"r-{time.time_ns()}"}
    first = landed(dsp, 6, {"EventName": "RoundRobin"}, route)
    assert len(set(first)) == 1, first
    other = {"*routeID": f"o-{time.time_ns()}"}
    assert len(set(landed(dsp, 6, {"EventName": "RoundRobin"}, other))) == 1
    # the route lives in this engine's *dispatcher_routes cache, per subsystem, as long as the sample's ttl (2s)
    item = {"Tenant": TENANT, "CacheID": "*dispatcher_routes", "ItemID": f"{route['*routeID']}:*core",
            "APIOpts": {"*apiKey": "chc12345", "*dispatchers": False}}
    assert dsp.call("CacheSv1.HasItem", item) is True
    time.sleep(2.2)
    assert dsp.call("CacheSv1.HasItem", item) is False


def test_internal_host_and_local_opts(dsp):
    assert status(dsp, {"EventName": "Internal"}) == "DispatcherS1"  # EVENT5: host SELF, *internal
    assert status(dsp, opts={"*dispatchers": False}) == "DispatcherS1"


def test_apier_pass_through_goes_where_the_apier_profiles_send_it(dsp, pool):
    # a profile of subsystem *apier sending the attribute profile ATTR_DSP_APIER to ALL2 only
    assert dsp.call("APIerSv1.SetDispatcherProfile", {
        "Tenant": TENANT, "ID": "ApierP", "Subsystems": ["*apier"], "FilterIDs": ["*string:~*req.ID:ATTR_DSP_APIER"],
        "Strategy": "*weight", "Weight": 90, "Hosts": [{"ID": "ALL2", "Weight": 10}]}) == "OK"
    profile = {"Tenant": TENANT, "ID": "ATTR_DSP_APIER", "Contexts": ["*any"], "FilterIDs": [],
               "Attributes": [{"Path": "*req.Dispatched", "Type": "*constant", "Value": "yes"}], "Weight": 10}
    assert dsp.call("DispatcherSv1.Apier", {"Method": "APIerSv1.SetAttributeProfile",
                                            "Parameters": {**profile, "APIKey": "apier12345"}}) == "OK"
    got = pool.engines["ALL2"].call("APIerSv1.GetAttributeProfile", {"Tenant": TENANT, "ID": "ATTR_DSP_APIER"})
    assert got["ID"] == "ATTR_DSP_APIER"
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        pool.engines["ALL"].call("APIerSv1.GetAttributeProfile", {"Tenant": TENANT, "ID": "ATTR_DSP_APIER"})
    # read back through the same route; the key's APIMethods still apply, and only APIer methods pass
    back = dsp.call("DispatcherSv1.Apier", {"Method": "APIerSv1.GetAttributeProfile", "Parameters": {
        "Tenant": TENANT, "ID": "ATTR_DSP_APIER", "APIKey": "apier12345"}})
    assert back["ID"] == "ATTR_DSP_APIER"
    with pytest.raises(RuntimeError, match="UNAUTHORIZED_API"):
        dsp.call("DispatcherSv1.Apier", {"Method": "APIerSv1.GetAccount", "Parameters": {
            "Tenant": TENANT, "Account": "1001", "APIKey": "apier12345"}})
    with pytest.raises(RuntimeError, match="UNSUPPORTED_SERVICE_METHOD"):
        dsp.call("DispatcherSv1.Apier", {"Method": "CoreSv1.Status", "Parameters": {}})
    with pytest.raises(RuntimeError, match="MANDATORY_IE_MISSING"):
        dsp.call("DispatcherSv1.Apier", {"Method": "APIerSv1.GetAccount", "Parameters": "1001"})


# ---------------------------------------------------------------------------------------------------- an agent


@pytest.fixture(scope="module")
def rad(tmp_path_factory, pool):
    """CGRateS's dispatchers/radagent sample: a RADIUS agent whose sessions_conns (*localhost) reach SessionS
    through this engine's DispatcherS, so its sessions run on the pool."""
    require_binary("radclient")
    tmp = tmp_path_factory.mktemp("radagent")
    port, auth, acct = free_port(), free_port(), free_port()
    eng = start(tmp, "radagent", port, {"radius_agent": {
        "listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{auth}", "acct_address": f"127.0.0.1:{acct}"}],
        "client_dictionaries": {"*default": [str(shared_data("radius", "dict"))]}}})
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "dispatchers"))}) == "OK"
        point_hosts(eng, pool)
        yield Agent(eng, auth, acct, nas_dictionary(tmp))
    finally:
        eng.kill()


def test_radius_agent_sessions_run_on_the_pool(rad, pool):
    out = received(rad.radclient("auth", AUTH.format(sid=SESSION_ID, tag="51585361")
                                 + ', User-Password = "CGRateSPassword1"'))
    assert out.startswith("Received Access-Accept") and "session_max_time#10800" in out, out
    sid = f"dsp-{time.time_ns()}"
    origin_id = f"{sid}-51585361-75c2f57b"
    out = received(rad.radclient("acct", ACCT.format(status="Start", ts=int(time.time()), sid=sid)))
    assert out.startswith("Received Accounting-Response"), out
    query = {"Filters": [f"*string:~*req.OriginID:{origin_id}"]}
    # PING1 sends SessionS's calls to ALL: the session is active there, not on ALL2 nor on the agent's engine
    assert len(pool.engines["ALL"].call("SessionSv1.GetActiveSessions", query)) == 1
    for other in (pool.engines["ALL2"], rad.engine):
        with pytest.raises(RuntimeError, match="NOT_FOUND"):
            other.call("SessionSv1.GetActiveSessions", {**query, "APIOpts": {"*dispatchers": False}})
    out = received(rad.radclient("acct", ACCT.format(status="Stop", ts=int(time.time()) + 4, sid=sid)))
    assert out.startswith("Received Accounting-Response"), out
    [cdr] = pool.engines["ALL"].call("CDRsV1.GetCDRs", {"OriginIDs": [origin_id]})
    assert cdr["RunID"] == "*default" and cdr["CostSource"] == "*sessions"


# ---------------------------------------------------------------------------------------------------- fail-over


def test_a_dead_host_is_skipped_and_the_next_one_answers(dsp, pool):
    # PING2: NonexistingHost (nothing listens there) first, then ALL2
    assert set(landed(dsp, 3, {"EventName": "NonexistingHost"})) == {"ALL2"}
    set_profile(dsp, "Hash", "*hash", [("ALL", 10), ("ALL2", 10)], params={"*hash": "~*req.Account"})
    before = {f"acc{i}": status(dsp, {"EventName": "Hash", "Account": f"acc{i}"}) for i in range(16)}
    # a call in flight on ALL (PING1's heaviest) when ALL is killed: its connection breaks, ALL2 answers it
    done: list = []
    sleeper = threading.Thread(target=lambda: done.append(dsp.call(
        "CoreSv1.Sleep", {"Tenant": TENANT, "Duration": "1s", "APIOpts": CORE_KEY})))
    sleeper.start()
    time.sleep(0.4)
    pool.engines["ALL"].kill()
    try:
        sleeper.join()
        assert done == ["OK"]
        assert "dispatching CoreSv1.Sleep to host ALL failed" in dsp.log()
        t0 = time.monotonic()
        assert set(landed(dsp, 10)) == {"ALL2"}  # PING1: ALL is the heaviest, and dead
        assert time.monotonic() - t0 < 5
        after = {acc: status(dsp, {"EventName": "Hash", "Account": acc}) for acc in before}
        assert set(after.values()) == {"ALL2"}
        # the accounts of the live host did not move
        assert all(after[a] == "ALL2" for a, node in before.items() if node == "ALL2")
    finally:
        pool.start("ALL")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and status(dsp) != "ALL":
        time.sleep(0.5)
    assert status(dsp) == "ALL"  # back in the pool once its down time is over
