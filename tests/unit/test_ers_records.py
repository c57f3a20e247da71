"""Record decoders of the event readers: CSV (header names, row length, comments, quotes), fixed width, XML, JSON."""

from __future__ import annotations

import pytest

from pycgrates.engine.ers.records import FWVRecord, csv_records, fwv_lines, json_record, message_record, xml_records
from pycgrates.engine.template.dataprovider import NotFoundError


def test_csv_records_numbers_lines_and_bad_rows():
    text = ["# a comment\n", "a,b,c\n", "d,e\n", '"f,1",g,h\n', "\n", "i,j,k\n"]
    recs = list(csv_records(text))
    assert [(r.number, r.line, r.error != "") for r in recs] == [(1, 2, False), (2, 3, True), (3, 4, False),
                                                                 (4, 6, False)]
    assert recs[1].raw == "d,e\n" and "have 2, want 3" in recs[1].error
    assert recs[2].data.field_as_any(("0",)) == "f,1"
    with pytest.raises(NotFoundError):
        recs[0].data.field_as_any(("3",))


def test_csv_header_names_columns_and_any_row_length():
    recs = list(csv_records([":OriginID;Usage\n", "x1;10\n", "x2;20;extra\n"], separator=";", row_length=-1))
    assert [r.data.field_as_any(("Usage",)) for r in recs] == ["10", "20"]
    assert recs[1].data.field_as_any(("2",)) == "extra"


def test_csv_strict_quotes_make_a_malformed_record():
    recs = list(csv_records(['a,"b"x,c\n', "d,e,f\n"], lazy_quotes=False))
    assert recs[0].error.startswith("CSV:") and recs[1].data.field_as_any(("2",)) == "f"


def test_fixed_width_header_trailer_and_ranges():
    head, tail, recs = fwv_lines(["HDR01\n", "abcdefghij\n", "\n", "0123456789\n", "TRL02\n"], header=True,
                                 trailer=True)
    assert (head, tail) == ("HDR01", "TRL02")
    assert [r.data.field_as_any(("2-5",)) for r in recs] == ["cde", "234"]
    assert FWVRecord("abc").field_as_any(("1",)) == "bc"
    with pytest.raises(NotFoundError):
        recs[0].data.field_as_any(("5-20",))


def test_xml_records_at_root_path_with_index_and_attribute():
    doc = ('<cdrs><cdr id="1"><leg>a</leg><leg>b</leg></cdr><cdr id="2"><leg>c</leg></cdr><other/></cdrs>')
    recs = xml_records(doc, "cdrs.cdr")
    assert len(recs) == 2
    assert recs[0].data.field_as_any(("cdrs", "cdr", "leg[1]")) == "b"
    assert recs[1].data.field_as_any(("cdrs", "cdr", "@id")) == "2"
    whole = xml_records(doc, "")
    assert whole[0].data.field_as_any(("cdrs", "cdr[1]", "leg")) == "c"
    assert xml_records("<broken", "a")[0].error.startswith("XML:")


def test_json_records():
    assert json_record('{"a": {"b": 1}}').data.field_as_any(("a", "b")) == 1
    assert "expecting an object" in json_record("[1]").error
    assert message_record(b"{bad", 7).number == 7
