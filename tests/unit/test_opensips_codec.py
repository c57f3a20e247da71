"""OpenSIPS's event_datagram events and MI messages, and the acc events as CGREvent fields, without a network."""

from __future__ import annotations

import pytest

from pycgrates.agents.opensips import datagram as D
from pycgrates.agents.opensips.events import EventFieldError, call_fields, check_start, usage_until

# the seed's SM-OpenSIPS example (OpenSIPS 2.x text format)
TEXT_CDR = b"""E_ACC_CDR
method::INVITE
from_tag::2059db25
to_tag::0e481c57
callid::MTlhYmU5MTVkM2FlY2NmOTRjZWIwNzg0ZjNjM2UwYzc.
sip_code::200
sip_reason::OK
time::1405347930
cgr_reqtype::prepaid
cgr_destination::dan
cgr_account::dan
cgr_subject::dan
duration::6
setuptime::2
created::1405347928
a bare value

"""


def test_both_event_formats():
    old = D.decode_event(TEXT_CDR)
    assert old.name == "E_ACC_CDR" and old.get("duration") == "6" and old.values == ("a bare value",)
    new = D.decode_event(b'{"jsonrpc": "2.0", "method": "E_ACC_CDR", "params": {"callid": "c", "duration": 6, '
                         b'"to_tag": null, "ms_duration": 6120}}')
    assert new.fields == {"callid": "c", "duration": "6", "to_tag": "", "ms_duration": "6120"}
    assert D.decode_event(D.encode_event(new)) == new
    assert D.decode_event(b'{"jsonrpc":"2.0","method":"E_OPENSIPS_START"}').fields == {}


@pytest.mark.parametrize("bad", [b"", b"{", b"[]", b'{"method": ""}', b'{"method": "E", "params": [1]}',
                                 b"E_ACC_CDR\ncallid::x", b"\xff\xfe\n\n", b"bad name!\n\n", b"{" * 65_458])
def test_not_events(bad):
    with pytest.raises(D.DatagramError):
        D.decode_event(bad)


def test_mi_messages():
    assert D.mi_request("dlg_list", None, 3) == b'{"jsonrpc":"2.0","method":"dlg_list","id":3}'
    assert b'"params":{"event":"E_ACC_CDR","socket":"udp:127.0.0.1:2020","expire":61}' in D.mi_request(
        "event_subscribe", D.subscribe_params("E_ACC_CDR", "udp:127.0.0.1:2020", 61), 1)
    assert D.mi_reply(b'{"jsonrpc":"2.0","result":"OK","id":7}') == (7, "OK")
    with pytest.raises(D.MIError) as err:
        D.mi_reply(b'{"jsonrpc":"2.0","error":{"code":404,"message":"Dialog not found"},"id":7}')
    assert (err.value.code, err.value.message) == (404, "Dialog not found")
    with pytest.raises(D.MIError, match="500 command failed"):
        D.mi_reply(b"500 command failed")
    dialogs = {"Dialogs": [{"ID": "1:2", "state": 4, "callid": "a"}, {"ID": "1:3", "state": 5, "callid": "b"},
                           {"ID": "1:4", "state": 1, "callid": "c"}, "junk"]}
    assert D.active_callids(dialogs) == ["a", "c"]
    with pytest.raises(D.MIError):
        D.active_callids({"nope": []})


def test_acc_events_as_call_fields():
    invite = D.OpenSIPSEvent("E_ACC_EVENT", {"method": "INVITE", "callid": "c1", "time": "1700000000",
                                             "cgr_reqtype": "*prepaid", "cgr_account": "1001",
                                             "cgr_destination": "1002", "dialog_id": "7:9", "sip_code": "200",
                                             "sip_reason": "OK", "cgr_flags": "*accounts;*stats"})
    fields = call_fields(invite, origin_host="10.0.0.1", default_request_type="*rated", received_at=1700000002.5)
    assert fields == {"OriginID": "c1", "OriginHost": "10.0.0.1", "Source": "OSIPS_E_ACC_EVENT",
                      "RequestType": "*prepaid", "Account": "1001", "Subject": "1001", "Destination": "1002",
                      "SetupTime": "1700000000", "AnswerTime": "1700000002.500", "DisconnectCause": "200",
                      "dialog_id": "7:9", "sip_reason": "OK", "cgr_flags": "*accounts;*stats"}
    check_start(fields)
    with pytest.raises(EventFieldError, match=r"\[Account, Destination\]"):
        check_start({"OriginID": "c"})
    cdr = call_fields(D.decode_event(TEXT_CDR), origin_host="h", default_request_type="*rated", received_at=0)
    assert (cdr["SetupTime"], cdr["AnswerTime"], cdr["Usage"]) == ("1405347928", "1405347930", "6s")
    assert cdr["Subject"] == "dan" and cdr["from_tag"] == "2059db25" and "duration" not in cdr
    missed = call_fields(D.OpenSIPSEvent("E_ACC_MISSED_EVENT", {"callid": "m", "time": "5", "sip_code": "486"}),
                         origin_host="h", default_request_type="*postpaid", received_at=0)
    assert missed["Usage"] == "0s" and "AnswerTime" not in missed and missed["DisconnectCause"] == "486"
    assert usage_until("1700000002", "1700000067") == 65 * 10**9
    assert usage_until("", "1700000067") == 0 and usage_until("x", "1") == 0
