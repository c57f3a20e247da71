"""engine.config: JSON-with-comments, defaults, loading a config_dir, validation, reload and ConfigSv1."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest

from pycgrates.engine.config import (
    Config,
    ConfigError,
    JsoncError,
    config_from_dict,
    default_config,
    diff_sections,
    load_config,
    parse_listen_address,
    reload_config,
)
from pycgrates.engine.config.jsonc import loads, strip
from pycgrates.engine.config.service import ConfigService
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry
from pycgrates.engine.units import MINUTE, MS, SECOND


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------- jsonc


class TestJsonc:
    def test_line_and_block_comments(self):
        text = """
        // leading comment
        {
          "a": 1, // trailing comment
          /* block
             over lines */ "b": [1, 2 /* inline */, 3]
        }
        """
        assert loads(text) == {"a": 1, "b": [1, 2, 3]}

    def test_comment_markers_inside_strings_are_kept(self):
        text = r'{"url": "http://host:80/path", "re": "~*req.X:s/^(\\d+)//(.*)/${1}/", "c": "/* not a comment */"}'
        assert loads(text) == {
            "url": "http://host:80/path",
            "re": r"~*req.X:s/^(\d+)//(.*)/${1}/",
            "c": "/* not a comment */",
        }

    def test_escaped_quotes_do_not_end_strings(self):
        assert loads(r'{"a": "say \"//hi\"", "b": 2}') == {"a": 'say "//hi"', "b": 2}

    def test_trailing_commas(self):
        assert loads('{"a": [1, 2, ], "b": {"c": 1,},}') == {"a": [1, 2], "b": {"c": 1}}

    def test_trailing_comma_with_comments_before_bracket(self):
        assert loads('{"a": 1, // c\n /* d */ }') == {"a": 1}

    def test_comma_before_a_bracket_inside_a_comment_is_kept(self):
        # the "}" inside the comment must not make the comma look trailing
        assert loads('{"a": {}, // {"x", "y"}\n "b": 2}') == {"a": {}, "b": 2}

    def test_trailing_comma_after_top_level_object(self):
        assert loads('{"general": {"log_level": 7}},\n\n') == {"general": {"log_level": 7}}

    def test_comments_blanked_in_place(self):
        text = '{"a": 1, /* x\ny */ "b": 2} // z'
        clean = strip(text)
        assert len(clean) == len(text)
        assert clean.count("\n") == text.count("\n")
        assert json.loads(clean) == {"a": 1, "b": 2}

    def test_error_position_counts_original_lines(self):
        text = '{\n  // one\n  /* two\n     three */\n  "a": 1,\n  "b" 2\n}'
        with pytest.raises(JsoncError) as err:
            loads(text, "f.json")
        assert (err.value.line, err.value.column) == (6, 7)
        assert str(err.value).startswith("f.json:6:7: Expecting ':' delimiter")

    def test_error_column_after_comment_on_same_line(self):
        with pytest.raises(JsoncError) as err:
            loads('{"a": /* c */ tru}', "x.json")
        assert (err.value.line, err.value.column) == (1, 15)

    def test_unterminated_block_comment(self):
        with pytest.raises(JsoncError) as err:
            loads('{"a": 1}\n  /* open', "y.json")
        assert (err.value.line, err.value.column, err.value.reason) == (2, 3, "unterminated /* comment")

    def test_bare_env_reference_becomes_a_string(self):
        assert loads('{"db_port": *env:PORT}') == {"db_port": "*env:PORT"}

    def test_large_input_is_fast(self):
        import time

        item = '{"tag": "T", "path": "*cgreq.X", "type": "*variable", "value": "~*req.Y", "mandatory": true}, // f\n'
        text = '{"fields": [' + item * 20000 + "]}"
        t0 = time.perf_counter()
        assert len(loads(text)["fields"]) == 20000
        assert time.perf_counter() - t0 < 2.0


# ---------------------------------------------------------------------------------------------------- defaults


class TestDefaults:
    def test_every_cgrates_section_present(self):
        cfg = default_config()
        for name in ("general", "cores", "rpc_conns", "data_db", "stor_db", "listen", "tls", "http", "schedulers",
                     "caches", "filters", "rals", "cdrs", "ers", "ees", "sessions", "asterisk_agent",
                     "freeswitch_agent", "kamailio_agent", "diameter_agent", "radius_agent", "http_agent",
                     "dns_agent", "attributes", "chargers", "resources", "stats", "thresholds", "trends",
                     "rankings", "routes", "loaders", "mailer", "suretax", "loader", "migrator", "dispatchers",
                     "registrarc", "analyzers", "apiers", "sip_agent", "janus_agent", "prometheus_agent",
                     "templates", "configs", "config_db", "apiban", "sentrypeer"):
            assert name in cfg.data, name
        assert cfg.warnings == [] and cfg.sources == [] and cfg.config_dir is None

    def test_listeners_default_to_loopback(self):
        listen = default_config().section("listen")
        assert listen["rpc_json"] == "127.0.0.1:2012"
        assert listen["http"] == "127.0.0.1:2080"
        assert listen["birpc_json"] == "127.0.0.1:2014"
        assert listen["max_request_size"] == 4194304

    def test_shipped_templates(self):
        templates = default_config().section("templates")
        for name in ("*err", "*cca", "*asr", "*rar", "*dmr", "*coa", "*errSip", "*cdrLog"):
            assert templates[name], name
        assert {f["path"] for f in templates["*cca"]} >= {"*rep.Session-Id", "*rep.Result-Code"}

    def test_internal_db_persistence_options(self):
        cfg = default_config()
        assert cfg.get("data_db", "opts", "internalDBDumpPath") == "/var/lib/pycgrates/internal_db/datadb"
        assert cfg.get("stor_db", "opts", "internalDBDumpPath") == "/var/lib/pycgrates/internal_db/stordb"
        assert cfg.get("data_db", "opts", "internalDBFsync") == "*interval"
        assert cfg.duration("stor_db", "opts", "internalDBFsyncInterval") == SECOND
        assert cfg.get("stor_db", "opts", "internalDBPersist") is True
        assert cfg.get("data_db", "db_type") == "*internal" and cfg.get("stor_db", "db_type") == "*internal"

    def test_sessions_defaults(self):
        s = default_config().section("sessions")
        assert s["stir"]["allowed_attest"] == ["*any"]
        assert s["default_usage"]["*voice"] == "3h"
        assert s["alterable_fields"] == [] and s["session_indexes"] == []

    def test_caches_partition_shape(self):
        p = default_config().get("caches", "partitions", "*rpc_responses")
        assert p == {"limit": 0, "ttl": "2s", "static_ttl": False, "replicate": False}

    def test_cgrates_v0_11_options_are_known(self, tmp_path):
        """Options of CGRateS v0.11's defaults (and its config structs) load without an unknown-option warning."""
        write(tmp_path, "v011.json", """{
            "general": {"min_call_duration": "0s", "max_call_duration": "3h"},
            "rpc_conns": {"c": {"conns": [{"address": "10.0.0.1:2012", "key_path": "k.pem", "cert_path": "c.pem",
                                            "ca_path": "ca.pem", "conn_attempts": 3}]}},
            "data_db": {"replication_failed_dir": "/var/spool/rpl", "replication_interval": "1s",
                        "opts": {"redisBatchSize": 500}},
            "stor_db": {"opts": {"pgSSLCert": "c", "pgSSLKey": "k", "pgSSLPassword": "p", "pgSSLCertMode": "require",
                                 "pgSSLRootCert": "ca"}},
            "rals": {"sessions_conns": ["*internal"]},
            "ers": {"stats_conns": [], "thresholds_conns": [], "concurrent_events": 4},
            "ees": {"failed_posts": {"dir": "/tmp/fp", "ttl": "10s", "static_ttl": false},
                    "exporters": [{"id": "e1", "metrics_reset_schedule": "@daily"}]},
            "sessions": {"ips_conns": [], "channel_sync_timeout": "30s", "session_ttl_last_usage": "1s"},
            "asterisk_agent": {"route_profile": true},
            "freeswitch_agent": {"route_profile": true, "sched_transfer_extension": "X",
                                 "event_socket_conns": [{"address": "10.0.0.2:8021", "reply_timeout": "30s"}]},
            "kamailio_agent": {"route_profile": true},
            "diameter_agent": {"dictionaries_append_defaults": false, "slr_template": "*slr", "str_template": "*str",
                               "conn_status_stat_queue_ids": ["q"], "conn_status_threshold_ids": ["t"],
                               "conn_health_check_interval": "10s"},
            "attributes": {"opts": {"*context": "*sessions"}},
            "routes": {"opts": {"*limit": 2, "*offset": 1}},
            "registrarc": {"rpc": {"enabled": false}, "dispatchers": {"enabled": false}},
            "prometheus_agent": {"apiers_conns": []},
            "ips": {"enabled": false, "store_interval": "-1", "opts": {"*allocationID": "", "*ttl": "1h"}}}""")
        cfg = load_config(tmp_path)
        assert cfg.warnings == []
        assert cfg.duration("sessions", "channel_sync_timeout") == 30 * SECOND
        assert cfg.get("freeswitch_agent", "event_socket_conns", 0, "password") == "ClueCon"  # from the default item
        write(tmp_path, "v011.json", '{"sessions": {"channel_sync_timeout": true}}')
        with pytest.raises(ConfigError, match=re.escape("sessions.channel_sync_timeout: expected a duration string")):
            load_config(tmp_path)


