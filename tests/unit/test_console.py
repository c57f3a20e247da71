"""cgr-console's command syntax (CGRateS's Key="value" pairs) on strings alone."""

from __future__ import annotations

import pytest

from pycgrates.engine.cli.console import UsageError, all_commands, build_call, help_text, split_pairs

TABLE = all_commands()


def test_key_value_pairs_are_json_when_json_and_strings_otherwise():
    # through ``call``: the named commands check their keys (tests/unit/test_console_arguments.py)
    method, arg = build_call('call APIerSv1.GetCost Tenant="cgrates.org" Usage="2m10s" Units=10 Ok=true Name=plain',
                             TABLE)
    assert method == "APIerSv1.GetCost"
    assert arg == {"Tenant": "cgrates.org", "Usage": "2m10s", "Units": 10, "Ok": True, "Name": "plain"}


def test_values_with_spaces_inside_brackets_and_quotes_stay_whole():
    assert split_pairs('x A=["a b", "c"] B={"k": "v w"} C="d e"') == ["x", 'A=["a b", "c"]', 'B={"k": "v w"}',
                                                                      'C="d e"']
    with pytest.raises(UsageError, match="unbalanced"):
        split_pairs('x A=["a"')


def test_tokens_from_the_shell_are_used_as_they_are():
    method, arg = build_call(["call", "APIerSv1.SetAccount", '{"Tenant": "cgrates.org", "Account": "1"}'], TABLE)
    assert method == "APIerSv1.SetAccount" and arg == {"Tenant": "cgrates.org", "Account": "1"}


def test_bare_argument_and_errors():
    assert build_call("destination DST_1002", TABLE) == ("APIerSv1.GetDestination", "DST_1002")
    with pytest.raises(UsageError, match="unknown command"):
        build_call("nosuch A=1", TABLE)
    with pytest.raises(UsageError, match="not Key=value"):
        build_call("cost A=1 loose", TABLE)


def test_tables_of_other_parts_are_merged_and_help_lists_them():
    assert TABLE["accounts"][0].startswith("APIerSv2.GetAccounts")
    assert TABLE["session_initiate"][0] == "SessionSv1.InitiateSession"
    assert "calls SessionSv1.GetActiveSessions" in help_text(TABLE, "active_sessions")
    assert "status" in help_text(TABLE)
