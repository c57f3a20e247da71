"""FreeRADIUS-format dictionaries: our shipped tree, the FreeRADIUS 3.2 tree, the reference vendor files."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pycgrates.agents.radius import Dictionary, DictionaryError, Packet, load_client_dictionaries, load_dictionary
from pycgrates.agents.radius.dictionary import SHIPPED_DIR
from tests.conftest import IN_CI, shared_data

FREERADIUS_DIR = Path("/usr/share/freeradius")


def freeradius_dir() -> Path:
    if not (FREERADIUS_DIR / "dictionary").is_file():
        msg = "FreeRADIUS dictionaries are absent (Debian package freeradius-common)"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    return FREERADIUS_DIR


@pytest.fixture(scope="module")
def shipped():
    return load_dictionary()


def test_shipped_dictionary_has_the_rfc_attributes(shipped):
    expect = {
        "User-Name": ("1", "string"), "User-Password": ("2", "string"), "Vendor-Specific": ("26", "vsa"),
        "Acct-Status-Type": ("40", "integer"), "Event-Timestamp": ("55", "date"),
        "Tunnel-Password": ("69", "string"), "EAP-Message": ("79", "octets"),
        "Message-Authenticator": ("80", "octets"), "Framed-IPv6-Prefix": ("97", "ipv6prefix"),
        "Error-Cause": ("101", "integer"), "Framed-IPv6-Address": ("168", "ipv6addr"),
        "MS-CHAP2-Response": ("26.311.25", "octets"), "MS-CHAP2-Success": ("26.311.26", "octets"),
        "Cisco-AVPair": ("26.9.1", "string"), "WiMAX-Release": ("26.24757.1.1", "string"),
        "ADSL-Agent-Circuit-Id": ("26.3561.1", "octets"), "Extended-Vendor-Specific-5": ("245.26", "evs"),
    }
    for name, (oid, type_) in expect.items():
        a = shipped.attribute(name)
        assert (a.oid, a.type) == (oid, type_), name
    assert shipped.attribute("User-Password").encrypt == 1
    assert shipped.attribute("Tunnel-Password").encrypt == 2 and shipped.attribute("Tunnel-Password").has_tag
    assert shipped.attribute("MS-MPPE-Send-Key").encrypt == 2
    assert shipped.attribute("EAP-Message").concat
    assert shipped.attribute("Acct-Status-Type").values["Interim-Update"] == 3
    assert shipped.attribute("Acct-Status-Type").value_names[3] == "Interim-Update"
    assert shipped.attribute("Error-Cause").values["Session-Context-Not-Found"] == 503
    assert shipped.vendor("WiMAX").continuation and shipped.vendor(24757).name == "WiMAX"


def test_names_are_case_insensitive(shipped):
    assert shipped.attribute("user-name") is shipped.attribute("User-Name")
    assert "ACCT-SESSION-ID" in shipped
    with pytest.raises(KeyError, match=r"No-Such.*client_dictionaries"):
        shipped.attribute("No-Such")


def test_shipped_names_match_freeradius():
    """Templates refer to attributes by name: ours must be FreeRADIUS's names, numbers and types. The SIP proxy
    set (dictionary.sip) is Kamailio's numbering, which FreeRADIUS keeps out of its tree; tests/compat checks it
    against Kamailio's dictionary."""
    fr = Dictionary().load(freeradius_dir())
    main = (SHIPPED_DIR / "dictionary").read_text()
    assert "$INCLUDE dictionary.sip" in main
    ours = Dictionary().load_text(main.replace("$INCLUDE dictionary.sip", ""), "rfc and vendor files", SHIPPED_DIR)
    rfc_only = {"MS-ARAP-Challenge"}  # RFC 2548 §2.2.? defines it; FreeRADIUS leaves it commented out
    for name in ours.names():
        if name in rfc_only:
            continue
        a, b = ours.attribute(name), fr.get(name)
        assert b is not None, f"{name} is not a FreeRADIUS name"
        assert (b.name, b.oid, b.type, b.encrypt, b.has_tag) == (a.name, a.oid, a.type, a.encrypt, a.has_tag), name
        for value_name, number in a.values.items():
            assert b.values.get(value_name) == number, f"{name} {value_name}"


def test_freeradius_full_tree_loads():
    d = Dictionary().load(freeradius_dir())
    assert len(d.names()) > 5000 and len(d.vendors) > 150
    assert d.attribute("WiMAX-Source-IPAddress").oid == "26.24757.28.11.5.1"
    assert d.attribute("IP-Port-Type").oid == "241.5.1"
    assert d.attribute("Frag-Status").oid == "241.1"
    assert d.vendor("USR").type_size == 4 and d.vendor("USR").length_size == 0
    # FreeRADIUS's internal attributes (numbers above 255) have names but no wire form.
    assert d.attribute("Cleartext-Password").virtual