# ---------------------------------------------------------------------------------------------------- loading


class TestLoad:
    def test_files_merge_in_walk_order_across_nested_dirs(self, tmp_path):
        write(tmp_path, "b.json", '{"general": {"log_level": 3, "default_tenant": "b"}}')
        write(tmp_path, "a/z.json", '{"general": {"log_level": 1, "node_id": "az"}}')
        write(tmp_path, "a.json", '{"general": {"log_level": 2}}')
        write(tmp_path, "a/sub/y.json", '{"general": {"default_category": "sms"}}')
        write(tmp_path, "notes.txt", "not json")
        cfg = load_config(tmp_path)
        assert [p.relative_to(tmp_path).as_posix() for p in cfg.sources] == [
            "a/sub/y.json", "a/z.json", "a.json", "b.json"]
        g = cfg.section("general")
        assert (g["log_level"], g["node_id"], g["default_tenant"], g["default_category"]) == (3, "az", "b", "sms")
        assert g["rounding_decimals"] == 5  # untouched options keep their defaults

    def test_a_single_file_is_accepted(self, tmp_path):
        f = write(tmp_path, "only.json", '{"general": {"log_level": 7}}')
        cfg = load_config(f)
        assert cfg.get("general", "log_level") == 7 and cfg.sources == [f]

    def test_missing_and_empty_dirs(self, tmp_path):
        with pytest.raises(ConfigError, match="does not exist"):
            load_config(tmp_path / "nope")
        with pytest.raises(ConfigError, match=r"no \*\.json"):
            load_config(tmp_path)

    def test_nested_objects_merge_and_lists_replace(self, tmp_path):
        write(tmp_path, "1.json", '{"sessions": {"stir": {"default_attest": "B"}, "session_indexes": ["A", "B"]}}')
        write(tmp_path, "2.json", '{"sessions": {"stir": {"publickey_path": "/k"}, "session_indexes": ["C"]}}')
        s = load_config(tmp_path).section("sessions")
        assert s["stir"]["default_attest"] == "B" and s["stir"]["publickey_path"] == "/k"
        assert s["stir"]["allowed_attest"] == ["*any"]
        assert s["session_indexes"] == ["C"]

    def test_null_leaves_the_default(self, tmp_path):
        write(tmp_path, "c.json", '{"general": {"log_level": null}, "attributes": {"string_indexed_fields": null}}')
        cfg = load_config(tmp_path)
        assert cfg.get("general", "log_level") == 6
        assert cfg.get("attributes", "string_indexed_fields") is None

    def test_request_processors_append_across_files_and_merge_by_id(self, tmp_path):
        write(tmp_path, "1.json", """
            {"diameter_agent": {"request_processors": [
              {"id": "init", "flags": ["*initiate"], "request_fields": [{"tag": "A", "path": "*cgreq.A",
               "type": "*constant", "value": "1"}]},
              {"id": "term", "flags": ["*terminate"]}
            ]}}""")
        write(tmp_path, "2.json", """
            {"diameter_agent": {"request_processors": [
              {"id": "upd", "flags": ["*update"]},
              {"id": "init", "filters": ["*string:~*vars.*cmd:CCR"]}
            ]}}""")
        procs = load_config(tmp_path).get("diameter_agent", "request_processors")
        assert [p["id"] for p in procs] == ["init", "term", "upd"]
        init = procs[0]
        assert init["flags"] == ["*initiate"]  # kept from the first file
        assert init["filters"] == ["*string:~*vars.*cmd:CCR"]  # added by the second
        assert init["request_fields"][0]["tag"] == "A"

    def test_processors_without_id_are_appended(self, tmp_path):
        write(tmp_path, "1.json", '{"sip_agent": {"request_processors": [{"flags": ["*none"]}]}}')
        write(tmp_path, "2.json", '{"sip_agent": {"request_processors": [{"flags": ["*none"]}]}}')
        assert len(load_config(tmp_path).get("sip_agent", "request_processors")) == 2

    def test_http_agents_merge_by_id(self, tmp_path):
        write(tmp_path, "1.json", '{"http_agent": [{"id": "h1", "url": "/a", "request_processors": [{"id": "p1"}]}]}')
        write(tmp_path, "2.json", '{"http_agent": [{"id": "h1", "request_processors": [{"id": "p2"}]}, '
                                  '{"id": "h2", "url": "/b"}]}')
        agents = load_config(tmp_path).section("http_agent")
        assert [a["id"] for a in agents] == ["h1", "h2"]
        assert agents[0]["url"] == "/a"
        assert [p["id"] for p in agents[0]["request_processors"]] == ["p1", "p2"]

    def test_rpc_conns_and_templates_are_replaced_by_name(self, tmp_path):
        write(tmp_path, "1.json", """{
            "rpc_conns": {"c1": {"strategy": "*broadcast", "conns": [{"address": "1.1.1.1:2012"}]},
                          "c2": {"conns": [{"address": "2.2.2.2:2012"}]}},
            "templates": {"t": [{"tag": "A", "path": "*rep.A", "type": "*constant", "value": "a"}]}}""")
        write(tmp_path, "2.json", """{
            "rpc_conns": {"c1": {"conns": [{"address": "3.3.3.3:2012"}]}},
            "templates": {"t": [{"tag": "B", "path": "*rep.B", "type": "*constant", "value": "b"}]}}""")
        cfg = load_config(tmp_path)
        assert cfg.section("rpc_conns")["c1"] == {"conns": [{"address": "3.3.3.3:2012"}]}
        assert cfg.section("rpc_conns")["c2"]["conns"][0]["address"] == "2.2.2.2:2012"
        assert [f["tag"] for f in cfg.section("templates")["t"]] == ["B"]
        assert "*cca" in cfg.section("templates")  # shipped templates stay

    def test_cache_partitions_and_db_items_merge_by_name(self, tmp_path):
        write(tmp_path, "c.json", """{
            "caches": {"partitions": {"*rpc_responses": {"limit": -1}, "*my_part": {"limit": 5}}},
            "data_db": {"items": {"*accounts": {"replicate": true}}}}""")
        cfg = load_config(tmp_path)
        assert cfg.get("caches", "partitions", "*rpc_responses") == {
            "limit": -1, "ttl": "2s", "static_ttl": False, "replicate": False}
        assert cfg.get("caches", "partitions", "*my_part") == {"limit": 5}
        assert cfg.get("data_db", "items", "*accounts") == {"remote": False, "replicate": True}
        assert cfg.warnings == []

    def test_new_reader_starts_from_the_default_reader(self, tmp_path):
        write(tmp_path, "e.json", '{"ers": {"readers": [{"id": "r1", "type": "*fileCSV", "source_path": "/in"}]}}')
        readers = load_config(tmp_path).get("ers", "readers")
        assert [r["id"] for r in readers] == ["*default", "r1"]
        r1 = readers[1]
        assert r1["type"] == "*fileCSV" and r1["source_path"] == "/in"
        assert r1["processed_path"] == "/var/spool/cgrates/ers/out" and len(r1["fields"]) == 11

    def test_connection_list_items_keep_default_keys(self, tmp_path):
        write(tmp_path, "f.json", '{"freeswitch_agent": {"event_socket_conns": [{"address": "10.0.0.1:8021"}]}}')
        conns = load_config(tmp_path).get("freeswitch_agent", "event_socket_conns")
        assert conns == [{"address": "10.0.0.1:8021", "password": "ClueCon", "reconnects": 5,
                          "max_reconnect_interval": "0s", "alias": ""}]


