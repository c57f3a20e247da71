"""Field templates: compiling, the ordered navigable map, every field type, the Diameter selector grammar."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pycgrates.engine.filters.rules import FilterError
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.template.dataprovider import Duration, MapDataProvider, NotFoundError
from pycgrates.engine.template.fields import (
    FieldError,
    NavMap,
    NestedAVPs,
    SelectorDataProvider,
    TemplateContext,
    TemplateError,
    compile_fields,
    compile_named_templates,
    compile_template,
    evaluate,
    navigate_reply,
    set_field,
    set_fields,
)

WHERE = "diameter_agent request processor <P1> request_fields"


def ctx(req: dict | None = None, **sources) -> TemplateContext:
    data = {"*req": MapDataProvider(req or {}), "*vars": {}, "*cgreq": NavMap(), "*cgrep": {}, "*rep": NavMap(),
            "*opts": {}, "*tmp": {}}
    data.update(sources)
    return TemplateContext(data, tenant="cgrates.org")


async def run(fields: list[dict], req: dict | None = None, **sources) -> TemplateContext:
    c = ctx(req, **sources)
    await set_fields(c, compile_fields(fields, where=WHERE))
    return c


# ---------------------------------------------------------------------------------------------------- compiling


@pytest.mark.parametrize(("field", "needle"), [
    ({"tag": "Category", "path": "*cgreq.Category", "type": "*contant", "value": "x"}, "unsupported type <*contant>"),
    ({"tag": "OriginID", "path": "OriginID", "type": "*variable", "value": "~*req.X"}, "must start with a prefix"),
    ({"tag": "NoPath", "type": "*constant", "value": "1"}, "MANDATORY_IE_MISSING: [Path]"),
    ({"tag": "BadRule", "path": "*cgreq.A", "value": "~*req.A:s/(/x/"}, "Search&Replace"),
    ({"tag": "BadConv", "path": "*cgreq.A", "value": "~*req.A{*nosuch}"}, "unsupported converter"),
    ({"tag": "BadFilter", "path": "*cgreq.A", "value": "1", "filters": ["*nosuch:~*req.A:1"]}, "filter"),
    ({"tag": "Arity", "path": "*cgreq.A", "type": "*cc_usage", "value": "~*req.A;~*req.B"}, "needs 3 values"),
    ({"tag": "Strip", "path": "*cgreq.A", "value": "1", "width": 3, "strip": "*middle"}, "strip <*middle>"),
    ({"tag": "Width", "path": "*cgreq.A", "value": "1", "width": "wide"}, "width must be an integer"),
    ({"tag": "Tz", "path": "*cgreq.A", "value": "1", "timezone": "Mars/Olympus"}, "unknown timezone"),
    ({"tag": "RemoveAll", "path": "*cgreq.A", "type": "*removeall"}, "bare prefix"),
])
def test_wrong_fields_are_config_errors_naming_where_and_field(field: dict, needle: str) -> None:
    with pytest.raises(TemplateError) as err:
        compile_template(field, where=WHERE)
    text = str(err.value)
    assert text.startswith(f"{WHERE}: field <{field['tag']}>"), text
    assert needle in text, text


def test_prefixes_limit_where_fields_write() -> None:
    with pytest.raises(TemplateError, match=r"unsupported field prefix <\*cdr>"):
        compile_template({"tag": "X", "path": "*cdr.X", "value": "1"}, where=WHERE, prefixes={"*cgreq"})
    assert compile_template({"tag": "X", "path": "*cdr.X", "value": "1"}, where=WHERE).prefix == "*cdr"


def test_template_fields_expand_named_templates_in_place() -> None:
    named = compile_named_templates({
        "*hdr": [{"tag": "A", "path": "*rep.A", "type": "*constant", "value": "1"}],
        "*cca": [{"tag": "Hdr", "type": "*template", "value": "*hdr"},
                 {"tag": "B", "path": "*rep.B", "type": "*constant", "value": "2"}],
    })
    fields = compile_fields([{"tag": "T", "type": "*template", "value": "*cca"},
                             {"tag": "C", "path": "*rep.C", "value": "3", "type": "*constant"}],
                            where=WHERE, templates=named)
    assert [f.tag for f in fields] == ["A", "B", "C"]
    with pytest.raises(TemplateError, match=r"field <T>: no template with id <\*nosuch>"):
        compile_fields([{"tag": "T", "type": "*template", "value": "*nosuch"}], where=WHERE, templates=named)


def test_named_templates_that_include_themselves_are_errors() -> None:
    with pytest.raises(TemplateError, match="includes itself"):
        compile_named_templates({"*a": [{"type": "*template", "value": "*b"}],
                                 "*b": [{"type": "*template", "value": "*a"}]})


def test_constant_values_are_computed_once() -> None:
    tpl = compile_template({"tag": "T", "path": "*cgreq.ToR", "type": "*constant", "value": "*voice"}, where=WHERE)
    assert tpl.const == "*voice"


# ---------------------------------------------------------------------------------------------------- NavMap


def test_navmap_set_append_compose_and_order() -> None:
    nm = NavMap()
    nm.set(("A",), "1")
    nm.append(("G", "X"), "x1")
    nm.append(("G", "X"), "x2", new_branch=True)
    nm.compose(("C",), "ab")
    nm.compose(("C",), "cd")
    nm.set(("A",), "2")  # replaced: moves to the end, as CGRateS re-links it
    assert [(leaf.path, leaf.value, leaf.new_branch) for leaf in nm.leaves()] == [
        (("G", "X"), "x1", False), (("G", "X"), "x2", True), (("C",), "abcd", False), (("A",), "2", False)]
    assert nm.field_as_any(("G", "X")) == "x2"
    assert nm.field_as_any(("G", "X[0]")) == "x1"
    assert nm.to_dict() == {"A": "2", "G": {"X": ["x1", "x2"]}, "C": "abcd"}
    with pytest.raises(NotFoundError):
        nm.field_as_any(("G", "Y"))


def test_navmap_indexes_address_groups() -> None:
    nm = NavMap()
    nm.set(("Answer", "A"), "1.1.1.1")
    nm.set(("Answer[1]", "A"), "2.2.2.2")  # index == length appends a second group
    nm.set(("Answer[0]", "A"), "3.3.3.3")  # replaces inside the first group
    assert nm.to_dict() == {"Answer": [{"A": "3.3.3.3"}, {"A": "2.2.2.2"}]}
    assert nm.field_as_any(("Answer[1]", "A")) == "2.2.2.2"
    nm.remove(("Answer[0]",))
    assert nm.to_dict() == {"Answer": {"A": "2.2.2.2"}}
    assert [leaf.value for leaf in nm.leaves()] == ["2.2.2.2"]
    with pytest.raises(ValueError, match="holds a value"):
        nm.set(("Answer", "A", "Deeper"), "x")


def test_navmap_as_event_keeps_the_first_value_per_path() -> None:
    nm = NavMap()
    nm.set(("Account",), "1001")
    nm.append(("Multi",), "a")
    nm.append(("Multi",), "b")
    nm.set(("Nested", "Field"), "v")
    assert nm.as_event() == {"Account": "1001", "Multi": "a", "Nested.Field": "v"}


def test_set_field_writes_navmaps_and_dicts() -> None:
    nm = NavMap()
    set_field(nm, "Multiple-Services-Credit-Control.Rating-Group", "1", new_branch=True)
    set_field(nm, "Multiple-Services-Credit-Control.Rating-Group", "2", new_branch=True, mode="append")
    assert [(leaf.value, leaf.new_branch) for leaf in nm.leaves()] == [("1", True), ("2", True)]
    d: dict = {}
    set_field(d, "A.B", "x")
    set_field(d, "A.B", "y", mode="compose")
    assert d == {"A": {"B": "xy"}}


def test_navigate_reply_knows_length_and_raw() -> None:
    rep = {"RouteProfiles": [{"Routes": [{"RouteID": "r1"}, {"RouteID": "r2"}]}],
           "Attributes": {"*raw": {"SipURI": "sip:a"}}, "MaxUsage": {"*default": Duration(5)}}
    assert navigate_reply(rep, ("RouteProfiles", "Length")) == 1
    assert navigate_reply(rep, ("RouteProfiles[0]", "Routes", "Length")) == 2
    assert navigate_reply(rep, ("RouteProfiles[*raw][0]", "Routes[1]", "RouteID")) == "r2"
    assert navigate_reply(rep, ("Attributes[*raw]", "SipURI")) == "sip:a"
    assert navigate_reply(rep, ("MaxUsage[*raw]",)) == Duration(5)


# ---------------------------------------------------------------------------------------------------- field types


async def test_value_types_and_rsr_rules() -> None:
    req = {"Account": "1001", "Number": "00491234", "Start": "2024-01-01T10:00:00Z", "End": "2024-01-01T10:01:30Z",
           "Name": "Account", "A": "3", "B": "4.5", "Req": "3", "Used": "20s", "Itvl": "10s", "Mant": "12",
           "Exp": "-1", "Unix": "1704103200"}
    c = await run([
        {"tag": "Const", "path": "*cgreq.Const", "type": "*constant", "value": "*voice"},
        {"tag": "Var", "path": "*cgreq.Var", "type": "*variable", "value": "~*req.Number:s/^00(\\d+)$/+${1}/"},
        {"tag": "Comp", "path": "*cgreq.Comp", "type": "*composed", "value": "~*req.Account;`;`;x"},
        {"tag": "Comp", "path": "*cgreq.Comp", "type": "*composed", "value": "-end"},
        {"tag": "Dyn", "path": "*cgreq.Dyn", "type": "*variable", "value": "~*req.<~*req.Name>"},
        {"tag": "DynPath", "path": "*cgreq.<~*req.Name>Copy", "type": "*variable", "value": "~*req.Account"},
        {"tag": "Conv", "path": "*cgreq.Conv", "type": "*variable", "value": "~*req.Used{*duration_seconds}"},
        {"tag": "UDiff", "path": "*cgreq.UDiff", "type": "*usage_difference", "value": "~*req.End;~*req.Start"},
        {"tag": "CC", "path": "*cgreq.CC", "type": "*cc_usage", "value": "~*req.Req;~*req.Used;~*req.Itvl"},
        {"tag": "Sum", "path": "*cgreq.Sum", "type": "*sum", "value": "~*req.A;~*req.A;1"},
        {"tag": "Diff", "path": "*cgreq.Diff", "type": "*difference", "value": "~*req.B;1"},
        {"tag": "Mul", "path": "*cgreq.Mul", "type": "*multiply", "value": "~*req.A;~*req.A"},
        {"tag": "Div", "path": "*cgreq.Div", "type": "*divide", "value": "7;2"},
        {"tag": "DurSum", "path": "*cgreq.DurSum", "type": "*sum", "value": "~*req.Used;~*req.Itvl"},
        {"tag": "Exp", "path": "*cgreq.Exp", "type": "*value_exponent", "value": "~*req.Mant;~*req.Exp"},
        {"tag": "Unix", "path": "*cgreq.Unix", "type": "*unix_timestamp", "value": "~*req.Start"},
        {"tag": "Dt", "path": "*cgreq.Dt", "type": "*datetime", "value": "~*req.Unix", "layout": "2006-01-02 15:04",
         "timezone": "Europe/Berlin"},
        {"tag": "DtDefault", "path": "*cgreq.DtDefault", "type": "*datetime", "value": "~*req.Start"},
        {"tag": "Missing", "path": "*cgreq.Missing", "type": "*variable", "value": "~*req.Nope"},
        {"tag": "None", "path": "*cgreq.None", "type": "*none"},
    ], req)
    ev = c.sources["*cgreq"].as_event()
    assert ev["Const"] == "*voice"
    assert ev["Var"] == "+491234"
    assert ev["Comp"] == "1001;x-end"
    assert ev["Dyn"] == "1001" and ev["AccountCopy"] == "1001"
    assert ev["Conv"] == "20"
    assert ev["UDiff"] == "1m30s"
    assert ev["CC"] == Duration(40_000_000_000)
    assert ev["Sum"] == 7 and ev["Diff"] == 3.5 and ev["Mul"] == 9 and ev["Div"] == 3
    assert ev["DurSum"] == Duration(30_000_000_000) and str(ev["DurSum"]) == "30s"
    assert ev["Exp"] == "1.2"
    assert ev["Unix"] == str(int(datetime(2024, 1, 1, 10, tzinfo=UTC).timestamp()))
    assert ev["Dt"] == "2024-01-01 11:00"  # a unix time shown in the field's timezone
    assert ev["DtDefault"] == "2024-01-01T10:00:00Z"
    assert "Missing" not in ev and "None" not in ev


async def test_width_strip_padding_and_filler() -> None:
    c = await run([
        {"tag": "R", "path": "*rep.R", "type": "*constant", "value": "abcdef", "width": 4, "strip": "*right"},
        {"tag": "XR", "path": "*rep.XR", "type": "*constant", "value": "abcdef", "width": 4, "strip": "*xright"},
        {"tag": "L", "path": "*rep.L", "type": "*constant", "value": "abcdef", "width": 4, "strip": "*left"},
        {"tag": "XL", "path": "*rep.XL", "type": "*constant", "value": "abcdef", "width": 4, "strip": "*xleft"},
        {"tag": "PR", "path": "*rep.PR", "type": "*constant", "value": "ab", "width": 4, "padding": "*right"},
        {"tag": "PL", "path": "*rep.PL", "type": "*constant", "value": "ab", "width": 4, "padding": "*left"},
        {"tag": "PZ", "path": "*rep.PZ", "type": "*constant", "value": "12", "width": 4, "padding": "*zeroleft"},
        {"tag": "F", "path": "*rep.F", "type": "*filler", "value": "x", "width": 3},
    ])
    assert c.sources["*rep"].to_dict() == {"R": "abcd", "XR": "abcx", "L": "cdef", "XL": "xdef", "PR": "ab  ",
                                           "PL": "  ab", "PZ": "0012", "F": "x  "}
    with pytest.raises(FieldError, match="longer than the width"):
        await run([{"tag": "W", "path": "*rep.W", "type": "*constant", "value": "abc", "width": 2}])


async def test_rounding_decimals_and_cost_shift_digits() -> None:
    c = await run([
        {"tag": "Cost", "path": "*rep.Cost", "type": "*variable", "value": "~*req.Cost", "cost_shift_digits": 2,
         "rounding_decimals": 0},
        {"tag": "Rnd", "path": "*rep.Rnd", "type": "*variable", "value": "~*req.Cost", "rounding_decimals": 2},
        {"tag": "Exp", "path": "*rep.Exp", "type": "*value_exponent", "value": "1.23456;1", "rounding_decimals": 1},
    ], {"Cost": "1.23456"})
    assert c.sources["*rep"].to_dict() == {"Cost": "123", "Rnd": "1.23", "Exp": "12.3"}


async def test_mandatory_fields_name_the_tag() -> None:
    with pytest.raises(RPCError, match=r"^MANDATORY_IE_MISSING: \[Account\]$"):
        await run([{"tag": "Account", "path": "*cgreq.Account", "value": "~*req.Account", "mandatory": True}])
    with pytest.raises(RPCError, match=r"^MANDATORY_IE_MISSING: \[Empty\]$"):
        await run([{"tag": "Empty", "path": "*cgreq.E", "value": "~*req.E", "mandatory": True}], {"E": ""})


async def test_filters_blockers_remove_and_removeall() -> None:
    c = await run([
        {"tag": "A", "path": "*rep.A", "type": "*constant", "value": "1"},
        {"tag": "B", "path": "*rep.B", "type": "*constant", "value": "2"},
        {"tag": "DropA", "path": "*rep.A", "type": "*remove"},
        {"tag": "Skipped", "path": "*rep.C", "type": "*constant", "value": "3", "filters": ["*string:~*req.X:no"]},
        {"tag": "Err", "path": "*rep.Err", "type": "*constant", "value": "5030", "blocker": True,
         "filters": ["*notempty:~*cgrep.Error:"]},
        {"tag": "After", "path": "*rep.After", "type": "*constant", "value": "x"},
    ], {"X": "yes"}, **{"*cgrep": {"Error": "INSUFFICIENT_CREDIT"}})
    assert c.sources["*rep"].to_dict() == {"B": "2", "Err": "5030"}
    c = await run([
        {"tag": "A", "path": "*rep.A", "type": "*constant", "value": "1"},
        {"tag": "Clear", "path": "*rep", "type": "*removeall"},
        {"tag": "V", "path": "*vars.Seen", "type": "*constant", "value": "yes"},
        {"tag": "T", "path": "*tmp.Scratch", "type": "*constant", "value": "t"},
        {"tag": "FromTmp", "path": "*rep.T", "type": "*variable", "value": "~*tmp.Scratch"},
    ])
    assert c.sources["*rep"].to_dict() == {"T": "t"}
    assert c.sources["*vars"] == {"Seen": "yes"}


async def test_unknown_prefix_at_run_time_is_a_field_error() -> None:
    with pytest.raises(FieldError, match=r"unsupported field prefix: <\*cdr>"):
        await run([{"tag": "X", "path": "*cdr.X", "type": "*constant", "value": "1"}])


def test_evaluate_reads_any_dataprovider() -> None:
    tpl = compile_template({"tag": "U", "path": "*cgreq.Usage", "value": "~*req.Usage{*duration}"}, where=WHERE)
    assert evaluate(tpl, MapDataProvider({"*req": {"Usage": "90000000000"}})) == "1m30s"


# ---------------------------------------------------------------------------------------------------- selectors

CCR = {
    "Session-Id": "s1",
    "Subscription-Id": [{"Subscription-Id-Type": 0, "Subscription-Id-Data": "4986517174963"},
                        {"Subscription-Id-Type": 1, "Subscription-Id-Data": "1001"}],
    "Multiple-Services-Credit-Control": [
        {"Rating-Group": 10, "Used-Service-Unit": {"CC-Time": 100, "CC-Input-Octets": 7}},
        {"Rating-Group": 1, "Used-Service-Unit": {"CC-Time": 200, "CC-Input-Octets": 8}},
        {"Rating-Group": 2, "Used-Service-Unit": {"CC-Time": 300, "CC-Input-Octets": 9}},
    ],
}


@pytest.mark.parametrize(("path", "want"), [
    ("Session-Id", "s1"),
    ("Subscription-Id.Subscription-Id-Data", "4986517174963"),
    ("Subscription-Id.Subscription-Id-Data[1]", "1001"),
    ("Subscription-Id.Subscription-Id-Data[~Subscription-Id-Type(1)]", "1001"),
    ("Subscription-Id.Subscription-Id-Data[~Subscription-Id-Type(0)]", "4986517174963"),
    ("Multiple-Services-Credit-Control.Rating-Group[1]", 1),
    ("Multiple-Services-Credit-Control.Used-Service-Unit.CC-Time[~Rating-Group(1)]", 200),  # not 10's
    ("Multiple-Services-Credit-Control.Used-Service-Unit.CC-Time[~Rating-Group(2)]", 300),
    ("Multiple-Services-Credit-Control.Used-Service-Unit.CC-Time[~Rating-Group(^1\\d$)]", 100),
    ("Multiple-Services-Credit-Control.Used-Service-Unit.CC-Time[~Rating-Group(!10)|~Rating-Group(!1)]", 300),
])
def test_selectors(path: str, want: object) -> None:
    dp = SelectorDataProvider(NestedAVPs(CCR))
    assert dp.field_as_any(tuple(path.split("."))) == want


@pytest.mark.parametrize("path", [
    "Multiple-Services-Credit-Control.Used-Service-Unit.CC-Time[~Rating-Group(7)]",
    "Multiple-Services-Credit-Control.Used-Service-Unit.CC-Time[~No-Such(1)]",
    "Subscription-Id.Subscription-Id-Data[5]",
    "Nope",
])
def test_selectors_that_select_nothing_are_not_found(path: str) -> None:
    with pytest.raises(NotFoundError):
        SelectorDataProvider(NestedAVPs(CCR)).field_as_any(tuple(path.split(".")))


async def test_selectors_through_rsr_values_and_filters() -> None:
    c = ctx(**{"*req": SelectorDataProvider(NestedAVPs(CCR))})
    await set_fields(c, compile_fields([
        {"tag": "Account", "path": "*cgreq.Account", "type": "*variable",
         "value": "~*req.Subscription-Id.Subscription-Id-Data[~Subscription-Id-Type(1)]", "mandatory": True},
        {"tag": "LastUsed", "path": "*cgreq.LastUsed", "type": "*sum",
         "filters": ["*string:~*req.Multiple-Services-Credit-Control.Rating-Group[2]:2"],
         "value": "~*req.Multiple-Services-Credit-Control.Used-Service-Unit.CC-Input-Octets[~Rating-Group(2)];"
                  "~*req.Multiple-Services-Credit-Control.Used-Service-Unit.CC-Time[~Rating-Group(2)]"},
    ], where=WHERE))
    assert c.sources["*cgreq"].as_event() == {"Account": "1001", "LastUsed": 309}


def test_malformed_selectors_are_config_errors() -> None:
    with pytest.raises(TemplateError, match=r"field <Acc>: .*selector <~Subscription-Id-Type> is not ~Name\(value\)"):
        compile_template({"tag": "Acc", "path": "*cgreq.Account",
                          "value": "~*req.Subscription-Id.Subscription-Id-Data[~Subscription-Id-Type]"}, where=WHERE)


async def test_filters_needing_filters_are_refused_without_it() -> None:
    with pytest.raises(FilterError, match="need FilterS"):
        await run([{"tag": "D", "path": "*rep.D", "value": "1", "filters": ["FLTR_STORED"]}])
