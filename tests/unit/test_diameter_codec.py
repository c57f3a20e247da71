"""Diameter codec: header, AVPs of every base type, padding, errors, message navigation."""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycgrates.agents.diameter import AVP, DecodeError, Dictionary, EncodeError, Message, ResultCode, load_dictionaries
from pycgrates.agents.diameter.codec import (
    FLAG_ERROR,
    FLAG_PROXIABLE,
    FLAG_REQUEST,
    FLAG_RETRANSMIT,
    decode_avps,
    encode_avp,
    frame_length,
    unsupported_mandatory,
)
from pycgrates.agents.diameter.dictionary import AVPDef

DICT = load_dictionaries()

# one synthetic AVP per base type, plain and vendor-specific
TYPED = Dictionary()
for i, kind in enumerate(["OctetString", "Integer32", "Integer64", "Unsigned32", "Unsigned64", "Float32", "Float64",
                          "Address", "Time", "UTF8String", "DiameterIdentity", "DiameterURI", "Enumerated",
                          "IPFilterRule", "QoSFilterRule", "IPv4"]):
    for vendor in (0, 10415):
        d = AVPDef(f"T-{kind}-{vendor}", 60000 + i, vendor, kind, mandatory=True)
        TYPED.avps[d.key] = d
        TYPED.avps_by_name[d.name] = d
GROUP = AVPDef("T-Grouped", 60100, 0, "Grouped", mandatory=True)
TYPED.avps[GROUP.key] = GROUP
TYPED.avps_by_name[GROUP.name] = GROUP

text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
VALUES = {
    "OctetString": st.binary(max_size=70),
    "Integer32": st.integers(-(2**31), 2**31 - 1),
    "Integer64": st.integers(-(2**63), 2**63 - 1),
    "Unsigned32": st.integers(0, 2**32 - 1),
    "Unsigned64": st.integers(0, 2**64 - 1),
    "Float32": st.floats(width=32, allow_nan=False),
    "Float64": st.floats(allow_nan=False),
    "Address": st.ip_addresses().map(str),
    "Time": st.datetimes(datetime(1968, 1, 21), datetime(2104, 2, 6)).map(
        lambda d: d.replace(microsecond=0, tzinfo=UTC)),
    "UTF8String": text,
    "DiameterIdentity": st.from_regex(r"[a-z0-9.-]{1,40}", fullmatch=True),
    "DiameterURI": st.from_regex(r"aaa://[a-z0-9.]{1,30}:[0-9]{1,5};transport=tcp", fullmatch=True),
    "Enumerated": st.integers(-(2**31), 2**31 - 1),
    "IPFilterRule": text,
    "QoSFilterRule": text,
    "IPv4": st.ip_addresses(v=4).map(str),
}


def _roundtrip(avp: AVP, dictionary: Dictionary) -> AVP:
    wire = encode_avp(avp)
    assert len(wire) % 4 == 0
    (decoded,) = decode_avps(wire, 0, len(wire), dictionary)
    assert encode_avp(decoded) == wire
    return decoded


@pytest.mark.parametrize("kind", sorted(VALUES))
@pytest.mark.parametrize("vendor", [0, 10415])
def test_every_type_round_trips(kind, vendor):
    definition = TYPED.avps_by_name[f"T-{kind}-{vendor}"]

    @settings(max_examples=60, deadline=None)
    @given(VALUES[kind])
    def check(value):
        decoded = _roundtrip(AVP.of(definition, value), TYPED)
        assert decoded.value == value
        assert decoded.vendor_id == vendor and decoded.mandatory

    check()


def _leaf():
    kinds = sorted(VALUES)
    return st.sampled_from(kinds).flatmap(
        lambda k: VALUES[k].map(lambda v, k=k: AVP.of(TYPED.avps_by_name[f"T-{k}-0"], v)))


grouped = st.recursive(_leaf(), lambda children: st.lists(children, max_size=4).map(lambda c: AVP.of(GROUP, c)),
                       max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(grouped)
def test_grouped_round_trips(avp):
    assert _roundtrip(avp, TYPED) == avp


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 255), st.integers(0, 2**24 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
       st.integers(0, 2**32 - 1))
