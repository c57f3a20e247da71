"""Every UpdateSession/TerminateSession is a new request, as in CGRateS, even when the CGREvent ID repeats; a client
that may send a call twice names it with APIOpts *idempotencyKey. Over JSON-RPC against a real cgr-engine.

The sequences are those of CGRateS's sessions/sessions_voice_it_test.go (testSessionsVoiceLastUsed) and
sessions/sessions_data_it_test.go (testSessionsDataLastUsedMultipleUpdates), which reuse one event ID for the
Initiate, every Update and the Terminate of a session. Expected balances are worked out from the oldtutorial
tariff plan in the comments.
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from tests.engine_proc import EngineProcess
from tests.integration.test_sessions import balances, set_only_monetary, start_engine

S = 10**9
T = "cgrates.org"

# oldtutorial, Subject 1001 → RP_RETAIL2; 1006 is DST_FS (prefix 10); 2016-01-05 18:31:05 is a Tuesday, PEAK:
# RT_40CNT: connect fee 0.8, 0.4/60s in 30s increments for the first minute, then 0.2/60s in 10s increments.
CONNECT_FEE = Decimal("0.8")
FIRST_30S = Decimal("0.2")  # 0.4 / 60 * 30
NEXT_10S = Decimal("0.03333")  # 0.2 / 60 * 10 = 0.033333…, each increment rounded to 5 decimals


@pytest.fixture
def oldtutorial(tmp_path):
    # as CGRateS's data/conf/samples/sessions_internal: Extra1 of a later event reaches the runs and the CDR
    eng = start_engine(tmp_path, "oldtutorial", {"sessions": {"alterable_fields": ["Extra1"]}})
    yield eng
    eng.kill()


def voice_event(**fields) -> dict:
    ev = {"EventName": "TEST_EVENT", "ToR": "*voice", "OriginID": "12350", "Account": "1001", "Subject": "1001",
          "Destination": "1006", "Category": "call", "Tenant": T, "RequestType": "*prepaid",
          "SetupTime": "2016-01-05T18:30:49Z", "AnswerTime": "2016-01-05T18:31:05Z"}
    ev.update(fields)
    return ev


def money(eng: EngineProcess) -> Decimal:
    return sum(balances(eng, "1001", "*monetary"), Decimal(0))


def test_voice_last_used_chain_with_one_event_id(oldtutorial):
    eng, event_id = oldtutorial, "TestSessionsVoiceLastUsed"
    start = Decimal("8.79")
    set_only_monetary(eng, "1001", float(start))
    init = eng.call("SessionSv1.InitiateSession", {"InitSession": True, "Tenant": T, "ID": event_id,
                                                   "Event": voice_event(Usage="2m")})
    assert init["MaxUsage"] == 120 * S
    # 2m reserved: the connect fee, two 30s increments, six 10s increments
    first_two_minutes = CONNECT_FEE + 2 * FIRST_30S + 6 * NEXT_10S
    assert money(eng) == start - first_two_minutes  # 7.39002

    upd = eng.call("SessionSv1.UpdateSession", {"UpdateSession": True, "Tenant": T, "ID": event_id,
                                                "Event": voice_event(EventName="Update1", Usage="2m",
                                                                     LastUsed="1m30s")})
    assert upd["MaxUsage"] == 120 * S
    # 30s of the 2m reserved were not used: they cover 30s of the next 2m, so 1m30s (nine 10s increments) is debited
    after_update1 = start - first_two_minutes - 9 * NEXT_10S
    assert money(eng) == after_update1  # 7.09005

    upd = eng.call("SessionSv1.UpdateSession", {"UpdateSession": True, "Tenant": T, "ID": event_id,
                                                "Event": voice_event(EventName="Update2", Usage="2m",
                                                                     LastUsed="2m30s")})
    assert upd["MaxUsage"] == 120 * S
    # the same event ID again, a new request: 30s more than reserved was used, so 2m30s (fifteen 10s increments)
    after_update2 = after_update1 - 15 * NEXT_10S
    assert money(eng) == after_update2  # 6.5901

    assert eng.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Tenant": T, "ID": event_id,
                                                    "Event": voice_event(Usage="1m")}) == "OK"
    # the call lasted 1m in all: everything past it is given back
    one_minute = CONNECT_FEE + 2 * FIRST_30S
    assert money(eng) == start - one_minute  # 7.59
    assert eng.call("SessionSv1.ProcessCDR", {"Tenant": T, "ID": event_id, "Event": voice_event(Usage="1m")}) == "OK"
    [cdr] = eng.call("CDRsV1.GetCDRs", {"OriginIDs": ["12350"]})
    assert cdr["Usage"] == 60 * S and Decimal(str(cdr["Cost"])) == one_minute


DATA_ACCOUNT = "TestSessionsDataLastUsedMultipleData"


def data_event(**fields) -> dict:
    ev = {"EventName": "TEST_EVENT", "ToR": "*data", "OriginID": "123492", "Account": DATA_ACCOUNT,
          "Subject": DATA_ACCOUNT, "Destination": "*data", "Category": "data", "Tenant": T,
          "RequestType": "*prepaid", "SetupTime": "2016-01-05T18:30:59Z", "AnswerTime": "2016-01-05T18:31:05Z"}
    ev.update(fields)
    return ev


def data_left(eng: EngineProcess) -> Decimal:
    return sum(balances(eng, DATA_ACCOUNT, "*data"), Decimal(0))


def active_usage(eng: EngineProcess) -> int:
    [s] = eng.call("SessionSv1.GetActiveSessions", {})
    return s["Usage"]


def test_data_session_with_several_updates_of_one_event_id(oldtutorial):
    eng, event_id = oldtutorial, "TestSessionsDataLastUsedMultipleUpdates"
    start = 102400
    eng.call("APIerSv1.SetBalance", {"Tenant": T, "Account": DATA_ACCOUNT, "BalanceType": "*data",
                                     "Value": start, "Balance": {"ID": DATA_ACCOUNT}})

    def update(**fields) -> int:
        return eng.call("SessionSv1.UpdateSession", {"UpdateSession": True, "Tenant": T, "ID": event_id,
                                                     "Event": data_event(**fields)})["MaxUsage"]

    init = eng.call("SessionSv1.InitiateSession", {"InitSession": True, "Tenant": T, "ID": event_id,
                                                   "Event": data_event(Usage="6144")})
    assert init["MaxUsage"] == 6144
    assert data_left(eng) == start - 6144 and active_usage(eng) == 6144
    # 7168 used of 6144 reserved: 1024 over, taken with the next 8192
    assert update(Usage="8192", LastUsed="7168", Extra1="other") == 8192
    assert data_left(eng) == start - 6144 - (1024 + 8192) and active_usage(eng) == 7168 + 8192
    # 5120 used of 8192 reserved: 3072 left over covers the 1024 asked, 2048 stays reserved; nothing debited
    assert update(Usage="1024", LastUsed="5120", Extra1="other2", Extra2="other") == 1024
    assert data_left(eng) == start - 15360 and active_usage(eng) == 7168 + 5120 + 1024
    # no LastUsed: the 1024 comes out of the 2048 still reserved
    assert update(Usage="1024") == 1024
    assert data_left(eng) == start - 15360 and active_usage(eng) == 7168 + 5120 + 1024 + 1024
    term = {"TerminateSession": True, "Tenant": T, "ID": event_id, "Event": data_event(LastUsed="0", Extra1="done")}
    assert eng.call("SessionSv1.TerminateSession", term) == "OK"
    # LastUsed 0: the last 1024 granted was not used; what was used is 7168 + 5120 + 1024 (the Update2 grant),
    # everything debited beyond it (15360 in all) goes back
    used = 7168 + 5120 + 1024
    assert data_left(eng) == start - used  # 89088
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        eng.call("SessionSv1.GetActiveSessions", {})
    assert eng.call("SessionSv1.ProcessCDR", {k: v for k, v in term.items() if k != "TerminateSession"}) == "OK"
    [cdr] = eng.call("CDRsV1.GetCDRs", {"OriginIDs": ["123492"]})
    assert cdr["Usage"] == used and cdr["ExtraFields"]["Extra1"] == "done"


def test_initiate_of_an_active_session_is_refused_unless_the_key_repeats(oldtutorial):
    eng = oldtutorial
    set_only_monetary(eng, "1001", 10)
    ev = voice_event(OriginID="rep1", Destination="1004", Usage="90s")
    keyed = {"InitSession": True, "Tenant": T, "ID": "same", "Event": ev, "APIOpts": {"*idempotencyKey": "init-1"}}
    first = eng.call("SessionSv1.InitiateSession", keyed)
    assert first["MaxUsage"] == 90 * S
    # 90s: the connect fee, two 30s increments, three 10s increments
    after_init = Decimal(10) - (CONNECT_FEE + 2 * FIRST_30S + 3 * NEXT_10S)
    assert money(eng) == after_init
    assert eng.call("SessionSv1.InitiateSession", keyed) == first  # the key repeats: the first answer, no debit
    assert money(eng) == after_init
    with pytest.raises(RuntimeError, match=r"^EXISTS$"):  # CGRateS: the session is active already
        eng.call("SessionSv1.InitiateSession", {**keyed, "APIOpts": {}})
    with pytest.raises(RuntimeError, match=r"^EXISTS$"):
        eng.call("SessionSv1.InitiateSession", {**keyed, "APIOpts": {"*idempotencyKey": "init-2"}})
    assert money(eng) == after_init


def test_repeated_update_and_terminate_with_a_key_charge_once(oldtutorial):
    eng = oldtutorial
    set_only_monetary(eng, "1001", 10)
    ev = voice_event(OriginID="rep2", Destination="1004", Usage="90s")
    eng.call("SessionSv1.InitiateSession", {"InitSession": True, "Tenant": T, "ID": "e", "Event": ev})
    after_init = Decimal(10) - (CONNECT_FEE + 2 * FIRST_30S + 3 * NEXT_10S)
    upd = {"UpdateSession": True, "Tenant": T, "ID": "e", "Event": {**ev, "Usage": "60s", "LastUsed": "90s"},
           "APIOpts": {"*idempotencyKey": "upd-1"}}
    replies: list[dict] = []
    threads = [threading.Thread(target=lambda: replies.append(eng.call("SessionSv1.UpdateSession", upd)))
               for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["MaxUsage"] for r in replies] == [60 * S] * 3
    after_update = after_init - 6 * NEXT_10S  # one update of 60s (six 10s increments), however many copies
    assert money(eng) == after_update
    # the same update with another key is a new request, as in CGRateS: 90s used of the 60s reserved, so 30s
    # over plus the next 60s (nine 10s increments)
    eng.call("SessionSv1.UpdateSession", {**upd, "APIOpts": {"*idempotencyKey": "upd-2"}})
    after_second = after_update - 9 * NEXT_10S
    assert money(eng) == after_second
    term = {"TerminateSession": True, "Tenant": T, "ID": "e", "Event": {**ev, "Usage": "100s"},
            "APIOpts": {"*idempotencyKey": "term-1"}}
    assert eng.call("SessionSv1.TerminateSession", term) == "OK"
    # 100s: the connect fee, two 30s increments, four 10s increments, the total rounded *up to 4 decimals
    settled = Decimal(10) - (CONNECT_FEE + 2 * FIRST_30S + 4 * NEXT_10S).quantize(Decimal("0.0001"), "ROUND_UP")
    assert money(eng) == settled
    assert eng.call("SessionSv1.TerminateSession", term) == "OK"
    assert money(eng) == settled
