"""Our shipped dictionaries against CGRateS's own (../shared/data/diameter/dict, ../shared/data/radius/dict): every
AVP and attribute the reference configs and CGRateS's agent tests use exists in ours with the same code, vendor and
type, so those configs and peers need none of CGRateS's files.

The names the configs use are read from the configs themselves (``*req.``, ``*rep.``, ``*diamreq.`` paths, selector
names included). What CGRateS's Go tests send is listed below, taken from agents/diam_it_test.go,
agents/diam_sy_it_test.go, agents/agents_caps_it_test.go, agents/balance_enq_it_test.go,
general_tests/diam_*_it_test.go, agents/radagent_it_test.go, agents/radius_coa_it_test.go and
general_tests/radius_*_it_test.go. Names the reference files lack are in the dictionaries built into CGRateS's
codecs (go-diameter's RFC 6733/4006 set, radigo's RFC 2865/2866 set): those must exist in ours."""

from __future__ import annotations

import re
from typing import Any

import pytest

from pycgrates.agents.diameter.dictionary import Dictionary as DiameterDictionary
from pycgrates.agents.diameter.dictionary import load_dictionaries
from pycgrates.agents.radius import Dictionary as RadiusDictionary
from pycgrates.agents.radius import load_dictionary
from pycgrates.engine.config import load_config
from tests.conftest import reference_config_dirs, shared_data

#: (code, vendor) of the AVPs CGRateS's Diameter tests build, numbers and go-diameter constants alike
GO_TEST_AVPS = [
    (1, 0), (8, 0), (30, 0), (55, 0), (257, 0), (258, 0), (263, 0), (264, 0), (268, 0), (273, 0), (278, 0),
    (279, 0), (283, 0), (293, 0), (295, 0), (296, 0), (412, 0), (413, 0), (414, 0), (415, 0), (416, 0), (417, 0),
    (420, 0), (421, 0), (425, 0), (429, 0), (430, 0), (431, 0), (432, 0), (433, 0), (434, 0), (435, 0), (436, 0),
    (437, 0), (439, 0), (443, 0), (444, 0), (445, 0), (446, 0), (447, 0), (449, 0), (450, 0), (452, 0), (455, 0),
    (456, 0), (461, 0), (18, 10415), (22, 10415), (831, 10415), (832, 10415), (873, 10415), (874, 10415),
    (886, 10415), (897, 10415), (899, 10415), (1201, 10415), (2000, 10415), (2904, 10415),
    (20300, 2011), (20302, 2011), (20303, 2011), (20313, 2011), (20321, 2011), (20322, 2011), (20324, 2011),
    (20327, 2011), (20336, 2011), (20337, 2011), (20339, 2011), (20385, 2011), (20386, 2011), (20938, 2011),
]
#: attribute names (with the value names used) CGRateS's RADIUS tests send and read
GO_TEST_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "User-Name": (), "User-Password": (), "CHAP-Password": (), "CHAP-Challenge": (), "Service-Type":
    ("SIP-Caller-AVPs", "Sip-Session"), "Called-Station-Id": (), "Acct-Session-Id": (), "Sip-From-Tag": (),
    "Sip-To-Tag": (), "Sip-Method": ("Invite", "Bye"), "Sip-Response-Code": (), "NAS-IP-Address": (),
    "NAS-Identifier": (), "NAS-Port": (), "Event-Timestamp": (), "Acct-Status-Type": ("Start", "Stop"),
    "Acct-Delay-Time": (), "Ascend-User-Acct-Time": (), "Message-Authenticator": (), "Cisco-NAS-Port": (),
    "MS-CHAP-Challenge": (), "MS-CHAP2-Response": (), "MS-CHAP2-Success": (), "SIP-AVP": (), "Reply-Message": (),
}
#: names the reference configs use on purpose for an AVP no dictionary has (diamagent_internal's error tests:
#: wrong_template.json's Granted-Service-Unit.CC-Total must fail the reply)
NOT_AVPS = {"Inexistent", "CC-Total"}
#: paths into a message: the AVP names of ``*req.A.B[~C(x)].D``, filters and values alike
_PATH = re.compile(r"\*(?:req|rep|diamreq)\.([A-Za-z0-9_.\-]+(?:\[[^\]]*\][A-Za-z0-9_.\-]*)*)")
_SELECTOR = re.compile(r"\[~?([A-Za-z][A-Za-z0-9_\-]*)\(")


