"""Diameter XML dictionaries: the shipped ones, the CGRateS reference set, both XML shapes, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pycgrates.agents.diameter import Dictionary, DictionaryError, Message, identity_from_config, load_dictionaries
from pycgrates.agents.diameter.dictionary import SHIPPED_DIR
from tests.conftest import shared_data

SHIPPED = load_dictionaries()

# Where the shipped type follows the specification and the CGRateS reference dictionaries differ.
TYPE_DIFFERENCES = {
    "3GPP-SGSN-Address": ("OctetString", "IPv4"),            # TS 29.061: OctetString holding the address bytes
    "Application-Service-Provider-Identity": ("UTF8String", "OctetString"),  # TS 29.214 §5.3.29
    "Type-Number": ("Enumerated", "UTF8String"),             # TS 32.299 §7.2.226
    "Digest-AKA-Auts": ("OctetString", "UTF8String"),        # RFC 4740 §9.5.16
}
#: (code, vendor) ours, theirs, where the reference numbers an AVP otherwise than the party that sends it
CODE_DIFFERENCES = {
    "Cisco-AVPair": ((1, 9), (231, 9)),  # OpenSIPS aaa_diameter registers it as Cisco's RADIUS VSA number, 1
}


def test_shipped_dictionaries_cover_the_specifications():
    files = sorted(p.name for p in SHIPPED_DIR.glob("*.xml"))
    assert files == ["3gpp_ts29061.xml", "3gpp_ts29212.xml", "3gpp_ts29219.xml", "3gpp_ts32299.xml", "base.xml",
                     "credit_control.xml", "ericsson.xml", "huawei.xml", "metaswitch.xml", "nokia.xml",
                     "rfc7155_nasreq.xml", "sip_proxies.xml", "vodafone.xml"]
    assert len(SHIPPED.avps) > 500
    expect = {
        "Session-Id": (263, 0, "UTF8String", True), "Origin-Host": (264, 0, "DiameterIdentity", True),
        "Failed-AVP": (279, 0, "Grouped", True), "Host-IP-Address": (257, 0, "Address", True),
        "Product-Name": (269, 0, "UTF8String", False), "Event-Timestamp": (55, 0, "Time", True),
        "CC-Request-Type": (416, 0, "Enumerated", True), "Multiple-Services-Credit-Control": (456, 0, "Grouped", True),
        "Used-Service-Unit": (446, 0, "Grouped", True), "CC-Time": (420, 0, "Unsigned32", True),
        "Value-Digits": (447, 0, "Integer64", True), "Subscription-Id-Data": (444, 0, "UTF8String", True),
        "Service-Information": (873, 10415, "Grouped", True), "PS-Information": (874, 10415, "Grouped", True),
        "IMS-Information": (876, 10415, "Grouped", True), "SMS-Information": (2000, 10415, "Grouped", True),
        "MMS-Information": (877, 10415, "Grouped", True), "Reporting-Reason": (872, 10415, "Enumerated", True),
        "3GPP-IMSI-MCC-MNC": (8, 10415, "UTF8String", True),
        "3GPP-User-Location-Info": (22, 10415, "OctetString", True),
        "QoS-Information": (1016, 10415, "Grouped", True), "QoS-Class-Identifier": (1028, 10415, "Enumerated", True),
        "Restriction-Filter-Rule": (438, 0, "IPFilterRule", True), "Redirect-Host": (292, 0, "DiameterURI", True),
    }
    for name, (code, vendor, kind, mandatory) in expect.items():
        d = SHIPPED.avp(name)
        assert (d.code, d.vendor_id, d.type, d.mandatory) == (code, vendor, kind, mandatory), name
    assert SHIPPED.avp("CC-Request-Type").enum[2] == "UPDATE_REQUEST"
    cer = SHIPPED.command(257)
    assert cer.short == "CE" and any(r.avp == "Origin-Host" and r.required for r in cer.request)
    assert SHIPPED.command(272, 4).name == "Credit-Control"
    assert SHIPPED.command(272, 16777238).application_id == 16777238
    assert SHIPPED.application("Diameter Credit Control").id == 4
    assert SHIPPED.application(3).type == "acct"
    assert 10415 in SHIPPED.application(4).vendors


def test_reference_dictionaries_load_unmodified():
    root = shared_data("diameter", "dict")
    d = Dictionary()
    d.load_dir(root)
    assert len(d.sources) == len(list(Path(root).rglob("*.xml")))
    assert d.command(8388635).short == "SL"                       # sy
    assert d.avp("Intra-BG-Indicator").vendor_id == 19444          # metaswitch
    assert d.vendors[2011] == "Huawei"
    # and on top of ours, as diameter_agent.dictionaries_path does
    both = load_dictionaries(root)
    assert both.avp("Session-Id").code == 263 and both.avp("Intra-BG-Indicator").code == 880


def test_shipped_names_agree_with_the_reference_where_they_overlap():
    ref = Dictionary()
    ref.load_dir(shared_data("diameter", "dict"))
    overlap = 0
    for name, ours in SHIPPED.avps_by_name.items():
        theirs = ref.avps_by_name.get(name)
        if theirs is None:
            continue
        overlap += 1
        if name in CODE_DIFFERENCES:
            assert ((ours.code, ours.vendor_id), (theirs.code, theirs.vendor_id)) == CODE_DIFFERENCES[name]
            continue
        assert (ours.code, ours.vendor_id) == (theirs.code, theirs.vendor_id), name
        if name in TYPE_DIFFERENCES:
            assert (ours.type, theirs.type) == TYPE_DIFFERENCES[name]
        else:
            assert ours.type == theirs.type, name
    assert overlap > 300
    # names the reference spells differently still resolve (case-insensitive fallback)
    for spelled in ("Message-Id", "Applic-Id", "SM-Protocol-Id", "PDN-Connection-Charging-Id",
                    "3GPP-GPRS-Negotiated-QoS-profile"):
        assert SHIPPED.avp(spelled).vendor_id == 10415


def test_other_vendor_reusing_a_standard_name_keeps_the_standard_one():
    d = load_dictionaries()
    d.load_xml("""<diameter><application id="4"><vendor id="12645" name="Vodafone"/>
      <avp name="Reporting-Reason" code="261" must="V" vendor-id="12645"><data type="Enumerated"/></avp>
    </application></diameter>""")
    assert d.avp("Reporting-Reason").vendor_id == 10415
    assert d.find_avp(261, 12645).name == "Reporting-Reason"  # still decodes by code


def test_later_definition_of_the_same_avp_wins():
    d = load_dictionaries()
    d.load_xml("""<diameter><application id="4">
      <avp name="3GPP-SGSN-Address" code="6" must="V,M" vendor-id="10415"><data type="IPv4"/></avp>
    </application></diameter>""")
    assert d.avp("3GPP-SGSN-Address").type == "IPv4"
    msg = Message(272, 4, dictionary=d)
    assert msg.new_avp("3GPP-SGSN-Address", "192.0.2.1").encode()[12:] == bytes([192, 0, 2, 1])


def test_wireshark_freediameter_style_constructs():
    d = Dictionary()
    d.load_xml("""<diameter>
      <typedefn type-name="OctetString"/>
      <typedefn type-name="UTF8String" type-parent="OctetString"/>
      <typedefn type-name="MyIdentity" type-parent="DiameterIdentity"/>
      <typedefn type-name="AppId" type-parent="Unsigned32"/>
      <vendor vendor-id="TGPP" code="10415" name="3GPP"/>
      <base uri="https://www.rfc-editor.org/rfc/rfc6733">
        <command name="Device-Watchdog" code="280"/>
        <avp name="Origin-Host" code="264" mandatory="must" may-encrypt="no"><type type-name="MyIdentity"/></avp>
        <avp name="Auth-Application-Id" code="258" mandatory="must"><type type-name="AppId"/></avp>
      </base>
      <application id="4" name="Credit-Control">
        <avp name="Subscription-Id" code="443" mandatory="must">
          <grouped><gavp name="Subscription-Id-Type"/><gavp name="Subscription-Id-Data"/></grouped>
        </avp>
        <avp name="Subscription-Id-Type" code="450" mandatory="must"><type type-name="Enumerated"/>
          <enum name="END_USER_E164" code="0"/><enum name="END_USER_IMSI" code="1"/></avp>
        <avp name="Reporting-Reason" code="872" vendor-bit="must" vendor-id="TGPP"><type type-name="Enumerated"/></avp>
      </application>
    </diameter>""")
    assert d.avp("Origin-Host").type == "DiameterIdentity" and d.avp("Origin-Host").mandatory
    assert d.avp("Auth-Application-Id").type == "Unsigned32"
    assert d.avp("Subscription-Id").type == "Grouped"
    assert [r.avp for r in d.avp("Subscription-Id").rules] == ["Subscription-Id-Type", "Subscription-Id-Data"]
    assert d.avp("Subscription-Id-Type").enum == {0: "END_USER_E164", 1: "END_USER_IMSI"}
    assert d.avp("Reporting-Reason").vendor_id == 10415 and d.avp("Reporting-Reason").flags & 0x80
    assert d.command(280).short == "DW"
    assert d.application(4).name == "Credit-Control"


@pytest.mark.parametrize(("xml", "match"), [
    ("<diameter><application id='4'><avp name='X'><data type='Unsigned32'/></avp></application></diameter>",
     'no code of AVP "X"'),
    ("<diameter><application id='4'><avp name='X' code='1'><data type='Bogus'/></avp></application></diameter>",
     'unknown data type "Bogus"'),
    ("<diameter><application id='4'><avp name='X' code='1' vendor-id='ACME'/></application></diameter>",
     'vendor-id "ACME"'),
    ("<diameter><application id='four'/></diameter>", "application id 'four' is not a number"),
    ("<dictionary/>", "expected <diameter>"),
    ("<diameter><avp", "not well-formed"),
])
def test_errors_name_the_file_and_element(xml, match):
    with pytest.raises(DictionaryError, match=match) as err:
        Dictionary().load_xml(xml, "custom.xml")
    assert "custom.xml" in str(err.value)


def test_missing_dictionaries_path_is_reported(tmp_path):
    with pytest.raises(DictionaryError, match="does not exist"):
        load_dictionaries(tmp_path / "nope")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "extra.xml").write_text(
        "<diameter><application id='4'><avp name='My-AVP' code='99001' must='M'>"
        "<data type='UTF8String'/></avp></application></diameter>")
    assert load_dictionaries(tmp_path).avp("My-AVP").code == 99001  # found recursively


def test_unknown_avp_name_is_a_clear_error():
    with pytest.raises(KeyError, match="No-Such-AVP"):
        SHIPPED.avp("No-Such-AVP")


def test_ce_applications_from_names_and_ids():
    ident = identity_from_config("da", "cgrates.org", 0, "CGRateS", ["Diameter Credit Control", 3, "3GPP Gx"],
                                 SHIPPED)
    assert ident.auth_application_ids == [4]
    assert ident.acct_application_ids == [3]
    assert ident.vendor_specific_applications == [(10415, 16777238, "auth")]
    assert ident.supported_vendor_ids == [10415]
    with pytest.raises(ValueError, match="ce_applications"):
        identity_from_config("da", "r", 0, "p", ["No Such App"], SHIPPED)
