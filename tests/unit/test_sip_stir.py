"""The SIP agent's STIR failure table (SessionS's reasons → RFC 8224 answers) and its reading of
retransmission_timer, without a listener."""

from __future__ import annotations

import pytest

from pycgrates.agents.sip.agent import sip_timers
from pycgrates.agents.sip.codec import parse_message
from pycgrates.agents.sip.stir import IdentityRejected
from pycgrates.engine.template.fields import TemplateError

PREFIX = "*stir_authenticate: "


@pytest.mark.parametrize("reason, status", [
    ("missing parts of the message header", 438),
    ("wrong header format", 438),
    ("wrong header: the ppt parameter is missing (;ppt=shaken)", 438),
    ("illegal base64 data at input byte 12", 438),
    ("crypto/ecdsa: verification error", 438),
    ("wrong attest level", 438),
    ("wrong originatorTn", 438),
    ("wrong destinationURI", 438),
    ("expired payload", 403),
    ("empty x5u", 436),
    ("open /certs/gone.pem: no such file or directory", 436),
    ("x5u https://cr.example/a.pem: no answer within 2s (sessions.stir x5u_timeout)", 436),
    ("x5u ftp://cr.example/a.pem: only http and https URLs or local paths are supported", 436),
    ("http status error: 404", 436),
    ("Key is not a valid ECDSA public key", 437),
    ("Invalid Key: Key must be PEM encoded PKCS1 or PKCS8 private key", 437),
    ("certificate chain: issuer CN=x is not a CA", 437),
    ("certificate CN=x expired at 2020-01-01", 437),
    ("TNAuthList: originator TN 1001 is not authorized by the certificate (spc 1)", 437),
])
def test_sessions_reasons_map_to_rfc_8224(reason, status):
    rejected = IdentityRejected.of(PREFIX + reason)
    assert rejected.status == status and rejected.message == PREFIX + reason
    assert rejected.reason == {403: "Stale Date", 436: "Bad Identity Info", 437: "Unsupported Credential",
                               438: "Invalid Identity Header"}[status]


def test_the_response_says_why():
    invite = parse_message(b"INVITE sip:1002@b SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK-1\r\nFrom: <sip:1001@a>;"
                           b"tag=1\r\nTo: <sip:1002@b>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\r\n")
    response = IdentityRejected.of(PREFIX + 'wrong header: "x"').response(invite)
    assert response.start_line() == "SIP/2.0 438 Invalid Identity Header" and response.to_tag
    assert response.headers.get("Warning") == "399 - \"*stir_authenticate: wrong header: 'x'\""
    assert IdentityRejected.missing().status == 428


@pytest.mark.parametrize("raw, t1, t2", [("1s", 1.0, 4.0), ("100ms", 0.1, 4.0), ("10s", 10.0, 10.0),
                                         ("0", 0.5, 4.0), (None, 0.5, 4.0)])
def test_retransmission_timer_is_t1(raw, t1, t2):
    timers = sip_timers(raw)
    assert (timers.t1, timers.t2, timers.t4) == (t1, t2, 5.0)


@pytest.mark.parametrize("raw", ["-1s", "soon"])
def test_bad_retransmission_timer(raw):
    with pytest.raises(TemplateError, match="retransmission_timer"):
        sip_timers(raw)
