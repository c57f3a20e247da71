"""The HTTP agent's payloads without a listener: XML paths as CGRateS's httpXmlDP reads them, the XML CGRateS's
encoder writes (Go's MarshalIndent byte for byte), form values as Go's FormValue, JSON and text replies."""

from __future__ import annotations

import pytest

from pycgrates.agents.http.payloads import DECODERS, ENCODERS, PayloadError, RequestInput, UrlDataProvider
from pycgrates.agents.http.xmldoc import XmlDataProvider, XmlError, encode_xml, parse_xml
from pycgrates.engine.template.dataprovider import NotFoundError
from pycgrates.engine.template.navmap import Leaf, NavMap

DOC = (b'<?xml version="1.0"?><cdr id="9"><leg n="a"><bytes>10</bytes></leg>'
       b'<leg n="b"><bytes>20</bytes><note>x<i>y</i>z</note></leg></cdr>')


@pytest.mark.parametrize("path, value", [
    (("cdr", "leg", "bytes"), "10"),  # the first match in document order
    (("cdr", "leg[1]", "bytes"), "20"),  # 0-based, as CGRateS (it asks xmlquery for [i+1])
    (("cdr", "leg[@n='b']", "bytes"), "20"),
    (('cdr', 'leg[@n="a"]', "bytes"), "10"),
    (("cdr", "leg[@n]", "bytes"), "10"),
    (("cdr", "leg[1]", "note"), "xyz"),  # every descendant text
    (("cdr", "@id"), "9"),
    (("cdr", "leg[1]", "@n"), "b"),
    (("cdr", "missing"), ""),  # no value and no error, as CGRateS's provider
    (("cdr", "leg[5]", "bytes"), ""),
])
def test_xml_paths(path, value):
    assert XmlDataProvider.parse(DOC).field_as_any(path) == value


def test_xml_bad_selectors_and_documents():
    dp = XmlDataProvider.parse(DOC)
    with pytest.raises(NotFoundError, match="needs to end in"):
        dp.field_as_any(("cdr", "leg[1"))
    with pytest.raises(NotFoundError, match="neither an index"):
        dp.field_as_any(("cdr", "leg[n=a]"))
    with pytest.raises(XmlError, match="not an XML document"):
        parse_xml(b"<a><b></a>")
    for doc in (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>'):
        with pytest.raises(XmlError, match="DOCTYPE"):
            parse_xml(doc)


def leaves(*items: tuple[str, str] | tuple[str, str, bool]) -> list[Leaf]:
    return [Leaf(value, tuple(path.split(".")), *rest) for path, value, *rest in items]


def test_xml_reply_as_go_marshals_it():
    out = encode_xml(leaves(("response.Allow", "1"), ("response.Text", 'a<b & "c"\n'), ("response.Deep.Er", "x"),
                            ("response.Deep.Est", "y"), ("other", "z")))
    assert out == (b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <Allow>1</Allow>\n'
                   b"  <Text>a&lt;b &amp; &#34;c&#34;&#xA;</Text>\n  <Deep>\n    <Er>x</Er>\n    <Est>y</Est>\n"
                   b"  </Deep>\n</response>\n<other>z</other>")
    assert encode_xml([]) == b""


def test_xml_reply_new_branch_starts_new_elements_and_a_path_again_replaces():
    out = encode_xml(leaves(("r.item.id", "1"), ("r.item.id", "2", True), ("r.item.v", "b"), ("r.item.v", "c")))
    assert out == (b'<?xml version="1.0" encoding="UTF-8"?>\n<r>\n  <item>\n    <id>1</id>\n  </item>\n</r>\n'
                   b"<r>\n  <item>\n    <id>2</id>\n    <v>c</v>\n  </item>\n</r>")


def test_url_values_as_form_value_reads_them():
    dp = UrlDataProvider.of("a=1&a=2&b=q&empty=", b"b=body&c=3", "application/x-www-form-urlencoded; charset=utf-8")
    assert [dp.field_as_any((k,)) for k in ("a", "b", "c", "empty", "absent")] == ["1", "body", "3", "", ""]
    assert UrlDataProvider.of("b=q", b"b=body", "text/plain").field_as_any(("b",)) == "q"  # not a form body
    with pytest.raises(NotFoundError):
        dp.field_as_any(("a", "b"))


def test_json_requests():
    dp = DECODERS["*json"](RequestInput("", b'{"a": {"b": [{"c": 7}]}}', "application/json"))
    assert dp.field_as_any(("a", "b[0]", "c")) == 7
    with pytest.raises(NotFoundError):
        dp.field_as_any(("a", "x"))
    for body, error in ((b"{", "no JSON"), (b'"text"', "not an object")):
        with pytest.raises(PayloadError, match=error):
            DECODERS["*json"](RequestInput("", body, "application/json"))


def test_json_and_text_replies():
    rep = NavMap()
    rep.set(("result", "allow"), "1")
    rep.append(("result", "ids"), "a")
    rep.append(("result", "ids"), "b")
    rep.append(("result", "ids"), "b")
    assert ENCODERS["*json"].encode(rep) == b'{"result":{"allow":"1","ids":["a","b","b"]}}'
    assert ENCODERS["*text_plain"].encode(rep) == b"result.allow=1\nresult.ids=a\nresult.ids=b\n"
    assert ENCODERS["*json"].encode(NavMap()) == b"" and ENCODERS["*text"].encode(NavMap()) == b""
