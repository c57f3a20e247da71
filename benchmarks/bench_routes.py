"""RouteSv1.GetRoutes with *lc over 10 routes per second, beside one APIerSv1.GetCost, in-process and over JSON-RPC.

The tariff plan has 10 rating plans RP_0..RP_9 (one destination, prefix 10000000, rate 0.10 + i x 0.01 per minute
in 1s steps, connect fee 0.1), the rating profile of subject 1001 on RP_0, and one route profile (*lc, account
1001) with 10 routes, route_i priced on RP_i. A GetRoutes of a 2m10s call to an 11-digit number prices it on each
route's plan through RALs (``Responder.GetCostOnRatingPlans`` on ``routes.rals_conns`` *internal: 10 ratings of
the call) and sorts the 10; a GetCost rates the same call once on RP_0 (as bench_getcost.py measures it).

In-process: the services called directly in one process, GetRoutes and GetCost passes alternating, best of 3
each, timed by the process's CPU time (the machine is shared: wall time would count other processes' turns), with
the 10 ratings GetRoutes asks for also timed alone. JSON-RPC: cgr-tester against one cgr-engine, GetRoutes and
GetCost runs one after the other on the same engine (8 connections x 16 in flight), compared by the server's CPU
per request. The ratio GetRoutes time / GetCost time tells what a route query costs in ratings.

    python benchmarks/bench_routes.py [--runs 5000] [--no-rpc] [--write]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROUTES = 10
PREFIX = "10000000"
NUMBER = PREFIX + "123"
ANSWER = "2024-01-08T10:00:00Z"
USAGE = "2m10s"


def write_plan(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Destinations.csv").write_text(f"#Id,Prefix\nDST_1,{PREFIX}\n")
    (folder / "Rates.csv").write_text("#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\n" + "".join(
        f"RT_{i},0.1,{0.10 + i * 0.01:.2f},60s,1s,0s\n" for i in range(ROUTES)))
    (folder / "DestinationRates.csv").write_text(
        "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n" + "".join(
            f"DR_{i},DST_1,RT_{i},*up,4,0,\n" for i in range(ROUTES)))
    (folder / "RatingPlans.csv").write_text("#Id,DestinationRatesId,TimingTag,Weight\n" + "".join(
        f"RP_{i},DR_{i},*any,10\n" for i in range(ROUTES)))
    (folder / "RatingProfiles.csv").write_text(
        "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
        "cgrates.org,call,1001,2014-01-14T00:00:00Z,RP_0,\n")
    (folder / "Routes.csv").write_text(
        "#Tenant,ID,FilterIDs,ActivationInterval,Sorting,SortingParameters,RouteID,RouteFilterIDs,RouteAccountIDs,"
        "RouteRatingPlanIDs,RouteResourceIDs,RouteStatIDs,RouteWeight,RouteBlocker,RouteParameters,Weight\n"
        "cgrates.org,ROUTE_LC,*string:~*req.Account:1001,,*lc,,,,,,,,,,,10\n" + "".join(
            f"cgrates.org,ROUTE_LC,,,,,route_{i},,,RP_{i},,,{i},,gw{i}.example.net,\n" for i in range(ROUTES)))


def routes_args() -> dict:
    return {"Tenant": "cgrates.org", "ID": "bench", "APIOpts": {},
            "Event": {"Account": "1001", "Destination": NUMBER, "SetupTime": ANSWER, "Usage": USAGE}}


def cost_args() -> dict:
    return {"Tenant": "cgrates.org", "Category": "call", "Subject": "1001", "Destination": NUMBER,
            "AnswerTime": ANSWER, "Usage": USAGE}


async def services(folder: Path) -> tuple:
    """RatingService and RouteService over one freshly loaded DataDB, RALs reached *internal."""
    from pycgrates.engine.accounts.service import AccountingService
    from pycgrates.engine.config import config_from_dict
    from pycgrates.engine.context import EngineContext
    from pycgrates.engine.filters.service import FilterService
    from pycgrates.engine.loader.tariffplan import load_tariff_plan
    from pycgrates.engine.profiles.routes import RouteService
    from pycgrates.engine.rating.route_costs import RouteCostService
    from pycgrates.engine.rating.service import RatingService
    from pycgrates.engine.rpc.conn import ConnManager
    from pycgrates.engine.rpc.dispatch import Dispatcher
    from pycgrates.engine.rpc.registry import Registry
    from pycgrates.engine.storage.base import MemoryDataDB
    from pycgrates.engine.storage.cache import Cache
    from pycgrates.engine.storage.datamanager import DataManager

    registry = Registry()
    cfg = config_from_dict({"routes": {"rals_conns": ["*internal"]}})
    ctx = EngineContext(cfg=cfg, dm=DataManager(MemoryDataDB(), Cache.from_config(cfg.section("caches"))),
                        stordb=None, registry=registry, conns=ConnManager(Dispatcher(registry), {}))
    ctx.services["filters"] = FilterService(ctx)
    rating = RatingService(ctx)
    for svc in (rating, AccountingService(ctx), RouteCostService(ctx)):
        registry.register_object(svc)
    routes = RouteService(ctx)
    registry.register_object(routes)
    await load_tariff_plan(ctx.dm, folder, timezone="UTC")
    return rating, routes


async def in_process(runs: int, rounds: int = 3) -> dict:
    with tempfile.TemporaryDirectory() as d:
        write_plan(Path(d))
        rating, routes = await services(Path(d))
    reply = await routes.get_routes(routes_args())
    ranked = [(r["RouteID"], r["SortingData"]["Cost"]) for r in reply[0]["Routes"]]
    cost = (await rating.apier_get_cost(cost_args()))["Cost"]
    rals = routes.ctx.conns.get(["*internal"])

    async def ratings() -> None:
        """What GetRoutes asks RALs: the call on each route's plan, through the registry."""
        setup = datetime.fromisoformat(ANSWER.replace("Z", "+00:00"))
        for i in range(ROUTES):
            await rals.call("Responder.GetCostOnRatingPlans", {
                "Tenant": "cgrates.org", "Account": "1001", "Subject": "1001", "Destination": NUMBER,
                "SetupTime": setup, "Usage": 130 * 10**9, "RatingPlanIDs": [f"RP_{i}"], "APIOpts": {}})

    best = {"routes": float("inf"), "cost": float("inf"), "ratings": float("inf")}
    for _ in range(rounds):
        for name, call, n in (("routes", lambda: routes.get_routes(routes_args()), runs),
                              ("cost", lambda: rating.apier_get_cost(cost_args()), runs * ROUTES),
                              ("ratings", ratings, runs)):
            t0 = time.process_time()  # this process's CPU: the machine's other load does not count
            for _ in range(n):
                await call()
            best[name] = min(best[name], (time.process_time() - t0) / n)
    return {"routes_us": round(best["routes"] * 1e6, 1), "cost_us": round(best["cost"] * 1e6, 1),
            "ratings_us": round(best["ratings"] * 1e6, 1),
            "routes_per_s": round(1 / best["routes"]), "cost_per_s": round(1 / best["cost"]),
            "ratio": round(best["routes"] / best["cost"], 2), "ranked": ranked, "cost": cost}


