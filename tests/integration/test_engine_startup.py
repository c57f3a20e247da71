"""cgr-engine refuses a start it cannot make: one line naming the problem and its fix, a non-zero exit status,
never a traceback; ``-check_config`` refuses the same configurations with the same words."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.engine_proc import ENGINE, REPO, EngineProcess, free_port, make_config_dir, storage_overrides

NOBODY = 65534


def run(config_dir: Path | None, *args: str, command: list[str] = ENGINE, **kw) -> subprocess.CompletedProcess:
    argv = [*command, *(["-config_dir", str(config_dir)] if config_dir else []), *args]
    return subprocess.run(argv, capture_output=True, text=True, cwd=kw.pop("cwd", REPO), timeout=120, **kw)


def refusal(r: subprocess.CompletedProcess) -> str:
    """The one ``cgr-engine:`` line a refused start prints (and nothing that looks like a traceback)."""
    assert r.returncode != 0, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    lines = [line for line in r.stderr.splitlines() if line.startswith("cgr-engine:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def config_dir(tmp_path: Path, **sections) -> Path:
    overrides = storage_overrides(tmp_path, free_port())
    for name, value in sections.items():
        if isinstance(value, dict) and isinstance(overrides.get(name), dict):
            overrides[name] = {**overrides[name], **value}
        else:
            overrides[name] = value
    return make_config_dir(tmp_path / "cfg", overrides=overrides)


def start_and_check(cfg: Path) -> tuple[str, list[str]]:
    """The line a start prints and the lines -check_config prints for one config dir."""
    started = run(cfg)
    checked = run(cfg, "-check_config")
    assert checked.returncode == started.returncode, (started.stderr, checked.stderr)
    assert "Traceback" not in checked.stderr
    return refusal(started), [line for line in checked.stderr.splitlines() if line.startswith("cgr-engine:")]


# ------------------------------------------------------------------------------------------------ storage


def _engine_as_nobody() -> list[str]:
    """A cgr-engine command line the unprivileged user may run (the venv's interpreter may live under /root)."""
    boot = ("import site, sys; site.addsitedir(sys.argv.pop(1)); "
            "from pycgrates.engine.cli.engine import main; sys.exit(main(sys.argv[1:]))")
    site_dir = sysconfig.get_paths()["purelib"]
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for python in (sys.executable, shutil.which(version), f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        if python is None or not os.path.exists(python):
            continue
        command = [python, "-c", boot, site_dir]
        try:
            probe = run(None, "-version", command=command, user=NOBODY, group=NOBODY, extra_groups=[], cwd="/")
        except PermissionError:
            continue
        if probe.returncode == 0:
            return command
    pytest.skip(f"no {version} interpreter the nobody user may run")


def test_the_default_store_directory_is_not_writable():
    """Defaults only: /var/lib/pycgrates/... cannot be created by an ordinary user."""
    if os.geteuid() == 0:
        command, kw = _engine_as_nobody(), {"user": NOBODY, "group": NOBODY, "extra_groups": [], "cwd": "/"}
    else:
        if os.access("/var/lib/pycgrates" if os.path.exists("/var/lib/pycgrates") else "/var/lib", os.W_OK):
            pytest.skip("this user may write the default store directory")
        command, kw = ENGINE, {}
    line = refusal(run(None, command=command, **kw))
    assert line.startswith("cgr-engine: configuration error: data_db: cannot write the store directory "
                           "/var/lib/pycgrates/internal_db/datadb (")
    assert ("; set data_db.opts.internalDBDumpPath to a directory this user may write, or run cgr-engine as a user "
            "who may write it") in line
    checked = run(None, "-check_config", command=command, **kw)
    assert checked.returncode == 2
    assert [x for x in checked.stderr.splitlines() if x.startswith("cgr-engine:")] == [
        line.split(" (and 1 more")[0],
        line.split(" (and 1 more")[0].replace("data_db", "stor_db").replace("datadb", "stordb"),
    ]


def test_a_store_directory_that_cannot_be_created_even_by_root(tmp_path):
    """/sys refuses a new directory to everyone: the start fails when it opens the store, with the same fix."""
    cfg = config_dir(tmp_path, data_db={"opts": {"internalDBDumpPath": "/sys/pycgrates-test/datadb"}})
    line = refusal(run(cfg))
    assert "data_db" in line and "/sys/pycgrates-test" in line
    assert line.endswith("set data_db.opts.internalDBDumpPath to a directory this user may write, or run "
                         "cgr-engine as a user who may write it")


def _lock_is_free(lock: Path) -> bool:
    import fcntl

    with open(lock, "rb") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


# ------------------------------------------------------------------------------------------------ listeners


def test_a_listener_port_already_in_use(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        cfg = config_dir(tmp_path, listen={"http": f"127.0.0.1:{port}"}, rals={"enabled": True},
                         schedulers={"enabled": True})
        line = refusal(run(cfg))
        assert line.startswith(f"cgr-engine: cannot start: listen.http 127.0.0.1:{port}: ")
        assert "address already in use" in line
        assert line.endswith('stop the program holding that address or set listen.http to a free address '
                             '("" turns it off)')
        # what had started was stopped (services, the RPC listener, the stores): their locks are free
        assert _lock_is_free(tmp_path / "datadb" / "datadb.lock")
        assert _lock_is_free(tmp_path / "stordb" / "stordb.lock")
        # an agent's listener on a taken port names the agent
        cfg2 = config_dir(tmp_path / "agent", diameter_agent={
            "enabled": True, "listeners": [{"address": f"127.0.0.1:{port}", "network": "tcp"}]})
        line = refusal(run(cfg2))
        assert line.startswith("cgr-engine: cannot start: diameter_agent: ") and "address already in use" in line
        assert line.endswith("change the diameter_agent listen address")


# ------------------------------------------------------------------------------------------------ config


def test_a_config_that_does_not_parse(tmp_path):
    (tmp_path / "cgrates.json").write_text('{\n"general": {"node_id": "x",}\n"listen": {}\n}\n')
    r = run(tmp_path)
    assert refusal(r) == f"cgr-engine: configuration error: {tmp_path / 'cgrates.json'}:3:1: Expecting ',' delimiter"
    assert r.returncode == 2
    assert run(tmp_path, "-check_config").stderr == r.stderr


def test_a_dictionary_folder_that_is_not_one(tmp_path):
    """dictionaries_path names a file that is no dictionary, or a folder holding a broken one."""
    not_a_folder = tmp_path / "dictionary.txt"
    not_a_folder.write_text("AVP X 1 integer\n")
    broken = tmp_path / "dict"
    broken.mkdir()
    (broken / "vendor.xml").write_text('<diameter><application id="4" name="Gy"><avp name="X" code="x"/>'
                                       "</application></diameter>")
    for path, detail in ((not_a_folder, "not well-formed XML"), (broken, "is not a number")):
        cfg = config_dir(tmp_path / f"case_{path.name}", diameter_agent={
            "enabled": True, "dictionaries_path": str(path),
            "listeners": [{"address": f"127.0.0.1:{free_port()}", "network": "tcp"}]})
        line, checked = start_and_check(cfg)
        assert line.startswith(f"cgr-engine: configuration error: diameter_agent.dictionaries_path: {path}")
        assert detail in line and checked == [line]


def test_an_agent_section_that_cannot_be_compiled(tmp_path):
    """Processors that do not compile are disabled (as CGRateS); what an agent cannot run without is fatal."""
    cfg = config_dir(tmp_path / "diameter", diameter_agent={
        "enabled": True, "forced_disconnect": "*hangup",
        "listeners": [{"address": f"127.0.0.1:{free_port()}", "network": "tcp"}]})
    line, checked = start_and_check(cfg)
    assert line.startswith("cgr-engine: configuration error: diameter_agent.forced_disconnect: '*hangup'; use one of")
    assert checked == [line]
    cfg = config_dir(tmp_path / "radius", radius_agent={
        "enabled": True, "client_da_addresses": {"10.0.0.1": {"transport": "sctp"}},
        "listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{free_port()}",
                       "acct_address": f"127.0.0.1:{free_port()}"}]})
    line, checked = start_and_check(cfg)
    assert line == ("cgr-engine: configuration error: radius_agent.client_da_addresses[10.0.0.1].transport: 'sctp'; "
                    "use udp or tcp")
    assert checked == [line]


def test_a_section_whose_service_this_build_lacks(tmp_path):
    cfg = config_dir(tmp_path, trends={"enabled": True}, rankings={"enabled": True})
    line, checked = start_and_check(cfg)
    assert line == ("cgr-engine: configuration error: trends: enabled, but TrendS is not available in this "
                    "build; set trends.enabled to false (and 1 more: cgr-engine -check_config lists every problem)")
    assert checked == [
        "cgr-engine: configuration error: trends: enabled, but TrendS is not available in this build; "
        "set trends.enabled to false",
        "cgr-engine: configuration error: rankings: enabled, but RankingS is not available in this build; "
        "set rankings.enabled to false",
    ]


def test_check_config_refuses_what_start_refuses(tmp_path):
    cfg = config_dir(tmp_path, data_db={"db_type": "*mongo"}, stor_db={"db_type": "*mongo"},
                     sessions={"enabled": True, "rals_conns": ["rals_pool"], "session_ttl": 30})
    line, checked = start_and_check(cfg)
    overrides = cfg / "zz_test_overrides.json"
    assert checked == [
        f"cgr-engine: configuration error: {overrides}: sessions.session_ttl: expected a duration string, got the "
        'number 30 (CGRateS refuses numbers here); write "30ns" (what the number means: nanoseconds) or the '
        'duration meant',
        "cgr-engine: configuration error: sessions.rals_conns[0]: connection 'rals_pool' is not defined in rpc_conns "
        "(define it there, or use *internal for this engine's own service)",
        'cgr-engine: configuration error: data_db.db_type *mongo is not available yet in this build (use *internal '
        'or *redis: set data_db.db_type to "*internal" for the embedded durable store)',
        'cgr-engine: configuration error: stor_db.db_type *mongo is not available yet in this build (use *internal '
        'or *postgres or *mysql: set stor_db.db_type to "*internal" for the embedded durable store)',
    ]
    assert line == checked[0] + " (and 3 more: cgr-engine -check_config lists every problem)"
    # a string where CGRateS wants a number is refused when the file is read, by both
    (cfg / "zz_test_overrides.json").write_text('{"general": {"connect_attempts": "3"}}')
    line, checked = start_and_check(cfg)
    assert "general.connect_attempts: expected a number, got string" in line and checked == [line]


def test_a_valid_config_checks_ok_and_starts(tmp_path):
    cfg = config_dir(tmp_path, rals={"enabled": True}, sessions={"enabled": True, "rals_conns": ["*internal"]},
                     rpc_conns={"spare": {"conns": [{"address": "127.0.0.1:1", "transport": "*json"}]}},
                     cdrs={"enabled": True, "rals_conns": ["spare"]})
    checked = run(cfg, "-check_config")
    assert checked.returncode == 0 and checked.stdout == "configuration OK\n", checked.stderr
    port = json.loads((cfg / "zz_test_overrides.json").read_text())["listen"]["rpc_json"].rsplit(":", 1)[1]
    eng = EngineProcess(cfg, int(port), tmp_path / "engine.log").start()
    try:
        assert eng.call("CoreSv1.Ping", {}) == "Pong"
        assert eng.terminate() == 0
    finally:
        eng.kill()
