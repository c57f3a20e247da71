"""RSR parsing (constants, paths, back-quotes, search-and-replace, dynamic paths) and every converter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pycgrates.engine.template.converters import converter_names, new_converter, register_converter
from pycgrates.engine.template.dataprovider import MapDataProvider, NotFoundError
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.gocompat import format_go_time, go_round
from pycgrates.engine.template.rsr import RSRFilters, parse_rsr, split_rsr


@pytest.fixture
def dp() -> MapDataProvider:
    return MapDataProvider({"*req": {
        "Account": "1001",
        "Destination": "+4986517174963",
        "Usage": "1m30s",
        "UsageNs": 90_500_000_000,
        "FieldName": "Account",
        "AnswerTime": "2014-07-29T15:00:05Z",
        "IP": "192.168.1.10",
        "From": '"1001" <sip:1001@cgrates.org:5060;transport=udp>',
        "Request": "INVITE sip:1002@192.168.58.203 SIP/2.0",
        "List": ["a", "b", "c"],
    }})


def test_constant_and_path(dp):
    assert parse_rsr("CGRateS.org").parse(dp) == "CGRateS.org"
    assert parse_rsr("~*req.Account").parse(dp) == "1001"
    assert parse_rsr("~").parse(dp) == "~"
    assert parse_rsr("").parse(dp) == ""


def test_concatenation_and_back_quotes(dp):
    assert parse_rsr("~*req.Account;`-`;~*req.Usage").parse(dp) == "1001-1m30s"
    assert parse_rsr("`a;b`").parse(dp) == "a;b"
    assert parse_rsr("pre`;x`;~*req.Account").parse(dp) == "pre;x1001"
    assert split_rsr("a;b;c") == ["a", "b", "c"]
    assert parse_rsr("~*req.Account&`-`", "&").parse(dp) == "1001-"
    with pytest.raises(RSRError):
        parse_rsr("`unclosed")
    with pytest.raises(RSRError):
        parse_rsr("a;;b")


def test_search_and_replace_expands_the_template(dp):
    assert parse_rsr(r"~*req.Account:s/^(\d+)$/+49$1/").parse(dp) == "+491001"
    assert parse_rsr(r"~*req.Destination:s/^\+49(\d+)/0$1/").parse(dp) == "086517174963"
    # Go's expansion keeps only the expanded template; no match leaves the input as it was
    assert parse_rsr(r"~*req.Destination:s/^\+49(\d{3})/$1/").parse(dp) == "865"
    assert parse_rsr(r"~*req.Account:s/^9(\d+)$/$1/").parse(dp) == "1001"
    assert parse_rsr(r"~*req.Account:s/^(\d)(\d+)$/${1}x$2/").parse(dp) == "1x001"
    assert parse_rsr(r"~*req.Account:s/^(\d+)$/$1a/").parse(dp) == ""  # $1a is the group named "1a"
    assert parse_rsr(r"~*req.Account:s/^(\d+)$/$$/").parse(dp) == "$"
    chained = parse_rsr(r"~*req.Destination:s/^\+49(\d+)/0$1/:s/^0(\d+)/00$1/")
    assert chained.parse(dp) == "0086517174963"


def test_dynamic_inner_path(dp):
    assert parse_rsr("~*req.<~*req.FieldName>").parse(dp) == "1001"
    rsr = parse_rsr("~*req.<~*req.FieldName>")
    assert rsr[0].compile_dyn_rule(dp) == "~*req.Account"
    assert rsr[0].read_path(dp) == ("*req", "Account")


def test_missing_field_raises_not_found(dp):
    with pytest.raises(NotFoundError):
        parse_rsr("~*req.Nope").parse(dp)


def test_parse_value_uses_the_given_value_for_paths():
    assert parse_rsr("~*req.X:s/^(\\d+)$/+$1/").parse_value("12") == "+12"
    assert parse_rsr("const{*string2hex}").parse_value("ignored") == "0x636f6e7374"


def test_indexed_paths(dp):
    assert parse_rsr("~*req.List[1]").parse(dp) == "b"
    assert parse_rsr("~*req.List[-1]").parse(dp) == "c"


@pytest.mark.parametrize("rule, expected", [
    ("~*req.Usage{*duration_seconds}", "90"),
    ("~*req.UsageNs{*duration_seconds}", "90.5"),
    ("~*req.Usage{*duration_nanoseconds}", "90000000000"),
    ("~*req.Usage{*duration_minutes}", "1.5"),
    ("~*req.UsageNs{*duration}", "1m30.5s"),
    ("~*req.UsageNs{*duration_seconds&*round}", "91"),
    ("~*req.UsageNs{*duration_seconds&*round:0:*down}", "90"),
    ("~*req.UsageNs{*duration_seconds&*multiply:2}", "181"),
    ("~*req.UsageNs{*duration_seconds&*divide:2}", "45.25"),
    ("~*req.Account{*len}", "4"),
    ("~*req.List{*slice&*len}", "3"),
    ("~*req.Account{*float64}", "1001"),
    ("~*req.Account{*string2hex}", "0x31303031"),
    ("~*req.IP{*ip2hex}", "0xc0a8010a"),
    ("~*req.From{*sipuri_host}", "cgrates.org"),
    ("~*req.From{*sipuri_user}", "1001"),
    ("~*req.Request{*sipuri_method}", "INVITE"),
    ("~*req.AnswerTime{*unixtime}", "1406646005"),
    ("~*req.AnswerTime{*timestring}", "2014-07-29T15:00:05Z"),
    ("~*req.AnswerTime{*timestring:2006-01-02 15:04:05}", "2014-07-29 15:00:05"),
    ("~*req.AnswerTime{*timestring:UTC:02.01.2006}", "29.07.2014"),
    ("~*req.Account{*json}", '"1001"'),
    ("~*req.Account{*strip:*left:1}", "001"),
    ("~*req.Account{*strip:*right:1:-1}", "100"),
    ("~*req.Account{*strip:*left:*any:2}", "01"),
    ("~*req.Account{*strip:*prefix:2}", "01"),
    ("~*req.Account{*strip:*suffix:*char:01:1}", "10"),
    ("~*req.Account{*strip:*suffix:*char:01}", ""),
    ("~*req.Account{*strip:*both:*char:1}", "00"),
    ("a+b%20c{*urldecode}", "a b c"),
    ("a b&c{*urlencode}", "a+b%26c"),
    ("2{*gigawords}", "8589934592"),
    ("4.3.2.1.6.9.4.e164.arpa{*e164}", "4961234"),
    ("4.3.2.1.6.9.4.e164.arpa{*e164Domain}", "e164.arpa"),
    ("3.14159{*round:2}", "3.14"),
    ("3.14159{*round:2:*up}", "3.15"),
])
def test_converters(dp, rule, expected):
    assert parse_rsr(rule).parse(dp) == expected


def test_random_converter_stays_in_range(dp):
    for _ in range(20):
        assert 5 <= int(parse_rsr("x{*random:5:10}").parse(dp)) < 10


def test_converter_errors():
    with pytest.raises(RSRError):
        parse_rsr("~*req.X{*nosuch}")
    with pytest.raises(RSRError):
        parse_rsr("~*req.X{*round")
    with pytest.raises(RSRError):
        parse_rsr("~*req.X{*multiply}")
    with pytest.raises(RSRError):
        parse_rsr("~*req.X{*len:3}")
    with pytest.raises(ValueError):
        parse_rsr("abc{*duration_seconds}").parse(MapDataProvider())


def test_converter_registry_accepts_new_converters(dp):
    register_converter("*upper_case_test", lambda _p: lambda v: str(v).upper())
    assert "*upper_case_test" in converter_names()
    assert parse_rsr("~*req.From{*sipuri_host&*upper_case_test}").parse(dp) == "CGRATES.ORG"
    assert new_converter("*upper_case_test")("a") == "A"


def test_go_round_methods():
    assert go_round(1.005, 2, "*middle") == pytest.approx(1.0, abs=0.011)
    assert go_round(2.5, 0, "*middle") == 3
    assert go_round(2.4, 0, "*up") == 3
    assert go_round(2.6, 0, "*down") == 2


def test_go_time_layouts():
    t = datetime(2014, 7, 29, 15, 4, 5, 120000, tzinfo=UTC)
    assert format_go_time(t, "2006-01-02T15:04:05Z07:00") == "2014-07-29T15:04:05Z"
    assert format_go_time(t, "2006-01-02T15:04:05.000Z07:00") == "2014-07-29T15:04:05.120Z"
    assert format_go_time(t, "2006-01-02 15:04:05.999") == "2014-07-29 15:04:05.12"
    assert format_go_time(t, "Mon Jan _2 03:04PM -0700") == "Tue Jul 29 03:04PM +0000"
    assert format_go_time(t, "January 2, 2006") == "July 29, 2014"


def test_rsr_filters():
    flt = RSRFilters.parse(["^10", "!^2"])
    assert flt.passes("1001")
    assert flt.passes("3001")  # "!^2" passes
    assert not RSRFilters.parse(["^10"]).passes("2001")
    assert RSRFilters.parse(["^10", "01$"]).passes("1001", all_must_match=True)
    assert RSRFilters.parse([""]).passes("anything")


def test_rsr_filters_as_cgrates_reads_them():
    # ~ marks a Go regexp; everything else is literal text (the oldtutorial's FLTR_1 has ~^1.*1$ on the Subject)
    assert RSRFilters.parse(["~^1.*1$"]).passes("1001")
    assert not RSRFilters.parse(["~^1.*1$"]).passes("1002")
    assert RSRFilters.parse(["^1.5"]).passes("1.55") and not RSRFilters.parse(["^1.5"]).passes("125")
    assert RSRFilters.parse(["^1001$"]).passes("1001") and not RSRFilters.parse(["^1001$"]).passes("10011")
    assert RSRFilters.parse(["1$"]).passes("2001") and not RSRFilters.parse(["1$"]).passes("2010")
    assert RSRFilters.parse(["00"]).passes("1001") and not RSRFilters.parse(["00"]).passes("1010")
    assert RSRFilters.parse([">=10"]).passes("10") and not RSRFilters.parse([">=10"]).passes("9")
    assert RSRFilters.parse([">10"]).passes("10.5") and not RSRFilters.parse([">10"]).passes("10")
    assert RSRFilters.parse(["<1m"]).passes("59s") and not RSRFilters.parse(["<=1m"]).passes("61s")
    assert not RSRFilters.parse([">10"]).passes("abc")  # not comparable
    assert not RSRFilters.parse(["!~^10"]).passes("1001") and RSRFilters.parse(["!~^10"]).passes("2001")
    assert not RSRFilters.parse(["!"]).passes("x")