def over_rpc(runs: int) -> dict:
    from common import engine, measured, tester

    load = {"parallel": 8, "inflight": 16, "procs": 1}
    extra = {"rals": {"enabled": True}, "apiers": {"enabled": True},
             "routes": {"enabled": True, "rals_conns": ["*internal"]}}
    out: dict = {}
    with tempfile.TemporaryDirectory() as d:
        write_plan(Path(d))
        with engine(extra, tariffplan=Path(d)) as (server, proc):
            for name, method, args in (("routes", "RouteSv1.GetRoutes", routes_args()),
                                       ("cost", "APIerSv1.GetCost", cost_args())):
                params = json.dumps(args)
                tester(server, method, params, runs=min(1000, runs), **load)
                out[name] = measured(proc.pid, lambda m=method, p=params: tester(server, m, p, runs=runs, **load))
    out["ratio"] = round(out["routes"]["server_cpu_us_per_req"] / out["cost"]["server_cpu_us_per_req"], 2)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=5000, help="GetRoutes calls per pass (GetCost: 10 times as many)")
    p.add_argument("--no-rpc", action="store_true", help="only the in-process measurement")
    p.add_argument("--write", action="store_true", help="write the figures into docs/performance.md")
    args = p.parse_args(argv)
    report = {"in_process": asyncio.run(in_process(args.runs))}
    if not args.no_rpc:
        report["rpc"] = over_rpc(args.runs)
    print(json.dumps(report, indent=1))
    if args.write:
        write_docs(report, args)
    return 0


