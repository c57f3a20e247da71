"""Debits per second: one account and 10k accounts, in-process and over JSON-RPC (Responder.Debit).

Each debit is a 60s *voice call to 1002 at 0.01 per 1s increment (cost 0.60) paid from a monetary balance,
written durably to the *internal DataDB (append-only log) as one batch per debit.

    python benchmarks/bench_debit.py [--runs 20000] [--accounts 10000] [--write]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from common import REPO, base_args, engine, machine, measured, tester, write_section

sys.path.insert(0, str(REPO))

ANSWER = "2024-01-10T12:00:00Z"
END = "2024-01-10T12:01:00Z"


PARALLEL = 8


def account_names(accounts: int) -> list[str]:
    """The names cgr-tester's {{n}} gives over PARALLEL connections (conn × 10,000,000 + request number)."""
    per_conn = accounts // PARALLEL
    return [f"b{conn * 10_000_000 + k}" for conn in range(PARALLEL) for k in range(1, per_conn + 1)]


def write_plan(folder: Path, names: list[str]) -> None:
    """A tariff plan: one rate (0.01 per second to 1002), a top-up of 1,000,000 for each account named."""
    files = {
        "Destinations.csv": "#Id,Prefix\nDST_1002,1002\n",
        "Rates.csv": "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_1CNT,0,0.01,1s,1s,0s\n",
        "DestinationRates.csv": "#Id,DestinationId,RatesTag,RoundingMethod,RoundingDecimals,MaxCost,MaxCostStrategy\n"
                                "DR_1002,DST_1002,RT_1CNT,*up,4,0,\n",
        "RatingPlans.csv": "#Id,DestinationRatesId,TimingTag,Weight\nRP_BENCH,DR_1002,*any,10\n",
        "RatingProfiles.csv": "#Tenant,Category,Subject,ActivationTime,RatingPlanId,RatesFallbackSubject\n"
                              "cgrates.org,call,*any,2014-01-14T00:00:00Z,RP_BENCH,\n",
        "Actions.csv": "#ActionsId,Action,ExtraParameters,Filter,BalanceId,BalanceType,Categories,DestinationIds,"
                       "RatingSubject,SharedGroup,ExpiryTime,TimingIds,Units,BalanceWeight,BalanceBlocker,"
                       "BalanceDisabled,Weight\nTOPUP,*topup_reset,,,main,*monetary,,*any,,,*unlimited,,1000000,10,"
                       "false,false,10\n",
        "ActionPlans.csv": "#Id,ActionsId,TimingId,Weight\nAP_TOPUP,TOPUP,*asap,10\n",
    }
    rows = ["#Tenant,Account,ActionPlanId,ActionTriggersId,AllowNegative,Disabled"]
    rows += [f"cgrates.org,{name},AP_TOPUP,,," for name in names]
    files["AccountActions.csv"] = "\n".join(rows) + "\n"
    for name, text in files.items():
        (folder / name).write_text(text)


def cd_args(account: str) -> dict:
    return {"Tenant": "cgrates.org", "Category": "call", "Account": account, "Subject": account,
            "Destination": "1002", "ToR": "*voice", "TimeStart": ANSWER, "TimeEnd": END}


