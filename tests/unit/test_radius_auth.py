"""PAP, CHAP, MS-CHAP v1/v2 and MPPE keys against the RFC examples (RFC 1320, 1994, 2759, 3079)."""

from __future__ import annotations

import hashlib
import os

import pytest

from pycgrates.agents.radius import auth
from pycgrates.agents.radius.auth import (
    check_chap,
    check_mschap,
    check_mschapv2,
    check_pap,
    md4,
    mppe_keys,
    mschapv2_authenticator_response,
    mschapv2_nt_response,
    nt_password_hash,
)


@pytest.mark.parametrize("fn", [auth._md4_pure, md4])
@pytest.mark.parametrize("data, digest", [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
     "e33b4ddc9c38f2199c3e7b164fcc0536"),
])
def test_md4_rfc1320_suite(fn, data, digest):
    assert fn(data).hex() == digest


# RFC 2759 §9.2 example.
USER = "User"
PASSWORD = "clientPass"
AUTH_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")


def test_mschapv2_rfc2759_example():
    assert nt_password_hash(PASSWORD).hex().upper() == "44EBBA8D5312B8D611474411F56989AE"
    assert mschapv2_nt_response(AUTH_CHALLENGE, PEER_CHALLENGE, USER, PASSWORD) == NT_RESPONSE
    assert mschapv2_authenticator_response(PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTH_CHALLENGE, USER) \
        == b"S=407A5589115FD0D6209F510FE9C04566932CDA56"


def test_check_mschapv2_gives_the_success_value():
    response = b"\x07\x00" + PEER_CHALLENGE + bytes(8) + NT_RESPONSE
    success = check_mschapv2(USER, PASSWORD, AUTH_CHALLENGE, response)
    assert success == b"\x07S=407A5589115FD0D6209F510FE9C04566932CDA56"
    assert len(success) == 43
    assert check_mschapv2(USER, "wrong", AUTH_CHALLENGE, response) is None
    assert check_mschapv2("Other", PASSWORD, AUTH_CHALLENGE, response) is None
    assert check_mschapv2(USER, PASSWORD, AUTH_CHALLENGE, response[:49]) is None
    assert check_mschapv2(USER, PASSWORD, AUTH_CHALLENGE[:8], response) is None


def test_mppe_keys_rfc3079_example():
    send, recv = mppe_keys(PASSWORD, NT_RESPONSE)
    # RFC 3079 §3.5.3: the 128-bit start key (the server's send key).
    assert send.hex().upper() == "8B7CDC149B993A1BA118CB153F56DCCB"
    assert len(recv) == 16 and recv != send
    assert mppe_keys(PASSWORD, NT_RESPONSE, 8)[0] == send[:8]


def test_mschap_v1():
    challenge = os.urandom(8)
    nt = auth._challenge_response(challenge, nt_password_hash("secretpw"))
    response = b"\x01\x01" + bytes(24) + nt
    assert check_mschap("secretpw", challenge, response)
    assert not check_mschap("other", challenge, response)
    assert not check_mschap("secretpw", challenge, b"\x01\x00" + bytes(24) + nt)  # LM-only flag
    assert not check_mschap("secretpw", challenge + b"x", response)


def test_chap():
    challenge = os.urandom(16)
    ident = b"\x2a"
    chap_password = ident + hashlib.md5(ident + b"pw" + challenge).digest()
    assert check_chap(chap_password, challenge, "pw")
    assert not check_chap(chap_password, challenge, "px")
    assert not check_chap(chap_password[:16], challenge, "pw")


def test_pap():
    assert check_pap(b"pa55", "pa55")
    assert check_pap("pässword".encode(), "pässword")
    assert not check_pap(b"pa55", "pa56")
    assert not check_pap(b"", "x")