def test_header_round_trips(flags, code, app, hbh, e2e):
    flags &= 0xF0
    if flags & FLAG_REQUEST:
        flags &= ~FLAG_ERROR
    m = Message(code, app, flags, hbh, e2e, [], DICT)
    wire = m.pack()
    assert len(wire) == 20 and wire[0] == 1
    back = Message.parse(wire, DICT)
    assert (back.command_code, back.application_id, back.flags, back.hop_by_hop, back.end_to_end) == \
        (code, app, flags, hbh, e2e)


def test_flags_properties():
    m = Message(272, 4, FLAG_REQUEST | FLAG_PROXIABLE | FLAG_RETRANSMIT, dictionary=DICT)
    assert m.is_request and m.is_proxiable and m.is_retransmit and not m.is_error
    a = m.answer(5012, error=True)
    assert not a.is_request and a.is_proxiable and a.is_error and not a.is_retransmit


def test_padding_and_lengths():
    wire = encode_avp(AVP.of(DICT.avp("Session-Id"), "abcde"))
    code, word = struct.unpack(">II", wire[:8])
    assert code == 263 and word & 0xFFFFFF == 13  # the length excludes the padding
    assert len(wire) == 16 and wire[13:] == b"\x00\x00\x00"
    vendor = encode_avp(AVP.of(DICT.avp("Reporting-Reason"), 2))
    assert struct.unpack(">III", vendor[:12]) == (872, (0xC0 << 24) | 16, 10415)


def test_known_wire_bytes():
    # Service-Context-Id "32251@3gpp.org", as RFC 4006 examples and every PCEF send it
    wire = bytes.fromhex("000001cd40000016333232353140336770702e6f72670000")
    (avp,) = decode_avps(wire, 0, len(wire), DICT)
    assert avp.name == "Service-Context-Id" and avp.value == "32251@3gpp.org" and avp.mandatory
    assert encode_avp(avp) == wire


def test_time_and_address_details():
    ts = AVP.of(DICT.avp("Event-Timestamp"), datetime(2024, 5, 1, 12, 0, tzinfo=UTC))
    assert encode_avp(ts)[8:] == struct.pack(">I", 3923553600)
    after_2036 = datetime(2040, 1, 1, tzinfo=UTC)
    assert _roundtrip(AVP.of(DICT.avp("Event-Timestamp"), after_2036), DICT).value == after_2036
    assert encode_avp(AVP.of(DICT.avp("Host-IP-Address"), "10.0.0.1"))[8:14] == b"\x00\x01\x0a\x00\x00\x01"
    assert _roundtrip(AVP.of(DICT.avp("Host-IP-Address"), "2001:db8::1"), DICT).value == "2001:db8::1"
    e164 = b"\x00\x08" + b"4915112345678"  # another address family is kept whole
    assert _roundtrip(AVP.of(DICT.avp("Host-IP-Address"), e164), DICT).value == e164


def test_unknown_avps_pass_through_byte_for_byte():
    raw = struct.pack(">IIIs3x", 4242, (0xC0 << 24) | 13, 777, b"x")
    (avp,) = decode_avps(raw, 0, len(raw), DICT)
    assert avp.definition is None and avp.vendor_id == 777 and avp.value == b"x"
    assert encode_avp(avp) == raw
    assert unsupported_mandatory([avp]) is avp


def test_unsupported_mandatory_inside_a_group():
    msg = Message(272, 4, dictionary=DICT)
    unknown = AVP(9999, b"?", 0x40)
    msg.add("Multiple-Services-Credit-Control", [msg.new_avp("Rating-Group", 1), unknown])
    assert unsupported_mandatory(msg.avps) is unknown
    unknown.flags = 0
    assert unsupported_mandatory(msg.avps) is None


@pytest.mark.parametrize(("data", "code"), [
    pytest.param(b"\x00\x00\x01\x9f\x40\x00\x00\x0b\x00\x00\x01", ResultCode.INVALID_AVP_LENGTH, id="u32-3-bytes"),
    pytest.param(b"\x00\x00\x01\x07\x40\x00\x00\x0a\xff\xfe\x00\x00", ResultCode.INVALID_AVP_VALUE, id="bad-utf8"),
    pytest.param(b"\x00\x00\x01\x01\x40\x00\x00\x0b\x00\x01\x0a\x00", ResultCode.INVALID_AVP_LENGTH, id="short-ipv4"),
])
def test_invalid_values_raise_on_access_with_failed_avp(data, code):
    (avp,) = decode_avps(data, 0, len(data), DICT)
    with pytest.raises(DecodeError) as err:
        _ = avp.value
    assert err.value.result_code == code
    assert err.value.avp is not None and err.value.avp.code == avp.code