class TestEnvironment:
    def test_env_values_are_replaced(self, tmp_path):
        write(tmp_path, "e.json", """{
            "general": {"node_id": "*env:NODE", "log_level": "*env:LEVEL"},
            "data_db": {"db_port": *env:PORT, "db_host": "*env:HOST"},
            "rpc_conns": {"c": {"conns": [{"address": "*env:HOST:2012"}]}}}""")
        env = {"NODE": "n1", "LEVEL": "7", "PORT": "6380", "HOST": "10.1.1.1"}
        cfg = load_config(tmp_path, env=env)
        assert cfg.get("general", "node_id") == "n1"
        assert cfg.get("general", "log_level") == 7
        assert cfg.get("data_db", "db_port") == 6380
        assert cfg.get("data_db", "db_host") == "10.1.1.1"
        assert cfg.get("rpc_conns", "c", "conns", 0, "address") == "10.1.1.1:2012"

    def test_missing_env_names_file_option_and_variable(self, tmp_path):
        f = write(tmp_path, "e.json", '{"data_db": {"db_password": "*env:SECRET_PASS"}}')
        with pytest.raises(ConfigError) as err:
            load_config(tmp_path, env={})
        assert str(err.value) == (f"{f}: data_db.db_password: environment variable SECRET_PASS is not set "
                                  "(referenced as *env:SECRET_PASS)")

    def test_env_value_of_wrong_type(self, tmp_path):
        write(tmp_path, "e.json", '{"general": {"log_level": "*env:LEVEL"}}')
        with pytest.raises(ConfigError, match=re.escape("general.log_level: expected a number, got 'high'")):
            load_config(tmp_path, env={"LEVEL": "high"})

    def test_reload_uses_the_same_environment(self, tmp_path):
        write(tmp_path, "e.json", '{"general": {"node_id": "*env:NODE"}}')
        cfg = load_config(tmp_path, env={"NODE": "x"})
        assert reload_config(cfg).get("general", "node_id") == "x"


