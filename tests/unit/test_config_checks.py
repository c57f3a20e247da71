"""The engine's checks of a loaded configuration: durations CGRateS refuses, undefined connections, listeners; and
the service catalogue that says which sections this build can run."""

from __future__ import annotations

from pycgrates.engine import services
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.config.checks import config_problems

UNDEFINED = "is not defined in rpc_conns (define it there, or use *internal for this engine's own service)"


def problems(overrides: dict) -> list[str]:
    return config_problems(config_from_dict(overrides), active=services.active)


def test_numbers_where_durations_belong_load_but_are_refused():
    cfg = config_from_dict({"sessions": {"debit_interval": 5_000_000_000, "session_ttl": "30s"},
                            "resources": {"store_interval": -1}, "sessions_x": {}})
    assert cfg.duration("sessions", "debit_interval") == 5_000_000_000  # readable by tools
    assert cfg.refused == [
        '<dict>: sessions.debit_interval: expected a duration string, got the number 5000000000 (CGRateS refuses '
        'numbers here); write "5s" (what the number means: nanoseconds) or the duration meant',
        '<dict>: resources.store_interval: expected a duration string, got the number -1 (CGRateS refuses numbers '
        'here); write "-1"',
    ]
    assert config_problems(cfg) == cfg.refused
    assert config_from_dict({"sessions": {"default_usage": {"*data": 1024}}}).refused == [
        '<dict>: sessions.default_usage.*data: expected a duration string, got the number 1024 (CGRateS refuses '
        'numbers here); write "1.024µs" (what the number means: nanoseconds) or the duration meant']


def test_every_conns_option_of_an_enabled_section_names_a_defined_connection():
    assert problems({
        "rpc_conns": {"pool": {"conns": [{"address": "127.0.0.1:2012"}]}},
        "sessions": {"enabled": True, "rals_conns": ["pool"], "cdrs_conns": ["*internal"],
                     "chargers_conns": ["*localhost"], "thresholds_conns": ["*birpc_internal", "nope"]},
        "filters": {"stats_conns": ["gone"]},  # always on
        "data_db": {"remote_conns": ["far"]},  # a section without "enabled"
        "diameter_agent": {"enabled": True, "sessions_conns": ["*bijson_localhost"]},
        "freeswitch_agent": {"enabled": True, "event_socket_conns": [{"address": "10.0.0.1:8021"}]},
        "registrarc": {"rpc": {"enabled": True, "registrars_conns": ["reg"]},
                       "dispatchers": {"enabled": False, "registrars_conns": ["reg2"]}},
        "http_agent": [{"id": "h", "sessions_conns": ["hh"]}],
    }) == [
        f"data_db.remote_conns[0]: connection 'far' {UNDEFINED}",
        f"filters.stats_conns[0]: connection 'gone' {UNDEFINED}",
        f"sessions.thresholds_conns[1]: connection 'nope' {UNDEFINED}",
        f"http_agent[0].sessions_conns[0]: connection 'hh' {UNDEFINED}",
        f"registrarc.rpc.registrars_conns[0]: connection 'reg' {UNDEFINED}",
    ]


def test_sections_switched_off_are_not_checked():
    assert problems({"sessions": {"enabled": False, "rals_conns": ["nope"]},
                     "cdrs": {"rals_conns": ["nope"]},
                     "apiers": {"enabled": False, "scheduler_conns": ["nope"]},
                     "loaders": [{"id": "l1", "enabled": False, "caches_conns": ["nope"]}]}) == []
    # APIerSv1 runs with RALs: its connections are checked then
    assert problems({"rals": {"enabled": True}, "apiers": {"scheduler_conns": ["sched"]}}) == [
        f"apiers.scheduler_conns[0]: connection 'sched' {UNDEFINED}"]


def test_listener_addresses_are_checked():
    assert problems({"listen": {"rpc_json": "localhost", "http": ""}}) == [
        "listen.rpc_json: invalid listen address 'localhost': no port (use host:port, such as 127.0.0.1:2012, "
        "0.0.0.0:2012 or [::1]:2012)"]


def test_the_catalogue_knows_what_each_section_enables():
    cfg = config_from_dict({"rals": {"enabled": True}, "http_agent": [{"id": "a"}],
                            "loaders": [{"id": "l1", "enabled": True}],
                            "registrarc": {"dispatchers": {"enabled": True}}, "trends": {"enabled": True}})
    assert services.enabled(cfg, "apiers") and services.enabled(cfg, "filters")
    assert services.enabled(cfg, "http_agent") and services.enabled(cfg, "loaders")
    assert services.enabled(cfg, "registrarc") and not services.enabled(cfg, "sessions")
    assert [s for s, _ in services.enabled_services(cfg)] == ["rals", "rals", "rals", "apiers", "apiers", "apiers",
                                                                   "filters", "http_agent"]
    assert services.unavailable(cfg) == [
        "trends: enabled, but TrendS is not available in this build; set trends.enabled to false",
        'loaders: enabled, but LoaderS is not available in this build; set "enabled": false in each of the '
        '"loaders"',
        "registrarc: enabled, but RegistrarC is not available in this build; set registrarc.rpc.enabled and "
        "registrarc.dispatchers.enabled to false",
    ]
    assert services.unavailable(config_from_dict({})) == []
