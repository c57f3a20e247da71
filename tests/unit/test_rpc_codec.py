"""The JSON-RPC stream codec on bytes alone."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pycgrates.engine.rpc.codec import (
    FramingError,
    InvalidMessage,
    Request,
    Response,
    StreamDecoder,
    classify,
    dumps,
    encode_request,
    encode_response,
    loads,
)

REQ = b'{"method":"CoreSv1.Ping","params":[{"a":"x}\\"{["}],"id":1}'


def test_back_to_back_objects_without_newlines():
    assert StreamDecoder().feed(REQ + REQ + b"\n" + REQ) == [orjson.loads(REQ)] * 3


def test_byte_by_byte_feeding_finds_every_message():
    dec, out = StreamDecoder(), []
    for b in REQ + b"  \r\n" + REQ:
        out += dec.feed(bytes([b]))
    assert out == [orjson.loads(REQ)] * 2
    assert dec.buffered == 0


def test_pretty_printed_multiline_request():
    pretty = b'{\n "method": "A.B",\n "params": [\n  {"k": [1, 2]}\n ],\n "id": 7\n}\n'
    assert StreamDecoder().feed(pretty) == [{"method": "A.B", "params": [{"k": [1, 2]}], "id": 7}]


def test_escaped_backslash_at_chunk_boundary():
    msg = b'{"method":"A.B","params":["c:\\\\dir\\\\"],"id":1}'
    dec = StreamDecoder()
    cut = msg.index(b"\\\\") + 1  # split between the two bytes of an escape
    assert dec.feed(msg[:cut]) == []
    assert dec.feed(msg[cut:]) == [orjson.loads(msg)]


@pytest.mark.parametrize("bad", [b"hello\n", b'{"a":}\n', b'{"a":1]}', b"123\n"])
def test_malformed_input_is_a_framing_error(bad):
    with pytest.raises(FramingError):
        StreamDecoder().feed(bad)


def test_oversized_message_is_refused_before_it_completes():
    dec = StreamDecoder(max_message=1000)
    with pytest.raises(FramingError, match="larger than 1000"):
        dec.feed(b'{"method":"A.B","params":["' + b"x" * 2000)


def test_classify_requests_and_responses():
    assert classify({"method": "A.B", "params": [5], "id": 3}) == Request("A.B", 5, 3)
    assert classify({"id": 3, "result": "OK", "error": None}) == Response(3, "OK", None)
    with pytest.raises(InvalidMessage, match="params must be a list"):
        classify({"method": "A.B", "params": {}, "id": 1})
    with pytest.raises(InvalidMessage, match="ill-formed"):
        classify({"method": "NoDot", "params": [], "id": 1})
    with pytest.raises(InvalidMessage):
        classify({"id": 1})


def test_encoding_matches_go_net_rpc_shape():
    assert orjson.loads(encode_request("CoreSv1.Ping", {}, 9)) == {"method": "CoreSv1.Ping", "params": [{}], "id": 9}
    assert orjson.loads(encode_response(9, None, "NOT_FOUND")) == {"id": 9, "result": None, "error": "NOT_FOUND"}
    assert encode_response(9, "Pong").endswith(b"\n")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=12))
def test_random_bytes_give_values_or_a_clean_framing_error(chunks):
    dec = StreamDecoder(max_message=4096)
    try:
        for c in chunks:
            for v in dec.feed(c):
                assert isinstance(v, dict | list)
    except FramingError:
        pass


_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.one_of(_INT64, st.text(max_size=8)), max_size=4),
                min_size=1, max_size=5), st.integers(min_value=1, max_value=17))
def test_any_split_of_valid_messages_round_trips(objs, step):
    data = b"".join(orjson.dumps({"method": "A.B", "params": [o], "id": i}) for i, o in enumerate(objs))
    dec, out = StreamDecoder(), []
    for i in range(0, len(data), step):
        out += dec.feed(data[i : i + step])
    assert [m["params"][0] for m in out] == objs


@pytest.mark.parametrize(("value", "go"), [
    (0.00001, b"0.00001"), (1.5e-05, b"0.000015"), (1e-06, b"0.000001"), (1e-07, b"1e-7"), (1e16, b"10000000000000000"),
    (1e20, b"100000000000000000000"), (1e21, b"1e+21"), (-2.5e-08, b"-2.5e-8"), (0.1, b"0.1"),
])
def test_floats_are_written_as_go_writes_them(value, go):
    # Go's encoding/json: 'f' format for 1e-6 <= |x| < 1e21, else 'e' with the exponent's leading zero dropped
    assert dumps({"Cost": value}) == b'{"Cost":' + go + b"}"


def test_text_that_looks_like_a_number_is_left_alone():
    assert loads(dumps({"a": "1e+16", "b": 'q"1e+16', "c": 1e16})) == {"a": "1e+16", "b": 'q"1e+16', "c": 1e16}


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_every_float_round_trips_and_is_positional_in_gos_range(value):
    out = dumps([value])
    assert [float(v) for v in loads(out)] == [value]  # Go writes integral values without ".0"
    if value == 0 or 1e-6 <= abs(value) < 1e21:
        assert b"e" not in out