@pytest.mark.parametrize(("data", "code"), [
    pytest.param(b"\x00\x00\x01\x9f\x40\x00\x00\x40\x00\x00\x00\x01", ResultCode.INVALID_AVP_LENGTH, id="past-end"),
    pytest.param(b"\x00\x00\x01\x9f\x40\x00\x00\x04\x00\x00\x00\x01", ResultCode.INVALID_AVP_LENGTH, id="too-short"),
    pytest.param(b"\x00\x00\x01\x9f\xc0\x00\x00\x0a\x00\x00", ResultCode.INVALID_AVP_LENGTH, id="vendor-short"),
    pytest.param(b"\x00\x00\x01", ResultCode.INVALID_MESSAGE_LENGTH, id="stray-bytes"),
])
def test_broken_avp_framing(data, code):
    with pytest.raises(DecodeError) as err:
        decode_avps(data, 0, len(data), DICT)
    assert err.value.result_code == code and not err.value.fatal


def test_message_level_errors():
    with pytest.raises(DecodeError) as err:
        frame_length(b"\x02\x00\x00\x14")
    assert err.value.fatal and err.value.result_code == ResultCode.UNSUPPORTED_VERSION
    with pytest.raises(DecodeError) as err:
        frame_length(b"\x01\x00\x00\x10")
    assert err.value.fatal
    with pytest.raises(DecodeError):
        frame_length(b"\x01\x10\x00\x00", max_length=4096)
    assert frame_length(b"\x01\x00") is None
    good = Message(280, 0, FLAG_REQUEST, 1, 2, [], DICT).pack()
    with pytest.raises(DecodeError) as err:  # length field disagrees with the bytes given
        Message.parse(good + b"\x00\x00\x00\x00", DICT)
    assert err.value.fatal
    bad_bits = bytearray(good)
    bad_bits[4] = FLAG_REQUEST | FLAG_ERROR
    with pytest.raises(DecodeError) as err:
        Message.parse(bytes(bad_bits), DICT)
    assert err.value.result_code == ResultCode.INVALID_HDR_BITS


def test_encode_errors_name_the_avp():
    with pytest.raises(EncodeError, match="CC-Request-Number"):
        encode_avp(AVP.of(DICT.avp("CC-Request-Number"), -1))
    with pytest.raises(EncodeError, match="Host-IP-Address"):
        encode_avp(AVP.of(DICT.avp("Host-IP-Address"), "not-an-ip"))


def test_interop_with_python_diameter_codec():
    """Bytes from an independent encoder decode here, and ours decode there."""
    pytest.importorskip("diameter")
    from diameter.message import Message as PyMessage
    from diameter.message.commands import CreditControlRequest

    ccr = CreditControlRequest()
    ccr.header.hop_by_hop_identifier = 11
    ccr.session_id = "pgw;1;2"
    ccr.origin_host = b"pgw"
    ccr.origin_realm = b"example"
    ccr.destination_realm = b"cgrates.org"
    ccr.auth_application_id = 4
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = 2
    ccr.cc_request_number = 1
    ccr.add_subscription_id(subscription_id_type=0, subscription_id_data="4915112345678")
    ccr.header.application_id = 4
    wire = ccr.as_bytes()
    ours = Message.parse(wire, DICT)
    assert ours.command_name == "CCR" and ours.hop_by_hop == 11
    assert ours.value("Session-Id") == "pgw;1;2" and ours.value("CC-Request-Type") == 2
    assert [a.value for a in ours.avps_by_path(["Subscription-Id", "Subscription-Id-Data"])] == ["4915112345678"]
    assert ours.pack() == wire
    ours.add("Multiple-Services-Credit-Control", [
        ours.new_avp("Used-Service-Unit", [ours.new_avp("CC-Time", 120)]), ours.new_avp("Rating-Group", 100)])
    back = PyMessage.from_bytes(ours.pack())
    assert back.session_id == "pgw;1;2"
    assert back.subscription_id[0].subscription_id_data == "4915112345678"
    assert back.multiple_services_credit_control[0].used_service_unit[0].cc_time == 120
    assert back.multiple_services_credit_control[0].rating_group == 100