def test_reference_vendor_dictionaries_load_on_top():
    folder = shared_data("radius", "dict")
    d = load_dictionary(folder)
    assert d.attribute("Sip-From-Tag").oid == "105"
    assert d.attribute("Ascend-User-Acct-Time").type == "integer"
    assert d.attribute("MS-CHAP-Response").size == 50
    # Kamailio reuses numbers our RFC files define: the last definition decodes, both names encode.
    assert d.top[101].name == "Sip-Method"
    assert d.attribute("Error-Cause").code == 101
    assert d.attribute("Acct-Status-Type").values["Alive"] == 3
    assert d.attribute("Sip-URI-User") is d.attribute("Sip-Uri-User")
    p = Packet("Accounting-Request", dictionary=d, secret="x")
    p.add("Sip-From-Tag", "ft")
    p.add("Sip-Method", "Invite")
    back = Packet.decode(p.encode(), d, "x")
    assert back.text("Sip-From-Tag") == "ft" and back.text("Sip-Method") == "Invite"


def test_folder_without_main_file_loads_every_file(tmp_path):
    (tmp_path / "dictionary.b").write_text("ATTRIBUTE B-Attr 201 integer\nVALUE A-Attr X 1\n")
    (tmp_path / "dictionary.a").write_text("ATTRIBUTE A-Attr 200 integer\n")
    (tmp_path / ".hidden").write_text("garbage\n")
    d = Dictionary().load(tmp_path)
    assert d.attribute("A-Attr").values == {"X": 1, "x": 1}
    assert d.attribute("B-Attr").code == 201


def test_include_begin_tlv_vendor_formats(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "dictionary.v").write_text(
        "VENDOR Acme 555 format=2,1\n"
        "BEGIN-VENDOR Acme\n"
        "ATTRIBUTE Acme-Tree 1000 tlv\n"
        "BEGIN-TLV Acme-Tree\n"
        "ATTRIBUTE Acme-Leaf 1 string\n"
        "ATTRIBUTE Acme-Branch 2 tlv\n"
        "END-TLV Acme-Tree\n"
        "ATTRIBUTE Acme-Deep 1000.2.7 ipaddr\n"
        "ATTRIBUTE Acme-Old 3 integer Acme\n"
        "END-VENDOR Acme\n")
    (tmp_path / "dictionary").write_text(
        "$INCLUDE sub/dictionary.v\n"
        "$INCLUDE- does-not-exist\n"
        "ATTRIBUTE Top-Tagged 222 string has_tag,encrypt=2 # a comment\n"
        "ATTRIBUTE Fixed 223 octets[4]\n")
    d = Dictionary().load(tmp_path)
    assert d.attribute("Acme-Leaf").oid == "26.555.1000.1"
    assert d.attribute("Acme-Deep").oid == "26.555.1000.2.7"
    assert d.attribute("Acme-Old").vendor == 555
    assert d.attribute("Top-Tagged").has_tag and d.attribute("Top-Tagged").encrypt == 2
    assert d.attribute("Fixed").size == 4
    p = Packet(1, dictionary=d, secret="s")
    p.add("Acme-Leaf", "leaf")
    p.add("Acme-Deep", "9.9.9.9")
    back = Packet.decode(p.encode(), d, "s")
    assert back.text("Acme-Leaf") == "leaf" and back.text("Acme-Deep") == "9.9.9.9"


@pytest.mark.parametrize("text, message", [
    ("ATTRIBUTE X 1 floaty", "unknown type 'floaty'"),
    ("ATTRIBUTE X 1", "needs a name, a number and a type"),
    ("ATTRIBUTE X one integer", "'one' is not a number"),
    ("ATTRIBUTE X 1 integer weird_flag", "unknown flag 'weird_flag'"),
    ("ATTRIBUTE X 7.1 integer", "parent 7 is not a defined tlv"),
    ("BEGIN-VENDOR Nobody", "not defined"),
    ("END-VENDOR X", "without BEGIN-VENDOR"),
    ("VENDOR V 9 format=3,1", "format=3,1"),
    ("BEGIN-TLV Nothing", "no tlv attribute"),
    ("VALUE Service-Type Foo bar", "'bar' is not a number"),
    ("FROBNICATE x", "unknown keyword 'FROBNICATE'"),
    ("$INCLUDE missing-file", "cannot read"),
])
def test_errors_name_file_and_line(text, message):
    with pytest.raises(DictionaryError, match=message) as exc:
        load_dictionary().load_text("# first line\n" + text + "\n", "my.dict", base_dir=Path("/nonexistent"))
    assert "my.dict:2" in str(exc.value)


def test_value_for_an_undefined_attribute_is_dropped_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING, "pycgrates.agents.radius"):
        d = Dictionary().load_text("VALUE Missing-Attr Foo 1\n", "x.dict")
    assert "Missing-Attr" in caplog.text and "x.dict:1" in caplog.text
    assert "Missing-Attr" not in d


def test_client_dictionaries_from_config(tmp_path):
    (tmp_path / "dictionary.extra").write_text("ATTRIBUTE Only-For-Client 230 string\n")
    table = load_client_dictionaries({"10.0.0.1": [str(tmp_path)], "10.0.0.2": [str(tmp_path)]})
    assert "Only-For-Client" in table["10.0.0.1"]
    assert table["10.0.0.1"] is table["10.0.0.2"]
    assert "Only-For-Client" not in table["*default"] and "User-Name" in table["*default"]
    with pytest.raises(DictionaryError, match=r"client_dictionaries\['\*default'\].*does not exist"):
        load_client_dictionaries({"*default": ["/no/such/folder"]})


def test_shipped_dir_is_the_repo_folder():
    assert (SHIPPED_DIR / "dictionary").is_file()
    assert (SHIPPED_DIR / "dictionary.rfc2865").is_file()
