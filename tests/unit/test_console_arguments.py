"""cgr-console checks each command's argument against CGRateS's argument struct before anything is sent."""

from __future__ import annotations

import pytest

from pycgrates.engine.cli.arguments import ARGUMENTS, PING_SERVICES, Params, check_arguments
from pycgrates.engine.cli.console import LOCAL_PARSE, UsageError, all_commands, build_call, help_text, parse_locally

TABLE = all_commands()
#: every command of CGRateS's console (console/*.go)
CGRATES_COMMANDS = """
account_actionplan_get account_remove account_set account_triggers_add account_triggers_remove
account_triggers_reset account_triggers_set accounts action_execute actionplan_get actionplan_remove
actionplan_set active_sessions attributes_for_event attributes_process_event attributes_profile
attributes_profile_ids attributes_profile_remove attributes_profile_set balance_add balance_debit balance_remove
balance_set cache_clear cache_group_item_ids cache_has_group cache_has_item cache_item_expiry_time
cache_item_ids cache_precache_status cache_reload cache_remove_group cache_remove_item cache_stats cdrs
chargers_for_event chargers_process_event chargers_profile chargers_profile_ids chargers_profile_remove
chargers_profile_set compute_actionplan_indexes compute_filter_indexes cost cost_details datacost
datadb_versions debit debit_max destination_set destinations dispatchers_host dispatchers_host_ids
dispatchers_host_remove dispatchers_host_set dispatchers_profile dispatchers_profile_ids
dispatchers_profile_remove dispatchers_profile_set dispatches_for_event export_cdrs filter filter_ids
filter_indexes filter_indexes_remove filter_remove filter_set get_json_section get_load_ids get_load_times
import_tp_from_folder load_history load_tp_from_folder load_tp_from_stordb maxduration maxusage parse
passive_sessions ping ratingplan_cost ratingprofile ratingprofile_ids ratingprofile_remove ratingprofile_set
reload_config resources resources_allocate resources_authorize resources_for_event resources_profile
resources_profile_ids resources_profile_remove resources_profile_set resources_release route_profile_ids routes
routes_profile routes_profile_remove routes_profile_set routes_profiles_for_event scheduler_execute
scheduler_queue scheduler_reload session_authorize_event session_force_disconnect session_initiate
session_process_cdr session_process_message session_terminate session_update set_datadb_versions
set_stordb_versions sharedgroup sleep stats_for_event stats_metrics stats_process_event stats_profile
stats_profile_ids stats_profile_remove stats_profile_set stats_reset_queue status stordb_versions threshold
thresholds_for_event thresholds_process_event thresholds_profile thresholds_profile_ids
thresholds_profile_remove thresholds_profile_set triggers triggers_remove triggers_set
""".split()
COST = 'cost Subject="1001" Destination="1002" AnswerTime="*now" Usage="2m10s"'


def refused(line: str) -> str:
    with pytest.raises(UsageError) as err:
        build_call(line, TABLE)
    return str(err.value)


def test_every_cgrates_command_is_here_and_every_command_checks_its_argument():
    assert set(CGRATES_COMMANDS) <= set(TABLE), sorted(set(CGRATES_COMMANDS) - set(TABLE))
    unchecked = sorted(cmd for cmd, (method, _) in TABLE.items() if method not in ARGUMENTS)
    assert unchecked == []


@pytest.mark.parametrize(("command", "method"), [
    ("maxusage", "APIerSv1.GetMaxUsage"), ("datacost", "APIerSv1.GetDataCost"),
    ("load_tp_from_stordb", "APIerSv1.LoadTariffPlanFromStorDb"), ("cost_details", "APIerSv1.GetEventCost"),
    ("ratingplan_cost", "RALsV1.GetRatingPlansCost"), ("debit_max", "Responder.MaxDebit"),
    ("import_tp_from_folder", "APIerSv1.ImportTariffPlanFromFolder"), ("triggers_set", "APIerSv1.SetActionTrigger"),
    ("attributes_profile_set", "APIerSv2.SetAttributeProfile"), ("chargers_profile_remove",
                                                                  "APIerSv1.RemoveChargerProfile"),
    ("thresholds_profile", "APIerSv1.GetThresholdProfile"), ("dispatchers_host_set", "APIerSv1.SetDispatcherHost"),
    ("get_json_section", "ConfigSv1.GetConfig"), ("scheduler_reload", "SchedulerSv1.Reload"),
])
def test_commands_of_the_new_methods_carry_cgrates_names(command, method):
    assert TABLE[command][0] == method


def test_cost_without_arguments_is_an_error_naming_what_it_needs():
    message = refused("cost")
    assert message.startswith("cost needs Subject, Destination, AnswerTime, Usage; usage: cost Subject=")
    assert "[Tenant=...]" in message
    assert refused('cost Subject="1001"').startswith("cost needs Destination, AnswerTime, Usage")
    assert build_call(COST, TABLE) == ("APIerSv1.GetCost", {"Subject": "1001", "Destination": "1002",
                                                            "AnswerTime": "*now", "Usage": "2m10s"})