class TestValidation:
    def test_unknown_option_and_section_are_warnings(self, tmp_path):
        f = write(tmp_path, "w.json", """{
            "cdrs": {"enabled": true, "sessions_cost_retries": 5},
            "listen": {"rpc_gob": ":2013"},
            "no_such_section": {},
            "diameter_agent": {"request_processors": [{"id": "p", "request_fields": [
                {"tag": "A", "path": "*cgreq.A", "type": "*constant", "vaule": "x"}]}]}}""")
        cfg = load_config(tmp_path)
        assert cfg.warnings == [
            f"{f}: unknown option cdrs.sessions_cost_retries",
            f"{f}: unknown section no_such_section",
            f"{f}: unknown option diameter_agent.request_processors[0].request_fields[0].vaule",
        ]
        assert cfg.get("cdrs", "enabled") is True
        assert "sessions_cost_retries" not in cfg.section("cdrs")

    def test_user_defined_names_are_not_unknown(self, tmp_path):
        write(tmp_path, "n.json", """{
            "rpc_conns": {"myconn": {"strategy": "*first", "conns": [{"address": "127.0.0.1:2012",
                          "transport": "*json"}]}},
            "templates": {"mytpl": [{"tag": "A", "path": "*rep.A", "type": "*constant", "value": "a"}]},
            "http": {"auth_users": {"alice": "cGFzcw=="}},
            "radius_agent": {"client_secrets": {"10.0.0.1": "s"}, "client_da_addresses": {"10.0.0.1": {"port": 3799}}},
            "sessions": {"default_usage": {"*mms": "1"}},
            "ers": {"readers": [{"id": "k", "opts": {"kafkaTopic": "t", "anything": 1}}]}}""")
        assert load_config(tmp_path).warnings == []

    def test_wrong_type_names_file_option_and_expected_type(self, tmp_path):
        f = write(tmp_path, "a.json", '{"sessions": {"debit_interval": ["5s"]}}')
        with pytest.raises(ConfigError) as err:
            load_config(tmp_path)
        assert str(err.value) == f"{f}: sessions.debit_interval: expected a duration string, got list"

    @pytest.mark.parametrize(("text", "message"), [
        ('{"sessions": {"enabled": "yes"}}', "sessions.enabled: expected a boolean, got string"),
        ('{"general": {"log_level": "7"}}', "general.log_level: expected a number, got string"),
        ('{"general": {"node_id": 5}}', "general.node_id: expected a string, got number"),
        ('{"sessions": {"session_indexes": "A"}}', "sessions.session_indexes: expected a list, got string"),
        ('{"sessions": {"stir": []}}', "sessions.stir: expected an object, got list"),
        ('{"rpc_conns": {"c": {"conns": {}}}}', "rpc_conns.c.conns: expected a list, got object"),
        ('{"diameter_agent": {"request_processors": [{"flags": "*none"}]}}',
         "diameter_agent.request_processors[0].flags: expected a list, got string"),
        ('{"general": {"reply_timeout": "2 seconds"}}', "general.reply_timeout: expected a duration string"),
        ('{"general": {"reply_timeout": true}}', "general.reply_timeout: expected a duration string, got boolean"),
        ('{"general": 1}', "general: expected an object, got number"),
        ("[1]", "the top level must be an object of sections, got list"),
    ])
    def test_type_errors(self, tmp_path, text, message):
        write(tmp_path, "t.json", text)
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(tmp_path)

    def test_durations_accept_strings_and_numbers(self, tmp_path):
        write(tmp_path, "d.json", '{"sessions": {"debit_interval": 5000000000, "session_ttl": "1m30s"}, '
                                  '"general": {"reply_timeout": "500ms"}, "resources": {"store_interval": "-1"}}')
        cfg = load_config(tmp_path)
        assert cfg.duration("sessions", "debit_interval") == 5 * SECOND
        assert cfg.duration("sessions", "session_ttl") == MINUTE + 30 * SECOND
        assert cfg.duration("general", "reply_timeout") == 500 * MS
        assert cfg.duration("resources", "store_interval") == -1
        assert cfg.duration("general", "locking_timeout") == 0
        assert cfg.duration("sessions", "debit_interval", plain_unit=1) == 5 * SECOND

    def test_bad_json_gives_file_line_and_column(self, tmp_path):
        text = '{\n// comment\n/* block\n   comment */\n"general": {\n  "log_level": 7\n  "x": 1}\n}'
        f = write(tmp_path, "bad.json", text)
        with pytest.raises(ConfigError) as err:
            load_config(tmp_path)
        assert str(err.value) == f"{f}:7:3: Expecting ',' delimiter"