def write_docs(report: dict, args: argparse.Namespace) -> None:
    from common import machine, write_section

    ip = report["in_process"]
    rows = [f"| in-process | {ip['routes_per_s']} ({ip['routes_us']} µs) | {ip['cost_per_s']} ({ip['cost_us']} µs) "
            f"| **{ip['ratio']}** |"]
    rpc = report.get("rpc")
    if rpc:
        r, c = rpc["routes"], rpc["cost"]
        rows.append(f"| JSON-RPC | {r['req_per_s']:.0f} (p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, server "
                    f"{r['server_cpu_us_per_req']} µs) | {c['req_per_s']:.0f} (p50 {c['p50_ms']} ms, p99 "
                    f"{c['p99_ms']} ms, server {c['server_cpu_us_per_req']} µs) | **{rpc['ratio']}** (server CPU) |")
    cheapest, dearest = ip["ranked"][0], ip["ranked"][-1]
    body = (
        f"Measured with `python benchmarks/bench_routes.py --runs {args.runs}{' --no-rpc' if args.no_rpc else ''} "
        f"--write` ({machine()}). One GetRoutes is `RouteSv1.GetRoutes` of a 2m10s call to an 11-digit number "
        f"matching one *lc route profile of {ROUTES} routes, each priced on its own rating plan through RALs "
        "(`Responder.GetCostOnRatingPlans` on `routes.rals_conns` *internal), then sorted; the reply carries every "
        f"route with its Cost, RatingPlanID and Weight ({cheapest[0]} at {cheapest[1]} first, {dearest[0]} at "
        f"{dearest[1]} last). One GetCost is `APIerSv1.GetCost` of the same call on one of those plans (as in the "
        "Rating section: connect fee, 130 one-second increments, EventCost reply). In-process: the services called "
        "directly, GetRoutes and GetCost passes alternating, best of 3 each, timed by the process's CPU time. "
        "JSON-RPC: cgr-tester, 8 connections × "
        "16 in flight, one client process, GetRoutes then GetCost against the same cgr-engine.\n\n"
        "| path | GetRoutes/s (*lc, 10 routes) | GetCost/s | GetRoutes time / GetCost time |\n"
        "|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        f"In-process a route query costs about {ip['ratio']} GetCosts: the {ROUTES} ratings it asks RALs for take "
        f"{ip['ratings_us']} µs of its {ip['routes_us']} µs (measured alone in the same passes; each is cheaper "
        "than a GetCost, which also builds an EventCost for its reply), the rest is RouteS's own work: matching "
        "the profile, the route filters, building and sorting the sorting data. Over JSON-RPC each request also "
        "pays for the RPC layers and its reply's JSON (ten priced routes for GetRoutes, an EventCost for "
        "GetCost); the server CPU per request, not the rate of one client on a shared machine, gives the ratio "
        "there."
    )
    write_section("Routes (GetRoutes *lc)", body)


if __name__ == "__main__":
    sys.exit(main())