# ---- message navigation ----------------------------------------------------------------------------------------
def _ccr() -> Message:
    m = Message(272, 4, FLAG_REQUEST, 1, 1, dictionary=DICT)
    m.add("Session-Id", "s;1")
    for rg, secs in ((1, 10), (2, 20)):
        m.add("Multiple-Services-Credit-Control", [
            m.new_avp("Rating-Group", rg),
            m.new_avp("Used-Service-Unit", [m.new_avp("CC-Time", secs)]),
        ])
    return m


def test_avps_by_path_collects_every_branch():
    m = _ccr()
    times = m.avps_by_path(["Multiple-Services-Credit-Control", "Used-Service-Unit", "CC-Time"])
    assert [a.value for a in times] == [10, 20]
    assert m.avps_by_path(["Multiple-Services-Credit-Control", "Nope"]) == []
    assert m.avps_by_path(["Not-An-AVP"]) == []
    assert m.find("Session-Id").value == "s;1" and m.value("Missing", "dflt") == "dflt"


def test_set_avp_by_path_follows_cgrates():
    m = _ccr()
    # a leaf joins the last existing group on its path
    m.set_avp_by_path(["Multiple-Services-Credit-Control", "Granted-Service-Unit", "CC-Time"], "300")
    last = m.avps_by_path(["Multiple-Services-Credit-Control"])[-1]
    assert [a.name for a in last.value] == ["Rating-Group", "Used-Service-Unit", "Granted-Service-Unit"]
    assert m.avps_by_path(["Multiple-Services-Credit-Control", "Granted-Service-Unit", "CC-Time"])[0].value == 300
    # a top-level AVP is replaced ...
    m.set_avp_by_path(["Result-Code"], 2001)
    m.set_avp_by_path(["Result-Code"], "5030")
    assert [a.value for a in m.avps_by_path(["Result-Code"])] == [5030]
    # ... unless a new branch is asked for
    m.set_avp_by_path(["Result-Code"], 2001, new_branch=True)
    assert [a.value for a in m.avps_by_path(["Result-Code"])] == [5030, 2001]
    m.set_avp_by_path(["Multiple-Services-Credit-Control", "Rating-Group"], 3, new_branch=True)
    assert len(m.avps_by_path(["Multiple-Services-Credit-Control"])) == 3
    with pytest.raises(ValueError, match="Grouped"):
        m.set_avp_by_path(["Multiple-Services-Credit-Control"], 1)
    with pytest.raises(KeyError, match="Nope-AVP"):
        m.set_avp_by_path(["Nope-AVP"], 1)


def test_string_values_are_coerced_by_type():
    m = Message(272, 4, dictionary=DICT)
    assert m.new_avp("CC-Request-Type", "UPDATE_REQUEST").value == 2
    assert m.new_avp("CC-Request-Type", "3").value == 3
    assert m.new_avp("Event-Timestamp", "2024-05-01T12:00:00Z").value == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert m.new_avp("Event-Timestamp", 0).value == datetime(1970, 1, 1, tzinfo=UTC)
    assert m.new_avp("User-Equipment-Info-Value", "abc").value == b"abc"
    assert m.new_avp("Value-Digits", "12.0").value == 12
    with pytest.raises(EncodeError, match="CC-Request-Type"):
        m.new_avp("CC-Request-Type", "SIDEWAYS_REQUEST")
    assert Message.parse(m.pack(), DICT).avps == []


def test_answer_copies_identifiers_and_session():
    req = _ccr()
    req.flags |= FLAG_PROXIABLE
    ans = req.answer(2001, "ocs", "cgrates.org")
    assert (ans.hop_by_hop, ans.end_to_end, ans.command_code, ans.application_id) == (1, 1, 272, 4)
    assert [a.name for a in ans.avps] == ["Session-Id", "Result-Code", "Origin-Host", "Origin-Realm"]
    assert not ans.is_request and ans.is_proxiable and ans.command_name == "CCA"
    assert ans.to_dict()["avps"][0] == {"Session-Id": "s;1"}


def test_time_values_cover_the_ntp_eras():
    d = DICT.avp("Event-Timestamp")
    for value in (datetime(1970, 1, 1, tzinfo=UTC), datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC),
                  datetime(2036, 2, 7, 6, 28, 16, tzinfo=UTC) + timedelta(seconds=1)):
        assert _roundtrip(AVP.of(d, value), DICT).value == value