async def in_process(folder: Path, runs: int, accounts: int) -> dict:
    from pycgrates.engine.accounts.accounting import Accounting
    from pycgrates.engine.accounts.debit import debit
    from pycgrates.engine.config import default_config
    from pycgrates.engine.loader.tariffplan import load_tariff_plan
    from pycgrates.engine.rating.calldesc import CallDescriptor
    from pycgrates.engine.storage.cache import Cache
    from pycgrates.engine.storage.datamanager import DataManager
    from pycgrates.engine.storage.internal import InternalDataDB

    async def debit_cd(acc: Accounting, args: dict) -> None:
        """What SessionS does in process: a typed CallDescriptor handed to the debit (no JSON in between)."""
        await debit(acc, CallDescriptor.from_json(args, "UTC"))

    cfg = default_config()
    with tempfile.TemporaryDirectory() as d:
        dm = DataManager(InternalDataDB(Path(d)), Cache.from_config(cfg.section("caches")))
        await load_tariff_plan(dm, folder, timezone="UTC")
        acc = Accounting.for_dm(dm)
        acc.configure(cfg)
        one = cd_args("one")
        for _ in range(200):  # warm-up
            await debit_cd(acc, one)
        t0 = time.perf_counter()
        for _ in range(runs):
            await debit_cd(acc, one)
        seq = runs / (time.perf_counter() - t0)

        names = account_names(accounts)

        async def worker(w: int, n: int) -> None:
            for i in range(n):
                await debit_cd(acc, cd_args(names[(w * n + i) % len(names)]))

        workers = 64
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(w, runs // workers) for w in range(workers)))
        many = (runs // workers * workers) / (time.perf_counter() - t0)
        await dm.datadb.close()
    return {"one_account": round(seq), "many_accounts": round(many)}


def over_rpc(folder: Path, runs: int, accounts: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        extra = {"rals": {"enabled": True}, "apiers": {"enabled": True},
                 "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": d}}}
        with engine(extra, tariffplan=folder) as (addr, proc):
            load = {"parallel": PARALLEL, "inflight": 16, "procs": 1}
            tester(addr, "Responder.Debit", json.dumps(cd_args("one")), runs=500, **load)
            one = measured(proc.pid, lambda: tester(addr, "Responder.Debit", json.dumps(cd_args("one")),
                                                   runs=runs, **load))
            # {{n}} runs from 0: one debit on each of the accounts per pass
            many_args = json.dumps(cd_args("b{{n}}"))
            passes = max(1, runs // accounts)
            per_pass = len(account_names(accounts))
            results = [measured(proc.pid, lambda: tester(addr, "Responder.Debit", many_args, runs=per_pass, **load))
                       for _ in range(passes)]
    many_rate = sum(r["ok"] for r in results) / sum(r["ok"] / r["req_per_s"] for r in results if r["req_per_s"])
    return {"one_account": one, "many_accounts": {
        "req_per_s": round(many_rate), "ok": sum(r["ok"] for r in results),
        "errors": sum(r.get("errors", 0) for r in results), "p50_ms": results[-1]["p50_ms"],
        "p99_ms": results[-1]["p99_ms"], "server_cpu_us_per_req": results[-1]["server_cpu_us_per_req"]}}


def main() -> int:
    p = base_args(__doc__)
    p.add_argument("--accounts", type=int, default=10000)
    p.set_defaults(runs=20000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        write_plan(folder, ["one", *account_names(args.accounts)])
        inproc = asyncio.run(in_process(folder, args.runs, args.accounts))
        rpc = over_rpc(folder, args.runs, args.accounts)
    print(json.dumps({"in_process": inproc, "json_rpc": rpc}, indent=1))
    if args.write:
        one, many = rpc["one_account"], rpc["many_accounts"]
        write_section(
            "Accounting (debits)",
            f"Measured with `python benchmarks/bench_debit.py --runs {args.runs} --accounts {args.accounts} --write` "
            f"({machine()}). A debit is `Responder.Debit` of a 60 s *voice call in 1 s increments paid from a "
            "monetary balance (rating, balance walk, one durable `write_batch` to the *internal DataDB). "
            "In-process: the accounting core called directly (one account: sequential; 10k accounts: 64 concurrent "
            "tasks). JSON-RPC: cgr-tester, 8 connections × 16 in flight, one client process, against cgr-engine.\n\n"
            "| path | one account (debits/s) | 10k accounts (debits/s) |\n|---|---|---|\n"
            f"| in-process | {inproc['one_account']} | {inproc['many_accounts']} |\n"
            f"| JSON-RPC | {one['req_per_s']:.0f} (p50 {one['p50_ms']} ms, p99 {one['p99_ms']} ms) "
            f"| {many['req_per_s']:.0f} (p50 {many['p50_ms']} ms, p99 {many['p99_ms']} ms) |\n\n"
            f"Server CPU per debit over JSON-RPC: {one['server_cpu_us_per_req']} µs (one account), "
            f"{many['server_cpu_us_per_req']} µs (10k accounts). Debits on one account are serialized by its lock, "
            "so one account's rate is bounded by one debit's latency; different accounts proceed concurrently. The "
            "engine runs one event loop, so the rate is bounded by CPU per debit (rating the call, decoding and "
            "encoding the account, the durable write, the reply's JSON) rather than by lock waits: spreading the "
            "debits over 10k accounts does not raise it on one core.",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