def names_in(value: Any) -> set[str]:
    """The AVP/attribute names in every path of a config section."""
    if isinstance(value, dict):
        return set().union(*(names_in(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(names_in(v) for v in value)) if value else set()
    if not isinstance(value, str):
        return set()
    found: set[str] = set()
    for match in _PATH.finditer(value):
        path = match.group(1)
        found.update(_SELECTOR.findall(path))
        for part in re.sub(r"\[[^\]]*\]", "", path).split("."):
            if part and not part.startswith("*") and not part.isdigit():
                found.add(part)
    return found


def used_by_samples(section: str) -> dict[str, set[str]]:
    """name → the reference samples whose ``section`` uses it."""
    used: dict[str, set[str]] = {}
    for sample in reference_config_dirs():
        cfg = load_config(shared_data("conf", "samples", *sample.split("/")))
        data = cfg.data.get(section)
        for name in names_in(data):
            used.setdefault(name, set()).add(sample)
    return used


# ---------------------------------------------------------------------------------------------------- Diameter


@pytest.fixture(scope="module")
def diameter() -> tuple[DiameterDictionary, DiameterDictionary]:
    theirs = DiameterDictionary()
    theirs.load_dir(shared_data("diameter", "dict"))
    return theirs, load_dictionaries()


def same_avp(ours: Any, theirs: Any) -> tuple:
    return (ours.code, ours.vendor_id, ours.type), (theirs.code, theirs.vendor_id, theirs.type)


def test_every_avp_the_reference_configs_use_is_ours(diameter):
    theirs, ours = diameter
    used = used_by_samples("diameter_agent")
    assert {"IN-Information", "Real-Called-Number", "Policy-Counter-Status-Report", "SL-Request-Type"} <= set(used)
    for name, samples in sorted(used.items()):
        if name in NOT_AVPS:
            continue
        mine = ours.avp_by_name(name)
        assert mine is not None, f"{name} (used by {sorted(samples)}) is not in the shipped dictionaries"
        reference = theirs.avp_by_name(name)
        if reference is not None:
            mine_t, theirs_t = same_avp(mine, reference)
            assert mine_t == theirs_t, f"{name}: ours {mine_t}, CGRateS's {theirs_t}"


def test_every_avp_cgrates_tests_send_is_ours(diameter):
    theirs, ours = diameter
    for code, vendor in GO_TEST_AVPS:
        mine = ours.find_avp(code, vendor)
        assert mine is not None, f"AVP {code} of vendor {vendor} is not in the shipped dictionaries"
        reference = theirs.find_avp(code, vendor)
        if reference is not None:
            assert mine.name == reference.name.strip()
            assert same_avp(mine, reference)[0] == same_avp(mine, reference)[1], mine.name


def test_the_shipped_vendor_sets(diameter):
    """Each vendor of the issue is served: Huawei, Ericsson, Nokia, Metaswitch, Vodafone, and 3GPP Sy/Gx."""
    _, ours = diameter
    expect = {"IN-Information": (20300, 2011), "Charging-Rule-Authorization": (1055, 193),
              "Session-Start-Indicator": (5105, 94), "Intra-BG-Indicator": (880, 19444),
              "Quota-Holding-Time": (258, 12645), "Rulebase-Id": (262, 12645),
              "Policy-Counter-Identifier": (2901, 10415), "Charging-Rule-Install": (1001, 10415),
              "Logical-Access-Id": (302, 13019), "Sip-From-Tag": (206, 0), "Cisco-AVPair": (1, 9)}
    for name, key in expect.items():
        if name == "Quota-Holding-Time":  # 3GPP's (TS 32.299, 871) keeps the name; Vodafone's decodes by code
            assert ours.avp(name).vendor_id == 10415 and ours.find_avp(*key).name == name
            continue
        assert (ours.avp(name).code, ours.avp(name).vendor_id) == key, name
    assert ours.command(8388635, 16777302).short == "SL"
    assert ours.command(8388636).name == "Spending-Status-Notification"
    assert ours.application("3GPP Sy").vendors == [10415]
    # vendors declared outside their applications: CER advertises what it did before
    assert ours.application(4).vendors == [10415]


# ---------------------------------------------------------------------------------------------------- RADIUS


@pytest.fixture(scope="module")
def radius() -> tuple[RadiusDictionary, RadiusDictionary]:
    return RadiusDictionary().load(shared_data("radius", "dict")), load_dictionary()


def test_every_attribute_the_reference_configs_and_tests_use_is_ours(radius):
    theirs, ours = radius
    used: dict[str, tuple[str, ...]] = dict.fromkeys(used_by_samples("radius_agent"), ())
    used.pop("Microsoft", None)  # *rep.Microsoft.MS-Service-Class: the vendor, not an attribute
    used.update(GO_TEST_ATTRIBUTES)
    assert {"Sip-From-Tag", "Sip-To-Tag", "Ascend-User-Acct-Time", "MS-Service-Class"} <= set(used)
    for name, values in sorted(used.items()):
        mine = ours.get(name)
        assert mine is not None, f"RADIUS attribute {name} is not in the shipped dictionary"
        reference = theirs.get(name)
        if reference is not None:
            assert (mine.oid, mine.type) == (reference.oid, reference.type), name
        for value in values:
            number = mine.values.get(value)
            assert number is not None, f"{name} has no value {value}"
            if reference is not None and value in reference.values:
                assert number == reference.values[value], f"{name} {value}"


def test_the_sip_set_decodes_as_kamailio_sends_it(radius):
    """Kamailio's numbers decode to Kamailio's names (the RFC attributes sharing them still encode by name)."""
    theirs, ours = radius
    for code in (101, 102, 104, 105, 143, 225):
        assert ours.top[code].name.lower() == theirs.top[code].name.lower(), code
    assert ours.attribute("Error-Cause").code == 101 and ours.attribute("EAP-Key-Name").code == 102
