"""Accounting through a running cgr-engine: the tutorial plan over RPC, the fraud trigger, console commands."""

from __future__ import annotations

import subprocess

from pycgrates.engine.cli import command
from tests.conftest import shared_data
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

CONSOLE = command("console")

T = "cgrates.org"


def test_tutorial_accounts_fraud_trigger_and_scheduler_over_rpc(tmp_path):
    folder = shared_data("tariffplans", "tutorial")
    port = free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides.update({"apiers": {"enabled": True}, "rals": {"enabled": True}, "schedulers": {"enabled": True},
                      "general": {"default_timezone": "UTC"}})
    eng = EngineProcess(make_config_dir(tmp_path / "cfg", overrides=overrides), port, tmp_path / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(folder)}) == "OK"
        accounts = eng.call("APIerSv2.GetAccounts", {"Tenant": T, "AccountIDs": ["1001", "1002", "1003"]})
        assert [[(b["ID"], b["Value"]) for b in a["BalanceMap"]["*monetary"]] for a in accounts] == [
            [("test", 10)]] * 3
        # the seed's fraud mitigation: more than 100 units on 1001 disables it (STANDARD_TRIGGERS)
        assert eng.call("APIerSv1.SetBalance", {"Tenant": T, "Account": "1001", "BalanceType": "*monetary",
                                                "Value": 101, "Balance": {"ID": "test"}}) == "OK"
        acc = eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1001"})
        assert acc["Disabled"] is True
        assert [t["Executed"] for t in acc["ActionTriggers"]] == [True, True]  # 20 and 100 both crossed
        # the scheduler answers (tutorial plans are *asap only: nothing queued)
        assert eng.call("APIerSv1.GetScheduledActions", {}) == []
        # cgr-console mirrors the APIs
        out = subprocess.run(
            [*CONSOLE, "-server", f"127.0.0.1:{port}",
             'accounts Tenant="cgrates.org" AccountIDs=["1002"]'],
            cwd=REPO, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert '"cgrates.org:1002"' in out.stdout
        assert eng.terminate() == 0
    finally:
        eng.kill()


def test_cdrlog_reaches_the_cdr_server(tmp_path):
    port = free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides.update({"apiers": {"enabled": True}, "rals": {"enabled": True}, "cdrs": {"enabled": True},
                      "schedulers": {"enabled": True, "cdrs_conns": ["*internal"]},
                      "general": {"default_timezone": "UTC"}})
    eng = EngineProcess(make_config_dir(tmp_path / "cfg", overrides=overrides), port, tmp_path / "engine.log").start()
    try:
        assert eng.call("APIerSv1.AddBalance", {"Tenant": T, "Account": "1005", "BalanceType": "*monetary",
                                                "Value": 7, "Balance": {"ID": "main"}, "Cdrlog": True}) == "OK"
        (cdr,) = eng.call("APIerSv2.GetCDRs", {"Accounts": ["1005"]})
        assert cdr["RunID"] == "*topup" and cdr["Source"] == "*cdrlog" and cdr["Cost"] == 7
        assert cdr["ToR"] == "*monetary" and cdr["RequestType"] == "*none"
        assert eng.terminate() == 0
    finally:
        eng.kill()
