"""cgr-console as a process against a real cgr-engine: refused commands, the engine's errors and a dead engine all
answer one clear line (never Python's exception text), with CGRateS's exit statuses."""

from __future__ import annotations

import subprocess

import pytest

from pycgrates.engine.cli import command
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

CONSOLE = command("console")
PLAN = REPO / "tutorials" / "tariffplans" / "basic"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    port = free_port()
    cfg = make_config_dir(tmp / "cfg", REPO / "config" / "samples" / "tutorial",
                          overrides=storage_overrides(tmp, port))
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(PLAN)}) == "OK"
    yield eng
    eng.kill()


def console(port: int, *argv: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{port}", *argv], input=stdin, capture_output=True,
                          text=True, timeout=60, cwd=REPO)


def no_python_in(done: subprocess.CompletedProcess) -> None:
    for text in (done.stdout, done.stderr):
        assert "Traceback" not in text and "Error:" not in text and 'File "' not in text, text


def test_cost_needs_its_arguments(engine):
    done = console(engine.rpc_port, "cost")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("error: cost needs Subject, Destination, AnswerTime, Usage; usage: cost ")
    assert len(done.stderr.splitlines()) == 1
    no_python_in(done)


def test_a_checked_command_reaches_the_engine(engine):
    # RP_VOICE: 1002 is on-net (prefix 100), RT_ONNET charges 0.01 a started minute: 2m10s costs 3 minutes
    done = console(engine.rpc_port, 'cost Tenant="cgrates.org" Category="call" Subject="1001" Destination="1002" '
                                    'AnswerTime="2024-01-03T10:00:00Z" Usage="2m10s"')
    assert done.returncode == 0, done.stderr
    assert '"Cost": 0.03' in done.stdout


def test_errors_of_the_engine_and_of_the_network_are_one_line(engine):
    done = console(engine.rpc_port, "ratingprofile", 'Category="call"', 'Subject="nobody"')
    assert (done.returncode, done.stderr) == (1, "error: NOT_FOUND\n")
    done = console(engine.rpc_port, "datadb_versions")  # CGRateS's command; this engine has no such method
    assert done.returncode == 1
    assert done.stderr.startswith(f"error: the engine at 127.0.0.1:{engine.rpc_port} has no "
                                  "APIerSv1.GetDataDBVersions")
    dead = console(free_port(), "status")
    assert dead.returncode == 1 and "cannot reach the engine at 127.0.0.1:" in dead.stderr
    bad = subprocess.run([*CONSOLE, "-server", "nowhere", "status"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr == "cgr-console: -server 'nowhere' is not host:port (for example " \
                                                 "127.0.0.1:2012)\n"
    for done in (dead, bad):
        no_python_in(done)


def test_interactive_session(engine):
    done = console(engine.rpc_port, stdin='cost\nsession_initiate Event={"Account":}\nstatus\ncsot\nquit\n')
    assert done.returncode == 0
    out = done.stdout
    assert "error: cost needs Subject, Destination, AnswerTime, Usage" in out
    assert "error: Event: malformed JSON" in out
    assert '"NodeID"' in out and '"Uptime"' in out  # the status reply
    assert "error: unknown command 'csot'; did you mean cost?" in out
    no_python_in(done)