def test_unknown_keys_are_refused_with_the_closest_known_one():
    assert refused(COST + " Subjct=1001").startswith("cost has no argument Subjct (did you mean Subject?); usage:")
    assert refused("status Foo=1").startswith("status has no argument Foo; usage: status [Debug=...]")
    assert refused("datadb_versions X=1").startswith("datadb_versions takes no arguments (got X)")
    assert refused(COST + ' Usage="3m"') == "cost: Usage is given twice"


def test_keys_match_case_insensitively_and_numbers_fill_text_fields():
    method, arg = build_call('account_set tenant="cgrates.org" account=1001 ExtraOptions={"Disabled":false}', TABLE)
    assert method == "APIerSv2.SetAccount"
    assert arg == {"Tenant": "cgrates.org", "Account": "1001", "ExtraOptions": {"Disabled": False}}
    assert build_call('balance_add Account=1001 BalanceType="*monetary" Value="10" Overwrite="true"', TABLE)[1] == {
        "Account": "1001", "BalanceType": "*monetary", "Value": 10, "Overwrite": True}


@pytest.mark.parametrize(("line", "says"), [
    ('session_initiate InitSession=true Event={"Account":"1001",}', 'Event: malformed JSON \'{"Account":"1001",}\': '
                                                                      "Expecting property name"),
    ('accounts AccountIDs=["1001" "1002"]', "AccountIDs: malformed JSON"),
    ('cache_clear CacheIDs="*destinations"', 'CacheIDs must be a JSON list (for example CacheIDs=["a","b"]), not '
                                              "text ('*destinations')"),
    ('session_initiate Event="1001"', "Event must be a JSON object"),
    ('balance_set Account=1001 BalanceType="*monetary" Value=ten', "Value must be a number (for example Value=10)"),
    ('account_set Account=1001 ReloadScheduler=yes', "ReloadScheduler must be a true/false"),
    ('account_set Account=[1]', "Account must be a text"),
    ('cache_clear CacheIDs=["a"', "unbalanced quotes or brackets"),
])
def test_malformed_and_mistyped_values_are_refused(line, says):
    assert says in refused(line)


def test_lone_values_and_json_documents():
    assert build_call("destination DST_1002", TABLE) == ("APIerSv1.GetDestination", "DST_1002")
    assert build_call('destination ID="DST_1002"', TABLE) == ("APIerSv1.GetDestination", "DST_1002")
    assert build_call("sleep 1s", TABLE) == ("CoreSv1.Sleep", {"Duration": "1s"})
    assert build_call("attributes_profile ATTR_1", TABLE)[1] == {"ID": "ATTR_1"}
    assert build_call('load_tp_from_stordb TPid="TP1" DryRun=true', TABLE)[1] == {"TPid": "TP1", "DryRun": True}
    assert refused("destination").startswith("destination needs ID; usage: destination <ID>")
    assert refused("cost 1001").startswith("cost takes Key=value arguments, not a lone value (1001)")
    assert refused('cost {"Subject":"1001"}').startswith("cost needs Destination, AnswerTime, Usage")
    # ``call`` reaches any method unchecked but for its JSON
    assert build_call('call APIerSv1.GetCost {"Anything":1}', TABLE) == ("APIerSv1.GetCost", {"Anything": 1})
    assert "malformed JSON" in refused("call X.Y Event={a}")


def test_ping_names_a_service_as_cgrates_console_does():
    assert build_call("ping", TABLE) == ("CoreSv1.Ping", {})
    assert build_call("ping attributes", TABLE) == ("AttributeSv1.Ping", {})
    assert build_call("ping RALs", TABLE) == ("RALsV1.Ping", {})
    assert refused("ping nothing").startswith("ping: no service 'nothing' (one of apiers, attributes")
    assert set(PING_SERVICES) >= {"sessions", "cdrs", "chargers", "resources", "stats", "thresholds", "routes"}


def test_parse_runs_in_the_console():
    method, arg = build_call('parse Expression="~*req.Account:s/^1(\\d+)$/+49${1}/" Value="1001"', TABLE)
    assert method == LOCAL_PARSE and parse_locally(arg) == "+49001"
    assert refused("parse").startswith("parse needs Expression")


def test_help_shows_the_usage_line():
    text = help_text(TABLE, "cost")
    assert "usage: cost Subject=... Destination=... AnswerTime=... Usage=... [Tenant=...]" in text
    assert "calls APIerSv1.GetCost" in text
    assert "runs in the console" in help_text(TABLE, "parse")


def test_a_method_without_a_listed_struct_is_sent_as_typed():
    params = Params({"A": "text"}, ("A",))
    assert params.usage("x") == "x A=..."
    assert check_arguments("x", "Nobody.Knows", {"B": 1}) == {"B": 1}