# ---------------------------------------------------------------------------------------------------- Config


class TestConfigObject:
    def test_get_section_and_defaults(self):
        cfg = config_from_dict({"general": {"log_level": 7}})
        assert cfg.get("general", "log_level") == 7
        assert cfg.get("general", "nope", default=None) is None
        assert cfg.get("ers", "readers", 0, "id") == "*default"
        with pytest.raises(KeyError):
            cfg.get("general", "nope")
        with pytest.raises(KeyError):
            cfg.section("nope")

    def test_to_json_as_get_config(self):
        cfg = config_from_dict({"general": {"node_id": "n"}})
        reply = cfg.to_json("general")
        assert list(reply) == ["general"] and reply["general"]["node_id"] == "n"
        reply["general"]["node_id"] = "changed"
        assert cfg.get("general", "node_id") == "n"  # a copy
        assert set(cfg.to_json()) == set(cfg.data)

    def test_rpc_conns_adds_builtin_pools(self):
        cfg = config_from_dict({"listen": {"rpc_json": ":3012", "birpc_json": "0.0.0.0:3014"},
                                "rpc_conns": {"mine": {"conns": [{"address": "10.0.0.1:2012"}]}}})
        conns = cfg.rpc_conns()
        assert conns["mine"]["conns"][0]["address"] == "10.0.0.1:2012"
        assert conns["*localhost"]["conns"] == [{"address": "127.0.0.1:3012", "transport": "*json"}]
        assert conns["*bijson_localhost"]["conns"] == [{"address": "127.0.0.1:3014", "transport": "*birpc_json"}]
        assert conns["*internal"]["conns"] == [{"address": "*internal"}]

    def test_reload_and_diff_sections(self, tmp_path):
        f = write(tmp_path, "r.json", '{"general": {"log_level": 7}, "sessions": {"enabled": true}}')
        old = load_config(tmp_path)
        f.write_text('{"general": {"log_level": 5}, "sessions": {"enabled": true}, "cdrs": {"enabled": true}}')
        new = reload_config(old)
        assert new.get("general", "log_level") == 5 and old.get("general", "log_level") == 7
        assert diff_sections(old, new) == {"general", "cdrs"}
        assert diff_sections(old, old) == set()


class TestListenAddress:
    @pytest.mark.parametrize(("value", "expected"), [
        (":2012", ("127.0.0.1", 2012)),
        ("0.0.0.0:2080", ("0.0.0.0", 2080)),
        ("10.1.2.3:3868", ("10.1.2.3", 3868)),
        ("localhost:2014", ("localhost", 2014)),
        ("[::1]:2012", ("::1", 2012)),
        ("[::]:5060", ("::", 5060)),
    ])
    def test_valid(self, value, expected):
        assert parse_listen_address(value) == expected

    def test_default_host(self):
        assert parse_listen_address(":53", default_host="::1") == ("::1", 53)

    @pytest.mark.parametrize("value", ["2012", "host:", "host:http", "::1:2012", "[::1]2012", "[zz]:1", "h:70000"])
    def test_invalid_names_the_option(self, value):
        with pytest.raises(ConfigError, match=re.escape("listen.rpc_json: invalid listen address")):
            parse_listen_address(value, option="listen.rpc_json")

    def test_config_accessor(self):
        assert config_from_dict({"listen": {"http": ":8080"}}).listen_address("listen", "http") == ("127.0.0.1", 8080)


# ---------------------------------------------------------------------------------------------------- ConfigSv1


class TestConfigService:
    def make(self, cfg: Config):
        calls: list[tuple] = []

        async def reload(section: str, *path: str) -> None:
            calls.append((section, *path))

        return ConfigService(lambda: cfg, reload), calls

    def test_registered_names(self):
        svc, _ = self.make(default_config())
        names = Registry().register_object(svc)
        assert sorted(names) == ["ConfigSv1.GetConfig", "ConfigSv1.GetConfigAsJSON", "ConfigSv1.ReloadConfig",
                                 "ConfigSv1.SetConfig", "ConfigSv1.SetConfigFromJSON"]

    async def test_get_config(self):
        svc, _ = self.make(config_from_dict({"general": {"node_id": "abc"}}))
        reply = await svc.get_config({"Section": "general"})
        assert list(reply) == ["general"] and reply["general"]["node_id"] == "abc"
        assert "sessions" in await svc.get_config({"Section": ""})
        with pytest.raises(RPCError) as err:
            await svc.get_config({"Section": "nope"})
        assert err.value == "NOT_FOUND"

    async def test_reload_config(self, tmp_path):
        f = write(tmp_path, "a.json", '{"general": {"log_level": 7}}')
        svc, calls = self.make(load_config(tmp_path))
        assert await svc.reload_config({"Path": "", "Section": "general", "DryRun": True}) == "OK"
        assert calls == []
        assert await svc.reload_config({"Path": "", "Section": "general", "DryRun": False}) == "OK"
        assert await svc.reload_config({"Section": "*all"}) == "OK"
        assert calls == [("general",), ("",)]
        other = tmp_path / "other"
        write(other, "b.json", "{}")
        assert await svc.reload_config({"Path": str(other), "Section": ""}) == "OK"
        assert calls[-1] == ("", str(other))
        f.write_text('{"general": {"log_level": "x"}}')
        with pytest.raises(RPCError, match=r"SERVER_ERROR: .*general\.log_level: expected a number"):
            await svc.reload_config({"Section": ""})
        with pytest.raises(RPCError, match="NOT_FOUND"):
            await svc.reload_config({"Section": "nope"})
